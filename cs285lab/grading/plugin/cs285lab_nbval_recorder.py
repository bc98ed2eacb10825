"""A pytest plugin the grader loads next to nbval: it records each cell's result as it finishes.

It runs in the grading subprocess (never in the student's kernel). For every notebook cell nbval
runs, it writes one JSON line to a pipe the grader reads, so the grader keeps what finished even
when the process is killed at the notebook time limit. The kernel does not inherit the pipe, and
the job file (with the run's nonce) and the merged notebook (with the hidden tests) are deleted
once read, before the kernel starts. It also makes nbval
notice a dead kernel (os._exit, a crash) at once instead of waiting for the cell timeout.

It lives outside the `cs285lab` package on purpose: importing it must not import torch.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest

MESSAGE_CAP = 4000  # characters of an error message kept per cell
OUTPUT_CAP = 600  # characters of printed output kept per cell
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNEL_DIED = "the kernel died while running this cell"


class KernelDied(RuntimeError):
    """The kernel process exited while a cell was running."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add --cs285lab-job (the job file: cell map, pass marker) and --cs285lab-fd (the results pipe)."""
    parser.addoption("--cs285lab-job", action="store", default=None, help="cs285lab grader job file")
    parser.addoption("--cs285lab-fd", action="store", type=int, default=None, help="cs285lab results pipe")


def pytest_configure(config: pytest.Config) -> None:
    """Read the job file and make nbval's reply wait notice a dead kernel."""
    job_path = config.getoption("--cs285lab-job")
    if not job_path:
        return
    path = Path(job_path)
    job = json.loads(path.read_text())
    path.unlink()  # gone before the kernel (student code) starts
    config._cs285lab_job = job  # type: ignore[attr-defined]
    out = os.fdopen(config.getoption("--cs285lab-fd"), "w", encoding="utf-8")
    config._cs285lab_out = out  # type: ignore[attr-defined]
    _watch_for_dead_kernels()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the results file."""
    out = getattr(config, "_cs285lab_out", None)
    if out is not None:
        out.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Delete the merged notebook once nbval has read it: the student's kernel never sees the hidden tests."""
    job = getattr(session.config, "_cs285lab_job", None)
    if not job or not job.get("delete_notebook"):
        return
    for path in {str(getattr(item, "fspath", "")) for item in session.items} - {""}:
        try:
            os.unlink(path)
        except OSError:
            pass


def _watch_for_dead_kernels() -> None:
    # nbval waits for the execute reply for the whole cell timeout, even when the kernel is gone;
    # poll in one-second slices and stop as soon as the kernel process has exited.
    from nbval import kernel as nbval_kernel

    original = nbval_kernel.RunningKernel.await_reply
    if getattr(original, "_cs285lab", False):
        return

    def await_reply(self: Any, msg_id: str, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            left = 1.0 if deadline is None else max(0.01, min(1.0, deadline - time.monotonic()))
            try:
                return original(self, msg_id, timeout=left)
            except Empty:
                if not self.is_alive():
                    raise KernelDied(KERNEL_DIED) from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    await_reply._cs285lab = True  # type: ignore[attr-defined]
    nbval_kernel.RunningKernel.await_reply = await_reply


def _write(config: pytest.Config, record: dict[str, Any]) -> None:
    out = config._cs285lab_out  # type: ignore[attr-defined]
    out.write(json.dumps(record) + "\n")
    out.flush()


def _clean(text: str, cap: int) -> str:
    text = ANSI.sub("", text)
    return text if len(text) <= cap else text[:cap] + f"... [{len(text) - cap} more characters cut]"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Record the kernel's pid once, so the grader can stop it (and its children) at the time limit."""
    config = item.config
    if not hasattr(config, "_cs285lab_job") or getattr(config, "_cs285lab_pid_written", False):
        return
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
    if process is not None:
        _write(config, {"kernel_pid": process.pid})
        config._cs285lab_pid_written = True  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Append one record per executed cell: outcome, error, pass marker, a short output excerpt."""
    outcome = yield
    config = item.config
    job = getattr(config, "_cs285lab_job", None)
    cell_num = getattr(item, "cell_num", None)
    if job is None or cell_num is None:
        return
    report = outcome.get_result()
    if call.when == "setup" and report.passed:
        return  # the call phase will report this cell
    if call.when == "teardown":
        return
    outputs = getattr(item, "test_outputs", None) or []
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    marker = job["marker"].format(cell=job["cells"][cell_num].get("id") if cell_num < len(job["cells"]) else "")
    error = next((o for o in outputs if o.get("output_type") == "error"), None)
    record: dict[str, Any] = {
        "cell": cell_num,
        "outcome": report.outcome,
        "xfail": hasattr(report, "wasxfail"),
        "marker": marker in text,
        "seconds": round(getattr(report, "duration", 0.0), 3),
        # The end of what the cell printed: a check's verdict line comes last.
        "output": ANSI.sub("", "\n".join(line for line in text[-4 * OUTPUT_CAP:].splitlines()
                                          if job["marker_prefix"] not in line))[-OUTPUT_CAP:],
    }
    if error is not None:
        record["ename"] = str(error.get("ename", ""))
        record["evalue"] = _clean(str(error.get("evalue", "")), MESSAGE_CAP)
    if call.excinfo is not None and not report.passed:
        exc = call.excinfo.value
        record["exception"] = type(exc).__name__
        record["message"] = _clean(str(exc), MESSAGE_CAP)
        record["kernel_died"] = isinstance(exc, KernelDied)
        record["kernel_dead_before"] = isinstance(exc, RuntimeError) and "Kernel dead on test start" in str(exc)
        record["timeout"] = "Timeout of" in str(exc)
    _write(config, record)
