"""Grade a batch: plan one job per submitted notebook, run jobs in parallel, cache, write tables."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import cs285lab
import cs285lab.checks
from cs285lab.authoring.student import write_atomic
import nbformat

from cs285lab.authoring.student import cell_meta
from cs285lab.grading.assemble import (Reference, SubmissionError, assemble, match_reference, normalized_source,
                                       read_submission)
from cs285lab.grading.classreport import cell_seconds
from cs285lab.grading.discover import Submission, safe_name
from cs285lab.grading.jobs import Job, JobResult
from cs285lab.grading.report import write_feedback, write_tables
from cs285lab.grading.run import Limits, run_notebook, stop_all
from cs285lab.grading.sandbox import Sandbox
from cs285lab.grading.scrub import hidden_fragments, scrub
from cs285lab.grading.verdict import Row, grade_rows, notebook_rows

GRADER_VERSION = "2"  # bump when grading logic changes: it invalidates every cached result
TABLE_INTERVAL = 5.0  # seconds between rewrites of grades.csv / summary.csv during a run


@dataclass
class Settings:
    """Everything that decides a grade, besides the files."""

    limits: Limits = field(default_factory=Limits)
    tampered_policy: str = "restore"
    jobs: int = 1
    keep_scratch: Path | None = None
    regrade: bool = False  # ignore cached results (they are still refreshed)
    sandbox: Sandbox | None = None  # None: run unsandboxed (--sandbox off, or already inside a container)


DUPLICATE_RULE = ("the copy with the most solution cells changed from the handout is graded; "
                  "a tie goes to the most recently modified file")


def filled_cells(nb: nbformat.NotebookNode | None, ref: Reference) -> int:
    """How many of `ref`'s solution cells `nb` changed from the handout (the stubs)."""
    if nb is None:
        return -1
    stubs = {m["id"]: normalized_source(c.source) for c in ref.student.cells
             if (m := cell_meta(c)) and m.get("kind") == "solution"}
    done = set()
    for cell in nb.cells:
        meta = cell_meta(cell)
        cid = meta.get("id") if isinstance(meta, dict) else None
        if cid in stubs and cid not in done and normalized_source(cell.source) != stubs[cid]:
            done.add(cid)
    return len(done)


def _describe(found: list[str]) -> str:
    if not found:
        return "the folder is empty"
    shown = ", ".join(f"`{name}`" for name in found[:8])
    return f"it holds {shown}" + (f" and {len(found) - 8} more file(s)" if len(found) > 8 else "")


def plan(submissions: list[Submission], refs: dict[str, Reference]) -> list[Job]:
    """One job per (submission, notebook); a student folder also lists its missing notebooks.

    Two files answering one notebook: `DUPLICATE_RULE` picks the graded one; the other gets an
    `ignored` row, and both say so.
    """
    jobs = []
    for submission in submissions:
        candidates: dict[str, list[tuple[Path, nbformat.NotebookNode | None]]] = {}
        extra = []
        for path in submission.notebooks:
            problem = ""
            try:
                nb = read_submission(path)
            except SubmissionError as exc:
                nb, problem = None, str(exc)
            name = match_reference(path, nb, refs)
            if name is None:
                note = (f"{problem}; its name matches no course notebook either" if problem else
                        "not a course notebook: no reference notebook matches its name or cells")
                extra.append(Job(submission.name, path.name, path, None, note, list(submission.notes),
                                 submission.path))
            else:
                candidates.setdefault(name, []).append((path, nb))
        taken: dict[str, tuple[Path, str]] = {}
        for name, copies in candidates.items():
            if len(copies) == 1:
                taken[name] = (copies[0][0], "")
                continue
            ref = refs[name]
            scored = sorted(((filled_cells(nb, ref), path.stat().st_mtime, path.name, path) for path, nb in copies),
                            reverse=True)
            keep = scored[0][3]
            total = sum(1 for c in ref.student.cells if (m := cell_meta(c)) and m.get("kind") == "solution")

            def label(entry: tuple) -> str:
                filled = "unreadable" if entry[0] < 0 else f"{entry[0]} of {total} solution cells filled in"
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry[1]))
                return f"`{entry[3].name}` ({filled}, modified {when})"

            summary = (f"{len(copies)} files answer {name}: " + "; ".join(label(e) for e in scored)
                       + f". Rule: {DUPLICATE_RULE}.")
            taken[name] = (keep, f"graded {keep.name}. {summary}")
            for entry in scored[1:]:
                extra.append(Job(submission.name, entry[3].name, entry[3], None,
                                 f"ignored: {keep.name} was graded for {name} instead. {summary}",
                                 list(submission.notes), submission.path))
        for name, ref in refs.items():
            if name in taken:
                path, notice = taken[name]
                jobs.append(Job(submission.name, name, path, ref, notices=[*submission.notes, *[notice] * bool(notice)],
                                student_path=submission.path))
            elif submission.whole_course:
                note = "notebook not submitted"
                if not submission.notebooks:
                    note = (f"no notebook found in {submission.path.name if submission.path else 'the submission'}: "
                            f"{_describe(submission.other_files)}; hand in the .ipynb files Jupyter saves")
                jobs.append(Job(submission.name, name, None, ref, note, list(submission.notes), submission.path))
        jobs += extra
    return jobs


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


LOAD_NAME = re.compile(r"""load\(\s*["'](\w+)["']\s*\)""")


def reference_digest(ref: Reference) -> bytes:
    """A hash of what decides a notebook's grades: the reference, its check modules and budgets,
    the check toolkit, the grader's own code and the package version.

    Other package code (algorithms the notebook imports) is not included: after changing it,
    re-grade with --regrade.
    """
    package = Path(cs285lab.__file__).resolve().parent
    names = sorted({name for cell in ref.solution.cells for name in LOAD_NAME.findall(cell.source)})
    files = [package / "checks" / "core.py", package / "checks" / "__init__.py"]
    files += [package / "checks" / f"{name}.py" for name in names]
    files += [package / "budgets" / f"{name}.toml" for name in names]
    files += sorted((package / "grading").rglob("*.py"))
    parts = [GRADER_VERSION.encode(), cs285lab.__version__.encode(), ref.path.read_bytes()]
    parts += [str(p.relative_to(package)).encode() + b"\0" + (p.read_bytes() if p.is_file() else b"") for p in files]
    return _digest(*parts).encode()


def cache_key(job: Job, settings: Settings, reference: bytes) -> str:
    """Content hash of what decides this job's grade: submission, reference digest, limits, policy."""
    limits = settings.limits
    options = json.dumps([job.submission, job.notebook, limits.profile, limits.cell_timeout,
                          limits.notebook_timeout, limits.memory_mb, limits.file_mb, settings.tampered_policy,
                          "sandboxed" if settings.sandbox is not None else "unsandboxed"])
    return _digest(options.encode(), job.path.read_bytes(), reference)


def run_job(job: Job, settings: Settings) -> JobResult:
    """Grade one notebook: read it, merge it with its reference, run it, judge each check cell."""
    start = time.monotonic()
    if job.ref is None:
        status = "ignored" if job.note.startswith("ignored:") else "error"
        return JobResult([Row(job.submission, job.notebook, "", 0.0, 0.0, status, job.note)])
    if job.path is None:
        return JobResult(notebook_rows(job.submission, job.ref, "missing", job.note))
    try:
        submitted = read_submission(job.path)
    except SubmissionError as exc:
        return JobResult(notebook_rows(job.submission, job.ref, "error", str(exc)))
    try:
        assembled = assemble(submitted, job.ref, Path(cs285lab.checks.__file__).resolve().parent)
        keep = None
        if settings.keep_scratch:
            keep = settings.keep_scratch / safe_name(job.submission) / Path(job.notebook).stem
        result = run_notebook(assembled, job.ref.name, settings.limits, keep=keep, student=job.submission,
                              sandbox=settings.sandbox)
        rows = grade_rows(job.submission, job.ref, assembled, result, settings.limits, settings.tampered_policy)
        fragments = hidden_fragments(job.ref.solution)
        for row in rows:  # nothing a student reads may quote the hidden tests
            row.message = scrub(row.message, fragments)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the batch; it is reported
        message = f"internal grader error ({type(exc).__name__}: {exc}); please report it to the course staff"
        return JobResult(notebook_rows(job.submission, job.ref, "error", message), internal_error=message)
    return JobResult(rows, seconds=time.monotonic() - start, cell_seconds=cell_seconds(assembled, result))


class Progress:
    """A plain-text progress bar on stderr (one line per finished notebook when not a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, job: Job, result: JobResult) -> None:
        """Count one finished job and show it."""
        self.done += 1
        points = sum(r.points for r in result.rows)
        total = sum(r.max_points for r in result.rows)
        how = "cached" if result.cached else f"{result.seconds:.0f} s"
        width = 24
        filled = int(width * self.done / max(1, self.total))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{job.submission} {job.notebook}: {points:g}/{total:g} ({how})")
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def grade_batch(jobs: list[Job], out: Path, settings: Settings, stream: TextIO | None = None) -> dict[int, JobResult]:
    """Run every job (cached results reused), writing the tables after each one finishes."""
    cache_dir = out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    digests: dict[str, bytes] = {}
    results: dict[int, JobResult] = {}
    progress = Progress(len(jobs), stream)

    last_write = 0.0
    by_student: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        by_student.setdefault(job.submission, []).append(index)

    def finish(index: int, result: JobResult) -> None:
        # Tables are rewritten at most every few seconds (and at the end): cheap for large classes,
        # and an interrupted run still has everything in the cache.
        nonlocal last_write
        results[index] = result
        progress.update(jobs[index], result)
        student = jobs[index].submission
        write_feedback(out, student, by_student[student], jobs, results)
        if time.monotonic() - last_write > TABLE_INTERVAL or len(results) == len(jobs):
            write_tables(out, jobs, results)
            last_write = time.monotonic()

    pending: dict[int, str] = {}
    for index, job in enumerate(jobs):
        if job.ref is None or job.path is None:
            finish(index, run_job(job, settings))
            continue
        if job.notebook not in digests:
            digests[job.notebook] = reference_digest(job.ref)
        key = cache_key(job, settings, digests[job.notebook])
        entry = cache_dir / f"{key}.json"
        if entry.is_file() and not settings.regrade:
            try:
                stored = json.loads(entry.read_text())
                finish(index, JobResult([Row(**r) for r in stored["rows"]], stored["seconds"], cached=True,
                                        cell_seconds=stored.get("cells", {})))
                continue
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry: grade again
        pending[index] = key

    pool = ThreadPoolExecutor(max_workers=max(1, settings.jobs))
    futures = {pool.submit(run_job, jobs[i], settings): i for i in pending}
    try:
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                index = futures.pop(future)
                result = future.result()
                if not result.internal_error:
                    write_atomic(cache_dir / f"{pending[index]}.json", json.dumps(
                        {"rows": [r.as_dict() for r in result.rows], "seconds": result.seconds,
                         "cells": result.cell_seconds}))
                finish(index, result)
    except KeyboardInterrupt:
        # Keep what finished; drop the runs cut short.
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        write_tables(out, jobs, results)
        raise
    pool.shutdown()
    return results
