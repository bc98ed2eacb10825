"""Budgets come from one place per notebook, each number stated once; seeding makes runs repeatable."""

from __future__ import annotations

import tomllib
from importlib import resources

import numpy as np
import pytest
import torch

import cs285lab
from cs285lab.budgets import LEGACY_KEYS, budget, budget_file, profile, thresholds
from cs285lab.budgets.audit import repeated_numbers


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
    assert set(tables) <= {"full", "ci", "smoke"} and "full" in tables, f"{path.name}: only [full], [ci] and [smoke] tables"
    for extra in ("ci", "smoke"):
        assert set(tables.get(extra, {})) <= set(tables["full"]), f"{path.name}: [{extra}] keys must exist in [full]"
    name = path.name.removesuffix(".toml")
    full, ci, smoke = budget(name, "full"), budget(name, "ci"), budget(name, "smoke")
    assert vars(full).keys() == vars(ci).keys() == vars(smoke).keys()


@pytest.mark.parametrize("path", budget_files(), ids=lambda p: p.name)
def test_smoke_runs_are_short_and_judge_no_learning(path):
    # smoke is for tests that a notebook still runs (tests/test_previous_version.py): every run is at most
    # as long as at ci, and no learning threshold can fail
    name = path.name.removesuffix(".toml")
    ci, smoke = budget(name, "ci"), budget(name, "smoke")
    for key, config in vars(smoke).items():
        if hasattr(config, "total_steps"):
            assert config.total_steps <= min(1000, getattr(ci, key).total_steps), f"{name} [smoke.{key}] is not short"
    if "thresholds" in tables_of(name):
        for key, value in thresholds(name, "smoke").items():
            assert value in (float("inf"), float("-inf"), 0.0), f"{name}: smoke threshold {key} = {value} can fail"


def test_claims_are_not_asserted_at_smoke(monkeypatch):
    from cs285lab.claims import claim

    monkeypatch.setenv("CS285LAB_PROFILE", "smoke")
    assert profile() == "smoke"
    claim("nb05-mbpo-faster", False, observed="a few hundred steps measure nothing")  # not asserted
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    with pytest.raises(AssertionError, match="nb05-mbpo-faster"):
        claim("nb05-mbpo-faster", False, observed="at ci it is")


@pytest.mark.parametrize("name", ["full", "ci", "smoke"])
def test_nb03s_ablation_budget_is_the_naive_algorithm(monkeypatch, name):
    # notebook 03 trains B.ablation as the naive agent before the find-the-bugs pause, without naming the
    # fixes' switches (that would say where the bugs are): no profile may switch a fix on
    monkeypatch.setenv("CS285LAB_PROFILE", name)
    config = budget("nb03").ablation
    assert not config.fix_critic and not config.fix_actor, f"[{name}.ablation] switches a fix on"


def tables_of(name: str) -> dict:
    return budget_file(name)["full"]


def test_seed_everything_repeats_numbers_and_pins_one_thread():
    first = (cs285lab.seed_everything(3).random(), torch.rand(2), np.random.rand())
    assert torch.get_num_threads() == 1
    second = (cs285lab.seed_everything(3).random(), torch.rand(2), np.random.rand())
    assert first[0] == second[0] and torch.equal(first[1], second[1]) and first[2] == second[2]
    with pytest.raises(TypeError, match="seed must be an int"):
        cs285lab.seed_everything("3")


def _fake_budget(monkeypatch, tmp_path, text: str) -> None:
    import cs285lab.budgets as C

    folder = tmp_path / "budgets"
    folder.mkdir(exist_ok=True)
    (folder / "nbX.toml").write_text(text)
    monkeypatch.setattr(C.resources, "files", lambda _: tmp_path)


FAKE = """
[full]
steps = 10
[full.shared]
eval_episodes = 5
[full.algo]
config = "A2CConfig"
lr = 0.1
[full.other]
config = "OnlineConfig"
[full.thresholds]
min_return = 100
[ci]
steps = 2
[ci.algo]
n_steps = 4
[ci.thresholds]
min_return = 5
"""


def test_config_tables_are_built_into_their_config_with_ci_and_shared_on_top(tmp_path, monkeypatch):
    from cs285lab.algos.actor_critic import A2CConfig, OnlineConfig
    from cs285lab.budgets import thresholds

    _fake_budget(monkeypatch, tmp_path, FAKE)
    full, ci = budget("nbX", "full"), budget("nbX", "ci")
    assert full.algo == A2CConfig(lr=0.1, eval_episodes=5) and full.other == OnlineConfig(eval_episodes=5)
    assert ci.algo == A2CConfig(lr=0.1, n_steps=4, eval_episodes=5)  # ci may set a field full leaves at default
    assert (full.steps, ci.steps) == (10, 2)
    assert thresholds("nbX", "ci") == {"min_return": 5}
    assert repeated_numbers("nbX") == []


@pytest.mark.parametrize("change, message", [
    (("[ci.thresholds]\nmin_return = 5", "[ci.thresholds]\nmin_ret = 5"), r"\[ci.thresholds\] keys \['min_ret'\] are missing"),
    (("lr = 0.1", "lr = 0.1\nnsteps = 4"), r"\[algo\]: unknown A2CConfig field\(s\) \['nsteps'\]; its fields are"),
    (('config = "A2CConfig"', 'config = "A2C"'), r"\[algo\]: a table needs `config = \"<class>\"`"),
    (("eval_episodes = 5", "eval_episode = 5"), r"\[shared\]: \['eval_episode'\] is a field of none"),
])
def test_a_malformed_budget_gets_a_one_line_error(tmp_path, monkeypatch, change, message):
    _fake_budget(monkeypatch, tmp_path, FAKE.replace(*change))
    with pytest.raises(ValueError, match=message):
        budget("nbX", "ci")


@pytest.mark.parametrize("change, found", [
    (("lr = 0.1", "lr = 0.1\nn_steps = 8"), "[full.algo] n_steps = 8: removing it changes nothing"),  # A2CConfig's default
    (("lr = 0.1", "lr = 0.1\neval_episodes = 5"), "[full.algo] eval_episodes = 5: removing it"),  # [shared]'s
    (("n_steps = 4", "n_steps = 4\nlr = 0.1"), "[ci.algo] lr = 0.1: removing it"),  # [full.algo]'s
    (("[full.other]", "[full.other]\neval_every = 5000"), "[full.other] eval_every = 5000: removing it"),
    (("steps = 10", "steps = 10\nalgo_lr = 0.1"), "[full] algo_lr = 0.1 restates algo.lr (A2CConfig)"),
    (("steps = 10", "steps = 10\nrun_n_steps = 8"), "[full] run_n_steps = 8 restates A2CConfig's default n_steps"),
    (("steps = 2\n", "steps = 2\nstep_size = 3\n"), None),  # a ci key needs its full one: an error, not a repeat
    (("min_return = 5", "min_return = 100"), "[ci.thresholds] min_return = 100 repeats [full.thresholds]"),
])
def test_a_number_stated_twice_is_found(tmp_path, monkeypatch, change, found):
    _fake_budget(monkeypatch, tmp_path, FAKE.replace(*change))
    if found is None:
        with pytest.raises(ValueError, match="are missing from"):
            repeated_numbers("nbX")
        return
    assert any(line.startswith(found) for line in repeated_numbers("nbX")), repeated_numbers("nbX")


def test_a_stated_legacy_name_is_a_repeat(tmp_path, monkeypatch):
    monkeypatch.setitem(LEGACY_KEYS, "nbX", {"algo_rate": "algo.lr"})
    _fake_budget(monkeypatch, tmp_path, FAKE)
    assert budget("nbX", "full").algo_rate == 0.1  # derived from the table
    _fake_budget(monkeypatch, tmp_path, FAKE.replace("steps = 10", "steps = 10\nalgo_rate = 0.1"))
    assert repeated_numbers("nbX") == ["[full] algo_rate: derived from algo.lr for saved notebooks; do not state it"]


@pytest.mark.parametrize("notebook", [p.name.removesuffix(".toml") for p in budget_files()])
def test_each_budget_states_each_number_once(notebook):
    assert repeated_numbers(notebook) == [], f"budgets/{notebook}.toml states numbers twice"


@pytest.mark.parametrize("notebook", sorted(LEGACY_KEYS))
def test_every_name_saved_notebooks_read_is_derived_at_both_budgets(notebook):
    for profile in ("full", "ci"):
        B = budget(notebook, profile)
        for old, path in LEGACY_KEYS[notebook].items():
            assert old not in budget_file(notebook)["full"], f"{old} is stated in budgets/{notebook}.toml"
            table, field = path.split(".")
            value = getattr(B, table)
            assert getattr(B, old) == (value[field] if isinstance(value, dict) else getattr(value, field))


def test_an_unknown_budget_name_lists_the_keys():
    with pytest.raises(AttributeError, match="budget 'nb02' has no 'sync_stepz'; its keys are profile, seed"):
        budget("nb02", "ci").sync_stepz
