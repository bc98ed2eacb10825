"""Synchronous parallel actor-critic (lecture: "synchronized parallel actor-critic"): N workers as one
gymnasium vector env stepped in lockstep; one batched update per step, batch size = N.

`reset_workers` and `collect_step` are the pieces notebook 02 asks students to write (`collect_step`
lives with the rollout in `cs285lab.algos.actor_critic.rollout`, because `train_a2c` runs it; it is
re-exported here). The training loop is `cs285lab.algos.actor_critic.train_a2c`. The throughput
probes measure acting only, and what one slow worker does to lockstep workers.
"""

from __future__ import annotations

import math
import time
from typing import Any

import gymnasium as gym
import numpy as np
from torch import nn

from cs285lab.algos.actor_critic.rollout import collect_step
from cs285lab.envs.vector import make_vec_env
from cs285lab.twins import twin

__all__ = ["reset_workers", "make_workers", "collect_step", "collection_throughput", "SlowStep",
           "lockstep_throughput"]


@twin("nb02", "nb02-reset-workers", needed_by=("nb02",))  # lockstep_throughput uses it
def reset_workers(envs: gym.vector.VectorEnv, seed: int) -> np.ndarray:
    """Reset all workers, worker i with seed + i (and seed the action space); return the first observations."""
    # Different seeds per worker: one shared seed would make N copies of the same trajectory.
    obs, _ = envs.reset(seed=[seed + i for i in range(envs.num_envs)])
    envs.action_space.seed(seed)
    return obs


def make_workers(env_id: str, num_envs: int, seed: int,
                 vectorization: str = "sync") -> tuple[gym.vector.VectorEnv, np.ndarray]:
    """`num_envs` workers as one NEXT_STEP-autoreset vector env, reset with seeds seed, seed+1, ...; (envs, obs)."""
    envs = make_vec_env(env_id, num_envs, seed, vectorization)
    return envs, reset_workers(envs, seed)


def collection_throughput(env_id: str, num_envs: int, vectorization: str, model: nn.Module,
                          steps: int, seed: int = 0, repeats: int = 3) -> float:
    """Env steps per second of acting only (policy forward + vector env step) with N workers, no learning.

    Best of `repeats` timings: on a shared machine the fastest repeat is the least disturbed one.
    """
    envs, obs = make_workers(env_id, num_envs, seed, vectorization)
    rounds = max(1, steps // num_envs)
    try:
        done = np.zeros(num_envs, dtype=bool)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(rounds):
                _, obs, done = collect_step(envs, model, obs, done)
            best = min(best, time.perf_counter() - start)
    finally:
        envs.close()
    return rounds * num_envs / best


class SlowStep(gym.Wrapper):
    """An env whose every step takes `delay` seconds longer (a straggler: a slow machine or a heavy scene)."""

    def __init__(self, env: gym.Env, delay: float) -> None:
        super().__init__(env)
        self.delay = delay

    def step(self, action: Any) -> tuple:
        """Sleep `delay` seconds, then step."""
        time.sleep(self.delay)
        return self.env.step(action)


def lockstep_throughput(env_id: str, num_envs: int, model: nn.Module, slow_delay: float,
                        steps: int, seed: int = 0) -> float:
    """Env steps per second of a synchronous vector env in which worker 0 is `slow_delay` s slower per step."""
    envs = gym.vector.SyncVectorEnv([lambda i=i: SlowStep(gym.make(env_id), slow_delay if i == 0 else 0.0)
                                     for i in range(num_envs)])
    try:
        obs, done = reset_workers(envs, seed), np.zeros(num_envs, dtype=bool)
        rounds = max(1, steps // num_envs)
        start = time.perf_counter()
        for _ in range(rounds):  # every round waits for worker 0
            _, obs, done = collect_step(envs, model, obs, done)
        return rounds * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


