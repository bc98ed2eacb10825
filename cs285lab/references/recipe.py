"""Recipes of the shipped reference bands: each band's training call at its notebook's budget.

A recipe module `cs285lab/references/recipes/<notebook>.py` defines `RECIPES = {"<exercise>": Recipe(...)}`;
`known_recipes()` finds every such module by itself. `generate` trains a recipe for several seeds,
logging each run with the run writer, and writes the band file (cs285lab.plots.reference.make_reference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cs285lab.plots.reference import make_reference, reference_dir
from cs285lab.runlog import RunWriter, load_runs

__all__ = ["RECIPES", "Recipe", "generate", "known_recipes"]


@dataclass(frozen=True)
class Recipe:
    """How to regenerate one shipped band: the notebook's training call, at that notebook's budget."""

    notebook: str                                        # budget name, e.g. "nb03"
    algorithm: str                                       # for the header, e.g. "cs285lab.algos.sac:train_sac"
    env: str
    metrics: tuple[str, ...]
    settings: Callable[[Any], dict[str, Any]]            # budget -> the sizes the notebook's call uses
    train: Callable[[int, dict[str, Any], Any], None]    # (seed, settings, logger) -> trains, logging to logger


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

    from cs285lab.config import PROFILES, budget

    known = known_recipes()
    if exercise not in known:
        raise KeyError(f"no recipe for {exercise!r}; known: {', '.join(sorted(known))} "
                       "(add one in cs285lab/references/recipes/<notebook>.py)")
    recipe = known[exercise]
    settings = recipe.settings(budget(recipe.notebook, profile))
    same_in = [p for p in PROFILES if recipe.settings(budget(recipe.notebook, p)) == settings]
    out = Path(out) if out is not None else reference_dir() / f"{exercise}.csv"
    with tempfile.TemporaryDirectory() as scratch:
        run_root = Path(root) if root is not None else Path(scratch)
        experiment = f"reference/{exercise}-{profile}"
        names = []
        for seed in seeds:
            with RunWriter(experiment, seed=seed, root=run_root, config=settings) as logger:
                recipe.train(seed, settings, logger)
            names.append(logger.run)
            print(f"  {exercise}: seed {seed} done", flush=True)
        runs = load_runs(experiment, root=run_root, runs=names, metrics=recipe.metrics)
        return make_reference(runs, out, recipe.metrics, points, exercise=exercise, algorithm=recipe.algorithm,
                              env=recipe.env, notebook=recipe.notebook, profile=", ".join(sorted(same_in)),
                              budget=", ".join(f"{k}={v}" for k, v in settings.items()),
                              how=f"python -m cs285lab.references generate {exercise} --profile {profile} "
                                  f"--seeds {' '.join(map(str, seeds))}")
