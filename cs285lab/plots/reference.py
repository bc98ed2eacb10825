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

Make one from runs you logged with RunLogger, or regenerate a registered one. A recipe (the
notebook's training call at the notebook's budget) lives in cs285lab/plots/recipes/<notebook>.py,
as that module's `RECIPES = {"<exercise>": Recipe(...)}`; a new module there is found by itself:

    python -m cs285lab.plots.reference build nb04/reference --out cs285lab/data/reference/nb04-x.csv \\
        --meta algorithm="..." --meta env=... --meta profile=ci
    python -m cs285lab.plots.reference generate nb03-sac-pendulum --profile full
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cs285lab.plots.smoothing import check_smoothing, smooth

__all__ = ["RECIPES", "Recipe", "ReferenceBand", "available_references", "generate", "load_reference", "make_reference",
           "recipes", "resample_runs"]

SPREADS = {"minmax": (0.0, 1.0), "iqr": (0.25, 0.75), "80": (0.1, 0.9)}
SPREAD_LABELS = {"minmax": "min–max", "iqr": "25–75%", "80": "10–90%"}


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
        values = np.column_stack([smooth(table[c].to_numpy(), smoothing, steps, span) for c in table.columns])
        lo_q, hi_q = SPREADS[spread]
        counts = np.isfinite(values).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows before any seed has a value
            median = np.nanmedian(values, axis=1)
            low = np.nanquantile(values, lo_q, axis=1)
            high = np.nanquantile(values, hi_q, axis=1)
        out = pd.DataFrame({"step": table.index.to_numpy(), "median": median, "low": low, "high": high,
                            "n_seeds": counts})
        # a "median" of one seed is no band: start where at least half of the seeds (and two) have a value
        n = values.shape[1]
        enough = max(min(n, 2), (n + 1) // 2)
        return out[out["n_seeds"] >= enough].reset_index(drop=True)

    def label(self, spread: str = "minmax") -> str:
        """Legend text, e.g. 'reference: median, min–max of 5 seeds (ci budget)'."""
        profile = self.meta.get("profile")
        suffix = f" ({profile} budget)" if profile else ""
        return f"reference: median, {SPREAD_LABELS.get(spread, spread)} of {len(self.seeds)} seeds{suffix}"


def _reference_dir() -> Path:
    return Path(str(resources.files("cs285lab") / "data" / "reference"))


def available_references() -> list[str]:
    """Names of the reference bands shipped with the package."""
    folder = _reference_dir()
    return sorted(p.stem for p in folder.glob("*.csv")) if folder.is_dir() else []


def load_reference(name_or_path: str | Path | ReferenceBand) -> ReferenceBand:
    """Load a shipped band by exercise name (e.g. "nb01-a2c-cartpole") or a band CSV by path."""
    if isinstance(name_or_path, ReferenceBand):
        return name_or_path
    path = Path(name_or_path)
    if not (path.suffix == ".csv" or path.is_file()):
        path = _reference_dir() / f"{name_or_path}.csv"
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

    `runs` is the tidy frame of `cs285lab.runs.load_runs`. When every run logged a metric at the
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


# ----------------------------------------------------------------------------- regenerating shipped bands


@dataclass(frozen=True)
class Recipe:
    """How to regenerate one shipped band: the notebook's training call, at that notebook's budget."""

    notebook: str                                        # budget name, e.g. "nb03"
    algorithm: str                                       # for the header, e.g. "cs285lab.algos.sac:train_sac"
    env: str
    metrics: tuple[str, ...]
    settings: Callable[[Any], dict[str, Any]]            # budget -> the sizes the notebook's call uses
    train: Callable[[int, dict[str, Any], Any], None]    # (seed, settings, logger) -> trains, logging to logger


RECIPES: dict[str, Recipe] = {}  # filled from cs285lab/plots/recipes/*.py on first use (see recipes())


def recipes() -> dict[str, Recipe]:
    """Every registered recipe: the RECIPES dict of each module in cs285lab/plots/recipes/ (one per notebook)."""
    import importlib
    import pkgutil

    from cs285lab.plots import recipes as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, recipe in getattr(module, "RECIPES", {}).items():
            if not isinstance(recipe, Recipe):
                raise TypeError(f"{module.__name__}.RECIPES[{name!r}] is not a Recipe")
            if RECIPES.get(name, recipe) is not recipe:
                raise ValueError(f"two recipes named {name!r} (one in {module.__name__})")
            RECIPES[name] = recipe
    return RECIPES


def generate(exercise: str, seeds: Sequence[int] = (0, 1, 2, 3, 4), profile: str = "ci",
             root: str | Path | None = None, out: str | Path | None = None, points: int | None = None) -> Path:
    """Train the registered reference run of `exercise` for each seed at the notebook's budget; write its band.

    The header's profile is "ci", "full", or "ci, full" when the notebook uses the same sizes in both.
    """
    import tempfile

    from cs285lab.config import PROFILES, budget
    from cs285lab.runs import RunLogger, load_runs

    known = recipes()
    if exercise not in known:
        raise KeyError(f"no recipe for {exercise!r}; known: {', '.join(sorted(known))} "
                       "(add one in cs285lab/plots/recipes/<notebook>.py)")
    recipe = known[exercise]
    settings = recipe.settings(budget(recipe.notebook, profile))
    same_in = [p for p in PROFILES if recipe.settings(budget(recipe.notebook, p)) == settings]
    out = Path(out) if out is not None else _reference_dir() / f"{exercise}.csv"
    with tempfile.TemporaryDirectory() as scratch:
        run_root = Path(root) if root is not None else Path(scratch)
        experiment = f"reference/{exercise}-{profile}"
        names = []
        for seed in seeds:
            with RunLogger(experiment, seed=seed, root=run_root, config=settings) as logger:
                recipe.train(seed, settings, logger)
            names.append(logger.run)
            print(f"  {exercise}: seed {seed} done", flush=True)
        runs = load_runs(experiment, root=run_root, runs=names, metrics=recipe.metrics)
        return make_reference(runs, out, recipe.metrics, points, exercise=exercise, algorithm=recipe.algorithm,
                              env=recipe.env, notebook=recipe.notebook, profile=", ".join(sorted(same_in)),
                              budget=", ".join(f"{k}={v}" for k, v in settings.items()),
                              how=f"python -m cs285lab.plots.reference generate {exercise} --profile {profile} "
                                  f"--seeds {' '.join(map(str, seeds))}")


def _parse_meta(items: Sequence[str]) -> dict[str, str]:
    meta = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--meta expects key=value, got {item!r}")
        meta[key.strip()] = value.strip()
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build a band from logged runs (`build`), or list the shipped ones (`list`)."""
    parser = argparse.ArgumentParser(prog="python -m cs285lab.plots.reference", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="make a band CSV from runs logged with RunLogger")
    build.add_argument("experiment", nargs="+", help="experiment name(s) under --root")
    build.add_argument("--root", default="runs")
    build.add_argument("--out", required=True, help="band CSV to write, e.g. cs285lab/data/reference/nb01-x.csv")
    build.add_argument("--metrics", default=None, help="comma-separated metric names (default: all)")
    build.add_argument("--points", type=int, default=None,
                       help="grid bins (default: the logged steps when all runs share them, else 100)")
    build.add_argument("--meta", action="append", default=[], help="key=value for the header (repeat)")
    gen = sub.add_parser("generate", help="retrain a registered reference algorithm and rewrite its shipped band")
    gen.add_argument("exercise", choices=sorted(recipes()))
    gen.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    gen.add_argument("--profile", choices=("ci", "full"), default="ci", help="budget profile (default ci)")
    gen.add_argument("--out", default=None, help="default: the shipped file cs285lab/data/reference/<exercise>.csv")
    gen.add_argument("--root", default=None, help="keep the runs under this directory (default: a temp dir)")
    sub.add_parser("list", help="list the shipped bands")
    args = parser.parse_args(argv)
    if args.command == "generate":
        from cs285lab.seeding import seed_everything

        seed_everything(0)  # one torch thread
        path = generate(args.exercise, args.seeds, args.profile, args.root, args.out)
        print(f"wrote {path}: {load_reference(path).label()}")
        return 0
    if args.command == "list":
        for name in available_references():
            band = load_reference(name)
            print(f"{name}: {', '.join(band.metrics)}; {band.label()}")
        return 0
    from cs285lab.runs import load_runs

    metrics = args.metrics.split(",") if args.metrics else None
    runs = load_runs(args.experiment, root=args.root, metrics=metrics)
    how = "python -m cs285lab.plots.reference " + " ".join(sys.argv[1:] if argv is None else argv)
    path = make_reference(runs, args.out, metrics, args.points, **{"how": how, **_parse_meta(args.meta)})
    print(f"wrote {path}: {load_reference(path).label()}")
    return 0


def _cli() -> int:
    try:
        return main()
    except (FileNotFoundError, KeyError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run the imported module, not this __main__ copy: recipe modules import Recipe from cs285lab.plots.reference
    from cs285lab.plots.reference import _cli as _imported_cli

    raise SystemExit(_imported_cli())
