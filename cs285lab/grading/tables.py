"""The grader's tables: grades.csv (one row per check, written answer or flag), summary.csv (one per notebook),
timings.csv (seconds per code cell). Reports and the gradebook are built from these tables only, so a
merged folder of shards (grading/merge.py) renders the same way as one run.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.files import write_atomic
from cs285lab.grading.discover import safe_name
from cs285lab.grading.verdict import STATUSES

if TYPE_CHECKING:
    from cs285lab.grading.jobs import Job, JobResult

GRADE_COLUMNS = ["submission", "notebook", "exercise", "title", "kind", "points", "max_points", "status",
                 "message", "path"]
SUMMARY_COLUMNS = ["submission", "notebook", "title", "points", "max_points", *STATUSES, "late_penalty", "days_late",
                   "submitted", "deadline", "cached", "seconds", "path", "feedback", "notes"]
TIMING_COLUMNS = ["submission", "notebook", "cell", "seconds"]
FILES = {"grades": ("grades.csv", GRADE_COLUMNS), "summary": ("summary.csv", SUMMARY_COLUMNS),
         "timings": ("timings.csv", TIMING_COLUMNS)}


def number(value: float) -> str:
    """A number as the tables write it (no trailing zeros)."""
    return f"{value:g}"


def to_float(text: str | None) -> float:
    """A table cell as a number (blank: 0)."""
    try:
        return float(text) if text not in (None, "") else 0.0
    except ValueError:
        return 0.0


def feedback_page(submission: str, suffix: str = ".html") -> str:
    """A student's feedback page, relative to the output folder."""
    return f"feedback/{safe_name(submission)}{suffix}"


def _csv(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _path(job: Job) -> str:
    where = job.path if job.path is not None else job.student_path  # the student's folder when no file was graded
    return str(where.resolve()) if where is not None else ""


@dataclass
class Tables:
    """The rows of grades.csv, summary.csv and timings.csv, as text (what the files hold)."""

    grades: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    timings: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, jobs: list[Job], results: dict[int, JobResult]) -> Tables:
        """The tables of every finished job, sorted by submission and notebook."""
        tables = cls()
        for index in sorted(results, key=lambda i: (jobs[i].submission, jobs[i].notebook)):
            job, result = jobs[index], results[index]
            titles = job.ref.titles if job.ref is not None else {}
            path = _path(job)
            for row in result.rows:
                tables.grades.append({**row.as_dict(), "points": number(row.points),
                                      "max_points": number(row.max_points), "path": path,
                                      "title": titles.get(row.exercise, "")})
            counts = Counter(row.status for row in result.rows)
            late = result.late
            tables.summary.append({
                "submission": job.submission, "notebook": job.notebook,
                "title": job.ref.title if job.ref is not None else "",
                "points": number(sum(r.points for r in result.rows)),
                "max_points": number(sum(r.max_points for r in result.rows)),
                **{status: counts.get(status, 0) for status in STATUSES},
                "late_penalty": number(late.get("late_penalty", 0.0)), "days_late": late.get("days_late", 0),
                "submitted": late.get("submitted", ""), "deadline": late.get("deadline", ""),
                "cached": "yes" if result.cached else "no", "seconds": f"{result.seconds:.1f}",
                "path": path, "feedback": feedback_page(job.submission), "notes": " | ".join(job.notices),
            })
            for label, seconds in sorted(result.cell_seconds.items()):
                tables.timings.append({"submission": job.submission, "notebook": job.notebook, "cell": label,
                                       "seconds": f"{seconds:.3f}"})
        return tables

    def write(self, folder: Path) -> None:
        """Write the three tables into `folder` (atomically, each)."""
        for attribute, (name, columns) in FILES.items():
            write_atomic(folder / name, _csv(columns, getattr(self, attribute)))

    @classmethod
    def read(cls, folder: Path) -> Tables:
        """Read the tables a run (or a merge) wrote into `folder`; a missing table reads as empty."""
        tables = cls()
        for attribute, (name, _) in FILES.items():
            path = folder / name
            if path.is_file():
                with open(path, newline="", encoding="utf-8") as handle:
                    setattr(tables, attribute, list(csv.DictReader(handle)))
        return tables

    def submissions(self) -> list[str]:
        """Every submission key in the tables, sorted."""
        return sorted({row["submission"] for row in self.summary} | {row["submission"] for row in self.grades})
