"""Reference bands: how the reference solution's learning curve looks over several seeds.

A band file `cs285lab/data/reference/<exercise>.csv` holds the reference runs' per-seed curves on
a common grid of env steps (the evaluation steps the runs share, or bin means), after a
`# key: value` header that says what made them (algorithm, env, budget profile, seeds, command):

    # exercise: nb01-a2c-cartpole
    # profile: ci
    metric,step,seed,value
    eval_return,4000,0,181

Keeping per-seed curves (not only quantiles) lets the widget smooth them the way it smooths
the student's curve before taking the median and spread, so the two are comparable.

Make one from runs you logged with RunLogger (`make_reference`), or regenerate a shipped one
with its recipe (the course-level package cs285lab.references):

    python -m cs285lab.references build nb04/reference --out cs285lab/data/reference/nb04-x.csv \\
        --meta algorithm="..." --meta env=... --meta profile=ci
    python -m cs285lab.references generate nb03-sac-pendulum --profile full
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cs285lab.bands import SPREAD_LABELS, SPREADS, band_over_seeds
from cs285lab.plots.smoothing import check_smoothing, smooth

# how a legend names each spread: what share of the reference seeds' curves lies inside the band
SPREAD_WORDS = {"iqr": "middle 50%", "80": "middle 80%", "minmax": "full range (min–max)"}

__all__ = ["SPREADS", "SPREAD_LABELS", "ReferenceBand", "available_references", "load_reference", "make_reference",
           "reference_dir", "resample_runs"]


@dataclass
class ReferenceBand:
    """Per-seed reference curves of one exercise (`curves`: metric, step, seed, value) and their metadata."""

    name: str
    curves: pd.DataFrame
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """Metric names this band covers."""
        return sorted(self.curves["metric"].unique())

    @property
    def seeds(self) -> list[int]:
        """Seeds of the reference runs."""
        return sorted(int(s) for s in self.curves["seed"].unique())

    def band(self, metric: str, smoothing: float = 0.0, spread: str = "minmax",
             span: float | None = None) -> pd.DataFrame:
        """Median and spread over seeds at each grid step: columns step, median, low, high, n_seeds.

        Each seed's curve is smoothed before the quantiles, with the rule the student's curve gets
        (`smooth` against env steps, `span` = the plot's x range, default the band's own).
        `spread`: "minmax" (default), "iqr" (25-75%) or "80" (10-90%).
        """
        if metric not in self.metrics:
            raise KeyError(f"reference {self.name!r} has no metric {metric!r}; it has {', '.join(self.metrics)}")
        if spread not in SPREADS:
            raise ValueError(f"spread must be one of {sorted(SPREADS)}, got {spread!r}")
        smoothing = check_smoothing(smoothing)
        table = self.curves[self.curves["metric"] == metric].pivot_table(
            index="step", columns="seed", values="value", aggfunc="mean").sort_index()
        steps = table.index.to_numpy(float)
        span = span or (float(steps.max()) if len(steps) else None)
        # each seed smoothed on the shared grid (NaN where it has no value), then the one band-over-seeds rule;
        # a "median" of one seed is no band: start where at least half of the seeds (and two) have a value
        n = len(table.columns)
        curves = [(steps, smooth(table[c].to_numpy(), smoothing, steps, span)) for c in table.columns]
        band = band_over_seeds(curves, spread, min_seeds=max(min(n, 2), (n + 1) // 2))
        return pd.DataFrame({"step": band.x.astype(table.index.dtype), "median": band.median, "low": band.low,
                             "high": band.high, "n_seeds": band.n_seeds})

    def label(self, spread: str = "iqr") -> str:
        """Legend text in a student's terms, e.g. 'reference: median and middle 50% of 5 seeds'."""
        return f"reference: median and {SPREAD_WORDS.get(spread, spread)} of {len(self.seeds)} seeds"


def reference_dir() -> Path:
    """The folder of the bands shipped with the package (cs285lab/data/reference)."""
    return Path(str(resources.files("cs285lab") / "data" / "reference"))


def available_references() -> list[str]:
    """Names of the reference bands shipped with the package."""
    folder = reference_dir()
    return sorted(p.stem for p in folder.glob("*.csv")) if folder.is_dir() else []


def load_reference(name_or_path: str | Path | ReferenceBand) -> ReferenceBand:
    """Load a shipped band by exercise name (e.g. "nb01-a2c-cartpole") or a band CSV by path."""
    if isinstance(name_or_path, ReferenceBand):
        return name_or_path
    path = Path(name_or_path)
    if not (path.suffix == ".csv" or path.is_file()):
        path = reference_dir() / f"{name_or_path}.csv"
    if not path.is_file():
        known = available_references()
        raise FileNotFoundError(f"no reference band {str(name_or_path)!r}; shipped bands: "
                                f"{', '.join(known) if known else 'none'}")
    meta: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, sep, value = line[1:].partition(":")
            if sep:
                meta[key.strip()] = value.strip()
    curves = pd.read_csv(path, comment="#")
    missing = {"metric", "step", "seed", "value"} - set(curves.columns)
    if missing:
        raise ValueError(f"{path}: not a reference band file (missing columns {sorted(missing)})")
    return ReferenceBand(meta.get("exercise", path.stem), curves, meta)


def resample_runs(runs: pd.DataFrame, metrics: Iterable[str] | None = None, points: int | None = None,
                  ) -> pd.DataFrame:
    """Per-run curves on a common step grid: columns metric, step, seed, value.

    `runs` is the tidy frame of `cs285lab.runlog.load_runs`. When every run logged a metric at the
    same steps (e.g. evaluations every 500 steps) and `points` is None, those steps are the grid and
    the values are kept as they are. Otherwise the grid has `points` (default 100) bins over 0 ..
    the shortest run's last step, each holding the run's mean in that bin, gaps interpolated.
    """
    needed = {"run", "seed", "step", "metric", "value"}
    if not isinstance(runs, pd.DataFrame) or needed - set(runs.columns):
        raise TypeError(f"expected the tidy DataFrame of load_runs (columns {sorted(needed)})")
    if points is not None and points < 2:
        raise ValueError("points must be >= 2")
    metrics = sorted(runs["metric"].unique()) if metrics is None else list(metrics)
    frames = []
    for metric in metrics:
        sel = runs[(runs["metric"] == metric) & np.isfinite(runs["value"])]
        if sel.empty:
            raise ValueError(f"no finite values of metric {metric!r} in these runs")
        by_run = dict(tuple(sel.groupby(["experiment", "run"] if "experiment" in sel else ["run"])))
        if len(by_run) < 2:
            raise ValueError(f"metric {metric!r}: a band needs at least 2 runs (seeds), got {len(by_run)}")
        step_sets = {tuple(sorted(g["step"].unique())) for g in by_run.values()}
        if points is None and len(step_sets) == 1 and len(next(iter(step_sets))) <= 200:
            for index, (key, group) in enumerate(sorted(by_run.items(), key=lambda kv: str(kv[0]))):
                means = group.groupby("step")["value"].mean()
                frames.append(pd.DataFrame({"metric": metric, "step": means.index.to_numpy(np.int64),
                                            "seed": _seed_of(group, index), "value": means.to_numpy()}))
            continue
        bins_n = points or 100
        end = min(int(g["step"].max()) for g in by_run.values())
        edges = np.linspace(0, end, bins_n + 1)
        grid = np.round(edges[1:]).astype(np.int64)
        for index, (key, group) in enumerate(sorted(by_run.items(), key=lambda kv: str(kv[0]))):
            seed = _seed_of(group, index)
            steps, values = group["step"].to_numpy(float), group["value"].to_numpy(float)
            bins = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, bins_n - 1)
            keep = steps <= end
            sums = np.bincount(bins[keep], weights=values[keep], minlength=bins_n)
            counts = np.bincount(bins[keep], minlength=bins_n)
            filled = counts > 0
            curve = np.full(bins_n, np.nan)
            curve[filled] = sums[filled] / counts[filled]
            # empty bins (e.g. between two evaluations): interpolate, but never before the first data point
            first = np.argmax(filled)
            inside = np.arange(bins_n) >= first
            curve[inside] = np.interp(grid[inside], grid[filled], curve[filled])
            frames.append(pd.DataFrame({"metric": metric, "step": grid, "seed": seed, "value": curve}))
    return pd.concat(frames, ignore_index=True).dropna(subset=["value"])


def _seed_of(group: pd.DataFrame, index: int) -> int:
    seed = group["seed"].iloc[0]
    return int(seed) if pd.notna(seed) else index


def make_reference(runs: pd.DataFrame, out: str | Path, metrics: Iterable[str] | None = None,
                   points: int | None = None, **meta: Any) -> Path:
    """Write a reference band CSV at `out` from a set of runs (tidy frame of load_runs); return the path.

    Pass what made the runs as keyword metadata (exercise=..., algorithm=..., env=..., profile="ci"
    or "full", how=<command>); it goes in the file's header.
    """
    curves = resample_runs(runs, metrics, points)
    seeds = sorted(int(s) for s in curves["seed"].unique())
    header = {"exercise": Path(out).stem, **{k: str(v) for k, v in meta.items()},
              "seeds": ",".join(map(str, seeds)),
              "created": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              "format": "per-seed curves on a common env-step grid (the logged steps, or bin means); "
                        "the band is computed on load"}
    bad = [k for k, v in header.items() if "\n" in v or ":" in k or not k.isidentifier()]
    if bad:
        raise ValueError(f"metadata keys must be plain names and values one line: {bad}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write("# cs285lab reference band\n")
        for key, value in header.items():
            fh.write(f"# {key}: {value}\n")
        curves.to_csv(fh, index=False, float_format="%.4g")
    return out
