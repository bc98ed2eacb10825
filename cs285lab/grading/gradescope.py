"""Gradescope's autograder results.json for one submission: one test per row (check, written answer, flag)."""

from __future__ import annotations

import json
from pathlib import Path

from cs285lab.files import write_atomic
from cs285lab.grading.verdict import Row


def gradescope_results(rows: list[Row], seconds: float, titles: dict[str, str] | None = None,
                       late_penalty: float = 0.0) -> dict:
    """The results.json dictionary: tests named as the notebook names its exercises, the late penalty subtracted."""
    titles = titles or {}
    tests = []
    for number, row in enumerate(rows, start=1):
        name = titles.get(row.exercise) or row.exercise
        tests.append({
            "name": f"{row.notebook}: {name}" if name else row.notebook,
            "number": str(number),
            "score": row.points,
            "max_score": row.max_points,
            "status": "passed" if row.status in ("passed", "graded", "overridden") else "failed",
            "output": f"{row.status}: {row.message}" if row.message else row.status,
            "visibility": "visible",
        })
    total = sum(r.points for r in rows) - late_penalty
    possible = sum(r.max_points for r in rows)
    output = f"cs285lab grader: {total:g} / {possible:g} points"
    if late_penalty:
        output += f" (late penalty -{late_penalty:g})"
    return {"score": total, "execution_time": round(seconds, 1), "tests": tests, "output": output,
            "visibility": "visible", "stdout_visibility": "hidden"}


def write_gradescope(path: Path, rows: list[Row], seconds: float, titles: dict[str, str] | None = None,
                     late_penalty: float = 0.0) -> None:
    """Write Gradescope's results.json atomically."""
    write_atomic(path, json.dumps(gradescope_results(rows, seconds, titles, late_penalty), indent=2,
                                  ensure_ascii=False) + "\n")
