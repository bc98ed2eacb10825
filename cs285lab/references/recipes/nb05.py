"""Reference-band recipe of notebook 05: the student's MBPO run (Part 2) at its budget.

Regenerate: python -m cs285lab.references generate nb05-mbpo-pendulum --profile full --seeds 0 1 2
At the full budget this is MBPOConfig()'s defaults, the configuration `make bench ONLY=mbpo` measures.
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _train(seed: int, config: Any, logger: Any) -> None:
    """nb05's training cell (dbcf5ecb), with the package's pieces."""
    from cs285lab.algos.mbpo import train_mbpo

    train_mbpo("Pendulum-v1", config, seed=seed, logger=logger)


RECIPES = {
    "nb05-mbpo-pendulum": Recipe("nb05", "cs285lab.algos.mbpo:train_mbpo", "Pendulum-v1", ("eval_return",),
                                 lambda B: B.mbpo, _train, cell="dbcf5ecb"),
}
