"""The grading sandbox: bubblewrap around each notebook's grading process, and scratch-folder hygiene.

Inside the sandbox the whole filesystem is read-only, the run's scratch folder is the only writable
place, `/tmp` is private, there is no network, the run has its own PID namespace (when its first
process ends, every process it started ends too) and it dies with the grader (`--die-with-parent`,
which holds even for SIGKILL). The instructor's home, the reference notebooks, the grader's output
folder (tables, feedback, cache) and the submissions folders are replaced by empty folders.

Scratch folders are named `cs285lab-grade-<grader pid>-<random>`; `remove_stale_scratch` deletes
those of graders that are gone (killed with SIGKILL, or a machine that lost power).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cs285lab.files import pid_alive

SCRATCH_PREFIX = "cs285lab-grade-"
SCRATCH_ENV = "CS285LAB_GRADE_SCRATCH"  # set in every graded process: finds orphans of unsandboxed runs
SANDBOX_MODES = ("on", "auto", "off")
SANDBOX_SETTING = "CS285LAB_GRADE_SANDBOX"  # the documented setting: on (default), auto, off
PROBE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
         "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session", "true"]
# Variables a notebook may need; everything else the grader's environment holds (tokens, keys) stays out.
_KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "PYTHONPATH",
             "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "SSL_CERT_FILE")


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None when it is not installed."""
    return shutil.which("bwrap")


_PROBED: dict[str, str | None] = {}


def unavailable_reason() -> str | None:
    """Why bubblewrap cannot sandbox a run on this machine (None when it can); probed once."""
    if "result" not in _PROBED:
        bwrap = bwrap_path()
        if bwrap is None:
            _PROBED["result"] = "bubblewrap (`bwrap`) is not installed"
        else:
            try:
                done = subprocess.run([bwrap, *PROBE], capture_output=True, text=True, timeout=30,
                                      stdin=subprocess.DEVNULL)
                said = (done.stderr.strip() or f"exit status {done.returncode}")[:300]
                _PROBED["result"] = None if done.returncode == 0 else (
                    f"bubblewrap cannot create its namespaces here ({said}); unprivileged user namespaces are "
                    "probably disabled (e.g. sysctl kernel.unprivileged_userns_clone=0, an AppArmor restriction, "
                    "or a container's seccomp profile)")
            except (OSError, subprocess.TimeoutExpired) as exc:
                _PROBED["result"] = f"bubblewrap failed to start ({type(exc).__name__}: {exc})"
    return _PROBED["result"]


def resolve_mode(requested: str | None) -> str:
    """The sandbox mode from the command line, else the CS285LAB_GRADE_SANDBOX setting, else `on`."""
    mode = requested or os.environ.get(SANDBOX_SETTING, "").strip().lower() or "on"
    if mode not in SANDBOX_MODES:
        raise ValueError(f"sandbox mode {mode!r} (from {'--sandbox' if requested else SANDBOX_SETTING}): "
                         f"use one of {', '.join(SANDBOX_MODES)}")
    return mode


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class Sandbox:
    """How to wrap a grading command in bubblewrap: what stays visible and what is hidden."""

    hidden: tuple[Path, ...] = ()  # folders (or files) replaced by empty ones inside
    exposed: tuple[Path, ...] = field(default_factory=tuple)  # read-only paths re-shown inside a hidden home

    @classmethod
    def for_run(cls, hidden: list[Path]) -> Sandbox:
        """A sandbox hiding `hidden` and the home folder, but keeping Python and the course package visible."""
        import cs285lab

        home = Path(os.path.expanduser("~")).resolve()
        needed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              Path(sys.executable).parent, Path(cs285lab.__file__).parent)}
        needed |= {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()}
        # A hidden folder holding Python or the package (say, `cs285lab grade .`) cannot be hidden.
        secret = [q for q in (Path(p).resolve() for p in hidden if Path(p).exists())
                  if not any(_within(n, q) for n in needed)]
        if home != Path("/") and home.is_dir():
            secret.append(home)
        # A path on sys.path that holds something hidden (a repository root holding solutions/) stays
        # visible; the hidden folders inside it are hidden again afterwards.
        # Python or the package may live under a folder the sandbox replaces (the home folder, or /tmp for a
        # checkout made there): those paths are shown again, read-only, on top of the empty folder.
        covered = [home, Path("/tmp"), Path(tempfile.gettempdir()).resolve()]
        exposed = sorted(p for p in needed
                         if any(_within(p, c) and p != c for c in covered) and p.exists())
        return cls(tuple(dict.fromkeys(secret)), tuple(exposed))

    def wrap(self, command: list[str], box: Path, cwd: Path) -> list[str]:
        """`command` run by bubblewrap, with `box` (holding `cwd`) the only writable folder."""
        bwrap = bwrap_path()
        if bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed")
        args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        home = Path(os.path.expanduser("~")).resolve()
        hide: list[str] = []
        for path in self.hidden:
            if path.is_dir():
                hide += ["--tmpfs", str(path)]
            elif path.exists():
                hide += ["--ro-bind", "/dev/null", str(path)]
        args += hide
        args += ["--tmpfs", "/tmp"]
        for path in self.exposed:
            args += ["--ro-bind", str(path), str(path)]
        # A shown-again folder (a checkout on sys.path) may hold a hidden one (its solutions/): hide it again.
        if self.exposed:
            for path in self.hidden:
                if path != home and any(_within(path, e) for e in self.exposed):
                    args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
        args += ["--bind", str(box), str(box), "--chdir", str(cwd),
                 "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "grader",
                 "--die-with-parent", "--new-session", "--", *command]
        return args


def sandbox_environment(env: dict[str, str], box: Path) -> dict[str, str]:
    """The environment inside the sandbox: a short allow-list, with home and caches in the scratch folder."""
    kept = {k: v for k, v in env.items() if k in _KEEP_ENV or k.startswith(("LC_", "CS285LAB_"))}
    home = box / "home"
    home.mkdir(exist_ok=True)
    kept.update({"HOME": str(home), "TMPDIR": "/tmp", "MPLCONFIGDIR": str(home / ".matplotlib"),
                 "XDG_CACHE_HOME": str(home / ".cache"), "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime")})
    return kept


def new_scratch() -> Path:
    """A fresh scratch folder named after this grader's pid (so a later run can tell it is stale)."""
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))


def _processes_using(folder: Path) -> list[int]:
    """Processes whose environment names `folder` as their scratch folder (orphans of an unsandboxed run)."""
    want = f"{SCRATCH_ENV}={folder}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if want in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def remove_stale_scratch(root: Path | None = None) -> list[Path]:
    """Delete scratch folders of graders that no longer run, and any process still using them."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for folder in sorted(root.glob(SCRATCH_PREFIX + "*")):
        pid_text = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not folder.is_dir() or not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        for pid in _processes_using(folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
