"""Run one assembled notebook under nbval in its own process, with time and memory limits."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cs285lab.grading.assemble import MARKER_PREFIX, Assembled, marker
from cs285lab.grading.sandbox import SCRATCH_ENV, Sandbox, new_scratch, sandbox_environment

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
LOG_CAP = 4000  # characters of pytest's own output kept for the grader's error messages


@dataclass(frozen=True)
class Limits:
    """Per-notebook resource limits; every field is a command-line option."""

    profile: str = "ci"
    cell_timeout: float = 300.0
    notebook_timeout: float = 900.0
    memory_mb: int = 4096
    file_mb: int = 1024


@dataclass
class RunResult:
    """What nbval reported for each code cell, plus how the run ended."""

    records: dict[int, dict] = field(default_factory=dict)  # code cell number -> plugin record
    notebook_timed_out: bool = False
    returncode: int | None = None
    log_tail: str = ""
    seconds: float = 0.0


# Limits are set by a tiny exec wrapper rather than a preexec_fn: preexec_fn is unsafe when the
# grader runs several jobs from threads (-j N). The kernel nbval starts inherits the limits. The
# wrapper also asks Linux to kill it when the grader dies (PR_SET_PDEATHSIG survives the exec).
_LIMITED_EXEC = (
    "import os, resource, sys\n"
    "memory, files = int(sys.argv[1]), int(sys.argv[2])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (memory, memory))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    "try:\n"
    "    import ctypes\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)\n"  # PR_SET_PDEATHSIG, SIGKILL
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[3]):\n"
    "    raise SystemExit(70)\n"  # the grader died before the line above ran
    "os.execv(sys.argv[4], sys.argv[4:])\n"
)


# jsonschema (which nbformat imports) compiles ~40 grammars of the optional rfc3987-syntax package at import,
# for the "iri" format check, which notebook validation never uses: ~1.2 s of every process that reads a
# notebook. Marking the package absent skips only that check (jsonschema imports it under suppress(ImportError)).
SKIP_SLOW_IMPORTS = "import sys\nsys.modules.setdefault('rfc3987_syntax', None)\n"

# pytest with our recorder plugin importable as a top-level module (importing it via the
# cs285lab package would import torch into the grading process for nothing).
_PYTEST_WITH_RECORDER = (
    SKIP_SLOW_IMPORTS +
    "import sys\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "import pytest\n"
    "raise SystemExit(pytest.main(sys.argv[1:]))\n"
)


def _limited(command: list[str], limits: Limits) -> list[str]:
    return [sys.executable, "-c", _LIMITED_EXEC, str(limits.memory_mb * 2**20), str(limits.file_mb * 2**20),
            str(os.getpid()), *command]


def _environment(limits: Limits, job_dir: Path, box: Path, student: str, sandbox: Sandbox | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    if sandbox is not None:
        env = sandbox_environment(env, box)
    env.update({
        "CS285LAB_PROFILE": limits.profile,
        "CS285LAB_STUDENT": student,  # the submission's key as given (nb03 picks its bug variant from it)
        SCRATCH_ENV: str(job_dir),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
        "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only nbval and our recorder, whatever else is installed
        "IPYTHONDIR": str(box / "ipython"),  # no instructor startup files, no shared history database
    })
    return env


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all() -> None:
    """Stop every running notebook (Ctrl-C): their kernels exit when their nbval parent is gone."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        for process in _RUNNING:
            _kill_group(process.pid)


def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _drain(fd: int, chunks: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as pipe:
        while block := pipe.read1(65536):
            chunks.append(block)


def _parse_records(data: bytes) -> tuple[dict[int, dict], int | None]:
    records, kernel_pid = {}, None
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off when the process was killed
        if "kernel_pid" in record:
            kernel_pid = int(record["kernel_pid"])
        elif "cell" in record:
            records[int(record["cell"])] = record
    return records, kernel_pid


def run_notebook(assembled: Assembled, name: str, limits: Limits, keep: Path | None = None,
                 student: str = "", sandbox: Sandbox | None = None) -> RunResult:
    """Execute `assembled` with nbval in a scratch folder (inside `sandbox` when given); return each cell's record.

    The scratch folder holds `pytest.log` (written through an inherited file descriptor, never
    visible to the run) and `box/`, the only folder the run can write: the merged notebook (deleted
    once nbval has read it, before the kernel starts), the job file (deleted likewise), a private
    home and `work/`, the kernel's working folder.
    """
    job_dir = new_scratch()
    box = job_dir / "box"
    work = box / "work"  # the kernel's cwd (nbval uses the notebook's folder): whatever the notebook writes lands here
    work.mkdir(parents=True)
    notebook_path = work / name
    nbformat.write(assembled.notebook, notebook_path)
    job = {"cells": assembled.cells, "marker": marker(assembled.nonce), "marker_prefix": MARKER_PREFIX,
           "delete_notebook": True}
    (box / "job.json").write_text(json.dumps(job))
    (box / "pytest.ini").write_text("[pytest]\n")
    read_end, write_end = os.pipe()  # per-cell records: the kernel does not inherit it
    command = [sys.executable, "-c", _PYTEST_WITH_RECORDER, str(PLUGIN_DIR), str(notebook_path),
               "-c", str(box / "pytest.ini"), "--rootdir", str(box), "--noconftest",
               "-p", "no:cacheprovider", "-p", "nbval", "-p", "cs285lab_nbval_recorder",
               f"--cs285lab-job={box / 'job.json'}", f"--cs285lab-fd={write_end}",
               "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={limits.cell_timeout:g}",
               "-q", "--tb=no", "-rN", "-W", "ignore"]
    if sandbox is not None:
        command = sandbox.wrap(command, box, work)
    result = RunResult()
    start = time.monotonic()
    log_path = job_dir / "pytest.log"
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_end, chunks), daemon=True)
    try:
        with open(log_path, "wb") as log:
            try:
                with _RUNNING_LOCK:
                    if _STOPPING.is_set():
                        raise InterruptedError("grading was interrupted")
                    process = subprocess.Popen(_limited(command, limits), cwd=work, stdout=log,
                                               env=_environment(limits, job_dir, box, student, sandbox),
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True, pass_fds=(write_end,))
                    _RUNNING.add(process)
            finally:
                os.close(write_end)
            reader.start()
            try:
                result.returncode = process.wait(timeout=limits.notebook_timeout)
            except subprocess.TimeoutExpired:
                result.notebook_timed_out = True
                _kill_group(process.pid)
                process.wait()
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.discard(process)
        reader.join(timeout=10)
        result.seconds = time.monotonic() - start
        result.records, kernel_pid = _parse_records(b"".join(chunks))
        if sandbox is None:
            # The kernel runs in its own session; stop it and anything it started. (In the sandbox,
            # its PID namespace ended with the run, and the pid it reported means nothing out here.)
            _kill_group(kernel_pid)
        with open(log_path, "rb") as log:
            log.seek(max(0, log_path.stat().st_size - LOG_CAP))
            result.log_tail = log.read().decode("utf-8", errors="replace")
    finally:
        if keep is not None:
            shutil.copytree(job_dir, keep, dirs_exist_ok=True, ignore_dangling_symlinks=True, symlinks=True)
        shutil.rmtree(job_dir, ignore_errors=True)
    return result
