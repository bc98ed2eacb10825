"""Sampling from the current policy (step 1 of the lecture's actor-critic) on a vector env of N workers.

`collect_step` steps every worker once (the exercise of notebook 02); `collect_rollout` calls it
n_steps times and stacks the rows into a `Rollout` [T, N]; `collect_transitions` does that on fresh
workers and returns one flat Batch. Vector envs use NEXT_STEP autoreset: the step after an episode
end only resets the worker, so its row is kept with mask False.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from cs285lab.algos.actor_critic.networks import _require_model
from cs285lab.algos.actor_critic.targets import gae_advantages
from cs285lab.batch import Batch
from cs285lab.envs.spaces import env_actions, obs_tensor
from cs285lab.envs.vector import make_vec_env
from cs285lab.nets import sample_actions
from cs285lab.record import Recorder
from cs285lab.twins import twin

__all__ = ["collect_step", "Rollout", "collect_rollout", "collect_transitions", "RecordEpisodes"]


@twin("nb02", "nb02-collect-step", needed_by=("nb01", "nb02"))  # train_a2c's rollout calls it
def collect_step(envs: gym.vector.VectorEnv, model: nn.Module, obs: np.ndarray,
                 prev_done: np.ndarray) -> tuple[Batch, np.ndarray, np.ndarray]:
    """Step every worker once with actions from `model`; return (batch, next obs, done flags for the next call).

    NEXT_STEP autoreset: after a step where a worker's episode ended (terminated or truncated),
    that worker's next step is a reset step: its action is ignored, its reward is 0 and the
    "transition" jumps from the final state to a fresh start. `prev_done` marks those workers.
    """
    obs_t = obs_tensor(obs)                             # float32; uint8 images scaled to [0, 1]
    with torch.no_grad():  # acting does not need gradients; the update recomputes log-probs
        actions = sample_actions(model.dist(obs_t))     # a ~ pi(.|s), one per worker
    next_obs, rewards, terminated, truncated, _ = envs.step(env_actions(actions, envs.single_action_space))
    batch = Batch(
        obs=obs_t,
        actions=actions,
        rewards=torch.as_tensor(rewards, dtype=torch.float32),
        next_obs=obs_tensor(next_obs),  # the real final obs when an episode ended
        terminated=torch.as_tensor(terminated, dtype=torch.float32),  # truncation still bootstraps
        mask=torch.as_tensor(~np.asarray(prev_done, dtype=bool)),  # False: a reset step, not a transition
    )
    return batch, next_obs, np.logical_or(terminated, truncated)


@dataclass
class Rollout:
    """n_steps x num_envs transitions; obs has one extra row (the observation after the last step)."""

    obs: torch.Tensor         # [T + 1, N, *obs_shape]
    actions: torch.Tensor     # [T, N, ...]
    rewards: torch.Tensor     # [T, N]
    terminated: torch.Tensor  # [T, N]
    done: torch.Tensor        # [T, N] terminated or truncated
    mask: torch.Tensor        # [T, N] False on NEXT_STEP reset steps

    def advantages(self, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
        """GAE(lambda) advantages [T, N] from V at every row of obs, values [T + 1, N]."""
        return gae_advantages(self.rewards, values[:-1], values[1:], self.terminated, self.done, gamma, lam)

    def flat_batch(self) -> Batch:
        """The rollout as B = T * N one-step transitions."""
        flat = lambda x: x.flatten(0, 1)  # noqa: E731
        return Batch(obs=flat(self.obs[:-1]), actions=flat(self.actions), rewards=flat(self.rewards),
                     next_obs=flat(self.obs[1:]), terminated=flat(self.terminated), mask=flat(self.mask))


def collect_rollout(envs: gym.vector.VectorEnv, model: nn.Module, obs: np.ndarray, prev_done: np.ndarray,
                    n_steps: int) -> tuple[Rollout, np.ndarray, np.ndarray]:
    """Step every worker n_steps times with the current policy (collect_step each time); (rollout, obs, done)."""
    steps, done = [], []
    for _ in range(n_steps):
        batch, obs, prev_done = collect_step(envs, model, obs, prev_done)
        steps.append(batch)
        done.append(prev_done)
    column = lambda name: torch.stack([getattr(b, name) for b in steps])  # noqa: E731 - [T, N, ...]
    rollout = Rollout(obs=torch.cat([column("obs"), steps[-1].next_obs[None]]), actions=column("actions"),
                      rewards=column("rewards"), terminated=column("terminated"),
                      done=torch.as_tensor(np.stack(done), dtype=torch.float32), mask=column("mask"))
    return rollout, obs, prev_done


class RecordEpisodes(gym.vector.VectorWrapper):
    """A vector env that reports every step's rewards and episode ends to a Recorder (the training curve)."""

    def __init__(self, envs: gym.vector.VectorEnv, recorder: Recorder) -> None:
        super().__init__(envs)
        self.recorder = recorder

    def step(self, actions: np.ndarray) -> tuple:
        """Step the workers; the Recorder adds the rewards and closes the episodes that ended."""
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        self.recorder.add(rewards, terminated | truncated)
        return obs, rewards, terminated, truncated, infos


def collect_transitions(model: nn.Module, env_id: str, num_envs: int, n_steps: int, seed: int = 0) -> Batch:
    """Run `model`'s sampled policy on `num_envs` fresh workers for `n_steps` steps; the transitions as one Batch.

    Rows of NEXT_STEP reset steps are in the batch with mask False (select with batch.mask).
    """
    _require_model(model)
    envs = make_vec_env(env_id, num_envs, seed)
    try:
        obs, _ = envs.reset(seed=seed)
        rollout, _, _ = collect_rollout(envs, model, obs, np.zeros(num_envs, dtype=bool), n_steps)
        return rollout.flat_batch()
    finally:
        envs.close()
