"""Environment helpers: make, check and evaluate gymnasium environments with vector observations."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np


def require_vector_obs(env: gym.Env | gym.vector.VectorEnv, who: str = "this algorithm") -> None:
    """Raise a clear error unless the env has flat Box observations (a 1-D float vector)."""
    space = getattr(env, "single_observation_space", None) or env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TypeError(f"{who} needs an env with 1-D Box observations (a float vector); "
                        f"{getattr(env, 'spec', None) and env.spec.id or type(env).__name__} has {space}. "
                        "Wrap it (e.g. gymnasium.wrappers.FlattenObservation) or pick a vector-observation env")


def evaluate(policy: Callable[[np.ndarray], np.ndarray | int], env_id: str, episodes: int = 10,
             seed: int = 10_000) -> float:
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
