"""One call that makes a notebook run reproducible on one machine."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, torch_threads: int | None = 1) -> np.random.Generator:
    """Seed python, numpy and torch, pin torch to `torch_threads` threads; return a numpy Generator.

    Environments keep their own generators: seed them with `env.reset(seed=seed)` once and
    `env.action_space.seed(seed)` (vector envs: `envs.reset(seed=[seed + i for i in range(n)])`).
    One torch thread is both deterministic and, for the small networks of this course, fastest.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    return np.random.default_rng(seed)
