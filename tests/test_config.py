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
