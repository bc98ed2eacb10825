"""Live learning curves: a figure that redraws in place while a notebook cell trains.

The pattern (the one fastai and transformers use): display the first frame with
`display(..., display_id=True)`, then `handle.update(...)` for every later frame. JupyterLab
replaces the output in place; a headless run (nbval, nbclient) keeps exactly one output, the
last frame. Frames are PNG images (not widgets), so a saved notebook carries no widget model
ids. A second display_id'd output above the figure is the progress line (steps, steps/s,
latest return), updated more often than the figure because it costs nothing to draw.

Outside a Jupyter kernel (plain python) nothing is displayed; the final frame is only saved.
It is a sink of the run writer (cs285lab.runlog): `add(row)` takes each logged row, `close()` draws
the final frame. Usually you get it through `RunLogger(..., live=[metrics])`, which hands it to the writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cs285lab.plots.draw import Series, check_x, draw_metric, new_figure, shared_legend, to_png
from cs285lab.plots.smoothing import check_smoothing

__all__ = ["LiveCurves"]

PROGRESS_EVERY = 0.5     # seconds between progress-line updates
MAX_DRAW_SHARE = 0.1     # spend at most this share of the time redrawing (a redraw costs ~0.1-0.5 s)


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


class LiveCurves:
    """Curves of one run's metrics, redrawn in place at most every `redraw_every` seconds."""

    def __init__(self, metrics: Sequence[str] | None = None, *, x: str = "step", smoothing: float = 0.6,
                 total_steps: int | None = None, reference: Any = None, title: str = "",
                 redraw_every: float = 1.0, save_to: str | Path | None = None, dpi: int = 100) -> None:
        self.metrics = list(metrics) if metrics else None  # None: every metric, as it first appears
        self.x = check_x(x)
        self.smoothing = check_smoothing(smoothing)
        if total_steps is not None and (not isinstance(total_steps, (int, np.integer)) or total_steps <= 0):
            raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
        if redraw_every <= 0:
            raise ValueError(f"redraw_every must be > 0 seconds, got {redraw_every}")
        self.total_steps = None if total_steps is None else int(total_steps)
        self.title = title
        self.redraw_every = float(redraw_every)
        self.save_to = None if save_to is None else Path(save_to)
        self.dpi = dpi
        self.reference = None
        if reference is not None:
            from cs285lab.plots.reference import load_reference

            self.reference = load_reference(reference)
        self.frames = 0                  # figures drawn so far (tests and the curious)
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._order: list[str] = []
        self._last: dict[str, float] = {}
        self._step = 0
        self._wall = 0.0
        self._draw_cost = 0.0
        self._next_draw = 0.0
        self._next_progress = 0.0
        self._lock = threading.Lock()
        self._closed = False
        self._display = _kernel_display()
        self._progress_handle = self._figure_handle = None
        if self._display is not None:
            self._progress_handle = self._display(self._progress_bundle(), raw=True, display_id=True)
            # a text placeholder costs nothing to draw; the first logged row replaces it with the figure
            waiting = f"{self.title}: waiting for the first logged values" if self.title else "waiting for data"
            self._figure_handle = self._display({"text/plain": waiting}, raw=True, display_id=True)

    # -- feeding -----------------------------------------------------------------------------

    def add(self, row: dict[str, Any]) -> None:
        """Take one logged row ({"step", "wall_s", metric: value, ...}); redraw if it is time."""
        with self._lock:
            if self._closed:
                return
            self._step, self._wall = int(row["step"]), float(row.get("wall_s") or 0.0)
            xval = self._step if self.x == "step" else self._wall
            for key, value in row.items():
                if key in ("step", "wall_s") or value is None:
                    continue
                self._last[key] = value
                if self.metrics is not None and key not in self.metrics:
                    continue
                if key not in self._series:
                    self._series[key] = ([], [])
                    self._order.append(key)
                xs, ys = self._series[key]
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

    def close(self) -> None:
        """Draw the final frame (the one a saved notebook keeps) and save it to `save_to`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            png = self._render_or_stop()
            if png is None:
                return
            if self._display is not None:
                self._figure_handle.update(_image(png))
                self._progress_handle.update(self._progress_bundle(final=True), raw=True)
            if self.save_to is not None:
                self.save_to.write_bytes(png)

    # -- drawing -----------------------------------------------------------------------------

    def figure(self) -> Any:
        """The current curves as a matplotlib Figure (for saving or further editing)."""
        names = self.metrics or self._order or ["(no metrics logged yet)"]
        # two panels per row at 5 in x 100 dpi: 500 px each, about the width of a JupyterLab output
        fig = new_figure(len(names), width=5.0, height=3.4, columns=2, fixed_layout=True,
                         legend_room=0.35 if self.reference is not None else 0.0)
        for ax, name in zip(fig.axes, names):
            xs, ys = self._series.get(name, ([], []))
            series = [Series("this run", np.asarray(xs, float), np.asarray(ys, float))] if xs else []
            # smooth against the whole run's length when it is known, so the curve does not change shape as it grows
            span = self.total_steps if self.x == "step" else None
            draw_metric(ax, name, series, smoothing=self.smoothing, x=self.x, reference=self.reference, span=span,
                        x_max=span, legend=False)
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
                          "still logged)", RuntimeWarning, stacklevel=3)
            self._display = None
            return None

    def _render(self) -> bytes:
        start = time.perf_counter()
        png = to_png(self.figure(), dpi=self.dpi)
        self._draw_cost = time.perf_counter() - start
        self.frames += 1
        return png

    def _headline_metric(self) -> str | None:
        names = [*self._order, *self._last]
        return next((n for n in names if "return" in n), names[0] if names else None)

    def _progress_bundle(self, final: bool = False) -> dict[str, str]:
        """The progress line as text and as HTML (with a <progress> bar when total_steps is known)."""
        parts = [f"step {self._step:,}" + (f" / {self.total_steps:,}" if self.total_steps else "")]
        if self._wall > 0:
            parts.append(f"{self._step / self._wall:,.0f} steps/s")
        metric = self._headline_metric()
        if metric is not None and metric in self._last:
            parts.append(f"{metric} {self._last[metric]:.4g}")
        minutes, seconds = divmod(int(self._wall), 60)
        parts.append(f"{minutes}:{seconds:02d} elapsed")
        text = ("done: " if final else "") + " · ".join(parts)
        bar = ""
        if self.total_steps:
            value = min(self._step, self.total_steps)
            bar = f'<progress value="{value}" max="{self.total_steps}" style="width:16em"></progress> '
        html = f'<div class="cs285lab-progress" style="font-family:monospace">{bar}{text}</div>'
        return {"text/plain": text, "text/html": html}
