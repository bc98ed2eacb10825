"""Notebook 02 checks: the reference passes, each deliberately broken answer gets its named message."""

from __future__ import annotations

import queue
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cs285lab.algos import parallel
from cs285lab.algos.actor_critic import Batch
from cs285lab.checks import CheckFailed, load
from pasted import as_written_by_a_student




ANSWERS = ("reset_workers", "collect_step", "take_batch")
ref = SimpleNamespace(**{name: as_written_by_a_student(getattr(parallel, name)) for name in ANSWERS})


@pytest.fixture(scope="module")
def checks():
    return load("nb02")


def fails_with(check, fn, pattern: str) -> None:
    with pytest.raises(CheckFailed, match=pattern):
        check(fn)


@pytest.mark.parametrize("name", ANSWERS)
def test_package_answers_are_refused_however_reached(checks, name):
    answer = getattr(parallel, name)
    fails_with(getattr(checks, name), answer, "runs the package's own code")
    wrapper = lambda *args, **kwargs: answer(*args, **kwargs)  # noqa: E731 - a cell that only forwards
    fails_with(getattr(checks, name), wrapper, "runs the package's own code")


# ---------------------------------------------------------------------------- reset_workers

def test_reset_workers_reference_passes(checks, capsys):
    checks.reset_workers(ref.reset_workers)
    assert "reset_workers: all" in capsys.readouterr().out


def shared_seed(envs, seed):
    envs.action_space.seed(seed)
    return envs.reset(seed=[seed] * envs.num_envs)[0]


def unseeded(envs, seed):
    envs.action_space.seed(seed)
    return envs.reset()[0]


def action_space_unseeded(envs, seed):
    return envs.reset(seed=[seed + i for i in range(envs.num_envs)])[0]


def int_seed(envs, seed):  # gymnasium turns an int seed into seed, seed + 1, ...: also right
    envs.action_space.seed(seed)
    return envs.reset(seed=seed)[0]


def other_seeds(envs, seed):
    envs.action_space.seed(seed)
    return envs.reset(seed=[seed * 10 + i for i in range(envs.num_envs)])[0]


def returns_tuple(envs, seed):
    envs.action_space.seed(seed)
    return envs.reset(seed=seed)


def test_reset_workers_int_seed_is_accepted(checks):
    checks.reset_workers(int_seed)


@pytest.mark.parametrize("fn, pattern", [
    (shared_seed, "all workers share one seed"),
    (unseeded, "not seeded"),
    (action_space_unseeded, "action space is not seeded"),
    (other_seeds, "use seeds seed, seed \\+ 1"),
    (returns_tuple, "returned a tuple"),
])
def test_reset_workers_names_mistakes(checks, fn, pattern):
    fails_with(checks.reset_workers, fn, pattern)


def test_reset_workers_stub_raises_not_implemented(checks):
    def stub(envs, seed):
        raise NotImplementedError("fill in")
    with pytest.raises(NotImplementedError, match="reset_workers: not implemented"):
        checks.reset_workers(stub)


# ---------------------------------------------------------------------------- collect_step

def test_collect_step_reference_passes(checks, capsys):
    checks.collect_step(ref.collect_step)
    assert "collect_step: all" in capsys.readouterr().out


def broken_collect(*, mask="prev", terminated="term", done="both", swap=False, numpy_batch=False, greedy=False):
    """A collect_step with one chosen mistake."""
    def fn(envs, model, obs, prev_done):
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        with torch.no_grad():
            dist = model.dist(obs_t)
            actions = dist.probs.argmax(-1) if greedy else dist.sample()
        next_obs, rewards, term, trunc, _ = envs.step(actions.numpy())
        ended = term | trunc
        masks = {"prev": ~prev_done, "all": np.ones_like(prev_done), "now": ~ended, "inverted": prev_done}
        terms = {"term": term, "both": ended, "trunc": trunc}
        dones = {"both": ended, "term": term, "trunc": trunc}
        first, second = (next_obs, obs) if swap else (obs, next_obs)
        fields = dict(obs=torch.as_tensor(first, dtype=torch.float32), actions=actions,
                      rewards=torch.as_tensor(rewards, dtype=torch.float32),
                      next_obs=torch.as_tensor(second, dtype=torch.float32),
                      terminated=torch.as_tensor(terms[terminated], dtype=torch.float32),
                      mask=torch.as_tensor(masks[mask]))
        if numpy_batch:
            fields = {k: v.numpy() for k, v in fields.items()}
        return Batch(**fields), next_obs, dones[done]
    return fn


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(mask="all"), "the reset step entered the loss"),
    (dict(mask="now"), "masked the last real step of each episode"),
    (dict(mask="inverted"), "the mask is inverted"),
    (dict(terminated="both"), "batch.terminated is also True on truncated steps"),
    (dict(terminated="trunc"), "the two flags are swapped"),
    (dict(done="term"), "done misses truncated episodes"),
    (dict(done="trunc"), "done misses terminated episodes"),
    (dict(swap=True), "batch.obs holds the observation after the step"),
    (dict(numpy_batch=True), "numpy array; return a torch tensor"),
    (dict(greedy=True), "you act greedily"),
])
def test_collect_step_names_mistakes(checks, kwargs, pattern):
    fails_with(checks.collect_step, broken_collect(**kwargs), pattern)


def test_collect_step_wrong_return_shape(checks):
    def two_things(envs, model, obs, prev_done):
        batch, next_obs, _ = ref.collect_step(envs, model, obs, prev_done)
        return batch, next_obs
    fails_with(checks.collect_step, two_things, re.escape("return three things: (batch, next_obs, done)"))


def test_collect_step_missing_mask(checks):
    def no_mask(envs, model, obs, prev_done):
        batch, next_obs, done = ref.collect_step(envs, model, obs, prev_done)
        batch.mask = None
        return batch, next_obs, done
    fails_with(checks.collect_step, no_mask, "batch.mask is missing")


# ---------------------------------------------------------------------------- take_batch

def test_take_batch_reference_passes(checks, capsys):
    checks.take_batch(ref.take_batch)
    assert "take_batch: all" in capsys.readouterr().out


def lag_of(batch, learner_version, sign=1):
    return torch.tensor([sign * (learner_version - t.version) for t in batch], dtype=torch.int64)


def blocks_forever(inbox, batch_size, learner_version, timeout):
    batch = [inbox.get() for _ in range(batch_size)]
    return batch, lag_of(batch, learner_version)


def takes_what_is_waiting(inbox, batch_size, learner_version, timeout):
    batch = []
    while len(batch) < batch_size:
        try:
            batch.append(inbox.get_nowait())
        except queue.Empty:
            break
    return batch, lag_of(batch, learner_version)


def short_batch_on_timeout(inbox, batch_size, learner_version, timeout):
    batch = []
    while len(batch) < batch_size:
        try:
            batch.append(inbox.get(timeout=timeout))
        except queue.Empty:
            break
    return batch, lag_of(batch, learner_version)


def drains_inbox(inbox, batch_size, learner_version, timeout):
    batch = []
    while len(batch) < batch_size or not inbox.empty():
        try:
            batch.append(inbox.get(timeout=timeout))
        except queue.Empty:
            return None
    batch = batch[:batch_size]
    return batch, lag_of(batch, learner_version)


def with_lag(make_lags):
    def fn(inbox, batch_size, learner_version, timeout):
        out = ref.take_batch(inbox, batch_size, learner_version, timeout)
        if out is None:
            return None
        batch, _ = out
        return batch, make_lags(batch, learner_version)
    return fn


@pytest.mark.parametrize("fn, pattern", [
    (blocks_forever, "blocked forever"),
    (takes_what_is_waiting, "you updated on the 3 transitions already waiting"),
    (short_batch_on_timeout, "return None"),
    (drains_inbox, "you took transitions out and dropped them"),
    (with_lag(lambda b, v: lag_of(b, v, sign=-1)), "your lags are negative"),
    (with_lag(lambda b, v: torch.tensor([t.version for t in b])), "you returned the behaviour versions"),
    (with_lag(lambda b, v: torch.zeros(len(b), dtype=torch.int64)), "lags are all zero"),
    (with_lag(lambda b, v: lag_of(b, v).float()), "integer tensor"),
    (with_lag(lambda b, v: [v - t.version for t in b]), "should be a torch.Tensor"),
])
def test_take_batch_names_mistakes(checks, fn, pattern):
    fails_with(checks.take_batch, fn, pattern)


def test_take_batch_student_exception_is_named(checks):
    def crashes(inbox, batch_size, learner_version, timeout):
        raise KeyError("oops")
    fails_with(checks.take_batch, crashes, "your code raised KeyError")


def test_take_batch_stub_raises_not_implemented(checks):
    def stub(inbox, batch_size, learner_version, timeout):
        raise NotImplementedError("fill in")
    with pytest.raises(NotImplementedError, match="take_batch: not implemented"):
        checks.take_batch(stub)
