"""Checks for notebook 00: the environment, discounted reward-to-go, and the batched TD target."""

from __future__ import annotations

import platform
from pathlib import Path

import gymnasium as gym
import torch

from cs285lab.checks.core import CheckFailed, exercise, own_code


def environment() -> None:
    """Check the course environment: versions, one torch thread, a working gymnasium env."""
    with exercise("environment") as ex:
        ex.expect(tuple(int(x) for x in platform.python_version_tuple()[:2]) >= (3, 11),
                  f"Python {platform.python_version()} is too old; the course needs 3.11+ (run `make lab`)")
        ex.expect(torch.__version__.startswith("2.13.0"),
                  f"torch {torch.__version__} is installed; the course pins 2.13.0 (run `make lab` to use .venv)")
        ex.expect(torch.get_num_threads() == 1,
                  "torch uses several threads; call cs285lab.seed_everything(seed) first (it pins one thread)")
        env = gym.make("CartPole-v1")
        try:
            obs, _ = env.reset(seed=0)
            ex.expect(obs.shape == (4,), f"CartPole-v1 observations should have shape (4,), got {obs.shape}")
        finally:
            env.close()


def _is_check_code(fn) -> bool:
    """Whether `fn` is code of the check modules themselves (not the student's own)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and Path(code.co_filename).resolve().parent == Path(__file__).resolve().parent


def discounted_reward_to_go(fn) -> None:
    """Check discounted_reward_to_go(rewards [T], gamma) -> [T] with out[t] = sum_k gamma^k r_{t+k}."""
    rewards = torch.tensor([1.0, 0.0, 2.0, -1.0, 3.0])
    gamma = 0.9
    T = len(rewards)
    powers = gamma ** torch.arange(T, dtype=torch.float32)
    # The expected values as one matrix product (no reference function to import): out = D @ rewards with
    # D[t, k] = gamma^(k - t) for k >= t.
    lags = torch.arange(T)[None, :] - torch.arange(T)[:, None]
    expected = torch.where(lags >= 0, gamma ** lags.clamp(min=0).float(), torch.zeros(())) @ rewards
    mistakes = {
        "every entry is the whole episode's discounted return; the sum for step t starts at r_t, not r_0":
            torch.full((T,), float(expected[0])),
        "the rewards are not discounted (you used gamma = 1)": rewards.flip(0).cumsum(0).flip(0),
        "you discount from the start of the episode (gamma^t' r_t'); discount from the current step: gamma^(t'-t)":
            torch.stack([(powers[t:] * rewards[t:]).sum() for t in range(T)]),
        "off by one: out[t] must include r_t itself": torch.cat([expected[1:], torch.zeros(1)]),
        "this is the discounted sum of past rewards (reward-to-come); sum the future ones":
            torch.stack([sum(gamma ** (t - k) * rewards[k] for k in range(t + 1)) for t in range(T)]),
    }
    with exercise("discounted_reward_to_go") as ex:
        ex.expect(not _is_check_code(fn), "this function comes from the course's check code, not from your notebook: "
                  "write discounted_reward_to_go yourself")
        out = ex.expect_tensor(ex.call(fn, rewards, gamma), shape=(T,), what="discounted_reward_to_go(rewards, gamma)")
        ex.expect(out.dtype.is_floating_point, f"the result has dtype {out.dtype}; keep it a float tensor")
        ex.diagnose(out, expected, mistakes, what="discounted_reward_to_go(rewards, gamma)")
        single = ex.expect_tensor(ex.call(fn, torch.tensor([5.0]), gamma), shape=(1,), what="a one-step episode's result")
        ex.diagnose(single, torch.tensor([5.0]), {}, what="a one-step episode's reward-to-go")
        zero_gamma = ex.call(fn, rewards, 0.0)
        ex.diagnose(zero_gamma, rewards, {}, what="with gamma = 0 the reward-to-go (it should equal the rewards)")


def td_target(fn) -> None:
    """Check td_target(rewards, next_values, terminated, truncated, gamma) -> [B], r + gamma V(s') (1 - terminated)."""
    B, gamma = 6, 0.9
    rewards = torch.tensor([1.0, 0.5, -1.0, 2.0, 0.0, 1.0])
    next_values = torch.tensor([10.0, 4.0, 3.0, -2.0, 7.0, 5.0], requires_grad=True)
    terminated = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    truncated = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    v = next_values.detach()
    expected = rewards + gamma * v * (1 - terminated)
    done = torch.clamp(terminated + truncated, max=1.0)
    mistakes = {
        "no termination mask: where terminated is 1 there is no next state to bootstrap from, yet your "
        "target counts V(s') there": rewards + gamma * v,
        "you stop bootstrapping on truncation too: a time limit is not the end of the task, "
        "so truncated transitions must still bootstrap": rewards + gamma * v * (1 - done),
        "you masked with truncated instead of terminated; bootstrap through truncation, "
        "not through termination": rewards + gamma * v * (1 - truncated),
        "the mask is inverted: V(s') counts only at terminal states, where it should not count at all":
            rewards + gamma * v * terminated,
        "gamma is missing: the bootstrapped value is not discounted": rewards + v * (1 - terminated),
        "the reward is missing: the target is only the discounted next value": gamma * v * (1 - terminated),
    }
    # the package's td_target (notebook 01's reference answer) is refused, however it is called
    with exercise("td_target") as ex, own_code(ex, "nb01-td-target", fn, "your td_target"):
        out = ex.expect_tensor(ex.call(fn, rewards, next_values, terminated, truncated, gamma),
                               shape=(B,), what="td_target(...)")
        ex.diagnose(out, expected, mistakes, what="td_target(...)")
        ex.expect(not out.requires_grad,
                  "the target carries gradient from next_values: a target is a fixed regression label; "
                  "compute it under torch.no_grad() or call .detach() on V(s')")
        # Vector envs hand out boolean flags; the target must work with those too.
        try:
            as_bool = ex.call(fn, rewards, next_values, terminated.bool(), truncated.bool(), gamma)
        except CheckFailed as failure:
            ex.fail(f"with boolean terminated/truncated flags (what gymnasium returns) your code fails: "
                    f"convert them with terminated.float() first ({failure})")
        as_bool = ex.expect_tensor(as_bool, shape=(B,), what="td_target(...) with boolean flags")
        ex.diagnose(as_bool, expected, {}, what="td_target(...) with boolean terminated/truncated flags")
