"""Vector envs of N workers: made with NEXT_STEP autoreset and checked spaces."""

from __future__ import annotations

import gymnasium as gym

from cs285lab.envs.spaces import require_action_space, require_obs_space

__all__ = ["make_vec_env"]


def make_vec_env(env_id: str, num_envs: int, seed: int, vectorization: str = "sync") -> gym.vector.VectorEnv:
    """A gymnasium vector env with NEXT_STEP autoreset, workers seeded seed, seed+1, ... (reset is yours)."""
    if vectorization not in ("sync", "async"):
        raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization,
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP})
    try:
        require_obs_space(envs.single_observation_space, env_id)
        require_action_space(envs.single_action_space, env_id)
    except TypeError:
        envs.close()
        raise
    envs.action_space.seed(seed)
    return envs
