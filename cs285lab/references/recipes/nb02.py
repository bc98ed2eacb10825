"""Reference-band recipes of notebook 02: its training runs at its budget.

Regenerate one: python -m cs285lab.references generate nb02-sync-n4 --profile full
(nb02-sync-n1 ... nb02-sync-n16: Part 1's synchronous runs; nb02-async: Part 2's healthy threaded run;
nb02-same-budget: Part 3's synchronous A2C with sync vectorization).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cs285lab.references.recipe import Recipe

WORKERS = (1, 2, 4, 8, 16)  # the full budget's sync_workers


def _train_a2c(seed: int, config: Any, logger: Any) -> None:
    from cs285lab.algos.actor_critic import train_a2c

    train_a2c("CartPole-v1", config, seed=seed, logger=logger)


def _train_async(seed: int, config: Any, logger: Any) -> None:
    """Part 2's healthy run: worker threads, the learner updates every batch_size transitions."""
    from cs285lab.algos.parallel import train_async

    train_async("CartPole-v1", config, seed=seed, logger=logger)


def _same_budget(budget: Any) -> Any:
    from cs285lab.algos.parallel import same_budget_a2c

    return replace(same_budget_a2c(budget.async_learner), vectorization="sync")


RECIPES = {
    **{f"nb02-sync-n{n}": Recipe("nb02", "cs285lab.algos.actor_critic:train_a2c (8 steps per worker, GAE)", "CartPole-v1",
                                 ("eval_return",), lambda B, n=n: replace(B.sync, num_envs=n), _train_a2c,
                                 cell="e9122a21", binds={"n": n})
       for n in WORKERS},
    "nb02-async": Recipe("nb02", "cs285lab.algos.parallel:train_async", "CartPole-v1", ("eval_return",),
                         lambda B: B.async_learner, _train_async, cell="f32e84ed", binds={"overrides": {}}),
    "nb02-same-budget": Recipe("nb02", "cs285lab.algos.actor_critic:train_a2c (sync vectorization)", "CartPole-v1",
                               ("eval_return",), _same_budget, _train_a2c, cell="41843b7a",
                               binds={"mode": "sync"}),
}
