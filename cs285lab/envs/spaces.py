"""Space validation and conversion between env arrays and the tensors models take or give.

Observations: vectors [D] or images [C, H, W] (uint8 pixels are scaled to [0, 1]).
Actions: Discrete (ints) or 1-D Box (floats, clipped to the bounds only for the env: the unclipped
sample is what the policy produced and what log pi is evaluated at).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

__all__ = ["require_vector_obs", "require_obs_space", "require_action_space", "obs_tensor", "env_actions"]


def require_vector_obs(env: gym.Env | gym.vector.VectorEnv, who: str = "this algorithm") -> None:
    """Raise a clear error unless the env has flat Box observations (a 1-D float vector)."""
    space = getattr(env, "single_observation_space", None) or env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TypeError(f"{who} needs an env with 1-D Box observations (a float vector); "
                        f"{getattr(env, 'spec', None) and env.spec.id or type(env).__name__} has {space}. "
                        "Wrap it (e.g. gymnasium.wrappers.FlattenObservation) or pick a vector-observation env")


def require_obs_space(space: gym.spaces.Space, who: str = "actor-critic") -> None:
    """Raise a clear error unless observations are Box vectors [D] or images [C, H, W]."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) not in (1, 3):
        raise TypeError(f"{who}: needs Box observations that are vectors [D] or images [C, H, W], got {space}. "
                        "Flatten dict/tuple observations (gymnasium.wrappers.FlattenObservation) and "
                        "move image channels first")


def require_action_space(space: gym.spaces.Space, who: str = "actor-critic") -> None:
    """Raise a clear error unless actions are Discrete or a 1-D Box."""
    if isinstance(space, gym.spaces.Discrete):
        return
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return
    raise TypeError(f"{who}: needs Discrete actions or 1-D Box actions, got {space}")


def obs_tensor(obs: np.ndarray) -> torch.Tensor:
    """Env observations as the float tensor every model takes (uint8 images are scaled to [0, 1] first)."""
    obs = np.asarray(obs)
    if obs.dtype == np.uint8:
        return torch.as_tensor(obs, dtype=torch.float32) / 255.0
    return torch.as_tensor(obs, dtype=torch.float32)


def env_actions(actions: torch.Tensor, space: gym.spaces.Space) -> np.ndarray:
    """Sampled actions as the env wants them: ints, or floats clipped to the Box bounds."""
    if isinstance(space, gym.spaces.Discrete):
        return actions.numpy().astype(np.int64)
    # The unclipped sample is what pi produced (and what log pi is evaluated at); only the env sees the clip.
    return np.clip(actions.numpy(), space.low, space.high).astype(space.dtype)
