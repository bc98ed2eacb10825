"""Measurements of MBPO's models and agents for notebook 05: model error, value overestimation, state distributions.

Lecture 12's cautions, measured: how far open-loop model predictions drift with the horizon, how optimistic
the critic is, how far the model buffer's states are from the real buffer's and from the current policy's,
and what the model predicts for a return against what the real env gives.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from cs285lab.algos.models import ProbabilisticEnsemble
from cs285lab.algos.sac import SAC
from cs285lab.batch import Batch
from cs285lab.buffers import ReplayBuffer
from cs285lab.envs import EVAL_SEED
from cs285lab.envs.continuous import make_env

__all__ = ["branched_states", "collect_random_transitions", "imagined_rollout", "imagined_vs_real_return",
           "model_error_vs_horizon", "on_policy_states", "pendulum_angle_velocity", "state_distance",
           "value_overestimation"]


def collect_random_transitions(env_id: str, steps: int, seed: int) -> Batch:
    """`steps` real transitions of a uniformly random policy (the model section's data)."""
    if steps < 1:
        raise ValueError("collect_random_transitions: steps must be positive")
    env = make_env(env_id, "collect_random_transitions")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, reward, next_obs, float(terminated)))
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    return Batch(*(torch.as_tensor(np.array(column), dtype=torch.float32) for column in zip(*rows)))


@torch.no_grad()
def model_error_vs_horizon(model: ProbabilisticEnsemble, env_id: str, horizon: int, episodes: int = 3,
                           seed: int = 123, policy: Callable[[np.ndarray], np.ndarray] | None = None,
                           stride: int = 10) -> np.ndarray:
    """Mean distance between open-loop model predictions and the real states, h = 1..horizon steps ahead.

    Real trajectories come from `policy` (default: random actions); from every `stride`-th state the model
    replays the recorded actions on its own predictions (elite-mean), so errors compound.
    """
    env = make_env(env_id, "model_error_vs_horizon")
    env.action_space.seed(seed)
    errors: list[np.ndarray] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        states, actions, done = [obs], [], False
        while not done:
            action = env.action_space.sample() if policy is None else policy(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            states.append(obs)
            actions.append(action)
            done = terminated or truncated
        states_t = torch.as_tensor(np.array(states), dtype=torch.float32)
        actions_t = torch.as_tensor(np.array(actions), dtype=torch.float32).reshape(len(actions), -1)
        starts = torch.arange(0, len(actions) - horizon + 1, stride)
        if len(starts) == 0:
            continue
        predicted = states_t[starts]
        per_h = []
        for h in range(horizon):
            predicted, _ = model.predict_mean(predicted, actions_t[starts + h])
            per_h.append((predicted - states_t[starts + h + 1]).norm(dim=-1).mean().item())
        errors.append(np.array(per_h))
    env.close()
    if not errors:
        raise ValueError(f"episodes of {env_id} are shorter than horizon={horizon}")
    return np.mean(errors, axis=0)


@torch.no_grad()
def value_overestimation(agent: SAC, env_id: str, episodes: int = 5, seed: int = EVAL_SEED) -> float:
    """Mean of Q(s0, pi(s0)) minus the real discounted return from s0 (deterministic policy): > 0 = optimism."""
    env = make_env(env_id, "value_overestimation")
    gaps = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        action = agent.act(obs, deterministic=True)
        q = agent.critic(torch.as_tensor(obs[None], dtype=torch.float32),
                         torch.as_tensor(action[None], dtype=torch.float32)).min(dim=0).values.item()
        ret, discount, done = 0.0, 1.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(action)
            ret += discount * float(reward)
            discount *= agent.config.gamma
            done = terminated or truncated
            action = agent.act(obs, deterministic=True)
        gaps.append(q - ret)
    env.close()
    return float(np.mean(gaps))


# ---- Lecture 12's cautions, measured (notebook 05, Part 3) ------------------------------------

def pendulum_angle_velocity(obs: np.ndarray | Tensor) -> np.ndarray:
    """Pendulum observations [cos, sin, velocity] -> [angle in (-pi, pi], velocity] (angle 0 = upright)."""
    obs = np.asarray(obs.detach() if isinstance(obs, Tensor) else obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != 3:
        raise ValueError(f"expected Pendulum observations of shape [N, 3], got {obs.shape}")
    return np.stack([np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]], axis=1)


def state_distance(a: np.ndarray, b: np.ndarray, bins: int = 12, max_speed: float = 8.0, seed: int = 0) -> float:
    """Total-variation distance (0 = same, 1 = disjoint) between two Pendulum state sets, on a bins x bins grid.

    The larger set is subsampled (seeded) to the size of the smaller: the histogram estimate of the distance is
    biased upwards for small sets, so two comparisons are only comparable at equal sizes.
    """
    if len(a) == 0 or len(b) == 0:
        raise ValueError("state_distance needs at least one state in each set")
    size, rng = min(len(a), len(b)), np.random.default_rng(seed)
    a, b = (np.asarray(x)[rng.choice(len(x), size, replace=False)] if len(x) > size else np.asarray(x) for x in (a, b))
    edges = (np.linspace(-np.pi, np.pi, bins + 1), np.linspace(-max_speed, max_speed, bins + 1))
    hists = [np.histogram2d(*pendulum_angle_velocity(x).T, bins=edges)[0] for x in (a, b)]
    return float(0.5 * np.abs(hists[0] / hists[0].sum() - hists[1] / hists[1].sum()).sum())


@torch.no_grad()
def on_policy_states(agent: SAC, env_id: str, episodes: int, seed: int, size: int | None = None) -> np.ndarray:
    """States the agent's current (sampled) policy visits in the real env: what it would train on if on-policy.

    `size`: that many of the states, drawn (seeded by `seed`) from all the episodes; the first `size` states
    would be a few whole episodes, whose states are strongly correlated (a noisier sample of the distribution).
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"on_policy_states: size must be a positive int or None, got {size!r}")
    env = make_env(env_id, "on_policy_states")
    states = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            states.append(obs)
            obs, _, terminated, truncated, _ = env.step(agent.act(obs))
            done = terminated or truncated
    env.close()
    states = np.array(states, dtype=np.float32)
    if size is None:
        return states
    if size > len(states):
        raise ValueError(f"on_policy_states: {episodes} episodes visited {len(states)} states, fewer than size={size}; "
                         "ask for more episodes")
    return states[np.random.default_rng(seed).choice(len(states), size, replace=False)]


@torch.no_grad()
def branched_states(model: ProbabilisticEnsemble, agent: SAC, real_buffer: ReplayBuffer, num_starts: int,
                    horizon: int, rng: np.random.Generator, column: str = "obs") -> np.ndarray:
    """The states of branched rollouts of length `horizon` from `num_starts` real-buffer states, latest policy.

    column="obs": the states each model step starts from, as the model buffer's `obs` column stores them (the
    first step's are real-buffer states by construction); column="next_obs": the states the model stepped to
    (every step's prediction, the model buffer's `next_obs` column), none of them a real-buffer state.
    """
    if horizon < 1 or num_starts < 1:
        raise ValueError("branched_states: horizon and num_starts must be positive")
    if column not in ("obs", "next_obs"):
        raise ValueError(f"branched_states: column must be 'obs' or 'next_obs', got {column!r}")
    obs, states = real_buffer.sample(num_starts, rng).obs, []
    for _ in range(horizon):
        next_obs, _, terminated = model.step(obs, agent.sample_actions(obs)[0], rng)
        states.append((obs if column == "obs" else next_obs).numpy())
        obs = next_obs[~terminated]
        if obs.shape[0] == 0:
            break
    return np.concatenate(states)


@torch.no_grad()
def imagined_rollout(model: ProbabilisticEnsemble, agent: SAC, obs: np.ndarray, steps: int,
                     rng: np.random.Generator) -> np.ndarray:
    """The states [steps + 1, obs_dim] the model imagines from `obs` under the agent's deterministic policy."""
    if steps < 1:
        raise ValueError("imagined_rollout: steps must be positive")
    state = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])
    states = [state[0].numpy()]
    for _ in range(steps):
        state, _, _ = model.step(state, agent.act(state.numpy(), deterministic=True), rng)
        states.append(state[0].numpy())
    return np.array(states)


@torch.no_grad()
def imagined_vs_real_return(agent: SAC, model: ProbabilisticEnsemble, env_id: str, horizon: int, episodes: int,
                            rng: np.random.Generator, seed: int = EVAL_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Like for like: the same deterministic policy, the same start states, the same horizon and the same value
    (discounted sum of `horizon` rewards), once inside the model (random elite per step, sampled) and once in
    the real env. Returns (predicted, real), one value per start state."""
    if horizon < 1 or episodes < 1:
        raise ValueError("imagined_vs_real_return: horizon and episodes must be positive")
    env = make_env(env_id, "imagined_vs_real_return")
    gamma = agent.config.gamma
    predicted, real = np.zeros(episodes), np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        imagined = torch.as_tensor(obs[None], dtype=torch.float32)
        for h in range(horizon):
            action = agent.act(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            imagined, model_reward, _ = model.step(imagined, agent.act(imagined.numpy(), deterministic=True),
                                                            rng)
            real[episode] += gamma**h * float(reward)
            predicted[episode] += gamma**h * float(model_reward[0])
            if terminated or truncated:
                break
    env.close()
    return predicted, real
