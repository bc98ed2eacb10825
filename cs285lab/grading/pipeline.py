"""The grading pipeline, top to bottom: plan -> run + verdict -> reuse flags -> written answers -> reports.

1. plan (grading/plan.py): one job per (submission, notebook), each submitted notebook parsed once;
2. run + verdict (grading/batch.py): merge with the reference, run under nbval, one row per check
   (cached by content; -j N in parallel);
3. reuse flags (grading/reuse.py): solution cells that use the package's reference code;
4. written answers (grading/manual.py): rows from the hand-grading sheets, read once before the run;
   then the staff's overrides (grading/overrides.py) and the late policy (grading/late.py);
5. reports, each written once: a student's feedback (.md, .html) as soon as all their notebooks are
   done; at the end, new hand-grading sheets, grades.csv, summary.csv, timings.csv, report.html and
   the gradebook.

Steps 3 and 4 run per job, the moment step 2 hands its result over; nothing is rewritten afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from cs285lab.grading.batch import Settings, grade_batch
from cs285lab.grading.classreport import write_report
from cs285lab.grading.course import Reference
from cs285lab.grading.discover import Submission
from cs285lab.grading.feedback import NotebookPart, StudentFeedback, write_feedback
from cs285lab.grading.gradebook import Roster, write_gradebook
from cs285lab.grading.jobs import Job, JobResult
from cs285lab.grading.late import LatePolicy, submitted_at
from cs285lab.grading.manual import WrittenAnswers
from cs285lab.grading.overrides import Override, apply_overrides, report_unused
from cs285lab.grading.plan import plan
from cs285lab.grading.reuse import notebook_key, reuse_rows, twins_by_notebook
from cs285lab.grading.tables import Tables


@dataclass
class Inputs:
    """The instructor's files the grader merges, each optional."""

    roster: Roster | None = None
    late: LatePolicy | None = None
    overrides: list[Override] = field(default_factory=list)


@dataclass
class Outcome:
    """What a run produced."""

    jobs: list[Job]
    results: dict[int, JobResult]
    tables: Tables

    @property
    def pending(self) -> int:
        """Written answers still waiting for hand grading."""
        return sum(row.status == "pending" for result in self.results.values() for row in result.rows)


def _late(job: Job, points: float, max_points: float, policy: LatePolicy | None) -> dict:
    if policy is None or job.ref is None or job.path is None:
        return {}
    lateness = policy.lateness(job.submission, job.notebook, submitted_at(job.path, job.student_path))
    stamp = (lambda moment: moment.isoformat(timespec="minutes") if moment is not None else "")
    return {"submitted": stamp(lateness.submitted), "deadline": stamp(lateness.deadline),
            "days_late": lateness.days_late, "late_penalty": lateness.penalty(points, max_points)}


def student_feedback(jobs: list[Job], indices: list[int], results: dict[int, JobResult]) -> StudentFeedback:
    """One student's feedback from their finished jobs."""
    ordered = sorted(indices, key=lambda i: jobs[i].notebook)
    parts = [NotebookPart(jobs[i].notebook, jobs[i].ref.title if jobs[i].ref else "", results[i].rows,
                          jobs[i].ref.titles if jobs[i].ref else {}, results[i].late) for i in ordered]
    notices = list(dict.fromkeys(n for i in ordered for n in jobs[i].notices))
    where = next((jobs[i].student_path for i in ordered if jobs[i].student_path is not None), None)
    return StudentFeedback(jobs[ordered[0]].submission, parts, notices, where)


def grade(submissions: list[Submission], refs: dict[str, Reference], out: Path, settings: Settings,
          inputs: Inputs | None = None, whole_class: bool = True, stream: TextIO | None = None,
          warn: Callable[[list[Job]], None] | None = None) -> Outcome:
    """Grade `submissions` into `out`. `whole_class` is False for one shard: the roster and unused
    overrides are then left to the merge. `warn` sees the plan before anything runs. KeyboardInterrupt:
    the tables of what finished are written first."""
    inputs = inputs or Inputs()
    stream = stream if stream is not None else sys.stderr
    jobs = plan(submissions, refs)                                                    # 1. plan
    if warn is not None:
        warn(jobs)
    written = WrittenAnswers(out / "manual", [q for ref in refs.values() for q in ref.questions], stream)
    twins = twins_by_notebook({notebook_key(name) for name in refs})
    by_student: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        by_student.setdefault(job.submission, []).append(index)
    final: dict[int, JobResult] = {}
    used: set[str] = set()

    def finish(index: int, result: JobResult) -> None:
        job = jobs[index]
        rows = [*result.rows, *reuse_rows(job, twins), *written.rows(job)]              # 3. reuse, 4. written
        rows = apply_overrides(rows, inputs.overrides, used, stream)
        late = _late(job, sum(r.points for r in rows), sum(r.max_points for r in rows), inputs.late)
        final[index] = replace(result, rows=rows, late=late)
        mine = by_student[job.submission]
        if all(i in final for i in mine):                                             # 5. feedback, once
            write_feedback(out, student_feedback(jobs, mine, final))

    try:
        grade_batch(jobs, out, settings, finish, stream)                             # 2. run + verdict
    except KeyboardInterrupt:
        Tables.of(jobs, final).write(out)
        raise
    written.write_new_sheets()                                                        # 5. reports
    tables = Tables.of(jobs, final)
    tables.write(out)
    roster = inputs.roster if whole_class else None
    try:
        write_report(out, tables, list(roster.students) if roster else None)
    except Exception as exc:  # noqa: BLE001 - the grades are written; a report bug must not hide them
        print(f"warning: report.html was not written ({type(exc).__name__}: {exc}); please report it", file=stream)
    write_gradebook(out, tables, roster, stream)
    if whole_class:
        report_unused(inputs.overrides, used, stream)
    return Outcome(jobs, final, tables)
