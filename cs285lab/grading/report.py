"""Write what the grader found: grades.csv, summary.csv, per-student feedback, Gradescope's results.json."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.authoring.student import write_atomic
from cs285lab.grading.discover import safe_name
from cs285lab.grading.verdict import STATUSES, Row

if TYPE_CHECKING:
    from cs285lab.grading.jobs import Job, JobResult

GRADE_COLUMNS = ["submission", "notebook", "exercise", "points", "max_points", "status", "message", "path"]
SUMMARY_COLUMNS = ["submission", "notebook", "points", "max_points", *STATUSES, "cached", "seconds",
                   "path", "feedback", "notes"]


def _csv(columns: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"


def write_tables(out: Path, jobs: list[Job], results: dict[int, JobResult]) -> None:
    """Rewrite grades.csv and summary.csv from every finished job."""
    order = sorted(results, key=lambda i: (jobs[i].submission, jobs[i].notebook))
    grades, summary = [], []
    for index in order:
        job, result = jobs[index], results[index]
        # path: the file graded, or the student's folder when no file was (missing notebooks)
        path = str(job.path if job.path is not None else (job.student_path or ""))
        for row in result.rows:
            grades.append({**row.as_dict(), "points": _number(row.points), "max_points": _number(row.max_points),
                           "path": path})
        counts = Counter(row.status for row in result.rows)
        summary.append({
            "submission": job.submission, "notebook": job.notebook,
            "points": _number(sum(r.points for r in result.rows)),
            "max_points": _number(sum(r.max_points for r in result.rows)),
            **{status: counts.get(status, 0) for status in STATUSES},
            "cached": "yes" if result.cached else "no", "seconds": f"{result.seconds:.1f}",
            "path": path, "feedback": f"feedback/{safe_name(job.submission)}.md", "notes": " | ".join(job.notices),
        })
    write_atomic(out / "grades.csv", _csv(GRADE_COLUMNS, grades))
    write_atomic(out / "summary.csv", _csv(SUMMARY_COLUMNS, summary))


def write_feedback(out: Path, student: str, indices: list[int], jobs: list[Job],
                   results: dict[int, JobResult]) -> bool:
    """Write `student`'s feedback page (their jobs: `indices`) once all are graded; return whether it was."""
    if not all(i in results for i in indices):
        return False
    ordered = sorted(indices, key=lambda i: jobs[i].notebook)
    rows = [row for i in ordered for row in results[i].rows]
    notices = list(dict.fromkeys(n for i in ordered for n in jobs[i].notices))
    where = next((jobs[i].student_path for i in ordered if jobs[i].student_path is not None), None)
    write_atomic(out / "feedback" / f"{safe_name(student)}.md", feedback(student, rows, notices, where))
    return True


_ICONS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "tampered": "⚠", "missing": "?"}


def feedback(student: str, rows: list[Row], notices: list[str] | None = None, path: Path | None = None) -> str:
    """A student's feedback page: totals, what the grader noticed about the files, then every check."""
    total, possible = sum(r.points for r in rows), sum(r.max_points for r in rows)
    lines = [f"# Feedback for {student}", ""]
    if path is not None:
        lines += [f"Graded from `{path.name}`.", ""]
    lines += [f"**Total: {_number(total)} / {_number(possible)} points**", ""]
    if notices:
        lines += ["Notes from the grader:", "", *(f"- {n}" for n in notices), ""]
    notebooks: dict[str, list[Row]] = {}
    for row in rows:
        notebooks.setdefault(row.notebook, []).append(row)
    for notebook, group in notebooks.items():
        got, out_of = sum(r.points for r in group), sum(r.max_points for r in group)
        lines += [f"## {notebook}: {_number(got)} / {_number(out_of)}", ""]
        for row in group:
            label = f"`{row.exercise}`" if row.exercise else "(whole notebook)"
            lines.append(f"- {_ICONS.get(row.status, '-')} {label}: **{row.status}**, "
                         f"{_number(row.points)} / {_number(row.max_points)} points")
            message = row.message.strip()
            if message:
                lines += ["", "  ```text", *("  " + line for line in message.splitlines()[:40]), "  ```", ""]
        lines.append("")
    lines += ["---", "",
              "Statuses: **passed** (the check ran and passed), **failed** (your code did not pass the check; "
              "the message names the mistake), **error** (the notebook crashed before a verdict: kernel death, "
              "memory, an unreadable file), **timeout** (a time limit stopped it), **tampered** (a check or locked "
              "cell was changed or moved; the grader ran the original), **missing** (a notebook or check cell was "
              "not in your submission), **ignored** (a second copy of a notebook; the notes say which copy was "
              "graded and why).", ""]
    return "\n".join(lines)


def gradescope_results(rows: list[Row], seconds: float) -> dict:
    """Gradescope's autograder results.json for one submission: one test per check cell."""
    tests = []
    for number, row in enumerate(rows, start=1):
        tests.append({
            "name": f"{row.notebook}: {row.exercise}" if row.exercise else row.notebook,
            "number": str(number),
            "score": row.points,
            "max_score": row.max_points,
            "status": "passed" if row.status == "passed" else "failed",
            "output": f"{row.status}: {row.message}" if row.message else row.status,
            "visibility": "visible",
        })
    total = sum(r.points for r in rows)
    possible = sum(r.max_points for r in rows)
    return {"score": total, "execution_time": round(seconds, 1), "tests": tests,
            "output": f"cs285lab grader: {total:g} / {possible:g} points", "visibility": "visible",
            "stdout_visibility": "hidden"}


def write_gradescope(path: Path, rows: list[Row], seconds: float) -> None:
    """Write Gradescope's results.json atomically."""
    write_atomic(path, json.dumps(gradescope_results(rows, seconds), indent=2, ensure_ascii=False) + "\n")
