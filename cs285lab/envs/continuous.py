"""Continuous-control environments: creation and validation for the off-policy and model-based algorithms."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from cs285lab.envs import require_vector_obs

__all__ = ["make_env", "require_bounded_box"]


def require_bounded_box(env: gym.Env, who: str) -> None:
    """Raise a one-line TypeError unless `env` has a bounded 1-D Box action space."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1 or not np.all(np.isfinite(space.low)) \
            or not np.all(np.isfinite(space.high)):
        name = env.spec.id if env.spec is not None else type(env).__name__
        raise TypeError(f"{who} needs a bounded 1-D Box action space (continuous actions); {name} has {space}")


def make_env(env_id: str, who: str = "SAC") -> gym.Env:
    """gym.make(env_id), checked: 1-D Box observations and bounded Box actions (closed again if not)."""
    env = gym.make(env_id)
    try:
        require_vector_obs(env, who)
        require_bounded_box(env, who)
    except TypeError:
        env.close()
        raise
    return env
