"""Drawing shared by the live plot, the static comparison and the compare widget.

Figures are plain `matplotlib.figure.Figure` objects with an Agg canvas, not pyplot figures:
they work under any backend (MPLBACKEND=Agg in tests) and the inline backend never shows them
a second time at the end of a cell.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from cs285lab.plots.smoothing import smooth

if TYPE_CHECKING:
    from cs285lab.plots.reference import ReferenceBand

X_AXES = {"step": "env steps", "wall_s": "wall-clock (s)"}
BAND_COLOR = "0.55"


class Series(NamedTuple):
    """One curve: a legend label and its points."""

    label: str
    x: np.ndarray
    y: np.ndarray


def check_x(x: str) -> str:
    """Return `x` if it is a known x-axis ("step" or "wall_s"), else raise a clear error."""
    if x not in X_AXES:
        raise ValueError(f"x must be 'step' (env steps) or 'wall_s' (wall-clock seconds), got {x!r}")
    return x


def new_figure(panels: int, width: float = 4.8, height: float = 3.3, columns: int = 3,
               fixed_layout: bool = False) -> Figure:
    """A figure with `panels` axes in rows of at most `columns`.

    `fixed_layout` uses fixed margins instead of matplotlib's constrained layout: half the drawing
    time, which matters for the live plot's redraws.
    """
    panels = max(1, panels)
    cols = min(columns, panels)
    rows = -(-panels // cols)
    fig = Figure(figsize=(width * cols, height * rows), layout=None if fixed_layout else "constrained")
    FigureCanvasAgg(fig)
    for i in range(panels):
        fig.add_subplot(rows, cols, i + 1)
    if fixed_layout:
        fig.subplots_adjust(left=0.6 / (width * cols), right=1 - 0.15 / (width * cols),
                            bottom=0.55 / (height * rows), top=1 - 0.55 / (height * rows),
                            wspace=0.25, hspace=0.45)
    return fig


def _short(value: float, _pos: object = None) -> str:
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:g}{suffix}"
    return f"{value:g}"


def draw_metric(ax: Axes, metric: str, series: Sequence[Series], *, smoothing: float, x: str = "step",
                reference: ReferenceBand | None = None, spread: str = "minmax", span: float | None = None) -> None:
    """Draw one metric: each series raw (faint) and smoothed, over the reference band if it has this metric.

    Smoothing is measured against the x-axis (see `smooth`): `span` is the axis length it refers
    to (default: from 0 to the largest x drawn, band included). The band is drawn against env steps only.
    """
    band = None
    if reference is not None and x == "step" and metric in reference.metrics:
        band = reference.curves.loc[reference.curves["metric"] == metric, "step"]
    if span is None:
        ends = [float(np.nanmax(s.x)) for s in series if len(s.x)] + ([float(band.max())] if band is not None else [])
        span = max(ends) if ends else None
    if band is not None:
        table = reference.band(metric, smoothing, spread, span)
        ax.fill_between(table["step"], table["low"], table["high"], color=BAND_COLOR, alpha=0.25, linewidth=0,
                        label=reference.label(spread))
        ax.plot(table["step"], table["median"], color=BAND_COLOR, linestyle="--", linewidth=1.2)
    for index, s in enumerate(series):
        color = f"C{index % 10}"
        if smoothing > 0 and len(s.y) > 1:
            ax.plot(s.x, s.y, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(s.x, smooth(s.y, smoothing, s.x, span), color=color, linewidth=1.6, label=s.label)
    ax.set_title(metric, fontsize=10)
    ax.set_xlabel(X_AXES[x])
    if x == "step":
        ax.xaxis.set_major_formatter(FuncFormatter(_short))
    ax.grid(alpha=0.3)
    if not series and band is None:
        ax.text(0.5, 0.5, "waiting for data", ha="center", va="center", transform=ax.transAxes, color="0.5")
    handles, _ = ax.get_legend_handles_labels()
    if handles and (len(series) > 1 or band is not None):
        ax.legend(fontsize=8, loc="best")


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render `fig` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
