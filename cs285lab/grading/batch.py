"""Run + verdict, the middle of the pipeline: each job's notebook merged, run under nbval, judged; results cached.

`grade_batch` runs every job (in parallel with -j N) and hands each result to a callback as soon as
it finishes; it writes nothing but the cache (grading/pipeline.py writes the reports).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

import nbformat

import cs285lab
from cs285lab.files import write_atomic
from cs285lab.grading.assemble import Assembled, assemble
from cs285lab.grading.course import Reference
from cs285lab.grading.discover import safe_name
from cs285lab.grading.jobs import Job, JobResult
from cs285lab.grading.places import report_label
from cs285lab.grading.run import Limits, RunResult, run_notebook, stop_all
from cs285lab.grading.sandbox import Sandbox
from cs285lab.grading.scrub import hidden_fragments, scrub
from cs285lab.grading.verdict import Row, grade_rows, notebook_rows
from cs285lab.notebook_format import cell_meta

CHECKS = Path(cs285lab.__file__).resolve().parent / "checks"  # found, not imported: the grader needs no torch
# Seconds each course notebook took to grade (ci budget, sandboxed), written by `make bench ONLY=grading`:
# only their order is used, to start a submission's slowest notebooks first.
GRADING_SECONDS = "grading_seconds.json"
GRADER_VERSION = "3"  # bump when grading logic changes: it invalidates every cached result


class Stop:
    """A stop request (Ctrl-C, SIGTERM, SIGHUP) that never lands inside the thread pool's locks.

    A KeyboardInterrupt raised while `concurrent.futures.wait` holds the futures' locks can leave one
    locked, and the pool then never finishes; inside `deferred()` a signal only sets a flag, and
    `check()` raises the KeyboardInterrupt at a safe point.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.defer = False

    @contextmanager
    def deferred(self):
        """Signals arriving inside this block wait for the next `check()`."""
        self.defer = True
        try:
            yield
        finally:
            self.defer = False

    def signal(self, signum: int) -> None:
        """What a signal handler calls: stop now, or at the next check when deferred."""
        if self.defer:
            self.requested.set()
        else:
            raise KeyboardInterrupt(f"signal {signum}")

    def check(self) -> None:
        """Raise the KeyboardInterrupt of a deferred stop request."""
        if self.requested.is_set():
            self.requested.clear()
            raise KeyboardInterrupt("stopped")


STOP = Stop()


@dataclass
class Settings:
    """Everything that decides a grade, besides the files."""

    limits: Limits = field(default_factory=Limits)
    tampered_policy: str = "restore"
    jobs: int = 1
    keep_scratch: Path | None = None
    regrade: bool = False  # ignore cached results (they are still refreshed)
    sandbox: Sandbox | None = None  # None: run unsandboxed (--sandbox off, or already inside a container)


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


def graded_content(nb: nbformat.NotebookNode) -> bytes:
    """What of a submitted notebook the grade depends on: each cell's type, source, cs285lab metadata and tags.

    Saved outputs, execution counts and UI metadata are not in it: re-saving a notebook does not re-run it.
    """
    return json.dumps([(c.cell_type, c.source, cell_meta(c), c.get("metadata", {}).get("tags"))
                       for c in nb.cells], sort_keys=True, default=str).encode()


def cache_key(job: Job, settings: Settings, reference: bytes) -> str:
    """Content hash of what decides this job's grade: submission, reference digest, limits, policy."""
    limits = settings.limits
    options = json.dumps([job.submission, job.notebook, limits.profile, limits.cell_timeout,
                          limits.notebook_timeout, limits.memory_mb, limits.file_mb, settings.tampered_policy,
                          "sandboxed" if settings.sandbox is not None else "unsandboxed"])
    return _digest(options.encode(), graded_content(job.nb), reference)


def cell_seconds(assembled: Assembled, result: RunResult) -> dict[str, float]:
    """Seconds per executed code cell of one run, labelled the same way for every student (places.report_label)."""
    timings: dict[str, float] = {}
    for number, record in result.records.items():
        if not 0 < number < len(assembled.cells):
            continue  # the grader's own first cell
        label = report_label(assembled, number)
        timings[label] = timings.get(label, 0.0) + float(record.get("seconds") or 0.0)
    return timings


def run_job(job: Job, settings: Settings) -> JobResult:
    """Grade one notebook: merge it with its reference, run it, judge each check cell."""
    start = time.monotonic()
    if job.ref is None:
        status = "ignored" if job.note.startswith("ignored:") else "error"
        return JobResult([Row(job.submission, job.notebook, "", 0.0, 0.0, status, job.note, "file")])
    if job.path is None:
        return JobResult(notebook_rows(job.submission, job.ref, "missing", job.note))
    if job.nb is None:
        return JobResult(notebook_rows(job.submission, job.ref, "error", job.unreadable))
    try:
        assembled = assemble(job.nb, job.ref, CHECKS)
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


def expected_seconds() -> dict[str, float]:
    """Notebook name -> seconds it took to grade when last measured (empty if never measured)."""
    try:
        table = json.loads((resources.files("cs285lab") / "data" / GRADING_SECONDS).read_text())
        return {str(name): float(seconds) for name, seconds in table["seconds"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def longest_first(jobs: list[Job], indices: list[int]) -> list[int]:
    """`indices` in the order to start them: submission by submission, each one's slowest notebooks first.

    With -j 2, a submission whose longest notebook starts last ends about one long notebook late (see
    benchmarks/results/grading.md). Submissions keep their order, so each student's results are complete as
    early as before; notebooks never measured keep their file order, after the measured ones.
    """
    seconds = expected_seconds()
    first_job: dict[str, int] = {}
    for index in indices:
        first_job.setdefault(jobs[index].submission, index)
    return sorted(indices, key=lambda i: (first_job[jobs[i].submission], -seconds.get(jobs[i].notebook, 0.0), i))


def grade_batch(jobs: list[Job], out: Path, settings: Settings, finish: Callable[[int, JobResult], None],
                stream: TextIO | None = None) -> dict[int, JobResult]:
    """Run every job (cached results reused); call `finish(index, result)` as each one is done."""
    cache_dir = out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    digests: dict[str, bytes] = {}
    results: dict[int, JobResult] = {}
    progress = Progress(len(jobs), stream)

    def done(index: int, result: JobResult) -> None:
        results[index] = result
        progress.update(jobs[index], result)
        finish(index, result)

    pending: dict[int, str] = {}
    for index, job in enumerate(jobs):
        if job.ref is None or job.path is None or job.nb is None:
            done(index, run_job(job, settings))
            continue
        if job.notebook not in digests:
            digests[job.notebook] = reference_digest(job.ref)
        key = cache_key(job, settings, digests[job.notebook])
        entry = cache_dir / f"{key}.json"
        if entry.is_file() and not settings.regrade:
            try:
                stored = json.loads(entry.read_text())
                done(index, JobResult([Row(**r) for r in stored["rows"]], stored["seconds"], cached=True,
                                      cell_seconds=stored.get("cells", {})))
                continue
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry: grade again
        pending[index] = key

    pool = ThreadPoolExecutor(max_workers=max(1, settings.jobs))
    futures = {pool.submit(run_job, jobs[i], settings): i for i in longest_first(jobs, list(pending))}
    try:
        while futures:
            with STOP.deferred():
                finished, _ = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = futures.pop(future)
                    result = future.result()
                    if not result.internal_error:
                        write_atomic(cache_dir / f"{pending[index]}.json", json.dumps(
                            {"rows": [r.as_dict() for r in result.rows], "seconds": result.seconds,
                             "cells": result.cell_seconds}))
                    done(index, result)
            STOP.check()
    except KeyboardInterrupt:
        # Keep what finished; drop the runs cut short.
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return results
