"""MBPO plumbing: config, model buffer, rollouts, mixed batches, MVE targets, and a short end-to-end run."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from cs285lab import seed_everything
from cs285lab.algos import mbpo
from cs285lab.algos.mbpo import MBPOConfig, MVESAC, train_mbpo
from cs285lab.algos.models import ProbabilisticEnsemble
from cs285lab.algos.sac import SAC, SACConfig
from cs285lab.buffers import Batch, ReplayBuffer
from cs285lab.envs import EVAL_SEED


def _filled(n: int, capacity: int | None = None, seed: int = 0) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(capacity or n, 3, 1)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    actions = rng.uniform(-2, 2, size=(n, 1)).astype(np.float32)
    buf.add_batch(obs, actions, -(obs**2).sum(1), obs + 0.1 * actions, np.zeros(n))
    return buf


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="real_ratio"):
        MBPOConfig(real_ratio=0.0)
    with pytest.raises(ValueError, match="not both"):
        MBPOConfig(rollout_length=1, mve_horizon=2)
    with pytest.raises(ValueError, match=">= 0"):
        MBPOConfig(rollout_length=-1)


def test_model_buffer_holds_a_few_refit_periods():
    config = MBPOConfig(rollout_length=2, model_train_freq=100, rollout_every=25, rollout_starts=50, model_retain=3)
    # 4 rollout batches per refit x 50 starts x 2 steps = 400 transitions per refit, kept for 3 refits
    assert config.model_buffer_size() == 1200


def test_buffer_contents_returns_every_stored_transition_once():
    buf = _filled(30, capacity=20)  # wrapped around: the 20 newest survive
    batch = mbpo.buffer_contents(buf)
    assert len(batch) == 20
    assert torch.equal(torch.sort(batch.rewards).values, torch.sort(torch.from_numpy(buf.rewards)).values)


def test_branched_rollout_with_a_real_model():
    rng = seed_everything(0)
    real = _filled(300)
    model = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(32,))
    model.fit(mbpo.buffer_contents(real), rng=rng, max_epochs=3)
    model_buffer = ReplayBuffer(1000, 3, 1)
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)))
    stored = mbpo.branched_rollout(model, lambda o: agent.sample_actions(o)[0], real, model_buffer, 40, 3, rng)
    assert stored == len(model_buffer) == 120
    first = torch.from_numpy(model_buffer.obs[:40])
    real_obs = torch.from_numpy(real.obs)
    dist = torch.cdist(first.double(), real_obs.double(), compute_mode="donot_use_mm_for_euclid_dist")
    assert (dist.min(dim=1).values < 1e-6).all(), "rollouts must branch from real states"
    assert torch.allclose(torch.from_numpy(model_buffer.obs[40:80]), torch.from_numpy(model_buffer.next_obs[:40]))


def test_mixed_batch_ratio_and_sac_only_case():
    real, model = _filled(100), _filled(100, seed=1)
    real.rewards[:] = 1.0
    model.rewards[:] = -1.0
    batch = mbpo.mixed_batch(real, model, 40, 0.25, np.random.default_rng(0))
    assert len(batch) == 40 and int((batch.rewards > 0).sum()) == 10
    assert len(mbpo.mixed_batch(real, None, 16, 1.0, np.random.default_rng(0))) == 16


class _LinearModel:
    """A deterministic stand-in model: s' = s + 1, r = 2, never terminates."""

    fitted = True

    def step(self, obs, actions, rng):
        return obs + 1.0, torch.full((obs.shape[0],), 2.0), torch.zeros(obs.shape[0], dtype=torch.bool)


def test_mve_target_expands_model_rewards_then_bootstraps():
    gamma = 0.9
    agent = MVESAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,), gamma=gamma), seed=0,
                   model=_LinearModel(), horizon=2, rng=np.random.default_rng(0))
    batch = Batch(torch.zeros(4, 3), torch.zeros(4, 1), torch.ones(4), torch.zeros(4, 3), torch.tensor([0.0, 0, 0, 1]))
    torch.manual_seed(0)
    target = agent.q_target(batch)
    # Replay the same policy samples: y = r + d (2 - a lp1) + d g (2 - a lp2) + d g^2 (min Qbar(s'+2, a3) - a lp3)
    torch.manual_seed(0)
    with torch.no_grad():
        _, lp1 = agent.sample_actions(torch.zeros(4, 3))
        _, lp2 = agent.sample_actions(torch.ones(4, 3))
        a3, lp3 = agent.sample_actions(torch.full((4, 3), 2.0))
        soft_v = agent.target_critic(torch.full((4, 3), 2.0), a3).min(dim=0).values - agent.alpha * lp3
    d = gamma * (1 - batch.terminated)
    expected = 1 + d * (2 - agent.alpha * lp1) + d * gamma * (2 - agent.alpha * lp2) + d * gamma**2 * soft_v
    assert torch.allclose(target, expected, atol=1e-5)
    assert target[3] == 1.0, "a terminated real transition gets no model expansion"


def test_mve_falls_back_to_sac_before_the_model_is_fitted():
    batch = Batch(torch.zeros(4, 3), torch.zeros(4, 1), torch.ones(4), torch.zeros(4, 3), torch.zeros(4))
    plain = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0)
    unfitted = MVESAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0,
                      model=ProbabilisticEnsemble(3, 1, hidden=(8,)), horizon=2, rng=np.random.default_rng(0))
    torch.manual_seed(1)
    a = plain.q_target(batch)
    torch.manual_seed(1)
    assert torch.allclose(a, unfitted.q_target(batch))


def test_short_mbpo_run_trains_model_on_real_data_only():
    seed_everything(0)
    seen = []

    def spy_refresh(model, real_buffer, model_buffer, rng, nll_fn, max_epochs):
        seen.append((len(real_buffer), len(model_buffer)))
        return mbpo.refresh_model(model, real_buffer, model_buffer, rng, nll_fn=nll_fn, max_epochs=max_epochs)

    config = MBPOConfig(hidden=(16,), batch_size=32, learning_starts=50, updates_per_step=1,
                        model_train_freq=50, rollout_every=10, rollout_starts=20, rollout_length=2,
                        model_hidden=(16,), model_max_epochs=2, ensemble_size=2, num_elites=1,
                        total_steps=160, eval_every=80, eval_episodes=1)
    result = train_mbpo("Pendulum-v1", config, seed=0, refresh_fn=spy_refresh)
    assert [s for s, _ in seen] == [50, 100, 150], "the model is refit every model_train_freq steps on the real buffer"
    assert len(result.real_buffer) == 160
    assert 0 < len(result.model_buffer) <= config.model_buffer_size()
    assert [row["step"] for row in result.history] == [80, 160]
    assert all(np.isfinite(row["eval_return"]) for row in result.history)
    # the result records the functions the run called (functions compare by identity): the one passed, the
    # package's defaults for the others
    assert result.functions == {"nll_fn": mbpo.gaussian_nll, "rollout_fn": mbpo.branched_rollout,
                                "batch_fn": mbpo.mixed_batch, "refresh_fn": spy_refresh}


def _tiny_config(**overrides) -> MBPOConfig:
    return MBPOConfig(hidden=(16,), batch_size=32, learning_starts=50, updates_per_step=1, model_train_freq=50,
                      rollout_every=10, rollout_starts=20, rollout_length=1, model_hidden=(16,), model_max_epochs=2,
                      ensemble_size=2, num_elites=1, total_steps=160, eval_every=80, eval_episodes=1, **overrides)


def test_model_steps_count_the_rollouts_and_regeneration_refills_the_buffer_after_each_refit():
    seed_everything(0)
    reuse = train_mbpo("Pendulum-v1", _tiny_config(), seed=0).history
    # rollouts at steps 50, 60, ..., 160 (12 batches of 20 one-step rollouts); refits at 50, 100, 150
    assert [row["model_steps"] for row in reuse] == [4 * 20, 12 * 20]
    seed_everything(0)
    config = _tiny_config(regenerate_on_refit=True)
    regen = train_mbpo("Pendulum-v1", config, seed=0)
    capacity = config.model_buffer_size()                  # 2 refit periods of 5 batches of 20
    # each refit (50, 100, 150) overwrites the whole buffer; the other 9 rollout steps add one batch each
    assert regen.history[-1]["model_steps"] == 3 * capacity + 9 * 20
    assert len(regen.model_buffer) == capacity
    # freshness: the share of the model buffer made by the current model, averaged over the steps
    assert regen.history[-1]["model_fresh_share"] > reuse[-1]["model_fresh_share"]
    assert regen.history[-1]["model_fresh_share"] == pytest.approx(1.0)


def test_train_mbpo_rejects_discrete_envs():
    with pytest.raises(TypeError, match="Box"):
        train_mbpo("CartPole-v1", MBPOConfig(total_steps=10), seed=0)


# ---- Lecture 12's cautions as measurements ------------------------------------------------------

def _pendulum_obs(angles, speeds):
    angles, speeds = np.asarray(angles, dtype=np.float64), np.asarray(speeds, dtype=np.float64)
    return np.stack([np.cos(angles), np.sin(angles), speeds], axis=1).astype(np.float32)


def test_state_distance_separates_upright_from_hanging_and_ignores_relabelling():
    rng = np.random.default_rng(0)
    upright = _pendulum_obs(rng.normal(0.0, 0.2, 500), rng.normal(0.0, 0.5, 500))
    upright_again = _pendulum_obs(rng.normal(0.0, 0.2, 500), rng.normal(0.0, 0.5, 500))
    hanging = _pendulum_obs(np.pi - np.abs(rng.normal(0.0, 0.2, 500)), rng.normal(0.0, 0.5, 500))
    assert mbpo.state_distance(upright, hanging) == pytest.approx(1.0)       # disjoint sets
    assert mbpo.state_distance(upright, upright_again) < 0.2                 # two samples of one distribution
    assert mbpo.state_distance(upright, upright[::-1]) == pytest.approx(0.0)
    # Unequal sizes are compared at the smaller size (the estimate's upward bias depends on the size).
    assert mbpo.state_distance(upright, upright_again[:50]) == mbpo.state_distance(upright_again[:50], upright)
    with pytest.raises(ValueError, match="at least one state"):
        mbpo.state_distance(upright[:0], hanging)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        mbpo.pendulum_angle_velocity(np.zeros((4, 2)))


class _ConstantModel:
    """A 'model' that predicts the same next state (upright, still) and the same reward for every input."""

    def __init__(self, reward):
        self.reward = reward

    def step(self, obs, actions, rng):
        n = obs.shape[0]
        return (torch.tensor([[1.0, 0.0, 0.0]]).repeat(n, 1), torch.full((n,), float(self.reward)),
                torch.zeros(n, dtype=torch.bool))


def test_imagined_vs_real_return_compares_like_for_like():
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0)
    predicted, real = mbpo.imagined_vs_real_return(agent, _ConstantModel(-0.5), "Pendulum-v1", horizon=5,
                                                   episodes=3, rng=np.random.default_rng(0))
    gamma = agent.config.gamma
    assert predicted == pytest.approx(np.full(3, -0.5 * sum(gamma**h for h in range(5))))
    # The real side is the same deterministic policy's discounted 5-step return from the same start states.
    env = gym.make("Pendulum-v1")
    for episode in range(3):
        obs, _ = env.reset(seed=EVAL_SEED + episode)
        ret = 0.0
        for h in range(5):
            obs, reward, *_ = env.step(agent.act(obs, deterministic=True))
            ret += gamma**h * reward
        assert real[episode] == pytest.approx(ret, rel=1e-5)


def test_branched_states_start_from_the_real_buffer_and_follow_the_model():
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0)
    buffer = ReplayBuffer(100, 3, 1)
    hanging = _pendulum_obs(np.full(100, np.pi), np.zeros(100))
    buffer.add_batch(hanging, np.zeros((100, 1)), np.zeros(100), hanging, np.zeros(100))
    states = mbpo.branched_states(_ConstantModel(0.0), agent, buffer, num_starts=10, horizon=3,
                                  rng=np.random.default_rng(0))
    assert states.shape == (30, 3)
    assert np.allclose(states[:10], hanging[:10])                 # step 0: the real start states
    assert np.allclose(states[10:], [1.0, 0.0, 0.0])              # later steps: the model's predictions
    stepped = mbpo.branched_states(_ConstantModel(0.0), agent, buffer, num_starts=10, horizon=3,
                                   rng=np.random.default_rng(0), column="next_obs")
    assert stepped.shape == (30, 3) and np.allclose(stepped, [1.0, 0.0, 0.0])  # every step's prediction, no real state
    with pytest.raises(ValueError, match="column"):
        mbpo.branched_states(_ConstantModel(0.0), agent, buffer, 10, 3, np.random.default_rng(0), column="actions")
    onp = mbpo.on_policy_states(agent, "Pendulum-v1", episodes=1, seed=0)
    assert onp.shape == (200, 3)


def test_an_on_policy_sample_of_a_given_size_spreads_over_every_episode():
    # the first `size` states would be whole episodes; a sample of the distribution draws from all of them
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0)
    torch.manual_seed(0)
    every = mbpo.on_policy_states(agent, "Pendulum-v1", episodes=4, seed=0)
    torch.manual_seed(0)
    sample = mbpo.on_policy_states(agent, "Pendulum-v1", episodes=4, seed=0, size=200)
    assert sample.shape == (200, 3)
    episode_of = {tuple(state): i // 200 for i, state in enumerate(every)}
    episodes = [episode_of[tuple(state)] for state in sample]  # each sampled state is one of the visited states
    assert set(episodes) == {0, 1, 2, 3}, f"a 200-state sample of 4 episodes came from episodes {set(episodes)} only"
    assert len({tuple(state) for state in sample}) == 200  # drawn without replacement
    with pytest.raises(ValueError, match="ask for more episodes"):
        mbpo.on_policy_states(agent, "Pendulum-v1", episodes=1, seed=0, size=201)
    with pytest.raises(ValueError, match="positive int"):
        mbpo.on_policy_states(agent, "Pendulum-v1", episodes=1, seed=0, size=0)


def test_imagined_rollout_follows_the_model_from_the_given_state():
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,)), seed=0)
    start = _pendulum_obs([np.pi], [0.0])[0]
    states = mbpo.imagined_rollout(_ConstantModel(0.0), agent, start, steps=4, rng=np.random.default_rng(0))
    assert states.shape == (5, 3) and np.allclose(states[0], start) and np.allclose(states[1:], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="steps"):
        mbpo.imagined_rollout(_ConstantModel(0.0), agent, start, steps=0, rng=np.random.default_rng(0))
