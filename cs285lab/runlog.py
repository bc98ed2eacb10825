"""Run logs on disk: the writer of runs/<experiment>/<run>/ and the readers that load runs back.

Algorithms take any object with `log(step, **scalars)` (the `Logger` protocol of cs285lab.record);
`RunWriter` is one that writes, per run:

    runs/<experiment>/<run>/config.json    experiment, run, seed, config, started, finished, status
    runs/<experiment>/<run>/metrics.jsonl  one JSON object per log() call, flushed per line:
                                           {"step": 2048, "wall_s": 3.1, "eval_return": 41.0}

Flushing per line means a killed kernel keeps everything logged so far (a half-written or
corrupt line is skipped by `load_runs`, with a warning naming the file and line). A run whose
process died without closing its writer reads back with status "interrupted". A new run never
overwrites an old one: the directory gets a -2, -3, ... suffix instead. `load_runs` reads a set of
runs back into one tidy DataFrame.

The writer knows nothing of plots: whatever should see the rows as they come (a live figure, a
progress line) is a *sink*, an object with `add(row)` and `close(status)` handed to it (`sinks=` or
`attach`). `cs285lab.runs.RunLogger`, the notebooks' logger, builds the live-curve sink from its
arguments; this module sits at the bottom of the package and imports nothing above it.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import math
import numbers
import os
import re
import socket
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cs285lab.files import pid_alive as _pid_alive
from cs285lab.files import write_atomic

if TYPE_CHECKING:  # pandas loads only when runs are read back
    import pandas as pd

__all__ = ["Sink", "RunWriter", "load_runs", "load_configs", "list_runs", "read_metrics", "run_status",
           "check_metric_name"]

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"
RESERVED = ("step", "wall_s")
TIDY_COLUMNS = ["experiment", "run", "seed", "step", "wall_s", "metric", "value"]


_SAFE = re.compile(r"[^A-Za-z0-9_.\-/]")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_./\-]*$")


class Sink(Protocol):
    """Something that sees every logged row as it is written (e.g. a live figure), then how the run ended."""

    def add(self, row: dict[str, Any]) -> None: ...

    def close(self, status: str) -> None: ...  # "finished", "interrupted" or "failed: <Exception>"


def _is_config(config: object) -> bool:
    return dataclasses.is_dataclass(config) and not isinstance(config, type)


def check_run_name(experiment: str, run: str | None, seed: int | None, config: Any) -> str:
    """Validate a run's experiment, seed and config; return its run name (`run`, else seed<N>, else run)."""
    if not isinstance(experiment, str) or not experiment or _SAFE.search(experiment) \
            or ".." in experiment or experiment.startswith("/"):
        raise ValueError(f"experiment name {experiment!r}: use letters, digits, _ . - and / only")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if config is not None and not isinstance(config, dict) and not _is_config(config):
        raise TypeError(f"config must be a config dataclass (e.g. A2CConfig(...)) or a dict, "
                        f"got {type(config).__name__}")
    name = run or (f"seed{seed}" if seed is not None else "run")
    if not isinstance(name, str) or _SAFE.search(name) or "/" in name or name in (".", ".."):
        raise ValueError(f"run name {name!r}: use letters, digits, _ . - only")
    return name


def check_metric_name(name: Any) -> bool:
    """True if `name` is a plain metric name (letters, digits, _ . / -; not step or wall_s)."""
    return isinstance(name, str) and bool(_METRIC.match(name)) and name not in RESERVED


class RunWriter:
    """Write scalars of one run to runs/<experiment>/<run>/metrics.jsonl; never overwrite a run.

    Every logged row also goes to each sink (`sinks=`, or `attach` one later), which are closed
    with the run. `meta` adds keys to config.json (e.g. the reference band a notebook overlays).
    """

    def __init__(self, experiment: str, run: str | None = None, config: Any = None,
                 seed: int | None = None, root: str | Path = "runs", *, sinks: Sequence[Sink] = (),
                 meta: dict[str, Any] | None = None) -> None:
        name = check_run_name(experiment, run, seed, config)
        for sink in sinks:
            _check_sink(sink)
        self.experiment = experiment
        self.root = Path(root)
        self.path = _fresh_dir(self.root / experiment, name)
        self.run = self.path.name
        self.seed = None if seed is None else int(seed)
        self.config = dataclasses.asdict(config) if _is_config(config) else dict(config or {})
        self.sinks: list[Sink] = list(sinks)
        self.last_step: int | None = None  # the step of the last row written
        self._start = time.perf_counter()
        self._lock = threading.Lock()
        self._meta = {"experiment": experiment, "run": self.run, "seed": self.seed, "config": self.config,
                      "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "finished": None,
                      "status": "running", "pid": os.getpid(), "host": socket.gethostname(), **(meta or {})}
        _write_json_atomic(self.path / CONFIG_FILE, self._meta)
        self._file = open(self.path / METRICS_FILE, "a", encoding="utf-8")
        _OPEN.add(self)

    def attach(self, sink: Sink) -> None:
        """Feed every row logged from now on to `sink` too (and close it with the run)."""
        _check_sink(sink)
        self.sinks.append(sink)

    def log(self, step: int, **scalars: float) -> None:
        """Record `scalars` at env step `step`, with the run's wall-clock seconds.

        A `wall_s` among the scalars is the run's clock: a training loop's Recorder passes its own with every
        row, so a run log and the history it returns share one clock. Without one, the seconds since this
        writer was created.
        """
        given = scalars.pop("wall_s", None)
        wall = time.perf_counter() - self._start if given is None else _as_float("wall_s", given)
        if not math.isfinite(wall) or wall < 0:
            raise ValueError(f"log: wall_s must be a number of seconds >= 0, got {given!r}")
        row = {"step": _as_step(step), "wall_s": round(wall, 4)}
        for key, value in scalars.items():
            if not _METRIC.match(key):
                raise ValueError(f"log: metric name {key!r} is not a plain name (use letters, digits, _ . / -)")
            value = _as_float(key, value)
            row[key] = value if math.isfinite(value) else None
        with self._lock:
            if self._file.closed:
                raise ValueError(f"log: the logger of {self.path} is closed; create a new RunLogger")
            self._file.write(json.dumps(row) + "\n")
            self._file.flush()  # a killed kernel keeps every line written so far
            self.last_step = row["step"]
        for sink in self.sinks:
            sink.add(row)

    def close(self, status: str = "finished") -> None:
        """Flush and close the metrics file, record the run's end and `status`, then close the sinks."""
        with self._lock:
            if self._file.closed:
                return
            self._file.close()
            self._meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self._meta["status"] = status
            _write_json_atomic(self.path / CONFIG_FILE, self._meta)
        _OPEN.discard(self)
        for sink in self.sinks:
            sink.close(status)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # a run that raised (a bug, a stub) is kept, but marked as such; Ctrl-C / "interrupt kernel" is not a failure
        if exc_type is None:
            self.close("finished")
        else:
            self.close("interrupted" if issubclass(exc_type, KeyboardInterrupt) else f"failed: {exc_type.__name__}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


def _check_sink(sink: Any) -> None:
    if not (callable(getattr(sink, "add", None)) and callable(getattr(sink, "close", None))):
        raise TypeError(f"a sink needs add(row) and close(status) methods, got {type(sink).__name__}")


_OPEN: weakref.WeakSet[RunWriter] = weakref.WeakSet()


@atexit.register
def _close_open_loggers() -> None:
    # the kernel is shutting down (restart, quit) with a run still open: record it as interrupted
    for logger in list(_OPEN):
        try:
            logger.close("interrupted")
        except Exception:  # noqa: BLE001 - never block interpreter exit
            pass


# ----------------------------------------------------------------------------- reading runs back


def list_runs(experiment: str | Iterable[str], root: str | Path = "runs") -> list[Path]:
    """Run directories (those holding config.json or metrics.jsonl) of one or more experiments, sorted."""
    root = Path(root)
    experiments = [experiment] if isinstance(experiment, str) else list(experiment)
    found: list[Path] = []
    for exp in experiments:
        base = root / exp
        if not base.is_dir():
            known = sorted({str(p.parent.parent.relative_to(root)) for p in root.glob(f"**/{CONFIG_FILE}")}) \
                if root.is_dir() else []
            raise FileNotFoundError(f"no experiment {exp!r} under {root}/"
                                    + (f"; experiments there: {', '.join(known)}" if known else
                                       " (nothing logged there yet)"))
        runs = sorted((p for p in base.iterdir()
                       if p.is_dir() and ((p / CONFIG_FILE).is_file() or (p / METRICS_FILE).is_file())),
                      key=_natural_key)
        if not runs:
            nested = sorted({str(p.parent.parent.relative_to(root)) for p in base.glob(f"**/{CONFIG_FILE}")})
            raise FileNotFoundError(f"no runs directly in experiment {exp!r}"
                                    + (f"; experiments inside it: {', '.join(nested)}" if nested else ""))
        found += runs
    return found


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of one run's metrics.jsonl; a corrupt line is skipped with a warning naming the file and line.

    A half-written last line (the process was killed mid-write) is skipped silently.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_FILE} in {run_dir}")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # no trailing newline: the writer died mid-line
                break
            _skip(path, number, "not a JSON line", line)
            continue
        if not isinstance(row, dict) or not isinstance(row.get("step"), int) or isinstance(row["step"], bool):
            _skip(path, number, "not an object with an integer 'step'", line)
            continue
        rows.append(row)
    return rows


def _skip(path: Path, number: int, why: str, line: str) -> None:
    warnings.warn(f"{path}:{number}: skipped a line that is {why}: {line[:80]!r}", RuntimeWarning, stacklevel=3)


def _read_meta(run_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        warnings.warn(f"{run_dir / CONFIG_FILE}: not valid JSON; the run loads without its config",
                      RuntimeWarning, stacklevel=3)
        return {}
    return meta if isinstance(meta, dict) else {}


def run_status(meta: dict[str, Any]) -> str | None:
    """A run's status; "running" only while its process lives: a run whose process died reads "interrupted"."""
    status = meta.get("status")
    if status != "running":
        return status
    pid, host = meta.get("pid"), meta.get("host")
    if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
        return "interrupted"
    return status


def load_runs(experiment: str | Iterable[str], root: str | Path = "runs", *, runs: Iterable[str] | None = None,
              metrics: Iterable[str] | None = None, wide: bool = False) -> pd.DataFrame:
    """Load runs into one DataFrame: tidy by default, one row per (run, step, metric).

    Tidy columns: experiment, run, seed, step, wall_s, metric, value (value NaN where a
    non-finite number was logged). `wide=True` gives one row per log() call instead, with one
    column per metric. `runs` and `metrics` keep only those names. Interrupted runs load up to
    their last complete line; `load_configs` tells which runs finished.
    """
    import pandas as pd

    wanted_runs = None if runs is None else set([runs] if isinstance(runs, str) else runs)
    wanted_metrics = None if metrics is None else set([metrics] if isinstance(metrics, str) else metrics)
    records: list[dict[str, Any]] = []
    for run_dir in list_runs(experiment, root):
        if wanted_runs is not None and run_dir.name not in wanted_runs:
            continue
        meta = _read_meta(run_dir)
        exp = meta.get("experiment") or str(run_dir.parent.relative_to(Path(root)))
        ident = {"experiment": exp, "run": run_dir.name, "seed": meta.get("seed")}
        if not (run_dir / METRICS_FILE).is_file():
            continue
        for row in read_metrics(run_dir):
            base = {**ident, "step": row["step"], "wall_s": row.get("wall_s")}
            for key, value in row.items():
                if key in RESERVED or (wanted_metrics is not None and key not in wanted_metrics):
                    continue
                if wide:
                    base[key] = value
                else:
                    records.append({**base, "metric": key, "value": value})
            if wide:
                records.append(base)
    if wide:
        frame = pd.DataFrame.from_records(records)
        if frame.empty:
            frame = pd.DataFrame(columns=TIDY_COLUMNS[:5])
    else:
        frame = pd.DataFrame.from_records(records, columns=TIDY_COLUMNS)
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    frame["seed"] = frame["seed"].astype("Int64")
    frame["step"] = frame["step"].astype("int64")
    frame["wall_s"] = pd.to_numeric(frame["wall_s"], errors="coerce").astype(float)
    return frame


def load_configs(experiment: str | Iterable[str], root: str | Path = "runs") -> pd.DataFrame:
    """One row per run: experiment, run, seed, started, finished, status, path, config.<key> columns.

    status is "finished", "failed: <Exception>" (the training raised), "interrupted" (stopped
    by Ctrl-C, a kernel restart, or its process died: `finished` is None then) or "running".
    """
    import pandas as pd

    rows = []
    for run_dir in list_runs(experiment, root):
        meta = _read_meta(run_dir)
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        rows.append({"experiment": meta.get("experiment") or str(run_dir.parent.relative_to(Path(root))),
                     "run": run_dir.name, "seed": meta.get("seed"), "started": meta.get("started"),
                     "finished": meta.get("finished"), "status": run_status(meta), "path": str(run_dir),
                     **{f"config.{k}": v for k, v in config.items()}})
    frame = pd.DataFrame.from_records(rows)
    if not frame.empty:
        frame["seed"] = frame["seed"].astype("Int64")
    return frame


# ----------------------------------------------------------------------------- helpers


def _as_step(step: Any) -> int:
    if not isinstance(step, numbers.Number) and getattr(step, "shape", None) == () and hasattr(step, "item"):
        step = step.item()  # a 0-d tensor or array
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"log: step must be an int (env steps so far), got {step!r} ({type(step).__name__})")
    if step < 0:
        raise ValueError(f"log: step must be >= 0, got {step}")
    return int(step)


def _as_float(key: str, value: Any) -> float:
    if isinstance(value, numbers.Number):
        return float(value)
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "item") and math.prod(shape) == 1:
        item = value.item()  # a one-element tensor or array
        if isinstance(item, numbers.Number):
            return float(item)
    raise TypeError(f"log: {key} must be a single number, got {type(value).__name__}"
                    + (f" of shape {tuple(shape)} (log a summary, e.g. x.mean().item())" if shape is not None else ""))


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON via a temp file + rename, so a crash never leaves a half-written config."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def _fresh_dir(base: Path, name: str) -> Path:
    """Create base/name, or base/name-2, -3, ... if it exists: a new run never overwrites an old one."""
    base.mkdir(parents=True, exist_ok=True)
    candidate, n = base / name, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base / f"{name}-{n}"
