"""Compare runs: a static figure for reports (`plot_comparison`) and a widget to explore (`compare_widget`).

Both overlay the reference band of an exercise (median and spread over the reference
solution's seeds), so a student sees at a glance whether their curve is normal.

    from cs285lab.plots import compare_widget, plot_comparison
    compare_widget("nb01/batched", reference="nb01-a2c-cartpole")
    plot_comparison("nb01/batched", "eval_return", reference="nb01-a2c-cartpole", save="report.svg")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from cs285lab.plots.draw import X_AXES, Series, check_x, draw_metric, new_figure, to_png
from cs285lab.plots.reference import SPREAD_WORDS, SPREADS, ReferenceBand, load_reference
from cs285lab.plots.smoothing import check_smoothing
from cs285lab.plots.static_copy import StaticCopy, png_html

__all__ = ["plot_comparison", "compare_widget", "CompareWidget"]

SAVE_FORMATS = (".png", ".svg", ".pdf")


def _as_runs(runs: pd.DataFrame | str | Sequence[str], root: str | Path) -> pd.DataFrame:
    """The tidy run table: given as a DataFrame (load_runs) or loaded from experiment name(s)."""
    if isinstance(runs, pd.DataFrame):
        needed = {"run", "step", "wall_s", "metric", "value"}
        if needed - set(runs.columns):
            raise TypeError(f"expected the tidy DataFrame of load_runs (columns {sorted(needed)}); "
                            f"got columns {list(runs.columns)} (load_runs(..., wide=True) is the other shape)")
        return runs
    if isinstance(runs, str) or (isinstance(runs, Sequence) and all(isinstance(r, str) for r in runs)):
        from cs285lab.runlog import load_runs

        return load_runs(runs, root=root)
    raise TypeError(f"runs must be an experiment name, a list of them, or load_runs' DataFrame; "
                    f"got {type(runs).__name__}")


def _labels(runs: pd.DataFrame) -> pd.Series:
    """Run labels: 'run', or 'experiment/run' when several experiments are mixed."""
    if "experiment" in runs and runs["experiment"].nunique() > 1:
        return runs["experiment"].astype(str) + "/" + runs["run"].astype(str)
    return runs["run"].astype(str)


def _series(runs: pd.DataFrame, metric: str, x: str, select: Iterable[str] | None) -> list[Series]:
    table = runs[runs["metric"] == metric].assign(_label=_labels(runs))
    labels = sorted(table["_label"].unique(), key=_natural) if select is None else list(select)
    out = []
    for label in labels:
        sel = table[table["_label"] == label].sort_values(["step", "wall_s"])
        if not sel.empty:
            out.append(Series(label, sel[x].to_numpy(float), sel["value"].to_numpy(float)))
    return out


def run_notes(runs: pd.DataFrame, root: str | Path) -> dict[str, str]:
    """Run label -> status for runs that did not finish ("interrupted", "failed: ...", "running")."""
    from cs285lab.runlog import load_configs

    if "experiment" not in runs or runs.empty:
        return {}
    several = runs["experiment"].nunique() > 1
    notes = {}
    for experiment in runs["experiment"].unique():
        try:
            configs = load_configs(str(experiment), root)
        except FileNotFoundError:
            continue  # a DataFrame from elsewhere: no run logs to read the status from
        for row in configs.itertuples():
            if row.status not in (None, "finished"):
                notes[f"{experiment}/{row.run}" if several else str(row.run)] = str(row.status)
    return notes


def _natural(text: str) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def draw_comparison(fig: Figure, runs: pd.DataFrame, metric: str, *, reference: ReferenceBand | None,
                    smoothing: float, x: str, select: Iterable[str] | None, spread: str) -> None:
    """Draw the comparison of `metric` into the first axes of `fig`."""
    ax = fig.axes[0]
    draw_metric(ax, metric, _series(runs, metric, x, select), smoothing=smoothing, x=x, reference=reference,
                spread=spread)
    note = None
    if reference is not None and metric not in reference.metrics:
        note = f"no reference for {metric}"
    elif reference is not None and x != "step":
        note = "reference band shown against env steps only"
    if note:
        ax.annotate(note, (0.01, 0.01), xycoords="axes fraction", fontsize=7, color="0.4")


def plot_comparison(runs: pd.DataFrame | str | Sequence[str], metric: str | None = None, *,
                    reference: str | Path | ReferenceBand | None = None, smoothing: float = 0.6,
                    x: str = "step", select: Iterable[str] | None = None, spread: str = "iqr",
                    root: str | Path = "runs", save: str | Path | Sequence[str | Path] | None = None,
                    title: str | None = None, dpi: int = 150) -> Figure:
    """Draw the runs' `metric` (smoothed, raw faint) over the reference band; optionally save PNG/SVG/PDF.

    `runs`: experiment name(s) or the tidy DataFrame of load_runs. `select`: run labels to show
    (default all). `x`: "step" or "wall_s". `spread`: the band's spread, "iqr" (middle 50% of the
    reference seeds, the default), "80" or "minmax". Returns the matplotlib Figure.
    """
    table = _as_runs(runs, root)
    metric = _pick_metric(table, metric)
    smoothing = check_smoothing(smoothing)
    check_x(x)
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {sorted(SPREADS)}, got {spread!r}")
    band = None if reference is None else load_reference(reference)
    fig = new_figure(1, width=6.0, height=4.0)
    draw_comparison(fig, table, metric, reference=band, smoothing=smoothing, x=x, select=select, spread=spread)
    if title:
        fig.suptitle(title)
    for path in ([] if save is None else [save] if isinstance(save, (str, Path)) else list(save)):
        path = Path(path)
        if path.suffix.lower() not in SAVE_FORMATS:
            raise ValueError(f"save to a {'/'.join(SAVE_FORMATS)} file, got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _pick_metric(table: pd.DataFrame, metric: str | None) -> str:
    metrics = sorted(table["metric"].unique())
    if not metrics:
        raise ValueError("these runs have no logged metrics yet")
    if metric is None:
        return next((m for m in metrics if "return" in m), metrics[0])
    if metric not in metrics:
        raise KeyError(f"no metric {metric!r} in these runs; logged: {', '.join(metrics)}")
    return metric


class CompareWidget:
    """Pick runs, metric, smoothing and x-axis; the figure redraws on every change."""

    def __init__(self, runs: pd.DataFrame | str | Sequence[str], *, reference: Any = None,
                 metric: str | None = None, smoothing: float = 0.6, x: str = "step",
                 root: str | Path = "runs", dpi: int = 150) -> None:
        import ipywidgets as w

        self._source, self._root, self.dpi = runs, root, dpi
        self.table = _as_runs(runs, root)
        self.reference = None if reference is None else load_reference(reference)
        labels = sorted(_labels(self.table).unique(), key=_natural)
        metrics = sorted(self.table["metric"].unique())
        first = _pick_metric(self.table, metric)
        self.runs = w.SelectMultiple(options=labels, value=tuple(labels), rows=min(8, max(3, len(labels))),
                                     description="runs")
        self.metric = w.Dropdown(options=metrics, value=first, description="metric")
        self.smoothing = w.FloatSlider(value=check_smoothing(smoothing), min=0.0, max=0.99, step=0.01,
                                       description="smoothing", continuous_update=False, readout_format=".2f")
        self.x = w.ToggleButtons(options=[(label, key) for key, label in X_AXES.items()], value=check_x(x),
                                 description="x-axis")
        self.spread = w.Dropdown(options=[(SPREAD_WORDS[k], k) for k in ("iqr", "80", "minmax")],
                                 value="iqr", description="band", disabled=self.reference is None)
        self.reload = w.Button(description="reload runs", tooltip="read the run logs from disk again")
        # drawn at 6.4 in x dpi pixels and shown at most that wide: never upscaled (soft) by the browser
        self.image = w.Image(format="png", layout=w.Layout(width="100%", max_width=f"{round(6.4 * dpi)}px"))
        self.status = w.HTML()
        for control in (self.runs, self.metric, self.smoothing, self.x, self.spread):
            control.observe(lambda _change: self.redraw(), names="value")
        self.reload.on_click(lambda _button: self.refresh())
        self.box = w.VBox([w.HBox([self.runs, w.VBox([self.metric, self.spread, self.smoothing])]),
                           w.HBox([self.x, self.reload]), self.image, self.status])
        self.redraws = 0
        # shown under the widget where it cannot render (a reopened notebook): the last figure, static
        self.copy = StaticCopy("a saved copy of the figure: run the cell again to use the controls")
        self.redraw()

    def refresh(self) -> None:
        """Reload the runs from disk (new runs appear in the list) and redraw."""
        if isinstance(self._source, pd.DataFrame):
            return self.redraw()
        self.table = _as_runs(self._source, self._root)
        labels = sorted(_labels(self.table).unique(), key=_natural)
        keep = tuple(v for v in self.runs.value if v in labels)
        added = tuple(v for v in labels if v not in self.runs.options)
        self.runs.options = labels
        self.runs.value = keep + added
        self.metric.options = sorted(self.table["metric"].unique())
        self.redraw()

    def figure(self) -> Figure:
        """The figure the widget currently shows."""
        fig = new_figure(1, width=6.4, height=3.8)
        draw_comparison(fig, self.table, self.metric.value, reference=self.reference,
                        smoothing=self.smoothing.value, x=self.x.value, select=self.runs.value,
                        spread=self.spread.value)
        return fig

    def redraw(self) -> None:
        """Redraw the figure from the current control values."""
        if not self.runs.value:
            self.status.value = "<i>select at least one run</i>"
        else:
            import html

            notes = run_notes(self.table, self._root)
            shown = [f"<b>{html.escape(k)}</b>: {html.escape(v)}" for k, v in notes.items() if k in self.runs.value]
            self.status.value = ("<small>not finished: " + "; ".join(shown) + "</small>") if shown else ""
        self.image.value = to_png(self.figure(), dpi=self.dpi)
        self.redraws += 1
        self.copy.update(png_html(self.image.value, self.image.layout.max_width), self._text())

    def _text(self) -> str:
        return f"CompareWidget(metric={self.metric.value!r}, runs={len(self.runs.options)})"

    def _ipython_display_(self) -> None:
        # the widget, then its static copy (cs285lab.plots.static_copy): a saved notebook shows the last figure
        self.copy.show(self._repr_mimebundle_(), png_html(self.image.value, self.image.layout.max_width),
                       self._text())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # the widget view, with a short stable text fallback (the box's repr holds PNG bytes)
        bundle = dict(self.box._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self._text()
        return bundle


def compare_widget(runs: pd.DataFrame | str | Sequence[str], *, reference: Any = None, metric: str | None = None,
                   smoothing: float = 0.6, x: str = "step", root: str | Path = "runs") -> CompareWidget:
    """A widget comparing runs (experiment name(s) or load_runs' DataFrame) with an optional reference band."""
    return CompareWidget(runs, reference=reference, metric=metric, smoothing=smoothing, x=x, root=root)
