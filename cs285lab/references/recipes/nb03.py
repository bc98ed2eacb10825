"""Reference-band recipe of notebook 03: its training call at its budget.

Regenerate: python -m cs285lab.references generate nb03-sac-pendulum [--profile full]
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _nb03_settings(budget: Any) -> dict[str, Any]:
    return {"total_steps": budget.sac_steps, "eval_every": budget.eval_every, "eval_episodes": budget.eval_episodes}


def _nb03_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """nb03's student SAC run (cell nb03-student-sac: SACConfig's defaults), with the reference SAC."""
    from cs285lab.algos.sac import SACConfig, train_sac

    train_sac("Pendulum-v1", settings["total_steps"], seed, SACConfig(), logger=logger,
              eval_every=settings["eval_every"], eval_episodes=settings["eval_episodes"])


RECIPES = {
    "nb03-sac-pendulum": Recipe("nb03", "cs285lab.algos.sac:train_sac", "Pendulum-v1",
                                ("eval_return", "train_return"), _nb03_settings, _nb03_train),
}
