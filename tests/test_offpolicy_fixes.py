"""The ablation arms of notebook 03 and the graded check of the student's fix (fixed_learns).

The check is fed the unfixed code, each single-bug fix and other broken fixes: each fails with the
mistake named, before any learning verdict; agents that do not run the student's functions, or typed-in
histories, fail too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cs285lab.algos.naive_offpolicy import NaiveOffPolicyAC
from cs285lab.algos import offpolicy_fixes
from cs285lab.algos.offpolicy_fixes import ARMS, AblationAC, AblationConfig, train_ablation
from cs285lab.buffers import Batch
from cs285lab.checks import CheckFailed, load
from cs285lab.budgets import thresholds
from pasted import as_written_by_a_student

LOW, HIGH = np.array([-2.0], np.float32), np.array([2.0], np.float32)




q_target = as_written_by_a_student(offpolicy_fixes.q_target)
score_function_loss = as_written_by_a_student(offpolicy_fixes.score_function_loss)


def _batch(n: int = 32, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 3, generator=g), torch.rand(n, 1, generator=g) * 4 - 2, torch.randn(n, generator=g),
                 torch.randn(n, 3, generator=g), (torch.rand(n, generator=g) < 0.1).float())


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="num_samples >= 2"):
        AblationConfig(num_samples=1)
    with pytest.raises(ValueError, match="critic_tau"):
        AblationConfig(critic_tau=0.0)
    with pytest.raises(ValueError, match="gamma"):
        AblationConfig(gamma=1.5)
    AblationConfig(num_samples=1, baseline=False)


def test_naive_arm_is_the_naive_algorithm():
    """Both switches off (and no slow copy): the same update as NaiveOffPolicyAC, step for step."""
    naive = NaiveOffPolicyAC(3, 1, LOW, HIGH, AblationConfig(), seed=4)
    arm = AblationAC(3, 1, LOW, HIGH, AblationConfig(critic_tau=None), seed=4)
    for step in range(3):
        naive.update(_batch(seed=step))
        arm.update(_batch(seed=step))
    for a, b in zip(naive.actor.parameters(), arm.actor.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    for a, b in zip(naive.value.parameters(), arm.value.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("arm", list(ARMS))
def test_every_arm_updates(arm):
    fix_critic, fix_actor = ARMS[arm]
    agent = AblationAC(3, 1, LOW, HIGH, AblationConfig(fix_critic=fix_critic, fix_actor=fix_actor), seed=0)
    before = [p.detach().clone() for p in agent.actor.parameters()]
    stats = agent.update(_batch())
    assert all(math.isfinite(v) for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
    assert (agent.q is not None) == (fix_critic or fix_actor) and (agent.value is None) == fix_critic


def test_fixed_arm_runs_the_functions_it_is_given():
    calls = []

    def spy_target(*args):
        calls.append("target")
        return q_target(*args)

    def spy_loss(*args):
        calls.append("loss")
        return score_function_loss(*args)

    agent = AblationAC(3, 1, LOW, HIGH, AblationConfig(fix_critic=True, fix_actor=True), seed=0,
                       q_target_fn=spy_target, actor_loss_fn=spy_loss)
    agent.update(_batch())
    assert calls == ["target", "loss"]


# ---- the graded check ----------------------------------------------------------------------------------
def q_buffer_action(batch, sample_actions, target_q, gamma, alpha=0.0):
    """The unfixed critic's idea: bootstrap with the action stored in the buffer."""
    with torch.no_grad():
        _, logp = sample_actions(batch.next_obs)
        return batch.rewards + gamma * (1 - batch.terminated) * (target_q(batch.next_obs, batch.actions) - alpha * logp)


def loss_buffer_action(batch, policy, critic, num_samples):
    """The unfixed policy gradient: the buffer's actions."""
    with torch.no_grad():
        q = critic(batch.obs, batch.actions)
    return -(policy.log_prob(batch.obs, batch.actions) * q).mean()


def q_live(batch, sample_actions, target_q, gamma, alpha=0.0):
    """Fixed, but the target keeps its gradient."""
    a2, lp2 = sample_actions(batch.next_obs)
    return batch.rewards + gamma * (1 - batch.terminated) * (target_q(batch.next_obs, a2) - alpha * lp2)


def loss_trains_critic(batch, policy, critic, num_samples):
    """Fixed, but Q is not a fixed weight."""
    actions = policy.sample(batch.obs, num_samples)
    return -(policy.log_prob(batch.obs, actions) * critic(batch.obs, actions)).mean()


@pytest.mark.parametrize("target_fn, loss_fn, message", [
    (q_buffer_action, loss_buffer_action, "action stored in the buffer"),   # the unfixed code
    (q_target, loss_buffer_action, "actions stored in the buffer"),         # only the critic fixed
    (q_buffer_action, score_function_loss, "action stored in the buffer"),  # only the policy gradient fixed
    (q_live, score_function_loss, "your target carries gradient"),                          # other broken fixes
    (q_target, loss_trains_critic, "gradient into the critic's parameters"),
])
def test_fixed_learns_names_the_remaining_mistake_first(target_fn, loss_fn, message):
    checks = load("nb03")
    with pytest.raises(CheckFailed, match=message):
        checks.fixed_learns(target_fn, loss_fn, {})


@pytest.fixture(scope="module")
def short_runs():
    """A tiny fixed run and naive run (learning barely starts: the margin is tested with the margin lowered)."""
    run = dict(learning_starts=500, batch_size=32, total_steps=600, eval_every=150, eval_episodes=3)
    fixed = train_ablation("Pendulum-v1", AblationConfig(fix_critic=True, fix_actor=True, **run), seed=0,
                           q_target_fn=q_target, actor_loss_fn=score_function_loss)
    naive = train_ablation("Pendulum-v1", AblationConfig(**run), seed=0)
    return fixed, naive


def test_fixed_learns_reevaluates_the_agents(short_runs, monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    (fixed_agent, fixed_history), (naive_agent, naive_history) = short_runs
    checks = load("nb03")
    # the learning verdict itself is proved by the notebook at the ci budget; here only the re-evaluation
    monkeypatch.setattr(checks, "thresholds", lambda nb: {**thresholds(nb), "fixed_margin": -math.inf})
    def runs(fixed, naive):
        return {("both fixed", 0): fixed, ("naive", 0): naive}

    real_fixed, real_naive = (fixed_agent, fixed_history), (naive_agent, naive_history)
    checks.fixed_learns(q_target, score_function_loss, runs(real_fixed, real_naive))
    with pytest.raises(NotImplementedError, match="did not finish"):
        checks.fixed_learns(q_target, score_function_loss, {("naive", 0): real_naive})
    typed = [*fixed_history[:-1], {**fixed_history[-1], "eval_return": -150.0}]
    with pytest.raises(CheckFailed, match="does not come from this agent"):
        checks.fixed_learns(q_target, score_function_loss, runs((fixed_agent, typed), real_naive))
    with pytest.raises(CheckFailed, match="must run your q_target"):  # the student's functions are not the agent's
        checks.fixed_learns(lambda *a: q_target(*a), score_function_loss, runs(real_fixed, real_naive))
    with pytest.raises(CheckFailed, match="must run your q_target"):
        checks.fixed_learns(q_target, score_function_loss, runs(real_naive, real_naive))
    with pytest.raises(CheckFailed, match="naive agent"):
        checks.fixed_learns(q_target, score_function_loss, runs(real_fixed, real_fixed))
    strict = load("nb03")  # the real margin: these barely trained agents are not that far apart
    half = lambda h: np.mean([r["eval_return"] for r in h[len(h) // 2:]])  # noqa: E731
    assert half(fixed_history) - half(naive_history) < thresholds("nb03")["fixed_margin"], "the short runs already differ; shorten them"
    with pytest.raises(CheckFailed, match="should beat it by at least"):
        strict.fixed_learns(q_target, score_function_loss, runs(real_fixed, real_naive))
