"""Reference-band recipe of notebook 05: the student's MBPO run (Part 2) at its budget.

Regenerate: python -m cs285lab.references generate nb05-mbpo-pendulum --profile full --seeds 0 1 2
At the full budget this is MBPOConfig()'s defaults, the configuration `make bench ONLY=mbpo` measures.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cs285lab.references.recipe import Recipe


def _nb05_settings(budget: Any) -> dict[str, Any]:
    return {"total_steps": budget.total_steps, "learning_starts": budget.learning_starts, "sac_lr": budget.sac_lr,
            "sac_batch_size": budget.sac_batch_size, "rollout_length": budget.rollout_length,
            "real_ratio": budget.real_ratio, "updates_per_step": budget.updates_per_step,
            "model_train_freq": budget.model_train_freq, "rollout_every": budget.rollout_every,
            "rollout_starts": budget.rollout_starts, "model_hidden": tuple(budget.model_hidden),
            "model_max_epochs": budget.model_max_epochs, "eval_every": budget.eval_every,
            "eval_episodes": budget.eval_episodes}


def _nb05_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """nb05's `mbpo_config()` + `train_mbpo` call (cell dbcf5ecb), with the package's reference pieces."""
    from cs285lab.algos.mbpo import MBPOConfig, train_mbpo

    sac = replace(MBPOConfig().sac, lr=settings["sac_lr"], batch_size=settings["sac_batch_size"],
                  learning_starts=settings["learning_starts"])
    config = MBPOConfig(sac=sac, **{key: settings[key] for key in (
        "rollout_length", "real_ratio", "updates_per_step", "model_train_freq", "rollout_every", "rollout_starts",
        "model_hidden", "model_max_epochs")})
    train_mbpo("Pendulum-v1", settings["total_steps"], seed, config, logger=logger, eval_every=settings["eval_every"],
               eval_episodes=settings["eval_episodes"])


RECIPES = {
    "nb05-mbpo-pendulum": Recipe("nb05", "cs285lab.algos.mbpo:train_mbpo", "Pendulum-v1", ("eval_return",),
                                 _nb05_settings, _nb05_train),
}
