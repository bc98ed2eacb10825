"""Run logging: scalars against env steps, written as they come to runs/<experiment>/<run>/.

Algorithms take any object with `log(step, **scalars)` (the `Logger` protocol); `NullLogger`
is the default. `RunLogger` writes metrics.jsonl (one JSON object per line, flushed per line,
so a killed kernel keeps everything logged so far) and config.json.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class Logger(Protocol):
    """Anything an algorithm can report scalars to."""

    def log(self, step: int, **scalars: float) -> None: ...


class NullLogger:
    """A logger that drops everything (the default for algorithms)."""

    def log(self, step: int, **scalars: float) -> None:
        """Ignore the scalars."""


_SAFE = re.compile(r"[^A-Za-z0-9_.\-/]")


class RunLogger:
    """Write scalars of one run to runs/<experiment>/<run>/metrics.jsonl; never overwrite a run."""

    def __init__(self, experiment: str, run: str | None = None, config: dict[str, Any] | None = None,
                 seed: int | None = None, root: str | Path = "runs",
                 live: bool | Sequence[str] = False) -> None:
        if not experiment or _SAFE.search(experiment) or ".." in experiment:
            raise ValueError(f"experiment name {experiment!r}: use letters, digits, _ . - and / only")
        base = Path(root) / experiment
        name = run or (f"seed{seed}" if seed is not None else "run")
        if _SAFE.search(name) or "/" in name:
            raise ValueError(f"run name {name!r}: use letters, digits, _ . - only")
        self.path = _fresh_dir(base, name)
        self.seed = seed
        self._start = time.perf_counter()
        meta = {"experiment": experiment, "run": self.path.name, "seed": seed, "config": config or {}}
        (self.path / "config.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        self._file = open(self.path / "metrics.jsonl", "a", encoding="utf-8")
        self.live = live

    def log(self, step: int, **scalars: float) -> None:
        """Record `scalars` at env step `step` (with wall-clock seconds since the run began)."""
        row = {"step": int(step), "wall_s": round(time.perf_counter() - self._start, 4)}
        for key, value in scalars.items():
            value = float(value)
            row[key] = value if math.isfinite(value) else None
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush and close the metrics file."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
