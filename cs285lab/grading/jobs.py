"""What the grader plans and gets back: a `Job` (one notebook of one submission) and its `JobResult`.

Their own module so that every stage of the pipeline (grading/pipeline.py) shares them without
importing each other. A job carries its submitted notebook, parsed once when the run is planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.grading.verdict import Row

if TYPE_CHECKING:
    import nbformat

    from cs285lab.grading.course import Reference

__all__ = ["Job", "JobResult"]


@dataclass
class Job:
    """One notebook of one submission to grade (or to report as missing/unusable)."""

    submission: str
    notebook: str  # reference name, or the file name when no reference matches
    path: Path | None
    ref: Reference | None
    note: str = ""  # why no run is needed (missing, duplicate, unmatched)
    notices: list[str] = field(default_factory=list)  # what student and instructor should know (which copy was graded)
    student_path: Path | None = None  # the student's folder or file, as found
    nb: nbformat.NotebookNode | None = None  # the submitted notebook, sources only (None: missing or unreadable)
    unreadable: str = ""  # why the file could not be read as a notebook (said to the student)


@dataclass
class JobResult:
    """The rows of one job and how they were obtained."""

    rows: list[Row]
    seconds: float = 0.0
    cached: bool = False
    internal_error: str = ""
    cell_seconds: dict[str, float] = field(default_factory=dict)  # per code cell, for report.html
    late: dict = field(default_factory=dict)  # submitted, deadline, days_late, late_penalty (grading/late.py)
