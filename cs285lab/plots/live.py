"""Live learning curves: a figure that redraws in place while a notebook cell trains.

The pattern (the one fastai and transformers use): display the first frame with
`display(..., display_id=True)`, then `handle.update(...)` for every later frame. JupyterLab
replaces the output in place; a headless run (nbval, nbclient) keeps exactly one output, the
last frame. Frames are PNG images (not widgets), so a saved notebook carries no widget model
ids. A second display_id'd output above the figure is the progress line (steps, steps/s,
latest return), updated more often than the figure because it costs nothing to draw.

Outside a Jupyter kernel (plain python) nothing is displayed; the final frame is only saved.
It is a sink of the run writer (cs285lab.runlog): `add(row)` takes each logged row, `close(status)` draws
the final frame. Usually you get it through `RunLogger(..., live=[metrics])`, which hands it to the writer.
Several runs of one cell share one figure, each a labelled line: make the figure once and pass it to
every run, `figure = LiveCurves(["eval_return"], ...)`, `RunLogger(..., live=figure)` (which attaches
`figure.line(<run name>)`).
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cs285lab.plots.draw import Series, check_x, draw_metric, new_figure, shared_legend, to_png
from cs285lab.plots.reference import SPREADS
from cs285lab.plots.smoothing import check_smoothing

__all__ = ["LiveCurves", "LiveLine"]

PROGRESS_EVERY = 0.5     # seconds between progress-line updates
MAX_DRAW_SHARE = 0.1     # spend at most this share of the time redrawing (a redraw costs ~0.1-0.5 s)
SINGLE_LABEL = "this run"


def _kernel_display() -> Callable[..., Any] | None:
    """IPython's `display` when running inside a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython.display import display

    return display


def _image(png: bytes) -> Any:
    from IPython.display import Image

    return Image(data=png, format="png")


@dataclass
class _Line:
    """One run's points in a live figure, and where that run stands."""

    label: str
    total_steps: int | None
    save_to: Path | None
    color: str
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    step: int = 0
    wall: float = 0.0
    rows: int = 0
    status: str | None = None    # None while the run goes on; then "finished", "interrupted", "failed: ..."


class LiveLine:
    """A sink that draws one run as a labelled line of a shared `LiveCurves` figure."""

    def __init__(self, figure: LiveCurves, line: _Line) -> None:
        self.figure, self._line = figure, line

    @property
    def label(self) -> str:
        """The run's label in the figure's legend."""
        return self._line.label

    def add(self, row: dict[str, Any]) -> None:
        """Take one logged row of this run."""
        self.figure._add(self._line, row)

    def close(self, status: str = "finished") -> None:
        """The run ended (`status` as the run writer records it): draw the frame it ends on."""
        self.figure._end(self._line, status)


def _check_total(total_steps: Any) -> int | None:
    if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer))
                                    or total_steps <= 0):
        raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
    return None if total_steps is None else int(total_steps)


class LiveCurves:
    """Curves of one run's metrics (or of several runs, one line each), redrawn in place at most every `redraw_every` s.

    `spread` is the reference band's spread: "iqr" (the middle 50% of the reference seeds, the
    default: a curve well below it points at a bug), "80" (middle 80%) or "minmax".
    """

    def __init__(self, metrics: Sequence[str] | None = None, *, x: str = "step", smoothing: float = 0.6,
                 total_steps: int | None = None, reference: Any = None, spread: str = "iqr", title: str = "",
                 redraw_every: float = 1.0, save_to: str | Path | None = None, dpi: int = 100) -> None:
        self.metrics = list(metrics) if metrics else None  # None: every metric, as it first appears
        self.x = check_x(x)
        self.smoothing = check_smoothing(smoothing)
        self.total_steps = _check_total(total_steps)
        if redraw_every <= 0:
            raise ValueError(f"redraw_every must be > 0 seconds, got {redraw_every}")
        if spread not in SPREADS:
            raise ValueError(f"spread must be one of {sorted(SPREADS)}, got {spread!r}")
        self.spread = spread
        self.title = title
        self.redraw_every = float(redraw_every)
        self.save_to = None if save_to is None else Path(save_to)
        self.dpi = dpi
        self.reference = None
        if reference is not None:
            from cs285lab.plots.reference import load_reference

            self.reference = load_reference(reference)
        self.frames = 0                  # figures drawn so far (tests and the curious)
        self._lines: list[_Line] = []
        self._single: LiveLine | None = None   # the line `add`/`close` feed when this figure shows one run
        self._current: _Line | None = None     # the line the progress line follows
        self._order: list[str] = []
        self._draw_cost = 0.0
        self._next_draw = 0.0
        self._next_progress = 0.0
        self._lock = threading.RLock()
        self._display = _kernel_display()
        self._progress_handle = self._figure_handle = None
        if self._display is not None:
            self._progress_handle = self._display(self._progress_bundle(), raw=True, display_id=True)
            # a text placeholder costs nothing to draw; the first logged row replaces it with the figure
            waiting = f"{self.title}: waiting for the first logged values" if self.title else "waiting for data"
            self._figure_handle = self._display({"text/plain": waiting}, raw=True, display_id=True)

    # -- one run: this figure is the sink --------------------------------------------------------

    def add(self, row: dict[str, Any]) -> None:
        """Take one logged row ({"step", "wall_s", metric: value, ...}) of the figure's one run."""
        self._one().add(row)

    def close(self, status: str = "finished") -> None:
        """The figure's one run ended: draw the final frame (the one a saved notebook keeps) and save it.

        On a figure shared by several runs (`line`), each run's end already drew its frame: nothing to do.
        """
        if self._single is None and self._lines:
            return
        self._one().close(status)

    def _one(self) -> LiveLine:
        if self._single is None:
            self._single = self.line(SINGLE_LABEL, save_to=self.save_to)
        return self._single

    # -- several runs: one line each -------------------------------------------------------------

    def line(self, label: str, *, total_steps: int | None = None, save_to: str | Path | None = None) -> LiveLine:
        """A sink for one more run, drawn as a line labelled `label` (what `RunLogger(..., live=figure)` attaches).

        `total_steps` (default: the figure's) is the run's length on the progress line; the frame its
        run ends on is saved to `save_to`.
        """
        with self._lock:
            taken = {line.label for line in self._lines}
            unique, n = str(label), 1
            while unique in taken:  # the same run name twice in one figure: both stay visible and distinct
                n += 1
                unique = f"{label} ({n})"
            line = _Line(unique, _check_total(total_steps) or self.total_steps,
                         None if save_to is None else Path(save_to), f"C{len(self._lines) % 10}")
            self._lines.append(line)
            return LiveLine(self, line)

    def _add(self, line: _Line, row: dict[str, Any]) -> None:
        with self._lock:
            if line.status is not None:
                return  # the run has ended
            line.step, line.wall = int(row["step"]), float(row.get("wall_s") or 0.0)
            line.rows += 1
            self._current = line
            xval = line.step if self.x == "step" else line.wall
            for key, value in row.items():
                if key in ("step", "wall_s") or value is None:
                    continue
                line.last[key] = value
                if self.metrics is not None and key not in self.metrics:
                    continue
                if key not in self._order:
                    self._order.append(key)
                xs, ys = line.series.setdefault(key, ([], []))
                xs.append(xval)
                ys.append(value)
            if self._display is None:
                return
            now = time.perf_counter()
            if now >= self._next_draw:
                png = self._render_or_stop()
                if png is None:
                    return
                self._figure_handle.update(_image(png))
                self._progress_handle.update(self._progress_bundle(), raw=True)
                self._next_progress = time.perf_counter() + PROGRESS_EVERY
                # redraw every `redraw_every` s, but never spend more than MAX_DRAW_SHARE of the time drawing
                self._next_draw = time.perf_counter() + max(self.redraw_every, self._draw_cost / MAX_DRAW_SHARE)
            elif now >= self._next_progress:
                self._progress_handle.update(self._progress_bundle(), raw=True)
                self._next_progress = now + PROGRESS_EVERY

    def _end(self, line: _Line, status: str) -> None:
        with self._lock:
            if line.status is not None:
                return
            line.status = status or "finished"
            self._current = line
            png = self._render_or_stop()
            if png is None:
                return
            if self._display is not None:
                self._figure_handle.update(_image(png))
                self._progress_handle.update(self._progress_bundle(), raw=True)
            if line.save_to is not None:
                line.save_to.write_bytes(png)

    # -- drawing -----------------------------------------------------------------------------

    def figure(self) -> Any:
        """The current curves as a matplotlib Figure (for saving or further editing)."""
        names = self.metrics or self._order or ["(no metrics logged yet)"]
        lines = [line for line in self._lines if line.series] or self._lines[:1]
        entries = len(lines) + (1 if self.reference is not None else 0)
        # two panels per row at 5 in x 100 dpi: 500 px each, about the width of a JupyterLab output;
        # the shared legend below gets a row per three entries
        room = 0.0 if entries <= 1 else 0.1 + 0.25 * math.ceil(entries / 3)
        fig = new_figure(len(names), width=5.0, height=3.4, columns=2, fixed_layout=True, legend_room=room)
        # smooth against the whole run's length when it is known, so the curve does not change shape as it grows
        span = self.total_steps if self.x == "step" else None
        for ax, name in zip(fig.axes, names):
            series = [Series(line.label, np.asarray(line.series[name][0], float),
                             np.asarray(line.series[name][1], float), line.color)
                      for line in lines if name in line.series]
            draw_metric(ax, name, series, smoothing=self.smoothing, x=self.x, reference=self.reference,
                        spread=self.spread, span=span, x_max=span, legend=False)
        shared_legend(fig)
        if self.title:
            fig.suptitle(self.title, fontsize=10)
        return fig

    def _render_or_stop(self) -> bytes | None:
        """Render a frame; if drawing fails, stop live drawing (with one warning) rather than stop training."""
        try:
            return self._render()
        except Exception as exc:  # noqa: BLE001 - a plotting problem must never kill a training run
            import warnings

            warnings.warn(f"live plot stopped: {type(exc).__name__}: {exc} (training goes on; the run is "
                          "still logged)", RuntimeWarning, stacklevel=4)
            self._display = None
            return None

    def _render(self) -> bytes:
        start = time.perf_counter()
        png = to_png(self.figure(), dpi=self.dpi)
        self._draw_cost = time.perf_counter() - start
        self.frames += 1
        return png

    def _progress_bundle(self) -> dict[str, str]:
        """The progress line of the current run, as text and as HTML (with a <progress> bar when its length is known)."""
        line = self._current
        if line is None:
            return {"text/plain": "waiting for data",
                    "text/html": '<div class="cs285lab-progress" style="font-family:monospace">waiting for data</div>'}
        total = line.total_steps
        of = f" of {total:,}" if total else ""
        if line.status == "interrupted":
            where = f"interrupted at step {line.step:,}{of}" if line.rows else f"interrupted before the first logged step{of}"
        elif line.status is not None and line.status.startswith("failed"):
            where = f"stopped by an error ({line.status[len('failed: '):]}) at step {line.step:,}{of}"
        else:
            where = ("done: " if line.status else "") + f"step {line.step:,}" + (f" / {total:,}" if total else "")
        parts = [where]
        if line.wall > 0:
            parts.append(f"{line.step / line.wall:,.0f} steps/s")
        metric = next((n for n in [*self._order, *line.last] if "return" in n and n in line.last),
                      next(iter(line.last), None))
        if metric is not None:
            parts.append(f"{metric} {line.last[metric]:.4g}")
        minutes, seconds = divmod(int(line.wall), 60)
        parts.append(f"{minutes}:{seconds:02d} elapsed")
        text = " · ".join([line.label, *parts] if len(self._lines) > 1 else parts)
        bar = ""
        if total:
            bar = f'<progress value="{min(line.step, total)}" max="{total}" style="width:16em"></progress> '
        return {"text/plain": text,
                "text/html": f'<div class="cs285lab-progress" style="font-family:monospace">{bar}{html.escape(text)}</div>'}
