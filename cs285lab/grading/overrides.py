"""Overrides: the course staff's decision on one row, with a reason, in a file the grader merges.

    # overrides.csv
    submission,notebook,exercise,points,reason
    dave,04,nb04-check-epsilon-greedy,0,imported the package's epsilon_greedy (flagged)
    bob,01_actor_critic_architectures.ipynb,nb01-check-td-target,3,regrade request: the check was too strict

`notebook` is the file name or a prefix of it; `exercise` a check or written-answer id. The row keeps
its place in every table with status `overridden`, the points given, and a message naming the reason
and what the grader had said. A line that names no row of the batch, or gives points outside
0..max_points, is reported and ignored.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from cs285lab.grading.verdict import Row

COLUMNS = ("submission", "notebook", "exercise", "points", "reason")


@dataclass(frozen=True)
class Override:
    """One line of the overrides file."""

    submission: str
    notebook: str
    exercise: str
    points: float
    reason: str
    where: str  # file and line, for messages


def read_overrides(path: Path, stream: TextIO | None = None) -> list[Override]:
    """The overrides in `path` (a missing file: none); malformed lines are reported and skipped."""
    stream = stream if stream is not None else sys.stderr
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = set(COLUMNS) - set(reader.fieldnames or [])
    if missing:
        print(f"warning: {path}: no column(s) {', '.join(sorted(missing))}; overrides ignored", file=stream)
        return []
    found = []
    for line, row in enumerate(reader, start=2):
        where = f"{path.name} line {line}"
        values = {key: (row.get(key) or "").strip() for key in COLUMNS}
        if not all(values[key] for key in ("submission", "notebook", "exercise")):
            print(f"warning: {where}: submission, notebook and exercise are required; line ignored", file=stream)
            continue
        if not values["reason"]:
            print(f"warning: {where}: an override needs a reason (the student reads it); line ignored", file=stream)
            continue
        try:
            points = float(values["points"])
        except ValueError:
            print(f"warning: {where}: points {values['points']!r} is not a number; line ignored", file=stream)
            continue
        found.append(Override(values["submission"], values["notebook"], values["exercise"], points,
                              values["reason"], where))
    return found


def _matches(override: Override, row: Row) -> bool:
    return (override.submission == row.submission and override.exercise == row.exercise
            and (row.notebook == override.notebook or row.notebook.startswith(override.notebook)))


def apply_overrides(rows: list[Row], overrides: list[Override], used: set[str],
                    stream: TextIO | None = None) -> list[Row]:
    """`rows` with every matching override applied (new rows, the input unchanged); the lines used go into `used`."""
    stream = stream if stream is not None else sys.stderr
    out = []
    for row in rows:
        override = next((o for o in reversed(overrides) if _matches(o, row) and row.kind != "flag"), None)
        if override is None:
            out.append(row)
            continue
        used.add(override.where)
        if not 0 <= override.points <= row.max_points:
            print(f"warning: {override.where}: points {override.points:g} is outside 0..{row.max_points:g} for "
                  f"{row.exercise}; override ignored", file=stream)
            out.append(row)
            continue
        was = f"{row.status}, {row.points:g} / {row.max_points:g}"
        out.append(replace(row, points=override.points, status="overridden",
                           message=f"set by the course staff: {override.reason} (the grader's verdict: {was}: "
                                   f"{row.message.strip()[:300]})"))
    return out


def report_unused(overrides: list[Override], used: set[str], stream: TextIO | None = None) -> list[Override]:
    """Say which overrides matched no row (a typo in a name or id); return them."""
    unused = [o for o in overrides if o.where not in used]
    for o in unused:
        print(f"warning: {o.where}: no row of this batch is {o.submission} / {o.notebook} / {o.exercise}; "
              "override not applied", file=stream if stream is not None else sys.stderr)
    return unused
