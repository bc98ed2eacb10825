"""Budgets come from one place per notebook; seeding makes runs repeatable."""

from __future__ import annotations

import tomllib
from importlib import resources

import numpy as np
import pytest
import torch

import cs285lab
from cs285lab.config import budget, profile


def budget_files():
    return sorted(p for p in (resources.files("cs285lab") / "budgets").iterdir() if p.name.endswith(".toml"))


def test_profile_defaults_to_full_and_rejects_typos(monkeypatch):
    monkeypatch.delenv("CS285LAB_PROFILE", raising=False)
    assert profile() == "full"
    monkeypatch.setenv("CS285LAB_PROFILE", "CI")
    assert profile() == "ci"
    monkeypatch.setenv("CS285LAB_PROFILE", "fast")
    with pytest.raises(ValueError, match="not a known profile"):
        profile()


def test_an_empty_profile_variable_is_an_error_not_silently_full(monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "")
    with pytest.raises(ValueError, match="CS285LAB_PROFILE is set but empty"):
        profile()
    with pytest.raises(ValueError, match="set but empty"):
        budget("nb00")
    monkeypatch.setenv("CS285LAB_PROFILE", "  ")
    with pytest.raises(ValueError, match="set but empty"):
        profile()
    with pytest.raises(ValueError, match="unknown profile ''"):
        budget("nb00", "")


@pytest.mark.parametrize("name", ["../budgets/nb03", "nb03/../nb01", "/etc/passwd", "", "nb 01", 3])
def test_budget_names_are_plain_names(name):
    with pytest.raises(ValueError, match="notebook must be a plain name such as 'nb01'"):
        budget(name, "ci")


def test_ci_overrides_full_and_inherits_the_rest(monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    assert budget("nb00").random_episodes < budget("nb00", "full").random_episodes
    assert budget("nb00").profile == "ci"


def test_unknown_notebook_lists_the_known_ones():
    with pytest.raises(KeyError, match="nb00"):
        budget("nb99")


@pytest.mark.parametrize("path", budget_files(), ids=lambda p: p.name)
def test_every_budget_file_is_well_formed(path):
    tables = tomllib.loads(path.read_text())
    assert set(tables) <= {"full", "ci"} and "full" in tables, f"{path.name}: only [full] and [ci] tables"
    assert set(tables.get("ci", {})) <= set(tables["full"]), f"{path.name}: [ci] keys must exist in [full]"
    name = path.name.removesuffix(".toml")
    full, ci = budget(name, "full"), budget(name, "ci")
    assert vars(full).keys() == vars(ci).keys()


def test_seed_everything_repeats_numbers_and_pins_one_thread():
    first = (cs285lab.seed_everything(3).random(), torch.rand(2), np.random.rand())
    assert torch.get_num_threads() == 1
    second = (cs285lab.seed_everything(3).random(), torch.rand(2), np.random.rand())
    assert first[0] == second[0] and torch.equal(first[1], second[1]) and first[2] == second[2]
    with pytest.raises(TypeError, match="seed must be an int"):
        cs285lab.seed_everything("3")


def test_nested_override_tables_overlay_per_profile(tmp_path, monkeypatch):
    import cs285lab.config as C

    text = """
[full]
steps = 10
[full.algo]
lr = 0.1
[full.thresholds]
min_return = 100
[ci]
steps = 2
[ci.algo]
batch_size = 8
[ci.thresholds]
min_return = 5
"""
    folder = tmp_path / "budgets"
    folder.mkdir()
    (folder / "nbX.toml").write_text(text)
    monkeypatch.setattr(C.resources, "files", lambda _: tmp_path)
    assert C.budget("nbX", "full").algo == {"lr": 0.1}
    assert C.budget("nbX", "ci").algo == {"lr": 0.1, "batch_size": 8}  # ci may set a field full leaves at default
    assert C.thresholds("nbX", "ci") == {"min_return": 5}
    (folder / "nbX.toml").write_text(text.replace("[ci.thresholds]\nmin_return = 5", "[ci.thresholds]\nmin_ret = 5"))
    with pytest.raises(ValueError, match=r"\[ci.thresholds\] keys \['min_ret'\] are missing"):
        C.budget("nbX", "full")


# Which config class each override table of a budget configures.
OVERRIDE_TABLES = {("nb01", "batched"): "cs285lab.algos.actor_critic:A2CConfig",
                   ("nb01", "pixels"): "cs285lab.algos.actor_critic:A2CConfig",
                   ("nb02", "sync"): "cs285lab.algos.actor_critic:A2CConfig",
                   ("nb02", "async_learner"): "cs285lab.algos.parallel:AsyncConfig",
                   ("nb05", "mbpo"): "cs285lab.algos.mbpo:MBPOConfig"}


def _config_class(spec: str) -> type:
    import importlib

    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def test_every_override_table_is_known_here():
    found = {(path.stem, key) for path in (resources.files("cs285lab") / "budgets").iterdir() if path.name.endswith(".toml")
             for table in tomllib.loads(path.read_text()).values() for key, value in table.items()
             if isinstance(value, dict) and key != "thresholds"}
    assert found == set(OVERRIDE_TABLES), "add the table and its config class to OVERRIDE_TABLES"


@pytest.mark.parametrize(("notebook", "table"), sorted(OVERRIDE_TABLES))
def test_budgets_override_config_fields_without_repeating_defaults(notebook, table):
    import dataclasses

    cls = _config_class(OVERRIDE_TABLES[notebook, table])
    raw = tomllib.loads((resources.files("cs285lab") / "budgets" / f"{notebook}.toml").read_text())

    def walk(overrides: dict, default: object, where: str) -> None:
        fields = {f.name for f in dataclasses.fields(default)}
        for key, value in overrides.items():
            assert key in fields, f"budgets/{notebook}.toml [{where}]: {key!r} is not a field of {type(default).__name__}"
            current = getattr(default, key)
            if isinstance(value, dict):
                walk(value, current, f"{where}.{key}")
                continue
            same = tuple(value) == tuple(current) if isinstance(value, list) else value == current
            assert not same, (f"budgets/{notebook}.toml [{where}]: {key} = {value!r} repeats "
                              f"{type(default).__name__}'s default; leave it out")

    walk(raw["full"].get(table, {}), cls(), f"full.{table}")
    for profile in ("full", "ci"):  # and the merged overrides build a valid config at both budgets
        overrides = getattr(budget(notebook, profile), table)
        built = cls.from_overrides(overrides) if hasattr(cls, "from_overrides") else cls(**overrides)
        assert isinstance(built, cls)
