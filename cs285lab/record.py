"""What a training run measured, in one schema: every algorithm's history rows carry the same columns.

A history is a list of rows, one per evaluation. Every row has

    step          env steps taken so far (every worker step counts; the x axis of every curve)
    eval_return   mean undiscounted return of the evaluation policy (greedy / deterministic) now
    train_return  mean return of the training episodes finished since the previous row (nan if none)
    wall_s        wall-clock seconds since training began
    train_s       the same without the time spent evaluating
    train_cpu_s   CPU seconds of this process spent training (evaluations excluded)

plus the algorithm's own statistics (losses, alpha, model_val_nll, ...). The same names are the
columns of run logs (`cs285lab.runlog`), benchmark CSVs and plots. `Recorder` produces the rows:
training loops report rewards and episode ends to it and ask it to evaluate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

__all__ = ["SCHEMA", "Logger", "NullLogger", "HistoryRow", "Recorder", "as_row"]

SCHEMA = ("step", "eval_return", "train_return", "wall_s", "train_s", "train_cpu_s")

# Names rows had before one schema; a notebook saved then still reads them (row["env_steps"] is row["step"]).
# Removed in the 2027-spring release (docs/ARCHITECTURE.md).
LEGACY_NAMES = {"env_steps": "step"}


class Logger(Protocol):
    """Anything an algorithm can report scalars to."""

    def log(self, step: int, **scalars: float) -> None: ...


class NullLogger:
    """A logger that drops everything (the default for algorithms)."""

    def log(self, step: int, **scalars: float) -> None:
        """Ignore the scalars."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> NullLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class HistoryRow(dict):
    """One history row (a plain dict of the schema's columns); older column names still read."""

    def __missing__(self, key: str) -> Any:
        if key in LEGACY_NAMES and LEGACY_NAMES[key] in self:
            return self[LEGACY_NAMES[key]]
        raise KeyError(f"{key!r}: a history row has {', '.join(self)}")

    def get(self, key: str, default: Any = None) -> Any:
        """row.get(key) that also knows the older column names."""
        try:
            return self[key]
        except KeyError:
            return default


def as_row(values: Mapping[str, Any]) -> HistoryRow:
    """A HistoryRow from a mapping that has the schema's columns (a clear error naming what is missing)."""
    missing = [c for c in SCHEMA if c not in values]
    if missing:
        raise ValueError(f"a history row needs the columns {', '.join(SCHEMA)}; missing {', '.join(missing)}")
    return HistoryRow(values)


class Recorder:
    """Training episodes, evaluations and clocks of one run, turned into history rows (and logged).

    `num_envs` workers report their rewards each step (`add`); an episode's return is complete when
    its worker reports done. `evaluate` runs the evaluation policy, outside the training clocks.
    """

    def __init__(self, logger: Logger | None = None, num_envs: int = 1) -> None:
        self.logger = logger or NullLogger()
        self.rows: list[HistoryRow] = []
        self._running = np.zeros(num_envs)
        self._finished: list[float] = []  # since the last history row
        self._unlogged: list[float] = []  # since the last training-curve point
        self._eval_s = self._eval_cpu_s = 0.0
        self._training_points = False  # once log_training is used, rows leave train_return to it
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    # -- training episodes --------------------------------------------------------------------------
    def add(self, rewards: np.ndarray | float, done: np.ndarray | bool) -> None:
        """Add one step's rewards (one per worker); workers that are `done` finish their episode."""
        done = np.asarray(done, dtype=bool).reshape(-1)
        self._running += np.asarray(rewards, dtype=np.float64).reshape(-1)
        self.episodes_ended(self._running[done].tolist())
        self._running[done] = 0.0

    def episodes_ended(self, returns: list[float]) -> None:
        """Record the returns of training episodes that ended (for loops that add up returns themselves)."""
        self._finished.extend(returns)
        self._unlogged.extend(returns)

    def log_training(self, step: int, stats: Mapping[str, float] | None = None) -> None:
        """A point of the training curve: mean return of the episodes ended since the last point (and stats)."""
        self._training_points = True
        if self._unlogged:
            self.log(step, train_return=float(np.mean(self._unlogged)), **(stats or {}))
            self._unlogged = []

    def log(self, step: int, **scalars: float) -> None:
        """Log scalars at `step` with this run's wall_s: history rows and run logs read one clock."""
        self.logger.log(step, wall_s=time.perf_counter() - self._start, **scalars)

    # -- evaluations --------------------------------------------------------------------------------
    @contextmanager
    def not_training(self) -> Iterator[None]:
        """Time spent inside this block counts in wall_s but not in train_s or train_cpu_s."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._eval_s += time.perf_counter() - wall
            self._eval_cpu_s += time.process_time() - cpu

    def evaluate(self, step: int, score: Callable[[], float], stats: Mapping[str, float] | None = None,
                 **extra: float) -> HistoryRow:
        """Call `score()` (an evaluation, off the training clocks) and record one history row at `step`."""
        with self.not_training():
            eval_return = float(score())
        return self.row(step, eval_return, stats, **extra)

    def row(self, step: int, eval_return: float, stats: Mapping[str, float] | None = None,
            **extra: float) -> HistoryRow:
        """Record one history row at `step` with an evaluation already made; log it; return it."""
        wall = time.perf_counter() - self._start
        mean = float(np.mean(self._finished)) if self._finished else float("nan")
        self._finished = []
        row = as_row({"step": int(step), "eval_return": float(eval_return), "train_return": mean,
                      "wall_s": wall, "train_s": wall - self._eval_s,
                      "train_cpu_s": time.process_time() - self._cpu_start - self._eval_cpu_s,
                      **extra, **(stats or {})})
        self.rows.append(row)
        skip = ("step", "train_return") if self._training_points else ("step",)
        self.logger.log(row["step"], **{k: v for k, v in row.items() if k not in skip})  # wall_s: the row's own
        return row
