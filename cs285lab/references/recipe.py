"""Recipes of the shipped reference bands: each band's training call at its notebook's budget.

A recipe module `cs285lab/references/recipes/<notebook>.py` defines `RECIPES = {"<exercise>": Recipe(...)}`;
`known_recipes()` finds every such module by itself. `generate` trains a recipe for several seeds,
logging each run with the run writer, and writes the band file (cs285lab.plots.reference.make_reference).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from cs285lab.plots.reference import make_reference, reference_dir
from cs285lab.runlog import RunWriter, load_runs

__all__ = ["RECIPES", "Recipe", "describe", "generate", "known_recipes"]


@dataclass(frozen=True)
class Recipe:
    """How to regenerate one shipped band: the notebook's training run, at that notebook's budget.

    `config(budget)` builds the run's config exactly as the notebook's training cell does: `cell` is that
    cell's id and `target` the name its config is assigned to, `binds` the cell's loop variables for this band
    (e.g. {"n": 4}); tests/test_references.py evaluates the cell's assignment and compares.
    """

    notebook: str                                        # budget name, e.g. "nb03"
    algorithm: str                                       # for the header, e.g. "cs285lab.algos.sac:train_sac"
    env: str
    metrics: tuple[str, ...]
    config: Callable[[Any], Any]                         # budget -> the run's config
    train: Callable[[int, Any, Any], None]               # (seed, config, logger) -> trains, logging to logger
    cell: str | None = None                              # the notebook cell that builds and trains this run
    target: str = "config"                               # the name that cell assigns the config to
    binds: Mapping[str, Any] = field(default_factory=dict)  # that cell's loop variables for this band


RECIPES: dict[str, Recipe] = {}  # filled from cs285lab/references/recipes/*.py on first use (see known_recipes())


def known_recipes() -> dict[str, Recipe]:
    """Every registered recipe: the RECIPES dict of each module in cs285lab/references/recipes/ (one per notebook)."""
    import importlib
    import pkgutil

    from cs285lab.references import recipes as package

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

    from cs285lab.budgets import PROFILES, budget

    known = known_recipes()
    if exercise not in known:
        raise KeyError(f"no recipe for {exercise!r}; known: {', '.join(sorted(known))} "
                       "(add one in cs285lab/references/recipes/<notebook>.py)")
    recipe = known[exercise]
    config = recipe.config(budget(recipe.notebook, profile))
    same_in = [p for p in PROFILES if recipe.config(budget(recipe.notebook, p)) == config]
    settings = describe(config)
    out = Path(out) if out is not None else reference_dir() / f"{exercise}.csv"
    with tempfile.TemporaryDirectory() as scratch:
        run_root = Path(root) if root is not None else Path(scratch)
        experiment = f"reference/{exercise}-{profile}"
        names = []
        for seed in seeds:
            with RunWriter(experiment, seed=seed, root=run_root, config=settings) as logger:
                recipe.train(seed, config, logger)
            names.append(logger.run)
            print(f"  {exercise}: seed {seed} done", flush=True)
        runs = load_runs(experiment, root=run_root, runs=names, metrics=recipe.metrics)
        return make_reference(runs, out, recipe.metrics, points, exercise=exercise, algorithm=recipe.algorithm,
                              env=recipe.env, notebook=recipe.notebook, profile=", ".join(sorted(same_in)),
                              budget=", ".join(f"{k}={v}" for k, v in settings.items()),
                              how=f"python -m cs285lab.references generate {exercise} --profile {profile} "
                                  f"--seeds {' '.join(map(str, seeds))}")


def describe(config: Any) -> dict[str, Any]:
    """What a band's header says of its run: a config's fields that differ from its class's defaults (a
    mapping as it is)."""
    if isinstance(config, Mapping):
        return dict(config)
    if not is_dataclass(config):
        raise TypeError(f"a recipe's config must be a config dataclass or a mapping, got {type(config).__name__}")
    default = type(config)()
    return {f.name: getattr(config, f.name) for f in fields(config)
            if getattr(config, f.name) != getattr(default, f.name)}
