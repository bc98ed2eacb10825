"""`cs285lab unpack ZIP_OR_FOLDER... --out CLASS`: the handout's `make submit` zips, as a class folder.

Each zip becomes CLASS/<student>/ with the notebooks it holds (any folder inside the zip is
flattened: `notebooks/00_getting_started.ipynb` -> `00_getting_started.ipynb`). The student's key
is the zip's name without `.zip`; a zip named `submission.zip` (or `submission-2.zip`) takes the
name of the folder it sits in; `--key REGEX` takes the key from the zip's name instead (its first
group, e.g. `^([^_]+)_` for an LMS download named `alice_1234_submission.zip`). The zip's
modification time (when it was collected) is written to CLASS/<student>/.submitted: the late
policy reads it (grading/late.py).

Only notebooks are taken, by their base name (no path from the zip is trusted), each at most
--max-mb; a folder that exists for a student is never overwritten.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from cs285lab.grading.late import SUBMITTED_FILE

GENERIC = re.compile(r"^submission(?:[-_ (]*\d+\)?)?$", re.IGNORECASE)


class UnpackError(ValueError):
    """A zip cannot be unpacked into the class; the message names it."""


@dataclass
class Unpacked:
    """What `unpack` did."""

    students: dict[str, list[str]] = field(default_factory=dict)  # key -> notebooks written
    skipped: list[str] = field(default_factory=list)  # what was left out, and why


def student_key(path: Path, pattern: re.Pattern | None = None) -> str:
    """The student's key for a zip: from `pattern`, else its name, else (submission.zip) its folder's name."""
    if pattern is not None:
        match = pattern.search(path.name)
        if not match:
            raise UnpackError(f"{path.name}: --key {pattern.pattern!r} does not match this name")
        return match.group(1) if match.groups() else match.group(0)
    stem = path.name[:-4] if path.name.lower().endswith(".zip") else path.stem
    return path.parent.name if GENERIC.match(stem) else stem


def _zips(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() == ".zip" and p.is_file()
                            and not any(part.startswith((".", "__MACOSX")) for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise UnpackError(f"{path}: no such file or folder")
    return found


def unpack(paths: list[Path], out: Path, pattern: re.Pattern | None = None, max_mb: float = 100.0) -> Unpacked:
    """Unpack every zip in `paths` into `out`/<student>/ (UnpackError before writing anything when two zips
    share a key or a student's folder exists)."""
    zips = _zips(paths)
    if not zips:
        raise UnpackError("no .zip files found in " + ", ".join(map(str, paths)))
    keys: dict[str, Path] = {}
    for path in zips:
        key = student_key(path, pattern)
        if not key or key.startswith(".") or "/" in key or "\\" in key or key in ("..", "."):
            raise UnpackError(f"{path}: {key!r} cannot name a student's folder")
        if key in keys:
            raise UnpackError(f"{keys[key]} and {path} both belong to student {key!r}; keep one (or use --key)")
        if (out / key).exists():
            raise UnpackError(f"{out / key} exists: unpack into a new class folder (nothing was overwritten)")
        keys[key] = path
    done = Unpacked()
    limit = int(max_mb * 2**20)
    for key, path in sorted(keys.items()):
        folder = out / key
        folder.mkdir(parents=True)
        done.students[key] = []
        collected = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        (folder / SUBMITTED_FILE).write_text(collected.isoformat(timespec="seconds") + "\n", encoding="utf-8")
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            done.skipped.append(f"{path.name}: not a zip file (student {key} gets an empty folder)")
            continue
        with archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename.replace("\\", "/")).name
                if info.is_dir() or not name.endswith(".ipynb") or name.startswith(".") or "__MACOSX" in info.filename:
                    if not info.is_dir():
                        done.skipped.append(f"{path.name}: {info.filename} (not a notebook)")
                    continue
                if info.file_size > limit:
                    done.skipped.append(f"{path.name}: {info.filename} is larger than {max_mb:g} MB")
                    continue
                target = folder / name
                if target.exists():
                    done.skipped.append(f"{path.name}: a second {name} (kept the first)")
                    continue
                with archive.open(info) as source:
                    data = source.read(limit + 1)
                if len(data) > limit:  # the header lied about the size
                    done.skipped.append(f"{path.name}: {info.filename} is larger than {max_mb:g} MB")
                    continue
                target.write_bytes(data)
                done.students[key].append(name)
    return done


def main(argv: list[str]) -> int:
    """The `cs285lab unpack` command."""
    p = argparse.ArgumentParser(prog="cs285lab unpack", description=__doc__.splitlines()[0])
    p.add_argument("zips", nargs="+", type=Path, metavar="ZIP_OR_FOLDER", help="zips, or folders holding them")
    p.add_argument("--out", required=True, type=Path, metavar="CLASS", help="the class folder to create or add to")
    p.add_argument("--key", metavar="REGEX", help="take the student's key from the zip's name (first group)")
    p.add_argument("--max-mb", type=float, default=100.0, metavar="MB", help="largest notebook taken (default 100)")
    args = p.parse_args(argv)
    try:
        pattern = re.compile(args.key) if args.key else None
        done = unpack(args.zips, args.out, pattern, args.max_mb)
    except (UnpackError, re.error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in done.skipped:
        print(f"skipped {line}", file=sys.stderr)
    empty = [k for k, names in done.students.items() if not names]
    print(f"unpacked {len(done.students)} student(s) into {args.out}/"
          + (f"; no notebook from: {', '.join(empty)}" if empty else ""), file=sys.stderr)
    print(f"next: cs285lab grade {args.out} --out grades/", file=sys.stderr)
    return 0
