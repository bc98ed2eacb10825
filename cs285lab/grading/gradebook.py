"""The gradebook: grades/gradebook.csv (one row per student) and gradebook-canvas.csv (for an LMS import).

Built from the tables alone (summary.csv for points and late penalties, grades.csv for written
answers and their comments), plus an optional roster of expected students:

    # roster.csv: `student` is the submission key (the folder name); the other columns are optional
    student,name,id,sis_user_id,sis_login_id,section
    alice,Alice Liddell,1001,A1,alice@uni.edu,Section 1

gradebook.csv columns: `student`, `name`, one column per notebook (points of its checks, after
overrides), `written` (points of the written answers graded so far), `late_penalty`, `total`,
`max_points`, `pending` (written answers not graded yet: they are not counted as 0, and the
student's `status` says so), `status`, `comments` (the staff's comments on written answers).
A roster student with no submission gets a row of zeros with status `no submission`; a submission
whose key the roster lacks gets status `not on the roster`.

gradebook-canvas.csv follows Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID,
Section, then one column per notebook with a "Points Possible" row). A notebook with written
answers still pending is left blank there, not 0. Rename the notebook columns to the assignment
names of your course before importing.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from cs285lab.files import write_atomic
from cs285lab.grading.tables import Tables, number, to_float

ROSTER_COLUMNS = ("student", "name", "id", "sis_user_id", "sis_login_id", "section")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


class RosterError(ValueError):
    """The roster file is not usable; the message says why."""


@dataclass
class Roster:
    """Expected students, by submission key, with what the LMS knows about them."""

    students: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Roster:
        """Read a roster CSV (a `student` column, the other ROSTER_COLUMNS optional)."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise RosterError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if "student" not in (reader.fieldnames or []):
            raise RosterError(f"{path}: no `student` column (the submission key: each student's folder name)")
        roster = cls()
        for line, row in enumerate(reader, start=2):
            key = (row.get("student") or "").strip()
            if not key:
                continue
            if key in roster.students:
                raise RosterError(f"{path} line {line}: student {key!r} is listed twice")
            roster.students[key] = {c: (row.get(c) or "").strip() for c in ROSTER_COLUMNS}
        return roster


def _notebooks(tables: Tables) -> list[str]:
    graded = {row["notebook"] for row in tables.grades if row.get("kind") != "file"}
    return sorted(graded)


def gradebook_rows(tables: Tables, roster: Roster | None = None) -> tuple[list[str], list[dict]]:
    """(columns, one row per student) of gradebook.csv."""
    notebooks = _notebooks(tables)
    columns = ["student", "name", *(Path(n).stem for n in notebooks), "written", "late_penalty", "total",
               "max_points", "pending", "status", "comments"]
    max_points = {}
    for row in tables.summary:
        max_points[row["notebook"]] = max(max_points.get(row["notebook"], 0.0), to_float(row["max_points"]))
    students: dict[str, dict] = {}
    for row in tables.grades:
        if row["notebook"] not in notebooks:
            continue
        entry = students.setdefault(row["submission"], {"auto": {}, "written": 0.0, "pending": 0, "comments": []})
        if row.get("kind") == "written":
            if row["status"] == "pending":
                entry["pending"] += 1
            entry["written"] += to_float(row["points"])
            if row["status"] in ("graded", "overridden") and row["message"] not in ("", "graded by hand"):
                entry["comments"].append(f"{row['exercise']}: {row['message']}")
        else:
            entry["auto"][row["notebook"]] = entry["auto"].get(row["notebook"], 0.0) + to_float(row["points"])
    late = {}
    for row in tables.summary:
        late[row["submission"]] = late.get(row["submission"], 0.0) + to_float(row.get("late_penalty"))
    expected = roster.students if roster is not None else {}
    rows = []
    for student in sorted(set(students) | set(expected) | set(tables.submissions())):
        entry = students.get(student)
        known = expected.get(student, {})
        out = {"student": student, "name": known.get("name", ""), "max_points": number(sum(max_points.values()))}
        if entry is None:
            status = "no submission" if student not in tables.submissions() else "nothing gradable was found"
            out.update({Path(n).stem: "0" for n in notebooks})
            out.update({"written": "0", "late_penalty": "0", "total": "0", "pending": "0", "status": status,
                        "comments": ""})
        else:
            auto = {n: entry["auto"].get(n, 0.0) for n in notebooks}
            total = sum(auto.values()) + entry["written"] - late.get(student, 0.0)
            status = f"{entry['pending']} written answer(s) pending" if entry["pending"] else "complete"
            if roster is not None and student not in expected:
                status += "; not on the roster"
            out.update({Path(n).stem: number(round(v, 4)) for n, v in auto.items()})
            out.update({"written": number(round(entry["written"], 4)),
                        "late_penalty": number(round(late.get(student, 0.0), 4)), "total": number(round(total, 4)),
                        "pending": str(entry["pending"]), "status": status, "comments": " | ".join(entry["comments"])})
        rows.append(out)
    return columns, rows


def canvas_rows(tables: Tables, roster: Roster | None = None) -> tuple[list[str], list[dict]]:
    """(columns, rows) of gradebook-canvas.csv: a Points Possible row, then one row per student."""
    notebooks = _notebooks(tables)
    stems = [Path(n).stem for n in notebooks]
    columns = [*CANVAS_COLUMNS, *stems]
    by_key: dict[tuple[str, str], dict] = {(r["submission"], r["notebook"]): r for r in tables.summary}
    possible = {n: max((to_float(r["max_points"]) for k, r in by_key.items() if k[1] == n), default=0.0)
                for n in notebooks}
    rows = [{"Student": "    Points Possible", **{Path(n).stem: number(possible[n]) for n in notebooks}}]
    expected = roster.students if roster is not None else {}
    for student in sorted({k[0] for k in by_key} | set(expected)):
        known = expected.get(student, {})
        row = {"Student": known.get("name") or student, "ID": known.get("id", ""),
               "SIS User ID": known.get("sis_user_id", ""), "SIS Login ID": known.get("sis_login_id", ""),
               "Section": known.get("section", "")}
        for name in notebooks:
            summary = by_key.get((student, name))
            if summary is None:
                row[Path(name).stem] = "0"
            elif to_float(summary.get("pending")) > 0:
                row[Path(name).stem] = ""  # written answers still to grade: no score yet, not 0
            else:
                earned = to_float(summary["points"]) - to_float(summary.get("late_penalty"))
                row[Path(name).stem] = number(round(earned, 4))
        rows.append(row)
    return columns, rows


def _csv(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_gradebook(out: Path, tables: Tables, roster: Roster | None = None, stream: TextIO | None = None) -> Path:
    """Write out/gradebook.csv and out/gradebook-canvas.csv; say who is missing or unexpected; return the path."""
    stream = stream if stream is not None else sys.stderr
    columns, rows = gradebook_rows(tables, roster)
    write_atomic(out / "gradebook.csv", _csv(columns, rows))
    write_atomic(out / "gradebook-canvas.csv", _csv(*canvas_rows(tables, roster)))
    absent = [r["student"] for r in rows if r["status"] == "no submission"]
    strangers = [r["student"] for r in rows if r["status"].endswith("not on the roster")]
    if absent:
        print(f"warning: {len(absent)} student(s) on the roster have no submission: {', '.join(absent[:10])}"
              + (" ..." if len(absent) > 10 else ""), file=stream)
    if strangers:
        print(f"warning: {len(strangers)} submission(s) are not on the roster: {', '.join(strangers[:10])}"
              + (" ..." if len(strangers) > 10 else ""), file=stream)
    return out / "gradebook.csv"
