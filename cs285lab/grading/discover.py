"""Find submissions on disk: notebook files, one folder per student, or a flat folder of notebooks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("auto", "student", "class")


class GradingError(RuntimeError):
    """The grader itself cannot run (bad arguments, no solutions, no submissions)."""


@dataclass
class Submission:
    """One student's work: a key, where it came from, and the notebooks they handed in."""

    name: str  # the key: the folder or file name as given (Unicode and spaces kept); unique in a batch
    notebooks: list[Path] = field(default_factory=list)
    whole_course: bool = False  # a student folder: every reference notebook is expected
    path: Path | None = None  # the folder or file as found
    other_files: list[str] = field(default_factory=list)  # what a folder holds besides notebooks
    notes: list[str] = field(default_factory=list)  # e.g. the same student found twice

    @property
    def safe(self) -> str:
        """The key as a file name (feedback pages)."""
        return safe_name(self.name)


def _visible(path: Path, folder: Path) -> bool:
    return not any(part.startswith((".", "__MACOSX")) for part in path.relative_to(folder).parts)


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and _visible(p, folder))


def _other_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.suffix != ".ipynb" and _visible(p, folder))


def safe_name(name: str) -> str:
    """A file-system-safe form of a submission key: the key itself when it is one, else a slug plus a hash.

    Unicode letters are kept (`张伟` stays `张伟`); anything else (spaces, slashes, accents written
    as combining marks) becomes `_` and a short hash of the key keeps distinct keys distinct.
    """
    if re.fullmatch(r"[\w.-]{1,100}", name) and not name.startswith("."):
        return name
    slug = re.sub(r"[^\w.-]+", "_", name).strip("._")[:60] or "submission"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _student(folder: Path) -> Submission:
    return Submission(folder.name, _notebooks_in(folder), whole_course=True, path=folder,
                      other_files=_other_files(folder))


def discover(paths: list[Path], reference_names: set[str], layout: str = "auto") -> list[Submission]:
    """Expand the command-line SUBMISSION arguments into submissions, sorted by key.

    A file is one submission. A folder is, with layout "student", one student's folder; with
    "class", a class folder (each subfolder one student, even one with no notebook, and each
    notebook directly inside one submission). "auto" treats a folder as one student's when no
    subfolder holds notebooks and its notebooks are named like the reference notebooks (or it holds
    files but no notebook and no subfolder), else as a class folder.
    """
    if layout not in LAYOUTS:
        raise GradingError(f"unknown layout {layout!r}; use one of {LAYOUTS}")
    found: list[Submission] = []
    for path in paths:
        if path.is_file():
            if path.suffix != ".ipynb":
                raise GradingError(f"{path}: not a notebook (.ipynb)")
            found.append(Submission(path.stem, [path], path=path))
        elif path.is_dir():
            direct = sorted(p for p in path.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
            folders = sorted(d for d in path.iterdir() if d.is_dir() and _visible(d, path))
            with_notebooks = [d for d in folders if _notebooks_in(d)]
            one_student = layout == "student" or (layout == "auto" and not with_notebooks and (
                (direct and all(p.name in reference_names for p in direct))
                or (not direct and not folders and _other_files(path))))
            if one_student:
                found.append(_student(path.resolve()))
            else:
                found += [_student(d) for d in folders]
                found += [Submission(p.stem, [p], path=p) for p in direct]
        else:
            raise GradingError(f"{path}: no such file or folder")
    if not found:
        raise GradingError("no submissions found (no .ipynb files in " + ", ".join(map(str, paths)) + ")")
    # Keys name the rows and feedback pages: the same key twice (alice/ and alice.ipynb, or two
    # folders given) keeps both, the later one as "alice (2)", and both are told.
    found.sort(key=lambda s: (s.name, str(s.path)))
    groups: dict[str, list[Submission]] = {}
    for submission in found:
        groups.setdefault(submission.name, []).append(submission)
    for key, same in groups.items():
        if len(same) < 2:
            continue
        where = ", ".join(str(s.path) for s in same)
        for number, submission in enumerate(same, start=1):
            if number > 1:
                submission.name = f"{key} ({number})"
            submission.notes.append(f"the same student name `{key}` was found {len(same)} times ({where}); "
                                    f"each is graded separately, this one as `{submission.name}` ({submission.path})")
    return found


def parse_shard(text: str) -> tuple[int, int]:
    """Parse --shard I/N (1 <= I <= N)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise GradingError(f"--shard {text!r}: expected I/N, e.g. 1/4")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise GradingError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """The submissions of shard `index` of `count`: every count-th one by sorted name."""
    ordered = sorted(submissions, key=lambda s: s.name)
    return [s for k, s in enumerate(ordered) if k % count == index - 1]
