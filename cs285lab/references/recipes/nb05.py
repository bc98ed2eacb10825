"""Reference-band recipe of notebook 05: the student's MBPO run (Part 2) at its budget.

Regenerate: python -m cs285lab.references generate nb05-mbpo-pendulum --profile full --seeds 0 1 2
At the full budget this is MBPOConfig()'s defaults, the configuration `make bench ONLY=mbpo` measures.
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _nb05_settings(budget: Any) -> dict[str, Any]:
    return {"total_steps": budget.total_steps, "eval_every": budget.eval_every, "eval_episodes": budget.eval_episodes,
            "mbpo": budget.mbpo}


def _nb05_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """nb05's `MBPOConfig.from_overrides(B.mbpo)` + `train_mbpo` call (cell dbcf5ecb), with the package's pieces."""
    from cs285lab.algos.mbpo import MBPOConfig, train_mbpo

    train_mbpo("Pendulum-v1", settings["total_steps"], seed, MBPOConfig.from_overrides(settings["mbpo"]),
               logger=logger, eval_every=settings["eval_every"], eval_episodes=settings["eval_episodes"])


RECIPES = {
    "nb05-mbpo-pendulum": Recipe("nb05", "cs285lab.algos.mbpo:train_mbpo", "Pendulum-v1", ("eval_return",),
                                 _nb05_settings, _nb05_train),
}
