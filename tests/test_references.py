"""Every reference band's recipe builds exactly the config its notebook cell builds, at both budgets.

The notebook cell is not run: its assignment of the config (and of any name that assignment reads, found
in the same cell) is evaluated with the notebook's budget `B`, the recipe's loop variables and the package's
public names. A recipe whose config drifts from its cell (a changed budget table read differently, a
literal in one of them) fails here.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest

from cs285lab.budgets import PROFILES, budget
from cs285lab.references import known_recipes

ROOT = Path(__file__).resolve().parents[1]


def _notebook(name: str) -> Path:
    return next((ROOT / "solutions").glob(f"{name.removeprefix('nb')}_*.ipynb"))


def _assignments(source: str) -> dict[str, ast.expr]:
    """name -> the expression of its first plain assignment anywhere in the cell (loops and functions included)."""
    found: dict[str, ast.expr] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.setdefault(node.targets[0].id, node.value)
    return found


class _CellNames(Mapping):
    """The names a cell's expression reads: the band's loop variables, else the cell's own assignments."""

    def __init__(self, assigned: dict[str, ast.expr], binds: Mapping[str, Any], scope: dict[str, Any]) -> None:
        self.assigned, self.binds, self.scope, self.done = assigned, binds, scope, {}

    def __getitem__(self, name: str) -> Any:
        if name in self.binds:
            return self.binds[name]
        if name not in self.assigned:
            raise KeyError(name)
        if name not in self.done:
            self.done[name] = eval(compile(ast.Expression(self.assigned[name]), name, "eval"), self.scope, self)
        return self.done[name]

    def __iter__(self):
        return iter({**self.assigned, **self.binds})

    def __len__(self) -> int:
        return len({**self.assigned, **self.binds})


def _package_names() -> dict[str, Any]:
    import cs285lab.algos.actor_critic as actor_critic
    import cs285lab.algos.mbpo as mbpo
    import cs285lab.algos.offpolicy_fixes as fixes
    import cs285lab.algos.parallel as parallel
    import cs285lab.algos.sac as sac

    names = {"replace": dataclasses.replace, "asdict": dataclasses.asdict}
    for module in (actor_critic, parallel, sac, fixes, mbpo):
        names.update({n: getattr(module, n) for n in module.__all__})
    return names


def cell_config(notebook: str, cell_id: str, target: str, binds: Mapping[str, Any], profile: str) -> Any:
    """The config the notebook cell `cell_id` assigns to `target`, evaluated at `profile` with loop variables `binds`."""
    nb = nbformat.read(_notebook(notebook), as_version=4)
    cell = next((c for c in nb.cells if c.get("id") == cell_id), None)
    assert cell is not None, f"{notebook}: no cell {cell_id} (the recipe names a cell the notebook lost)"
    assigned = _assignments(cell.source)
    assert target in assigned, f"{notebook} cell {cell_id} does not assign {target!r}"
    scope = {**_package_names(), "B": budget(notebook, profile)}
    return _CellNames(assigned, binds, scope)[target]


RECIPES = known_recipes()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_recipe_builds_the_config_its_notebook_cell_builds(name):
    recipe = RECIPES[name]
    assert recipe.cell, f"{name}: the recipe names no notebook cell to compare with"
    for profile in PROFILES:
        ours = recipe.config(budget(recipe.notebook, profile))
        theirs = cell_config(recipe.notebook, recipe.cell, recipe.target, recipe.binds, profile)
        assert ours == theirs, (f"{name} at the {profile} budget: the recipe trains\n  {ours}\nbut notebook cell "
                                f"{recipe.cell} trains\n  {theirs}")


def test_a_recipe_that_differs_from_its_cell_is_caught(tmp_path, monkeypatch):
    recipe = RECIPES["nb02-sync-n4"]
    drifted = dataclasses.replace(recipe, config=lambda B: dataclasses.replace(B.sync, num_envs=4, lr=2e-3))
    with pytest.raises(AssertionError, match="the recipe trains"):
        monkeypatch.setitem(RECIPES, "nb02-sync-n4", drifted)
        test_the_recipe_builds_the_config_its_notebook_cell_builds("nb02-sync-n4")
    wrong_binds = dataclasses.replace(recipe, binds={"n": 8})
    monkeypatch.setitem(RECIPES, "nb02-sync-n4", wrong_binds)
    with pytest.raises(AssertionError, match="the recipe trains"):
        test_the_recipe_builds_the_config_its_notebook_cell_builds("nb02-sync-n4")


def test_a_cell_that_differs_from_its_recipe_is_caught(monkeypatch):
    """The other direction: the notebook's cell changes (here: a literal in its construction), the recipe does not."""
    original = nbformat.read

    def edited(path, *args, **kwargs):
        nb = original(path, *args, **kwargs)
        for cell in nb.cells:
            if cell.get("id") == "5eacfc1f":
                assert "replace(B.dyna, rollout_length=k)" in cell.source
                cell.source = cell.source.replace("replace(B.dyna, rollout_length=k)",
                                                  "replace(B.dyna, rollout_length=k, real_ratio=0.25)")
        return nb

    monkeypatch.setattr(nbformat, "read", edited)
    with pytest.raises(AssertionError, match="notebook cell 5eacfc1f trains"):
        test_the_recipe_builds_the_config_its_notebook_cell_builds("nb04-dyna-pendulum")
