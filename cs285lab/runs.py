"""Run logging for notebooks: `RunLogger` writes a run (cs285lab.runlog) and can draw it live.

    from cs285lab.runs import RunLogger, load_runs
    with RunLogger("nb01/a2c", seed=0, config=vars(B), live=["eval_return"], reference="nb01-a2c-cartpole") as log:
        train_a2c(..., logger=log)

The writing and reading of runs/<experiment>/<run>/ (config.json, metrics.jsonl; `load_runs`,
`load_configs`, ...) live in `cs285lab.runlog`, at the bottom of the package. This module sits at
the top: it turns `live=`, `reference=`, `x=`, `smoothing=`, `total_steps=` into a live-curve sink
(cs285lab.plots.live.LiveCurves, with the reference band overlaid) and hands it to the writer.
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

__all__ = ["Logger", "NullLogger", "RunLogger", "RunWriter", "Sink", "load_runs", "load_configs", "list_runs",
           "read_metrics", "run_status"]


class RunLogger(RunWriter):
    """Write scalars of one run to runs/<experiment>/<run>/metrics.jsonl; never overwrite a run.

    `live=True` draws every logged metric in place while the cell runs, `live=["episode_return"]`
    only those; `x` ("step" or "wall_s"), `smoothing` (0 = raw, 0.9 = heavy), `total_steps`
    (for the progress line) and `reference` (an exercise name: overlay its reference band) tune it.
    `sinks` are further objects with add(row)/close() that see every logged row (see cs285lab.runlog).
    """

    def __init__(self, experiment: str, run: str | None = None, config: dict[str, Any] | None = None,
                 seed: int | None = None, root: str | Path = "runs",
                 live: bool | Sequence[str] = False, *, x: str = "step", smoothing: float = 0.6,
                 total_steps: int | None = None, reference: str | Path | None = None,
                 redraw_every: float = 1.0, sinks: Sequence[Sink] = ()) -> None:
        check_run_name(experiment, run, seed, config)
        live_metrics = _live_metrics(live)
        if live_metrics is not None:  # check the plot options before anything is written
            from cs285lab.plots.draw import check_x
            from cs285lab.plots.smoothing import check_smoothing

            check_x(x)
            check_smoothing(smoothing)
            if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral)
                                            or total_steps <= 0):
                raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
        band = None
        if reference is not None:  # a misspelt band name fails here, live plot or not
            from cs285lab.plots.reference import load_reference

            band = load_reference(reference)
        super().__init__(experiment, run, config, seed, root, sinks=sinks,
                         meta=None if band is None else {"reference": band.name})
        self.live: LiveCurves | None = None
        if live_metrics is not None:
            from cs285lab.plots.live import LiveCurves

            if total_steps is None:
                total_steps = next((self.config[k] for k in ("total_steps", "env_steps", "steps")
                                    if isinstance(self.config.get(k), numbers.Integral)), None)
            self.live = LiveCurves(live_metrics or None, x=x, smoothing=smoothing, total_steps=total_steps,
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None = None, *rest: object) -> None:
        if self.doctor is not None:
            self.doctor.error = exc  # a NaN stop is part of the diagnosis
        super().__exit__(exc_type, exc, *rest)


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

