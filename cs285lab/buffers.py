"""Replay buffers: a ring (FIFO) of transitions in preallocated arrays, sampled uniformly.

The buffer stores `terminated` only. Truncation (a time limit) is not the end of the task:
the target still bootstraps through it, r + gamma * Q(s', a') * (1 - terminated), so a
truncated transition is stored with terminated = 0 and the caller simply resets the env.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from cs285lab.batch import TRANSITION_FIELDS, Batch
from cs285lab.twins import twin

__all__ = ["Batch", "ReplayBuffer", "MAX_CAPACITY"]

MAX_CAPACITY = 10_000_000


def _flags(terminated: object) -> np.ndarray:
    """`terminated` as 0/1 float32; None, 0.5 or "yes" is an error, not a silent NaN or half a terminal."""
    if hasattr(terminated, "detach"):
        terminated = terminated.detach().cpu().numpy()
    raw = np.asarray(terminated)
    if raw.dtype == np.bool_:
        return raw.astype(np.float32).reshape(-1)
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"ReplayBuffer: terminated must be a bool (or 0/1) per transition, got {terminated!r:.80}")
    flat = raw.astype(np.float64).reshape(-1)
    bad = ~np.isin(flat, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"ReplayBuffer: terminated must be True/False (or 1/0), got {float(flat[bad][0]):g} "
                         f"in row {int(np.argmax(bad))}")
    return flat.astype(np.float32)


@twin("nb03", "nb03-buffer", needed_by=("nb03", "nb04", "nb05"))  # SAC and MBPO store data in it
class ReplayBuffer:
    """A ring buffer of transitions: once full, each new transition overwrites the oldest one."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        for name, value in (("capacity", capacity), ("obs_dim", obs_dim), ("act_dim", act_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"ReplayBuffer: {name} must be a positive int, got {value!r}")
        if capacity > MAX_CAPACITY:
            raise ValueError(f"ReplayBuffer: capacity {capacity} is above {MAX_CAPACITY:.0e}; that would not fit in memory")
        self.capacity, self.obs_dim, self.act_dim = int(capacity), int(obs_dim), int(act_dim)
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, act_dim), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.next_index = 0  # where the next transition goes
        self.size = 0        # how many slots hold data

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool, truncated: bool = False) -> None:
        """Store one transition; `truncated` is accepted and ignored on purpose (we bootstrap through it)."""
        del truncated  # a time limit is not a terminal state: the value of s' still counts
        self.add_batch(np.asarray(obs)[None], np.asarray(action)[None], np.asarray([reward]),
                       np.asarray(next_obs)[None], np.asarray([terminated]))

    def add_batch(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                  terminated: np.ndarray) -> None:
        """Store N transitions given as arrays [N, ...] (oldest first); wraps around when full."""
        obs, actions, next_obs = (self._rows(x, dim, name) for x, dim, name in
                                  ((obs, self.obs_dim, "obs"), (actions, self.act_dim, "actions"),
                                   (next_obs, self.obs_dim, "next_obs")))
        rewards = self._numbers(rewards, "rewards")
        terminated = _flags(terminated)
        n = obs.shape[0]
        if not (actions.shape[0] == rewards.shape[0] == next_obs.shape[0] == terminated.shape[0] == n):
            raise ValueError(f"ReplayBuffer.add_batch: inconsistent batch sizes: obs {n}, actions {actions.shape[0]}, "
                             f"rewards {rewards.shape[0]}, next_obs {next_obs.shape[0]}, terminated {terminated.shape[0]}")
        skipped = max(0, n - self.capacity)  # only the newest `capacity` rows survive: write just those,
        obs, actions, rewards, next_obs, terminated = (x[skipped:] for x in  # in the slots repeated add() would use
                                                       (obs, actions, rewards, next_obs, terminated))
        # Slots i, i+1, ... modulo capacity: the oldest data is overwritten first (FIFO).
        slots = (self.next_index + skipped + np.arange(n - skipped)) % self.capacity
        self.obs[slots], self.actions[slots], self.rewards[slots] = obs, actions, rewards
        self.next_obs[slots], self.terminated[slots] = next_obs, terminated
        self.next_index = int((self.next_index + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """A batch of `batch_size` transitions drawn uniformly (with replacement) from the filled slots."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"ReplayBuffer.sample: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("ReplayBuffer.sample: pass a numpy Generator (np.random.default_rng(seed))")
        idx = rng.integers(0, self.size, size=batch_size)  # only filled slots
        # Fancy indexing copies, so later writes to the buffer never change a sampled batch.
        return Batch(*(torch.from_numpy(getattr(self, f)[idx]) for f in TRANSITION_FIELDS))

    def contents(self) -> Batch:
        """Every stored transition exactly once, as one Batch (copies; e.g. to fit a model on all real data)."""
        return Batch(*(torch.from_numpy(getattr(self, f)[:self.size].copy()) for f in TRANSITION_FIELDS))

    def _rows(self, x: np.ndarray, dim: int, name: str) -> np.ndarray:
        array = self._numbers(x, name)
        if array.ndim == 1 and dim == 1:  # [N] for a 1-D action or observation
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != dim:
            raise ValueError(f"ReplayBuffer: {name} should have shape [N, {dim}], got {array.shape}")
        return array

    @staticmethod
    def _numbers(x: object, name: str) -> np.ndarray:
        """`x` as float32, refusing what is not a finite number: one NaN reward would turn every weight NaN."""
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        try:
            raw = np.asarray(x)
            if raw.dtype.kind not in "biuf":  # None, strings, ragged lists
                raise TypeError
            array = raw.astype(np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"ReplayBuffer: {name} must be numbers, got {x!r:.80}") from None
        if name == "rewards":
            array = array.reshape(-1)
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.argwhere(bad)[0][0]) if array.ndim else 0
            raise ValueError(f"ReplayBuffer: {name} holds a non-finite value ({array.reshape(array.shape[0] if array.ndim else 1, -1)[row].tolist()} "
                             f"in row {row}); refusing the transition (check the env or the model that produced it)")
        return array
