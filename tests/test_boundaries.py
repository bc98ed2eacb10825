"""Never silent: bad input gets a one-line error at the boundary; training stops at the first NaN, saying where."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from cs285lab.algos.actor_critic import A2CConfig, OnlineConfig, train_a2c, train_online_ac
from cs285lab.algos.dyna import check_rates, dyna_q, dyna_q_runs
from cs285lab.algos.guards import NonFiniteError, check_params
from cs285lab.algos.off_policy import run_off_policy
from cs285lab.algos.sac import SAC, SACConfig
from cs285lab.buffers import Batch
from cs285lab.nets import mlp
from cs285lab.runs import RunLogger, load_configs


class NanRewardAt(gym.Wrapper):
    """Returns a NaN reward at one env step (a broken reward wrapper, a sensor glitch)."""

    def __init__(self, env: gym.Env, at: int) -> None:
        super().__init__(env)
        self.at, self.steps = at, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, (float("nan") if self.steps == self.at else reward), terminated, truncated, info


gym.register("test/NanCartPole-v1", entry_point=lambda: NanRewardAt(gym.make("CartPole-v1"), at=37))
gym.register("test/NanPendulum-v1", entry_point=lambda: NanRewardAt(gym.make("Pendulum-v1"), at=23))


def test_a_nan_reward_stops_online_actor_critic_at_that_step_and_the_run_is_not_finished(tmp_path):
    with pytest.raises(NonFiniteError, match=r"training stopped at env step 37: a reward returned by the env is nan"):
        with RunLogger("nan", run="online", root=tmp_path) as logger:
            train_online_ac("test/NanCartPole-v1", OnlineConfig(total_steps=200, eval_every=100, eval_episodes=1),
                            seed=0, logger=logger)
    assert load_configs("nan", tmp_path).loc[0, "status"] == "failed: NonFiniteError"


def test_a_nan_reward_stops_a2c_in_the_update_that_collected_it():
    # 1 worker x 8 steps per update: the NaN at step 37 is in the rollout of steps 33..40
    with pytest.raises(NonFiniteError, match=r"env step 40: a reward returned by the env is nan"):
        train_a2c("test/NanCartPole-v1", A2CConfig(num_envs=1, total_steps=400, n_steps=8, eval_every=400,
                                                   eval_episodes=1), seed=0)


def test_a_nan_reward_stops_sac_before_it_reaches_the_buffer():
    env = gym.make("test/NanPendulum-v1")
    config = SACConfig(hidden=(16, 16), total_steps=60, batch_size=8, learning_starts=10, buffer_size=100,
                       eval_every=60, eval_episodes=1)
    agent = SAC(3, 1, env.action_space.low, env.action_space.high, config)
    with pytest.raises(NonFiniteError, match=r"env step 23: a reward returned by the env is nan"):
        run_off_policy(agent, env, "Pendulum-v1", config, seed=0)


def test_a_diverging_loss_stops_a2c_and_names_the_loss():
    def exploding_loss(model, batch, gamma, value_coef, entropy_coef):
        value = model.value(batch.obs).mean() if hasattr(model, "value") else sum(p.sum() for p in model.parameters())
        return value * float("inf"), {}

    with pytest.raises(NonFiniteError, match=r"env step 8: the loss is (nan|inf|-inf); no update was applied"):
        train_a2c("CartPole-v1", A2CConfig(num_envs=1, total_steps=64, n_steps=8, eval_every=64, eval_episodes=1,
                                           advantage="one_step"), seed=0, loss_fn=exploding_loss)


def test_a_nan_update_statistic_stops_sac_and_names_it(monkeypatch):
    env = gym.make("Pendulum-v1")
    config = SACConfig(hidden=(16, 16), total_steps=40, batch_size=8, learning_starts=10, buffer_size=100,
                       eval_every=40, eval_episodes=1)
    agent = SAC(3, 1, env.action_space.low, env.action_space.high, config)
    real_update = agent.update
    monkeypatch.setattr(agent, "update", lambda batch: {**real_update(batch), "critic_loss": float("nan")})
    with pytest.raises(NonFiniteError, match=r"env step 11: critic_loss is nan"):
        run_off_policy(agent, env, "Pendulum-v1", config, seed=0)


def test_nan_parameters_are_named():
    net = mlp(3, 2, (4,))
    check_params(5, net)
    with torch.no_grad():
        net[2].bias[1] = float("nan")
    with pytest.raises(NonFiniteError, match=r"env step 5: parameter 2.bias of the Sequential is not finite"):
        check_params(5, net)


def _batch(dtype=torch.float32, numpy=False, b=4):
    fields = [torch.zeros(b, 3), torch.zeros(b, 1), torch.zeros(b), torch.zeros(b, 3), torch.zeros(b)]
    fields = [f.to(dtype) for f in fields]
    return Batch(*[f.numpy() if numpy else f for f in fields])


def test_sac_boundaries_give_one_line_errors():
    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(8, 8)))
    with pytest.raises(ValueError, match=r"SAC.act: expected obs of shape \[3\] or \[N, 3\], got \(\)"):
        agent.act(np.float32(0.5))
    with pytest.raises(TypeError, match="batch.obs has dtype torch.float64; use float32"):
        agent.update(_batch(torch.float64))
    with pytest.raises(TypeError, match="batch.obs is a ndarray; use float32 torch tensors"):
        agent.update(_batch(numpy=True))
    bad = Batch(torch.zeros(4, 3), torch.zeros(4, 1), torch.zeros(4, 1), torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"batch.rewards has shape \(4, 1\), expected \[4\]"):
        agent.update(bad)
    with pytest.raises(TypeError, match="expected a cs285lab.buffers.Batch"):
        agent.update({"obs": torch.zeros(4, 3)})
    assert set(agent.update(_batch())) >= {"critic_loss", "actor_loss"}


@pytest.mark.parametrize("hidden", [(0,), (64, -1), (2.5,), "64", 64])
def test_mlp_rejects_bad_hidden_sizes(hidden):
    with pytest.raises(ValueError, match="hidden must be a sequence of positive ints"):
        mlp(3, 2, hidden)


def test_mlp_rejects_bad_in_and_out_sizes():
    with pytest.raises(ValueError, match="in_dim=0"):
        mlp(0, 2)
    with pytest.raises(ValueError, match="out_dim=2.0"):
        mlp(3, 2.0)


@pytest.mark.parametrize("call, message", [
    (lambda: A2CConfig(num_envs=1, total_steps=16, eval_episodes=0), "eval_episodes must be an int >= 1"),
    (lambda: A2CConfig(num_envs=0, total_steps=16), "num_envs must be an int >= 1"),
    (lambda: OnlineConfig(total_steps=-1), "total_steps must be an int >= 1, got -1"),
    (lambda: OnlineConfig(total_steps=10, eval_episodes=0), "eval_episodes must be an int >= 1"),
    (lambda: SACConfig(eval_every=0), "eval_every must be an int >= 1, got 0"),
])
def test_training_sizes_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -1}, r"alpha must be a number in \(0, 1\], got -1"),
    ({"alpha": 0.0}, r"alpha must be a number in \(0, 1\]"),
    ({"gamma": 5}, r"gamma must be a number in \[0, 1\], got 5"),
    ({"epsilon": 1.5}, "epsilon must be a number in"),
    ({"gamma": float("nan")}, "gamma must be a number in"),
])
def test_dyna_rates_are_checked(kwargs, message):
    env = gym.make("cs285lab/DynaMaze-v0")
    with pytest.raises(ValueError, match=message):
        dyna_q(env, 5, 1, np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match=message):
        dyna_q_runs(5, runs=1, episodes=1, **kwargs)
    check_rates(alpha=1.0, gamma=0.0, epsilon=0.0)  # the edges that make sense are fine
