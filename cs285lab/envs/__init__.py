"""Environments: making vector envs (`vector`), checking spaces and converting actions/observations
(`spaces`), evaluating a policy (`evaluate`), and the course's own envs (Dyna Maze, pixels)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from cs285lab.envs.spaces import (env_actions, obs_tensor, require_action_space,  # noqa: F401 - the env API
                                 require_obs_space, require_vector_obs)
from cs285lab.envs.vector import make_vec_env  # noqa: F401

# Evaluation episodes start from these env seeds (EVAL_SEED, EVAL_SEED + 1, ...) for every algorithm, run seed and
# checkpoint: curves of different seeds and algorithms are scored on the same episodes, none of them a training one.
EVAL_SEED = 10_000


def evaluate(policy: Callable[[np.ndarray], np.ndarray | int], env_id: str, episodes: int = 10,
             seed: int = EVAL_SEED) -> float:
    """Mean undiscounted return of `policy(obs) -> action` over `episodes` episodes (seeds seed, seed+1, ...)."""
    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    env = gym.make(env_id)
    try:
        returns = []
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            done, total = False, 0.0
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy(obs))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns))
    finally:
        env.close()
from cs285lab.envs import dyna_maze as dyna_maze  # noqa: E402,F401 - registers cs285lab/DynaMaze-v0 and variants
