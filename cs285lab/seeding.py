"""Seeding, one rule: the caller sets threads once; every training entry point seeds its own run from `seed`.

`seed_run(seed)` is what an algorithm's entry point (train_a2c, train_sac, ...) calls first: it seeds
python, numpy and torch's global generators and touches nothing else. `seed_everything` is for the
caller (a notebook's setup cell, a benchmark, a test): the same, plus one torch thread.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch


def seed_run(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch's global generators from `seed`; return a numpy Generator of that seed."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def seed_everything(seed: int, torch_threads: int | None = 1) -> np.random.Generator:
    """Seed python, numpy and torch, pin torch to `torch_threads` threads; return a numpy Generator.

    Environments keep their own generators: seed them with `env.reset(seed=seed)` once and
    `env.action_space.seed(seed)` (vector envs: `envs.reset(seed=[seed + i for i in range(n)])`).
    One torch thread is both deterministic and, for the small networks of this course, fastest.
    """
    rng = seed_run(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    return rng


@contextlib.contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Inside the block torch draws from a generator seeded with `seed`; the global one is left as it was.

    For constructors that take a seed (the networks of an agent built outside a training entry
    point); with None the block draws from the global generator as usual.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
