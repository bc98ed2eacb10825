"""The one Batch of transitions every algorithm learns from: on-policy rollouts, replay samples, n-step deliveries.

Every field has the batch size B as its first dimension:

    obs         [B, *obs_shape]   float (uint8 images are scaled by the model)
    actions     [B] (Discrete, int) or [B, act_dim] (Box, float)
    rewards     [B]
    next_obs    [B, *obs_shape]   the real final observation where an episode ended
    terminated  [B]               0/1; truncation is not stored (targets bootstrap through it)
    mask        [B] bool or None  False marks rows that are not transitions (a vector env's reset step)
    steps       [B] or None       n of an n-step row (its reward sums n rewards; bootstrap with gamma ** n)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Batch", "TRANSITION_FIELDS"]

TRANSITION_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")


@dataclass(eq=False)
class Batch:
    """Transitions for one update (see the module docstring for shapes); `mask` and `steps` are optional."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    terminated: Tensor
    mask: Tensor | None = None
    steps: Tensor | None = None

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @classmethod
    def of(cls, batch: Batch | Mapping[str, Any]) -> Batch:
        """Accept a Batch or a dict with the same keys (numpy arrays are converted to tensors)."""
        if isinstance(batch, Batch):
            return batch
        if not isinstance(batch, Mapping):
            raise TypeError(f"batch must be a Batch or a dict, got {type(batch).__name__}")
        names = [f.name for f in fields(cls)]
        missing = [n for n in TRANSITION_FIELDS if n not in batch]
        extra = [k for k in batch if k not in names]
        if missing or extra:
            raise KeyError(f"batch keys: missing {missing}, unknown {extra}; expected {names}")
        return cls(**{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()})

    def concat(self, other: Batch) -> Batch:
        """Stack two batches along the batch dimension (e.g. real and model transitions)."""
        if not isinstance(other, Batch):
            raise TypeError(f"can only concat a Batch with a Batch, got {type(other).__name__}")
        for name in ("obs", "actions", "next_obs"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine.shape[1:] != theirs.shape[1:]:
                raise ValueError(f"Batch.concat: {name} shapes {tuple(mine.shape)} and {tuple(theirs.shape)} "
                                 "differ beyond the batch dimension")
        joined = {f: torch.cat([getattr(self, f), getattr(other, f)]) for f in TRANSITION_FIELDS}
        for name, fill in (("mask", True), ("steps", 1.0)):  # a missing optional column means "all valid" / "one step"
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None or theirs is not None:
                mine = torch.full((len(self),), fill) if mine is None else mine
                theirs = torch.full((len(other),), fill) if theirs is None else theirs
                joined[name] = torch.cat([mine, theirs.to(mine.dtype)])
        return Batch(**joined)
