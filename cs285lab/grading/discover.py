"""Find submissions on disk: notebook files, one folder per student, or a flat folder of notebooks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("auto", "student", "class")


class GradingError(RuntimeError):
    """The grader itself cannot run (bad arguments, no solutions, no submissions)."""


@dataclass
class Submission:
    """One student's work: a name and the notebooks they handed in."""

    name: str
    notebooks: list[Path] = field(default_factory=list)
    whole_course: bool = False  # a student folder: every reference notebook is expected


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part.startswith(".") for part in p.relative_to(folder).parts))


def safe_name(name: str) -> str:
    """A file-system-safe version of a submission name (for feedback files)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"


def discover(paths: list[Path], reference_names: set[str], layout: str = "auto") -> list[Submission]:
    """Expand the command-line SUBMISSION arguments into submissions, sorted by name.

    A file is one submission. A folder is, with layout "student", one student's folder; with
    "class", a class folder (each subfolder one student, each notebook directly inside one
    submission). "auto" treats a folder as one student's when it has no subfolders with notebooks
    and its notebooks are named like the reference notebooks, else as a class folder.
    """
    if layout not in LAYOUTS:
        raise GradingError(f"unknown layout {layout!r}; use one of {LAYOUTS}")
    found: list[Submission] = []
    for path in paths:
        if path.is_file():
            if path.suffix != ".ipynb":
                raise GradingError(f"{path}: not a notebook (.ipynb)")
            found.append(Submission(path.stem, [path]))
        elif path.is_dir():
            direct = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
            folders = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")
                             and _notebooks_in(d))
            one_student = layout == "student" or (
                layout == "auto" and not folders and direct and all(p.name in reference_names for p in direct))
            if one_student:
                found.append(Submission(path.resolve().name, _notebooks_in(path), whole_course=True))
            else:
                found += [Submission(d.name, _notebooks_in(d), whole_course=True) for d in folders]
                found += [Submission(p.stem, [p]) for p in direct]
        else:
            raise GradingError(f"{path}: no such file or folder")
    if not found:
        raise GradingError("no submissions found (no .ipynb files in " + ", ".join(map(str, paths)) + ")")
    # Names key the tables and feedback files: make them unique, deterministically.
    found.sort(key=lambda s: (s.name, str(s.notebooks[:1])))
    seen: dict[str, int] = {}
    for submission in found:
        base = safe_name(submission.name)
        seen[base] = seen.get(base, 0) + 1
        submission.name = base if seen[base] == 1 else f"{base}-{seen[base]}"
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
