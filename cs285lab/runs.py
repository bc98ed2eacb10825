"""Run logging for notebooks: `RunLogger` writes a run (cs285lab.runlog) and can draw it live.

    from cs285lab.runs import RunLogger, load_runs
    with RunLogger("nb01/a2c", seed=0, config=vars(B), live=["eval_return"], reference="nb01-a2c-cartpole") as log:
        train_a2c(..., logger=log)

The writing and reading of runs/<experiment>/<run>/ (config.json, metrics.jsonl; `load_runs`,
`load_configs`, ...) live in `cs285lab.runlog`, at the bottom of the package. This module sits at
the top: it turns `live=`, `reference=`, `x=`, `smoothing=`, `total_steps=` into a live-curve sink
(cs285lab.plots.live.LiveCurves, with the reference band overlaid) and hands it to the writer. Ctrl-C
inside `with RunLogger(...)` ends in one line ("KeyboardInterrupt: interrupted at step 1,234 of
20,000; the run log keeps what was recorded (runs/...)"), not a traceback through the package.
Algorithms never import this module; they take any `Logger` (cs285lab.record).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs285lab.record import Logger, NullLogger
from cs285lab.runlog import (RunWriter, Sink, check_metric_name, check_run_name, list_runs, load_configs,
                             load_runs, read_metrics, run_status)

if TYPE_CHECKING:  # the plotting stack loads only when a live plot is asked for
    from cs285lab.plots.live import LiveCurves

__all__ = ["Logger", "NullLogger", "RunInterrupted", "RunLogger", "RunWriter", "Sink", "load_runs", "load_configs",
           "list_runs", "read_metrics", "run_status"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a logged run: one line says where, with no traceback through the package's internals."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of the stack: the student pressed stop, nothing went wrong
        return [f"\x1b[33mKeyboardInterrupt\x1b[0m: {self}"]


# Jupyter and the grader name an error by its class: an interrupt stays a KeyboardInterrupt to them
RunInterrupted.__name__ = RunInterrupted.__qualname__ = "KeyboardInterrupt"


class RunLogger(RunWriter):
    """Write scalars of one run to runs/<experiment>/<run>/metrics.jsonl; never overwrite a run.

    `live=True` draws every logged metric in place while the cell runs, `live=["episode_return"]`
    only those; `x` ("step" or "wall_s"), `smoothing` (0 = raw, 0.9 = heavy), `total_steps`
    (for the progress line) and `reference` (an exercise name: overlay its reference band) tune it.
    `live=figure` (a `cs285lab.plots.LiveCurves` made once for several runs) draws this run as one more
    line of that figure, labelled with the run's name; the figure's own options apply.
    `sinks` are further objects with add(row)/close(status) that see every logged row (see cs285lab.runlog).
    """

    def __init__(self, experiment: str, run: str | None = None, config: Any = None,
                 seed: int | None = None, root: str | Path = "runs",
                 live: bool | Sequence[str] | LiveCurves = False, *, x: str = "step", smoothing: float = 0.6,
                 total_steps: int | None = None, reference: str | Path | None = None,
                 redraw_every: float = 1.0, sinks: Sequence[Sink] = ()) -> None:
        name = check_run_name(experiment, run, seed, config)
        shared = live if callable(getattr(live, "line", None)) else None  # a figure several runs draw into
        live_metrics = None if shared is not None else _live_metrics(live)
        if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral)
                                        or total_steps <= 0):
            raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
        if live_metrics is not None:  # check the plot options before anything is written
            from cs285lab.plots.draw import check_x
            from cs285lab.plots.smoothing import check_smoothing

            check_x(x)
            check_smoothing(smoothing)
        band = None
        if reference is not None:  # a misspelt band name fails here, live plot or not
            from cs285lab.plots.reference import load_reference

            band = load_reference(reference)
        super().__init__(experiment, run, config, seed, root, sinks=sinks,
                         meta=None if band is None else {"reference": band.name})
        if total_steps is None:  # the run's length as its config states it
            total_steps = next((self.config[k] for k in ("total_steps", "env_steps", "steps")
                                if isinstance(self.config.get(k), numbers.Integral) and self.config[k] > 0), None)
        self.total_steps = None if total_steps is None else int(total_steps)
        self.live: LiveCurves | None = None
        if shared is not None:
            self.live = shared
            self.attach(shared.line(name, total_steps=self.total_steps, save_to=self.path / "curves.png"))
        elif live_metrics is not None:
            from cs285lab.plots.live import LiveCurves

            self.live = LiveCurves(live_metrics or None, x=x, smoothing=smoothing, total_steps=self.total_steps,
                                   reference=band, title=f"{experiment}/{self.run}",
                                   redraw_every=redraw_every, save_to=self.path / "curves.png")
            self.attach(self.live)
        self.doctor = None
        if band is not None:  # a curve ending below its band gets the curve doctor's reading, under the plot
            from cs285lab.doctor import RunDoctor

            self.doctor = RunDoctor(band, self.path)
            self.attach(self.doctor)

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self.doctor is not None:
            self.doctor.error = exc  # a NaN stop is part of the diagnosis
        super().__exit__(exc_type, exc, tb)  # records the run as finished, failed or interrupted
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt) and not isinstance(exc, RunInterrupted):
            # the stop landed somewhere in the training loop or torch: where exactly is no news to the student
            raise RunInterrupted(self.interrupted_at()) from None

    def interrupted_at(self) -> str:
        """'interrupted at step 1,234 of 20,000; the run log keeps what was recorded (<run dir>)'."""
        of = f" of {self.total_steps:,}" if self.total_steps else ""
        where = (f"interrupted at step {self.last_step:,}{of}" if self.last_step is not None
                 else f"interrupted before the first logged step{of}")
        return f"{where}; the run log keeps what was recorded ({self.path})"


def _live_metrics(live: bool | Sequence[str] | str) -> list[str] | None:
    """None: no live plot; []: every metric as it appears; else the named metrics."""
    if live is False or live is None:
        return None
    if live is True:
        return []
    if isinstance(live, str):
        live = [live]
    names = list(live)
    bad = [n for n in names if not check_metric_name(n)]
    if bad or not names:
        raise ValueError(f"live must be True/False or a list of metric names, got {live!r}")
    return names

