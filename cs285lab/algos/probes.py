"""What an evaluation shows besides the return: the statistics the curve doctor (cs285lab.doctor) reads.

Each history row (cs285lab.record) can carry, measured at that evaluation:

    value_start       the critic's value of the evaluation episodes' start states: V(s0), or Q(s0, a0) with a0 the
                      evaluation policy's action (SAC: the smaller of its twin Q)
    return_start      the discounted return the evaluation policy then obtained from those states (sum gamma^t r_t,
                      up to the episode's end): what value_start should be near
    q_action_gap      (Q critics, bounded actions) max_a Q(s0, a) - min_a Q(s0, a) over ACTION_GRID actions evenly
                      spread between the bounds, averaged over the start states: how much the critic tells actions
                      apart, which is all an actor learns from it
    action_top_share  (discrete actions) the share of evaluation steps taking the evaluation policy's most common
                      action: near 1 when the policy does one thing whatever the state
    action_at_bound   (bounded continuous actions) the share of action components within 2% of a bound
    policy_entropy    the mean entropy of the training policy at the evaluation states (actor-critic models)
    critic_grad_norm, actor_grad_norm
                      the gradient norms the last update left on the networks
    target_drift      the parameter distance between the target critic and the online critic
    model_return, model_return_real
                      (learned models) the discounted return of MODEL_HORIZON steps from the evaluation start states
                      that the model predicts for the evaluation policy, and the one the real env gave it

They are computed from the evaluation episodes and the networks as they are, off the training clocks, and none of
them draws a random number: a seeded run's numbers are the same with or without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from cs285lab.envs import EVAL_SEED, Episode, mean_return, play_episodes
from cs285lab.record import HistoryRow, Recorder

__all__ = ["MODEL_HORIZON", "actor_critic_statistics", "episode_statistics", "model_statistics", "network_statistics",
           "probed_evaluation"]

MODEL_HORIZON = 10  # steps of the model's imagined return (a few MBPO rollouts' worth)
AT_BOUND = 0.98     # |a - center| >= this share of the half-range counts as "at the bound"
ACTION_GRID = 9     # actions from the low to the high bound for q_action_gap

ValueFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (obs [N, d], actions [N, ...]) -> [N]


def probed_evaluation(recorder: Recorder, step: int, policy: Callable[[np.ndarray], Any], env_id: str,
                      episodes: int, probe: Callable[[list[Episode]], dict[str, float]],
                      stats: Mapping[str, float] | None = None, seed: int = EVAL_SEED, **extra: float) -> HistoryRow:
    """Play the evaluation episodes and measure `probe` on them, off the training clocks; record one history row."""
    with recorder.not_training():
        played = play_episodes(policy, env_id, episodes, seed)
        measured = probe(played)
    return recorder.row(step, mean_return(played), stats, **extra, **measured)


@torch.no_grad()
def episode_statistics(episodes: Sequence[Episode], gamma: float | None, action_space: gym.spaces.Space,
                       value: ValueFn | None = None, entropy: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       value_of_actions: bool = False) -> dict[str, float]:
    """value_start / return_start (and q_action_gap when `value` is a Q function), the action concentration and the
    policy entropy of played episodes."""
    out: dict[str, float] = {}
    if value is not None and gamma is not None:
        starts = torch.as_tensor(np.stack([e.obs[0] for e in episodes]), dtype=torch.float32)
        first = torch.as_tensor(np.stack([np.asarray(e.actions[0]) for e in episodes]))
        if isinstance(action_space, gym.spaces.Box):
            first = first.float().reshape(len(episodes), -1)
        out["value_start"] = float(value(starts, first).float().mean())
        out["return_start"] = float(np.mean([e.discounted_return(gamma) for e in episodes]))
        if value_of_actions and isinstance(action_space, gym.spaces.Box):
            low, high = (torch.as_tensor(b, dtype=torch.float32).reshape(-1)
                         for b in (action_space.low, action_space.high))
            grid = low + torch.linspace(0.0, 1.0, ACTION_GRID)[:, None] * (high - low)        # [K, act_dim]
            states = starts.repeat_interleave(ACTION_GRID, dim=0)                              # [N * K, obs_dim]
            q = value(states, grid.repeat(len(episodes), 1)).float().reshape(len(episodes), ACTION_GRID)
            out["q_action_gap"] = float((q.max(dim=1).values - q.min(dim=1).values).mean())
    actions = np.concatenate([np.asarray(e.actions).reshape(len(e.actions), -1) for e in episodes])
    if isinstance(action_space, gym.spaces.Discrete):
        out["action_top_share"] = float(np.bincount(actions.reshape(-1).astype(np.int64)).max() / len(actions))
    elif isinstance(action_space, gym.spaces.Box) and np.all(np.isfinite(action_space.low)) \
            and np.all(np.isfinite(action_space.high)):
        center, half = (action_space.high + action_space.low) / 2, (action_space.high - action_space.low) / 2
        out["action_at_bound"] = float(np.mean(np.abs(actions - center) >= AT_BOUND * half))
    if entropy is not None:
        states = torch.as_tensor(np.concatenate([np.stack(e.obs[:-1]) for e in episodes]), dtype=torch.float32)
        out["policy_entropy"] = float(entropy(states).mean())
    return out


def actor_critic_statistics(model: nn.Module, played: Sequence[Episode], gamma: float,
                            action_space: gym.spaces.Space) -> dict[str, float]:
    """For a model with dist(obs) and value(obs): V(s0) vs the return obtained, action concentration, pi's entropy."""
    return episode_statistics(played, gamma, action_space, value=lambda obs, actions: model.value(obs),
                              entropy=lambda obs: model.dist(obs).entropy())


@torch.no_grad()
def network_statistics(critic: nn.Module | None = None, actor: nn.Module | None = None,
                       target: nn.Module | None = None) -> dict[str, float]:
    """Gradient norms the last update left on the critic and the actor; the target critic's distance to the critic."""
    out = {}
    for name, net in (("critic_grad_norm", critic), ("actor_grad_norm", actor)):
        grads = [p.grad for p in net.parameters() if p.grad is not None] if net is not None else []
        if grads:
            out[name] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    if critic is not None and target is not None:
        out["target_drift"] = float(torch.linalg.vector_norm(torch.stack(
            [(t - o).norm() for t, o in zip(target.parameters(), critic.parameters())])))
    return out


@torch.no_grad()
def model_statistics(episodes: Sequence[Episode], model: Any, act: Callable[[np.ndarray], np.ndarray], gamma: float,
                     horizon: int = MODEL_HORIZON) -> dict[str, float]:
    """The model's imagined and the real discounted `horizon`-step return of the evaluation policy, same start states.

    The model steps with its elites' mean prediction (no sampling, no random elite): nothing random is drawn.
    """
    if model is None or not getattr(model, "fitted", False):
        return {}
    obs = torch.as_tensor(np.stack([e.obs[0] for e in episodes]), dtype=torch.float32)
    imagined = np.zeros(len(episodes))
    for h in range(horizon):
        actions = torch.as_tensor(np.asarray(act(obs.numpy())), dtype=torch.float32).reshape(len(episodes), -1)
        obs, rewards = model.predict_mean(obs, actions)
        imagined += gamma ** h * rewards.numpy()
    real = [sum(gamma ** h * r for h, r in enumerate(e.rewards[:horizon])) for e in episodes]
    return {"model_return": float(imagined.mean()), "model_return_real": float(np.mean(real))}
