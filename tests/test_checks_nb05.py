"""Feed deliberately broken MBPO pieces to the nb05 checks and assert that each mistake is named."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cs285lab.algos import mbpo as package_mbpo
from cs285lab.algos import models
from cs285lab.algos.models import FitStats
from cs285lab.buffers import Batch
from cs285lab.checks import CheckFailed, load
from pasted import as_written_by_a_student

C = load("nb05")
LOG_2PI = math.log(2 * math.pi)




gaussian_nll = as_written_by_a_student(models.gaussian_nll)
mbpo = SimpleNamespace(**{**vars(package_mbpo), **{name: as_written_by_a_student(getattr(package_mbpo, name))
                                                  for name in ("refresh_model", "branched_rollout", "mixed_batch")}})


def _fails(check, fn, match: str) -> None:
    with pytest.raises(CheckFailed, match=match):
        check(fn)


# ---- the reference passes, stubs propagate -------------------------------------------------------

def test_reference_implementations_pass(capsys):
    C.gaussian_nll(gaussian_nll)
    C.refresh_model(mbpo.refresh_model)
    C.branched_rollout(mbpo.branched_rollout)
    C.mixed_batch(mbpo.mixed_batch)
    out = capsys.readouterr().out
    assert out.count("checks passed") == 4


@pytest.mark.parametrize("name", ["gaussian_nll", "refresh_model", "branched_rollout", "mixed_batch"])
def test_package_answers_are_refused_however_reached(name):
    answer = models.gaussian_nll if name == "gaussian_nll" else getattr(package_mbpo, name)
    _fails(getattr(C, name), answer, "runs the package's own code")
    wrapper = lambda *args, **kwargs: answer(*args, **kwargs)  # noqa: E731 - a cell that only forwards
    _fails(getattr(C, name), wrapper, "runs the package's own code")


@pytest.mark.parametrize("check", ["gaussian_nll", "refresh_model", "branched_rollout", "mixed_batch"])
def test_stub_raises_not_implemented(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("fill in")
    with pytest.raises(NotImplementedError):
        getattr(C, check)(stub)


# ---- gaussian_nll ---------------------------------------------------------------------------------

@pytest.mark.parametrize("broken, match", [
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + LOG_2PI)).mean(dim=(-2, -1)), "no log-variance term"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(lv) + lv + LOG_2PI)).mean(dim=(-2, -1)), "multiplied .* by the variance"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-2 * lv) + 2 * lv + LOG_2PI)).mean(dim=(-2, -1)), "log of the VARIANCE"),
    (lambda m, lv, t: (0.5 * (t - m) ** 2).mean(dim=(-2, -1)), "squared error, not a likelihood"),
    (lambda m, lv, t: ((t - m) ** 2 * torch.exp(-lv) + lv + LOG_2PI).mean(dim=(-2, -1)), "factor 1/2"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + lv)).mean(dim=(-2, -1)), "constant term"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + lv + LOG_2PI)).sum(dim=(-2, -1)), "summed"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + lv + LOG_2PI)).mean(), "one loss per ensemble member"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + lv + LOG_2PI)).mean(dim=(-2, -1)).detach(), "no gradient"),
    (lambda m, lv, t: (0.5 * ((t - m) ** 2 * torch.exp(-lv) + lv + LOG_2PI)).mean(dim=(-2, -1)).numpy(), "numpy"),
])
def test_gaussian_nll_names_the_mistake(broken, match):
    _fails(C.gaussian_nll, broken, match)


# ---- refresh_model --------------------------------------------------------------------------------

def test_refresh_model_on_model_data_is_named():
    _fails(C.refresh_model, lambda model, real, model_buf, rng, nll_fn, max_epochs:
           model.fit(mbpo.buffer_contents(model_buf), rng=rng, nll_fn=nll_fn, max_epochs=max_epochs),
           "trained the model on the MODEL buffer")


def test_refresh_model_on_mixed_data_is_named():
    _fails(C.refresh_model, lambda model, real, model_buf, rng, nll_fn, max_epochs:
           model.fit(mbpo.buffer_contents(real).concat(mbpo.buffer_contents(model_buf)), rng=rng, nll_fn=nll_fn,
                     max_epochs=max_epochs),
           "mixes in 60 model-generated transitions")


def test_refresh_model_on_a_sample_is_named():
    _fails(C.refresh_model, lambda model, real, model_buf, rng, nll_fn, max_epochs:
           model.fit(real.sample(len(real), rng), rng=rng, nll_fn=nll_fn, max_epochs=max_epochs),
           "fit on every real transition once")


def test_refresh_model_ignoring_the_loss_is_named():
    _fails(C.refresh_model, lambda model, real, model_buf, rng, nll_fn, max_epochs:
           model.fit(mbpo.buffer_contents(real), rng=rng, max_epochs=max_epochs), "pass nll_fn")


def test_refresh_model_not_returning_stats_is_named():
    def no_return(model, real, model_buf, rng, nll_fn, max_epochs):
        model.fit(mbpo.buffer_contents(real), rng=rng, nll_fn=nll_fn, max_epochs=max_epochs)
    _fails(C.refresh_model, no_return, "return what model.fit returned")


# ---- branched_rollout -----------------------------------------------------------------------------

def _rollout(start="real", actions="policy", continue_from="model", stop_terminated=True, horizon_offset=0,
             count_offset=0):
    """A branched rollout with one chosen mistake."""
    def fn(model, policy, real_buffer, model_buffer, num_starts, horizon, rng):
        source = real_buffer if start == "real" else model_buffer
        batch = source.sample(num_starts, rng)
        obs, stored = batch.obs, 0
        for _ in range(horizon + horizon_offset):
            acts = policy(obs) if actions == "policy" else batch.actions[: obs.shape[0]]
            next_obs, rewards, terminated = model.step(obs, acts, rng)
            model_buffer.add_batch(obs.numpy(), acts.numpy(), rewards.numpy(), next_obs.numpy(), terminated.numpy())
            stored += obs.shape[0]
            if continue_from == "real":
                batch = real_buffer.sample(num_starts, rng)
                obs = batch.obs
            else:
                obs = next_obs[~terminated] if stop_terminated else next_obs
            if obs.shape[0] == 0:
                break
        return stored + count_offset
    return fn


@pytest.mark.parametrize("kwargs, match", [
    ({"start": "model"}, "start from MODEL buffer states"),
    ({"actions": "buffer"}, "actions stored in the real buffer"),
    ({"continue_from": "real"}, "starts again from fresh real states"),
    ({"stop_terminated": False}, "kept rolling out from states where the model said the episode terminated"),
    ({"horizon_offset": 1}, "stop after horizon"),
    ({"horizon_offset": -1}, "there should be"),
    ({"count_offset": 1}, "return how many transitions you stored"),
])
def test_branched_rollout_names_the_mistake(kwargs, match):
    _fails(C.branched_rollout, _rollout(**kwargs), match)


def test_branched_rollout_that_stores_nothing_is_named():
    _fails(C.branched_rollout, lambda model, policy, real, model_buf, n, h, rng: 0, "nothing was added")


def test_branched_rollout_with_wrong_terminal_flags_is_named():
    def fn(model, policy, real_buffer, model_buffer, num_starts, horizon, rng):
        obs, stored = real_buffer.sample(num_starts, rng).obs, 0
        for _ in range(horizon):
            acts = policy(obs)
            next_obs, rewards, terminated = model.step(obs, acts, rng)
            model_buffer.add_batch(obs.numpy(), acts.numpy(), rewards.numpy(), next_obs.numpy(), np.zeros(len(obs)))
            stored += obs.shape[0]
            obs = next_obs[~terminated]
        return stored
    _fails(C.branched_rollout, fn, "terminated flags")


# ---- mixed_batch ----------------------------------------------------------------------------------

def _mix(real_share=lambda b, r: int(round(b * r)), rows="sample"):
    def fn(real_buffer, model_buffer, batch_size, real_ratio, rng):
        n_real = real_share(batch_size, real_ratio)
        parts = []
        if n_real > 0:
            parts.append(real_buffer.sample(n_real, rng) if rows == "sample" else _first(real_buffer, n_real))
        if batch_size - n_real > 0:
            parts.append(model_buffer.sample(batch_size - n_real, rng) if rows == "sample" else
                         _first(model_buffer, batch_size - n_real))
        out = parts[0]
        for p in parts[1:]:
            out = out.concat(p)
        return out
    return fn


def _first(buffer, n):
    return Batch(*(torch.from_numpy(getattr(buffer, f)[:n].copy())
                   for f in ("obs", "actions", "rewards", "next_obs", "terminated")))


@pytest.mark.parametrize("fn, match", [
    (_mix(lambda b, r: int(round(b * (1 - r)))), "inverted"),
    (_mix(lambda b, r: b), "all real transitions"),
    (_mix(lambda b, r: 0), "all model transitions"),
    (_mix(lambda b, r: int(b * r) + 3), "must be 16"),
    (_mix(rows="first"), "sample with rng"),
    (lambda real, model, b, r, rng: real.sample(int(b * r), rng).concat(model.sample(b, rng)), "must have batch_size"),
    (lambda real, model, b, r, rng: real.sample(b, rng).concat(model.sample(b, rng)), "from EACH buffer"),
    (lambda real, model, b, r, rng: real.sample(round(b * r), rng).concat(model.sample(b - round(b * r), rng)),
     "model_buffer may be None"),
])
def test_mixed_batch_names_the_mistake(fn, match):
    _fails(C.mixed_batch, fn, match)


# ---- the learning check ---------------------------------------------------------------------------

class _Result:
    def __init__(self, fits, returns):
        self.fits = fits
        self.history = [{"step": 100 * (i + 1), "eval_return": r} for i, r in enumerate(returns)]


def _fit(val_nll, before=1.0):
    return FitStats(epochs=5, updates=50, train_nll=val_nll, val_nll=val_nll, val_mse=0.01,
                    val_nll_before=before, elites=[0], num_train=100, num_val=20)


def test_learning_check_passes_a_good_run(capsys):
    # the last two evaluations average 1000 above random: above min_gain in every profile
    C.learning(_Result([_fit(0.2), _fit(-2.0)], [-1200, -300, -100]), random_return=-1200)
    assert "mbpo_learning" in capsys.readouterr().out


def test_learning_check_catches_useless_variances():
    # What a gaussian_nll without the log-variance term produces: variances pinned at the upper bound.
    with pytest.raises(CheckFailed, match=r"\+ log_var term"):
        C.learning(_Result([_fit(1.5, before=1.4), _fit(0.4, before=1.4)], [-1200, -400]), random_return=-1200)


def test_learning_check_catches_a_policy_that_did_not_learn():
    with pytest.raises(CheckFailed, match="better than the random policy"):
        C.learning(_Result([_fit(0.2), _fit(-2.0)], [-1250, -1180]), random_return=-1200)


def test_learning_check_reads_where_the_run_ended_not_one_lucky_evaluation():
    # A broken run can score one good evaluation on the way (the ci run with model next states equal to the
    # current states scored -757 once, then -1409 and -1162): the end of the run decides.
    with pytest.raises(CheckFailed, match="end of the run"):
        C.learning(_Result([_fit(0.2), _fit(-2.0)], [-1200, -300, -1250, -1200]), random_return=-1200)


# ---- measured, not typed: the learning check re-measures what it can --------------------------------

_FUNCTIONS = dict(nll_fn=gaussian_nll, rollout_fn=mbpo.branched_rollout, batch_fn=mbpo.mixed_batch,
                  refresh_fn=mbpo.refresh_model)
_SMALL = dict(env_id="Pendulum-v1", seed=0, **_FUNCTIONS)


def _small_config():
    from cs285lab.algos.mbpo import MBPOConfig

    return MBPOConfig(hidden=(16,), batch_size=32, learning_starts=60, critic_layer_norm=False,
                      updates_per_step=1, model_train_freq=40, rollout_every=20, rollout_starts=20,
                      rollout_length=1, model_hidden=(16,), model_max_epochs=3, ensemble_size=2, num_elites=1,
                      total_steps=120, eval_every=60, eval_episodes=1)


@pytest.fixture(scope="module")
def small_run():
    """A genuine (tiny) MBPO run, its random baseline and the rerun arguments the notebook's check cell passes.

    Trained the notebook's way: the training cell passes the student's four functions to train_mbpo.
    """
    from cs285lab.algos.mbpo import train_mbpo
    from cs285lab.checks.nb05 import _random_return

    config = _small_config()
    result = train_mbpo("Pendulum-v1", config, seed=0, **_FUNCTIONS)
    return result, _random_return("Pendulum-v1", 0, 1), {**_SMALL, "config": config}


def _typed_failure(result, random_return, rerun):
    """The learning check's failure message, or '' when it got past every re-measurement."""
    from cs285lab.budgets import thresholds

    try:
        with pytest.MonkeyPatch.context() as patch:  # only the re-measurements are under test: smoke judges no learning
            patch.setattr(C, "thresholds", lambda nb: thresholds(nb, "smoke"))
            C.learning(result, random_return, rerun=rerun)
    except CheckFailed as exc:
        return str(exc)
    return ""


def test_a_genuine_result_passes_the_remeasurement(small_run):
    result, random_return, rerun = small_run
    assert _typed_failure(result, random_return, rerun) == ""  # the notebook's way: trained with the functions checked


@pytest.mark.parametrize("change", [dict(rollout_length=0), dict(real_ratio=1.0), dict(real_ratio=0.99)],
                         ids=["no-rollouts", "real-only", "rounds-to-real-only"])
def test_a_run_without_model_data_is_not_mbpo(small_run, change):
    # such a run never calls branched_rollout (or never samples what it stored): it could learn with them broken
    from dataclasses import replace

    result, random_return, rerun = small_run
    message = _typed_failure(result, random_return, {**rerun, "config": replace(rerun["config"], **change)})
    assert "trains without model data" in message and "config = B.mbpo" in message


def test_a_run_of_other_settings_than_the_checked_config_fails(small_run):
    # e.g. trained with rollout_length=0 written into the train_mbpo call, checked with the notebook's config
    import copy
    from dataclasses import replace

    result, random_return, rerun = small_run
    other = copy.copy(result)
    other.config = replace(result.config, rollout_length=0)
    assert "not trained with the config you pass" in _typed_failure(other, random_return, rerun)


def test_a_typed_in_history_fails(small_run):
    import copy

    result, random_return, rerun = small_run
    doctored = copy.copy(result)
    doctored.history = [dict(row) for row in result.history]
    doctored.history[-1]["eval_return"] = -150.0          # "it swung up", typed in
    message = _typed_failure(doctored, random_return, rerun)
    assert "does not come from this agent" in message and "typed in" in message


def test_a_rerun_of_the_package_answers_is_refused(small_run):
    # train_mbpo's defaults are the package's answers: a result made with them, "rerun" with them, matches itself
    result, random_return, rerun = small_run
    for key, name in (("nll_fn", "gaussian_nll"), ("rollout_fn", "branched_rollout"), ("batch_fn", "mixed_batch"),
                      ("refresh_fn", "refresh_model")):
        answer = models.gaussian_nll if name == "gaussian_nll" else getattr(package_mbpo, name)
        message = _typed_failure(result, random_return, {**rerun, key: answer})
        assert "runs the package's own code" in message and f"{key}={name}" in message, message


def test_a_typed_in_random_baseline_fails(small_run):
    result, random_return, rerun = small_run
    assert "was not measured by the random-policy cell" in _typed_failure(result, random_return - 500, rerun)


def test_fits_from_other_functions_fail(small_run):
    import copy
    from dataclasses import replace

    result, random_return, rerun = small_run
    doctored = copy.copy(result)
    doctored.fits = [replace(result.fits[0], val_nll=result.fits[0].val_nll - 1.0), *result.fits[1:]]
    assert "rerunning your functions" in _typed_failure(doctored, random_return, rerun)
    # A result claiming a different student loss (a squared error) than the one it was trained with fails the same
    # way: the rerun with that loss does not reproduce its first fit.
    squared = lambda mean, log_var, target: ((target - mean) ** 2).mean(dim=(-2, -1))  # noqa: E731
    claimed = copy.copy(result)
    claimed.functions = {**result.functions, "nll_fn": squared}
    assert "rerunning your functions" in _typed_failure(claimed, random_return, {**rerun, "nll_fn": squared})
    # Checked against a loss it was not trained with, the genuine result fails before any rerun: another nll_fn.
    message = _typed_failure(result, random_return, {**rerun, "nll_fn": squared})
    assert "not trained with the functions you pass" in message and "another function as nll_fn (gaussian_nll" in message, \
        message


def test_a_run_with_the_package_rollouts_and_batches_fails_when_checked_with_yours(small_run):
    # The loophole: the training cell drops rollout_fn=... and batch_fn=... (train_mbpo then runs the package's
    # branched_rollout and mixed_batch), the check cell still passes the student's (broken) functions. The rerun
    # compares only the first model refit, which comes before any rollout or batch, so only the run's record of the
    # functions it used (MBPOResult.functions) catches it.
    from cs285lab.algos.mbpo import train_mbpo

    _, random_return, rerun = small_run
    result = train_mbpo("Pendulum-v1", rerun["config"], seed=0, nll_fn=gaussian_nll, refresh_fn=mbpo.refresh_model)
    # broken but running: rollouts with the buffer's (old policies') actions, batches of real data only
    broken = {**rerun, "rollout_fn": _rollout(actions="buffer"), "batch_fn": _mix(lambda b, r: b)}
    message = _typed_failure(result, random_return, broken)
    for said in ("not trained with the functions you pass to this check",
                 "the package's branched_rollout as rollout_fn", "the package's mixed_batch as batch_fn",
                 "pass them to train_mbpo in the training cell", "re-run the training cell and this check"):
        assert said in message, message
    assert "nll_fn" not in message and "refresh_fn" not in message, message
    # the student's own functions named in the fix, when they have names
    assert "(rollout_fn=branched_rollout, batch_fn=mixed_batch)" in _typed_failure(result, random_return, rerun)


def test_a_result_without_an_agent_fails():
    from cs285lab.algos.mbpo import MBPOConfig
    from cs285lab.checks.nb05 import _random_return

    baseline = _random_return("Pendulum-v1", 0, 1)
    message = _typed_failure(_Result([_fit(0.2), _fit(-2.0)], [-1200, -400]), baseline, {**_SMALL, "config": MBPOConfig(eval_episodes=1)})
    assert "no trained agent" in message
    with pytest.raises(ValueError, match="missing"):
        C.learning(_Result([_fit(0.2), _fit(-2.0)], [-1200, -400]), baseline, rerun={"env_id": "Pendulum-v1"})
