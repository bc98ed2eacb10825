"""Unit tests of cs285lab.algos.actor_critic: targets, models, the loss, rollouts, and a learning smoke test."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent

from cs285lab.algos import actor_critic as ac
from cs285lab.algos.actor_critic import (Batch, SeparateActorCritic, SharedActorCritic, actor_critic_loss,
                                         collect_transitions, gae_advantages, make_actor_critic, td_target, train_a2c)
from cs285lab.envs.pixels import PIXEL_CATCH, PixelCatch

VEC = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
IMG = gym.spaces.Box(0.0, 1.0, (1, 12, 10), np.float32)
DISC = gym.spaces.Discrete(4)
BOX = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)


class CountEnv(gym.Env):
    """obs = [t]; reward = 1 + t; the episode terminates after `length` steps (or is truncated by a TimeLimit)."""

    observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int = 3, terminate: bool = True) -> None:
        self.length, self.terminate, self.t = length, terminate, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), float(self.t), self.terminate and self.t >= self.length, False, {}


gym.register("test/CountTerminate-v0", entry_point=CountEnv, kwargs={"length": 3, "terminate": True})
gym.register("test/CountTruncate-v0", entry_point=CountEnv, kwargs={"length": 99, "terminate": False},
             max_episode_steps=3)


# --- targets ---------------------------------------------------------------------------------

def test_td_target_masks_termination_only_and_carries_no_gradient():
    v = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = td_target(torch.tensor([1.0, 1.0, 1.0]), v, torch.tensor([0.0, 1.0, 0.0]), 0.5)
    assert torch.allclose(y, torch.tensor([1.5, 1.0, 2.5]))
    assert not y.requires_grad
    assert td_target(torch.ones(3), v, torch.tensor([False, True, False]), 0.5).tolist() == [1.5, 1.0, 2.5]


@pytest.mark.parametrize("args, error, match", [
    ((torch.ones(3), torch.ones(3, 1), torch.zeros(3), 0.9), ValueError, r"squeeze\(-1\)"),
    ((torch.ones(3), torch.ones(4), torch.zeros(3), 0.9), ValueError, "batch sizes differ"),
    ((np.ones(3), torch.ones(3), torch.zeros(3), 0.9), TypeError, "must be a torch tensor"),
    ((torch.ones(3), torch.ones(3), torch.zeros(3), 1.5), ValueError, "gamma must be a number in"),
])
def test_td_target_rejects_bad_input_clearly(args, error, match):
    with pytest.raises(error, match=match):
        td_target(*args)


def test_gae_lambda_zero_is_one_step_advantage_and_done_cuts_the_sum():
    g = torch.Generator().manual_seed(0)
    r, v, nv = (torch.randn(4, 2, generator=g) for _ in range(3))
    term = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    done = term.clone()
    done[2, 1] = 1.0  # worker 1 truncated at t=2: bootstraps, but the sum stops
    one_step = gae_advantages(r, v, nv, term, done, 0.9, 0.0)
    assert torch.allclose(one_step, r + 0.9 * nv * (1 - term) - v)
    full = gae_advantages(r, v, nv, term, done, 0.9, 1.0)
    delta = one_step
    # worker 0, t=0: the episode ends at t=1 (terminated), so only deltas 0 and 1 count
    assert torch.isclose(full[0, 0], delta[0, 0] + 0.9 * delta[1, 0])
    # worker 1, t=1: deltas 1 and 2 (truncated at 2), nothing from t=3
    assert torch.isclose(full[1, 1], delta[1, 1] + 0.9 * delta[2, 1])
    with pytest.raises(ValueError, match="lambda"):
        gae_advantages(r, v, nv, term, done, 0.9, 1.5)


# --- models ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("obs_space", [VEC, IMG], ids=["vector", "image"])
@pytest.mark.parametrize("action_space, dist_type", [(DISC, Categorical), (BOX, Independent)], ids=["disc", "box"])
def test_models_shapes(shared, obs_space, action_space, dist_type):
    model = make_actor_critic(obs_space, action_space, shared=shared, hidden=(16, 16))
    assert isinstance(model, SharedActorCritic if shared else SeparateActorCritic)
    obs = torch.rand(5, *obs_space.shape)
    dist, value = model.dist_and_value(obs)
    assert isinstance(dist, dist_type)
    assert value.shape == (5,) and model.value(obs).shape == (5,)
    action = dist.sample()
    assert dist.log_prob(action).shape == (5,) and dist.entropy().shape == (5,)


def test_shared_model_is_smaller_and_separate_model_shares_nothing():
    sep, sha = (make_actor_critic(VEC, DISC, shared=s) for s in (False, True))
    assert sum(p.numel() for p in sha.parameters()) < sum(p.numel() for p in sep.parameters())
    obs = torch.rand(4, 3)
    sep.value(obs).sum().backward()
    assert all(p.grad is None for p in sep.actor.parameters())


def test_model_rejects_bad_observations_clearly():
    model = make_actor_critic(VEC, DISC)
    with pytest.raises(ValueError, match=r"pass a batch"):
        model.dist(torch.zeros(3))
    with pytest.raises(ValueError, match=r"expected \[B, 3\]"):
        model.value(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="real numbers"):
        model.value(torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch tensor or numpy"):
        model.value([[0.0, 0.0, 0.0]])
    # uint8 images are scaled to [0, 1]
    img = make_actor_critic(gym.spaces.Box(0, 255, (1, 8, 8), np.uint8), DISC)
    full = torch.full((1, 1, 8, 8), 255, dtype=torch.uint8)
    assert torch.allclose(img.value(full), img.value(torch.ones(1, 1, 8, 8)))


@pytest.mark.parametrize("obs_space, action_space, match", [
    (gym.spaces.Dict({"a": VEC}), DISC, "vectors \\[D\\] or images"),
    (gym.spaces.Discrete(5), DISC, "vectors \\[D\\] or images"),
    (gym.spaces.Box(0, 1, (4, 4)), DISC, "vectors \\[D\\] or images"),
    (VEC, gym.spaces.MultiDiscrete([2, 2]), "Discrete actions or 1-D Box"),
])
def test_unsupported_spaces_get_clear_errors(obs_space, action_space, match):
    with pytest.raises(TypeError, match=match):
        make_actor_critic(obs_space, action_space)


# --- the loss --------------------------------------------------------------------------------

def test_loss_ignores_masked_rows_and_matches_the_formula():
    torch.manual_seed(0)
    model = make_actor_critic(VEC, DISC, hidden=(8,))
    g = torch.Generator().manual_seed(1)
    batch = Batch(obs=torch.rand(6, 3, generator=g), actions=torch.tensor([0, 1, 2, 3, 0, 1]),
                  rewards=torch.randn(6, generator=g), next_obs=torch.rand(6, 3, generator=g),
                  terminated=torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
                  mask=torch.tensor([True, True, True, True, False, False]))
    loss, stats = actor_critic_loss(model, batch, 0.9, value_coef=0.5, entropy_coef=0.01)
    # the masked rows hold garbage: changing them must not change the loss
    garbage = Batch(batch.obs.clone(), batch.actions, batch.rewards.clone(), batch.next_obs, batch.terminated,
                    batch.mask)
    garbage.rewards[4:] = 1e6
    garbage.obs[4:] = -5.0
    assert torch.isclose(actor_critic_loss(model, garbage, 0.9, 0.5, 0.01)[0], loss)
    # and it equals the formula on the first four rows
    keep = slice(0, 4)
    dist, v = model.dist(batch.obs[keep]), model.value(batch.obs[keep])
    y = batch.rewards[keep] + 0.9 * model.value(batch.next_obs[keep]).detach() * (1 - batch.terminated[keep])
    expected = (-(dist.log_prob(batch.actions[keep]) * (y - v).detach()).mean() + 0.5 * ((v - y) ** 2).mean()
                - 0.01 * dist.entropy().mean())
    assert torch.isclose(loss, expected, atol=1e-6)
    assert set(stats) == {"policy_loss", "value_loss", "entropy"}


def test_loss_accepts_a_dict_and_rejects_missing_keys():
    model = make_actor_critic(VEC, DISC)
    d = {"obs": np.random.rand(2, 3).astype(np.float32), "actions": np.array([0, 1]), "rewards": torch.ones(2),
         "next_obs": torch.rand(2, 3), "terminated": torch.zeros(2)}
    actor_critic_loss(model, d, 0.9)
    del d["rewards"]
    with pytest.raises(KeyError, match="missing \\['rewards'\\]"):
        actor_critic_loss(model, d, 0.9)


# --- rollouts: NEXT_STEP autoreset masking ---------------------------------------------------

def test_reset_steps_are_masked_and_terminal_steps_kept():
    model = make_actor_critic(CountEnv.observation_space, CountEnv.action_space)
    batch = collect_transitions(model, "test/CountTerminate-v0", num_envs=2, n_steps=8, seed=0)
    mask = batch.mask.view(8, 2)[:, 0].tolist()
    assert mask == [True, True, True, False, True, True, True, False]  # episode of 3 steps, then a reset step
    term = batch.terminated.view(8, 2)[:, 0].tolist()
    assert term == [0, 0, 1, 0, 0, 0, 1, 0]
    rewards = batch.rewards.view(8, 2)[:, 0].tolist()
    assert rewards == [1, 2, 3, 0, 1, 2, 3, 0]
    # the terminal transition's next_obs is the real final observation, not the reset one
    assert batch.next_obs.view(8, 2, 1)[2, 0].item() == 3.0


def test_truncation_is_masked_like_an_episode_end_but_not_terminated():
    model = make_actor_critic(CountEnv.observation_space, CountEnv.action_space)
    batch = collect_transitions(model, "test/CountTruncate-v0", num_envs=1, n_steps=8, seed=0)
    assert batch.mask.tolist() == [True, True, True, False, True, True, True, False]
    assert batch.terminated.tolist() == [0.0] * 8  # truncated: the target bootstraps V(s')
    assert batch.next_obs[2].item() == 3.0


def test_train_a2c_rejects_bad_envs_and_arguments_clearly():
    config = ac.A2CConfig(num_envs=2, total_steps=100)
    with pytest.raises(TypeError, match="vectors \\[D\\] or images"):
        train_a2c("FrozenLake-v1", config, seed=0)
    with pytest.raises(ValueError, match="vectorization must be"):
        replace(config, vectorization="threads")
    with pytest.raises(TypeError, match="dist\\(obs\\) and value\\(obs\\)"):
        train_a2c("CartPole-v1", config, seed=0, model=torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="critic_steps must be an int >= 0"):
        replace(config, critic_steps=-1)
    with pytest.raises(ValueError, match="built-in GAE loss only"):
        replace(config, critic_steps=2, advantage="one_step")


def test_fit_critic_moves_v_toward_its_lambda_returns_and_leaves_the_actor_alone():
    torch.manual_seed(0)
    envs = ac.make_vec_env("test/CountTerminate-v0", 2, seed=0)
    model = make_actor_critic(envs.single_observation_space, envs.single_action_space)
    obs, _ = envs.reset(seed=0)
    rollout, _, _ = ac.collect_rollout(envs, model, obs, np.zeros(2, dtype=bool), 8)
    envs.close()
    T, N = rollout.rewards.shape
    with torch.no_grad():
        v = model.value(rollout.obs.flatten(0, 1)).view(T + 1, N)
        targets = gae_advantages(rollout.rewards, v[:-1], v[1:], rollout.terminated, rollout.done, 0.9, 0.95) + v[:-1]
    valid, states = rollout.mask, rollout.obs[:-1]

    def error() -> float:
        with torch.no_grad():
            return (model.value(states.flatten(0, 1)).view(T, N) - targets)[valid].pow(2).mean().item()

    actor_before = [p.detach().clone() for p in model.actor.parameters()]
    before = error()
    ac.a2c._fit_critic(model, torch.optim.Adam(model.parameters(), lr=1e-2), rollout, 0.9, 0.95, 20, 0.5)
    assert error() < 0.5 * before, "20 regression steps should at least halve the critic's error on its targets"
    assert all(torch.equal(a, p) for a, p in zip(actor_before, model.actor.parameters())), \
        "fitting the critic must leave the actor's parameters alone"


def test_pixel_catch_rewards_and_bounds():
    env = PixelCatch()
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32 and obs.sum() == 8.0
    col = env._ball[1]
    total, done, steps = 0.0, False, 0
    while not done:  # chase the ball: always caught
        move = int(np.sign(col - env._paddle)) + 1
        obs, reward, done, truncated, _ = env.step(move)
        total, steps = total + reward, steps + 1
    assert (total, steps) == (1.0, env.rows - 1)
    with pytest.raises(ValueError, match="action must be"):
        env.step(3)
    assert gym.make(PIXEL_CATCH).observation_space.shape == (1, 12, 10)


# --- learning smoke test ---------------------------------------------------------------------

SMOKE = ac.A2CConfig(num_envs=8, total_steps=16_000, n_steps=8, lr=2e-3, eval_every=16_000, eval_episodes=5)


@pytest.mark.slow
def test_a2c_learns_cartpole_and_fails_with_a_broken_target(monkeypatch):
    _, history = train_a2c("CartPole-v1", SMOKE, seed=0)
    learned = history[-1]["eval_return"]
    assert learned >= 150, f"A2C should reach a greedy return of 150 on CartPole in 16k steps, got {learned}"

    def no_terminal_mask(rewards, next_values, terminated, gamma):
        with torch.no_grad():
            return rewards + gamma * next_values  # bootstraps past terminal states
    monkeypatch.setattr(ac.targets, "td_target", no_terminal_mask)  # gae_advantages looks it up there
    _, broken = train_a2c("CartPole-v1", SMOKE, seed=0)
    assert broken[-1]["eval_return"] < 100, "the learning smoke test does not notice a broken target"


def test_sample_actions_draws_from_the_categorical_and_passes_gaussians_through():
    torch.manual_seed(0)
    logits = torch.tensor([0.0, 1.0, -1.0, 2.0]).expand(100_000, 4)
    counts = torch.bincount(ac.sample_actions(Categorical(logits=logits)), minlength=4).double()
    expected = torch.softmax(logits[0], 0).double() * len(logits)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 16.3, f"Gumbel-max frequencies {counts / len(logits)} differ from softmax {expected / len(logits)}"
    gauss = Independent(torch.distributions.Normal(torch.zeros(5, 2), torch.ones(5, 2)), 1)
    assert ac.sample_actions(gauss).shape == (5, 2)


# ---------------------------------------------------------------------------- the config, the rollout step, the schema

def test_a2c_config_validates_with_one_line_errors():
    with pytest.raises(ValueError, match="advantage must be one of"):
        ac.A2CConfig(advantage="td")
    with pytest.raises(ValueError, match="critic_steps works with the built-in GAE loss only"):
        ac.A2CConfig(advantage="one_step", critic_steps=2)
    with pytest.raises(ValueError, match="gamma must be a number in"):
        ac.A2CConfig(gamma=1.5)
    with pytest.raises(ValueError, match="num_envs must be an int >= 1"):
        ac.A2CConfig(num_envs=0)
    with pytest.raises(TypeError, match=r"unknown keyword\(s\) \['nsteps'\]; A2CConfig's fields are .*n_steps"):
        train_a2c("CartPole-v1", nsteps=4, seed=0)
    with pytest.raises(TypeError, match=r"config must be A2CConfig\(...\), got dict"):
        train_a2c("CartPole-v1", {"n_steps": 4}, seed=0)
    with pytest.raises(TypeError, match=r"\['num_envs'\] both by position and by keyword"):
        train_a2c("CartPole-v1", 2, 64, num_envs=4, seed=0)
    with pytest.raises(TypeError, match=r"needs the run's seed: train_a2c\(env_id, config, seed=0\)"):
        train_a2c("CartPole-v1", ac.A2CConfig())


def test_a_loss_fn_needs_the_one_step_estimator():
    with pytest.raises(ValueError, match="advantage='one_step'"):
        train_a2c("CartPole-v1", ac.A2CConfig(total_steps=64), seed=0, loss_fn=actor_critic_loss)
    with pytest.raises(ValueError, match="advantage='one_step'"):  # an older call naming the estimator
        train_a2c("CartPole-v1", advantage="gae", total_steps=64, seed=0, loss_fn=actor_critic_loss)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_old_calls_run_the_same_algorithm_as_the_config():
    """Notebooks saved from the previous release call train_a2c the older ways (cs285lab.algos.legacy)."""
    tiny = dict(total_steps=128, n_steps=8, eval_every=64, eval_episodes=1)
    # before the config: positional (num_envs, total_steps, seed), and loss_fn meant the one-step algorithm
    old_model, old = train_a2c("CartPole-v1", 2, 128, 3, n_steps=8, eval_every=64, eval_episodes=1,
                               loss_fn=actor_critic_loss)
    new_model, new = train_a2c("CartPole-v1", ac.A2CConfig(num_envs=2, advantage="one_step", **tiny), seed=3)
    assert all(torch.equal(a, b) for a, b in zip(_params(old_model), _params(new_model)))
    assert [r["eval_return"] for r in old] == [r["eval_return"] for r in new]
    gae_model, _ = train_a2c("CartPole-v1", ac.A2CConfig(num_envs=2, **tiny), seed=3)
    assert not all(torch.equal(a, b) for a, b in zip(_params(old_model), _params(gae_model)))


def test_training_samples_with_collect_step(monkeypatch):
    calls = []
    original = ac.rollout.collect_step

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(ac.rollout, "collect_step", counting)
    train_a2c("CartPole-v1", ac.A2CConfig(num_envs=2, total_steps=64, n_steps=4, eval_every=64, eval_episodes=1), seed=0)
    assert len(calls) == 64 // 2  # one call per vector-env step: (64 // (2 * 4)) updates x 4 steps


def test_history_rows_follow_the_one_schema():
    _, history = train_a2c("CartPole-v1", ac.A2CConfig(num_envs=2, total_steps=64, n_steps=4, eval_every=32,
                                                       eval_episodes=1), seed=0)
    _, online = ac.train_online_ac("CartPole-v1", ac.OnlineConfig(total_steps=40, eval_every=20, eval_episodes=1),
                                   seed=0)
    for rows in (history, online):
        for row in rows:
            assert {"step", "eval_return", "train_return", "wall_s", "train_s", "train_cpu_s"} <= set(row)
            assert row["env_steps"] == row["step"]  # older notebooks read env_steps
    assert [r["step"] for r in online] == [0, 20, 40]
