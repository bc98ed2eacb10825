"""Environments: making vector envs (`vector`), checking spaces and converting actions/observations
(`spaces`), evaluating a policy (`evaluate`), and the course's own envs (Dyna Maze, pixels)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from cs285lab.envs.spaces import (env_actions, obs_tensor, require_action_space,  # noqa: F401 - the env API
                                 require_obs_space, require_vector_obs)
from cs285lab.envs.vector import make_vec_env  # noqa: F401

# Evaluation episodes start from these env seeds (EVAL_SEED, EVAL_SEED + 1, ...) for every algorithm, run seed and
# checkpoint: curves of different seeds and algorithms are scored on the same episodes, none of them a training one.
EVAL_SEED = 10_000


@dataclass
class Episode:
    """One evaluation episode: the observations it met (the one after the last step included), the actions
    taken, the rewards received, and whether it ended by termination (not truncation)."""

    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray | int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: bool = False
    total: float = 0.0  # the undiscounted return, summed in step order

    def discounted_return(self, gamma: float) -> float:
        """sum_t gamma^t r_t from the episode's first state."""
        value = 0.0
        for reward in reversed(self.rewards):
            value = reward + gamma * value
        return value


def play_episodes(policy: Callable[[np.ndarray], np.ndarray | int], env_id: str, episodes: int = 10,
                  seed: int = EVAL_SEED) -> list[Episode]:
    """Run `policy(obs) -> action` for `episodes` episodes (env seeds seed, seed+1, ...); keep what each met."""
    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    env = gym.make(env_id)
    try:
        played = []
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            record, done = Episode(obs=[obs]), False
            while not done:
                action = policy(obs)
                obs, reward, terminated, truncated, _ = env.step(action)
                record.total += float(reward)
                record.actions.append(action)
                record.rewards.append(float(reward))
                record.obs.append(obs)
                record.terminated, done = bool(terminated), terminated or truncated
            played.append(record)
        return played
    finally:
        env.close()


def evaluate(policy: Callable[[np.ndarray], np.ndarray | int], env_id: str, episodes: int = 10,
             seed: int = EVAL_SEED) -> float:
    """Mean undiscounted return of `policy(obs) -> action` over `episodes` episodes (seeds seed, seed+1, ...)."""
    return mean_return(play_episodes(policy, env_id, episodes, seed))


def mean_return(episodes: list[Episode]) -> float:
    """The evaluation return: the mean undiscounted return of played episodes."""
    return float(np.mean([e.total for e in episodes]))


from cs285lab.envs import dyna_maze as dyna_maze  # noqa: E402,F401 - registers cs285lab/DynaMaze-v0 and variants
