"""Turn nbval's per-cell records into one row per check cell: status, points, a message for the student."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cs285lab.grading.assemble import Assembled
from cs285lab.grading.course import Reference
from cs285lab.grading.places import relabel, student_label
from cs285lab.grading.run import Limits, RunResult

# Every status a row can have: the grader's verdicts, then what hand grading and the staff add.
STATUSES = ("passed", "failed", "error", "timeout", "tampered", "missing", "ignored", "graded", "pending",
            "flagged", "overridden")
KINDS = ("check", "written", "flag", "cell", "file")  # what a row is about (a locked cell, a whole file)
MEMORY_HINTS = ("MemoryError", "can't allocate memory", "Cannot allocate memory", "out of memory")


@dataclass
class Row:
    """One graded check cell of one submission (a row of grades.csv)."""

    submission: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str
    kind: str = "check"

    def as_dict(self) -> dict:
        """The row as a plain dict (for CSV and the cache)."""
        return asdict(self)


def notebook_rows(submission: str, ref: Reference, status: str, message: str) -> list[Row]:
    """Rows for a notebook that could not be run at all (missing, unreadable): zero points each."""
    return [Row(submission, ref.name, c.id, 0.0, c.points, status, message) for c in ref.checks]


def _error_text(record: dict) -> str:
    if record.get("ename"):
        value = record.get("evalue", "")
        return f"{record['ename']}: {value}" if value else record["ename"]
    return record.get("message") or f"the cell did not pass ({record.get('outcome')})"


def _problem(record: dict, limits: Limits) -> tuple[str, str] | None:
    """(status, what the cell did) when it stopped abnormally: kernel death, timeout, memory."""
    if record.get("kernel_died"):
        return "error", (f"killed the kernel (os._exit, a crash, or memory use beyond {limits.memory_mb} MB), "
                         "so no later cell ran")
    if record.get("timeout") or (record.get("ename") == "KeyboardInterrupt" and "Timeout" in record.get("message", "")):
        return "timeout", f"ran longer than the per-cell limit of {limits.cell_timeout:g} s and was stopped"
    text = _error_text(record)
    if any(hint in text for hint in MEMORY_HINTS):
        return "error", f"ran out of memory (limit {limits.memory_mb} MB): {text}"
    return None


def grade_rows(submission: str, ref: Reference, assembled: Assembled, result: RunResult,
               limits: Limits, tampered_policy: str = "restore") -> list[Row]:
    """One row per check cell of `ref` (plus rows for edited or deleted locked cells)."""
    records = result.records
    grader = records.get(0)
    if grader is None or grader.get("outcome") != "passed":
        detail = _error_text(grader) if grader else (result.log_tail.strip().splitlines() or ["no output"])[-1]
        if result.notebook_timed_out:
            return notebook_rows(submission, ref, "timeout",
                                 f"the notebook did not start within its time limit of {limits.notebook_timeout:g} s")
        return notebook_rows(submission, ref, "error", f"the grader could not start this notebook: {detail}")

    numbers = {cell["id"]: n for n, cell in enumerate(assembled.cells) if cell["kind"] == "check"}
    rows = []
    for check in ref.checks:
        number = numbers[check.id]
        status, message = _verdict(assembled, records, number, result, limits)
        points = check.points if status == "passed" else 0.0
        if check.id in assembled.protected:
            flag, why = assembled.protected[check.id]
            outcome = "passed" if status == "passed" else f"{status}: {message}"
            if tampered_policy == "zero":
                points = 0.0
                message = f"{why}; no points for a changed check cell (the restored reference check {outcome})"
            else:
                message = f"{why}; the grader restored the reference version and ran it: {outcome}"
            status = flag
        rows.append(Row(submission, ref.name, check.id, points, check.points, status,
                        relabel(message, assembled)))
    for cid, (flag, why) in assembled.protected.items():
        if cid not in numbers:
            rows.append(Row(submission, ref.name, cid, 0.0, 0.0, flag,
                            f"{why}; the grader ran the reference version instead (no points attached)", "cell"))
    return rows


def _verdict(assembled: Assembled, records: dict[int, dict], number: int, result: RunResult,
             limits: Limits) -> tuple[str, str]:
    # The nearest earlier cell that broke is the likeliest cause of this check's failure.
    earlier = [(n, records[n]) for n in sorted(records, reverse=True) if 0 < n < number]
    nearest_problem = next(((n, p) for n, r in earlier if (p := _problem(r, limits))), None)
    nearest_error = next(((n, r) for n, r in earlier if r.get("outcome") != "passed"
                        and assembled.cells[n]["kind"] != "check"), None)
    record = records.get(number)

    if record is None:
        if result.notebook_timed_out:
            return "timeout", (f"not run: the notebook exceeded its total time limit of "
                               f"{limits.notebook_timeout:g} s before reaching this check")
        if nearest_problem:
            n, (status, text) = nearest_problem
            return status, f"not run: {student_label(assembled, n)} {text}"
        if result.returncode is not None and result.returncode < 0:
            return "error", (f"not run: the notebook's grading process was killed (signal {-result.returncode}), "
                             "perhaps by the notebook itself, before reaching this check")
        tail = (result.log_tail.strip().splitlines() or ["no output"])[-1]
        return "error", f"not run: the notebook run stopped early (exit status {result.returncode}: {tail[-300:]})"

    if record.get("outcome") == "passed":
        if record.get("marker"):
            lines = [line for line in (record.get("output") or "").splitlines() if "\u2713" in line]
            return "passed", lines[-1].strip() if lines else "passed"
        return "failed", ("the check did not confirm that it finished: the notebook changes how errors or "
                          "output are handled (e.g. get_ipython().set_custom_exc, a replaced sys.stdout or print); "
                          "remove that code and resubmit")

    if record.get("kernel_dead_before"):
        if nearest_problem:  # a kernel death, or a timeout whose interrupt failed (nbval then stops the kernel)
            n, (status, problem) = nearest_problem
            return status, f"not run: {student_label(assembled, n)} {problem}"
        return "error", ("not run: the kernel died in an earlier cell (os._exit, a crash, or memory use beyond "
                         f"{limits.memory_mb} MB); cells after it never ran")
    own = _problem(record, limits)
    if own:
        return own[0], f"this check {own[1]}"
    text = _error_text(record)
    if nearest_problem:
        n, (status, problem) = nearest_problem
        return status, f"{text} (earlier, {student_label(assembled, n)} {problem})"
    if nearest_error and record.get("ename") != "NotImplementedError":
        n, r = nearest_error
        return "failed", f"{text} (earlier, {student_label(assembled, n)} raised {_error_text(r)[:300]})"
    return "failed", text
