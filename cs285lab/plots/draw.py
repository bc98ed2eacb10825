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
    """One curve: a legend label, its points, and optionally its colour (default: by its place in the list)."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str | None = None


def check_x(x: str) -> str:
    """Return `x` if it is a known x-axis ("step" or "wall_s"), else raise a clear error."""
    if x not in X_AXES:
        raise ValueError(f"x must be 'step' (env steps) or 'wall_s' (wall-clock seconds), got {x!r}")
    return x


def new_figure(panels: int, width: float = 4.8, height: float = 3.3, columns: int = 3,
               fixed_layout: bool = False, legend_room: float = 0.0) -> Figure:
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
        # `legend_room` inches at the bottom hold a legend shared by the panels (see shared_legend)
        fig.set_figheight(fig.get_figheight() + legend_room)
        total_h = fig.get_figheight()
        fig.subplots_adjust(left=0.75 / (width * cols), right=1 - 0.15 / (width * cols),
                            bottom=(0.55 + legend_room) / total_h, top=1 - 0.55 / total_h,
                            wspace=0.3, hspace=0.5)
    return fig


def _short(value: float, _pos: object = None) -> str:
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:g}{suffix}"
    return f"{value:g}"


LINESTYLES = ("-", "--", ":", "-.")


BAND_GID, MEDIAN_GID = "cs285lab-reference-band", "cs285lab-reference-median"
RAW_VISIBLE = 0.01  # a raw curve is drawn (faint) when it strays from its smoothed one by 1% of the curve's range (~3 px)


def legend_entries(ax: Axes) -> tuple[list, list[str]]:
    """The axes' legend handles and labels, the reference band's fill and median line as one entry."""
    handles, labels = ax.get_legend_handles_labels()
    band = next((h for h in handles if h.get_gid() == BAND_GID), None)
    median = next((a for a in ax.get_lines() if a.get_gid() == MEDIAN_GID), None)
    if band is not None and median is not None:
        handles[handles.index(band)] = (band, median)  # matplotlib draws a tuple as one overlaid symbol
    return handles, labels


def _legend_below(ax: Axes) -> None:
    """The legend under the axes, so it never covers the band or the curves."""
    handles, labels = legend_entries(ax)
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False,
                  ncol=min(3, len(handles)), handlelength=2.2, columnspacing=1.2)


def draw_metric(ax: Axes, metric: str, series: Sequence[Series], *, smoothing: float, x: str = "step",
                reference: ReferenceBand | None = None, spread: str = "iqr", span: float | None = None,
                x_max: float | None = None, legend: bool = True) -> None:
    """Draw one metric: each series smoothed (and raw, faint, where that differs), over the reference band.

    The band (where the reference has this metric) is the median and, by default, the middle 50% of
    the reference seeds (`spread`: "iqr", "80" or "minmax").

    Smoothing is measured against the x-axis (see `smooth`): `span` is the axis length it refers
    to (default: from 0 to the largest x drawn, band included). The band is drawn against env steps only.
    The y-axis is labelled with the metric, the legend sits below the axes (never over the band),
    a run identical to an earlier one is drawn dashed and labelled "= <that run>", and a single
    point gets a readable y range instead of matplotlib's +-0.04. `x_max` fixes the x range (e.g.
    the run's total steps in a live plot). `legend=False` leaves the legend to the caller (one
    shared legend for a figure of panels).
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
                        label=reference.label(spread), gid=BAND_GID)
        # one legend entry with the fill (legend_entries): the dashed line is the band's median
        ax.plot(table["step"], table["median"], color=BAND_COLOR, linestyle="--", linewidth=1.2, gid=MEDIAN_GID)
    seen: list[Series] = []
    raw_drawn = False
    for index, s in enumerate(series):
        color = s.color or f"C{index % 10}"
        twin = next((t for t in seen if np.array_equal(t.x, s.x) and np.array_equal(t.y, s.y, equal_nan=True)), None)
        # identical runs would hide each other: the later one is dashed, and says whom it repeats
        style = "--" if twin is not None else LINESTYLES[(index // 10) % len(LINESTYLES)]
        label = s.label if twin is None else f"{s.label} (= {twin.label})"
        smoothed = smooth(s.y, smoothing, s.x, span)
        if smoothing > 0 and _strays(s.y, smoothed):  # sparse points barely smooth: a faint copy would hide under
            ax.plot(s.x, s.y, color=color, alpha=0.25, linewidth=0.8)
            raw_drawn = True
        ax.plot(s.x, smoothed, color=color, linewidth=1.6, label=label, linestyle=style,
                marker="o" if len(s.y) == 1 else None, markersize=4)
        seen.append(s)
    ax.set_title(metric, fontsize=10, loc="left")
    ax.set_ylabel(metric, fontsize=9)
    ax.set_xlabel(X_AXES[x], fontsize=9)
    if x == "step":
        ax.xaxis.set_major_formatter(FuncFormatter(_short))
    ax.grid(alpha=0.3)
    if x_max is not None and x_max > 0:
        ax.set_xlim(0, x_max)
    values = np.concatenate([s.y[np.isfinite(s.y)] for s in series]) if series else np.array([])
    if band is None and values.size:
        low, high = float(values.min()), float(values.max())
        if high - low < 1e-9 * max(1.0, abs(high)):  # one point, or a flat line: a range that reads
            pad = max(1.0, 0.1 * abs(high))
            ax.set_ylim(low - pad, high + pad)
    if not series and band is None:
        ax.text(0.5, 0.5, "waiting for data", ha="center", va="center", transform=ax.transAxes, color="0.5")
    if raw_drawn:  # say what the faint line is only where there is one
        ax.annotate(f"faint: raw values · solid: smoothed ({smoothing:g})", (1.0, 1.01), xycoords="axes fraction",
                    ha="right", va="bottom", fontsize=7, color="0.45")
    if legend and series and (len(series) > 1 or band is not None):
        _legend_below(ax)


def _strays(raw: np.ndarray, smoothed: np.ndarray) -> bool:
    """True when the raw curve differs visibly from the smoothed one (so drawing it faint shows something)."""
    both = np.isfinite(raw) & np.isfinite(smoothed)
    if both.sum() < 2:
        return False
    values = raw[both]
    scale = float(np.ptp(values)) or float(np.max(np.abs(values))) or 1.0
    return float(np.max(np.abs(raw[both] - smoothed[both]))) > RAW_VISIBLE * scale


def shared_legend(fig: Figure) -> None:
    """One legend under all panels, from the panel with the most entries (panels share their runs and band)."""
    best = max(fig.axes, key=lambda ax: len(ax.get_legend_handles_labels()[0]), default=None)
    if best is None:
        return
    handles, labels = legend_entries(best)
    if len(handles) > 1:
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(handles)), fontsize=8, frameon=False)


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render `fig` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
