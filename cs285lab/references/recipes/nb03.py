"""Reference-band recipe of notebook 03: its training run at its budget.

Regenerate: python -m cs285lab.references generate nb03-sac-pendulum [--profile full]
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _train(seed: int, config: Any, logger: Any) -> None:
    """nb03's student SAC run (cell nb03-student-sac), with the reference SAC."""
    from cs285lab.algos.sac import train_sac

    train_sac("Pendulum-v1", config, seed=seed, logger=logger)


RECIPES = {
    "nb03-sac-pendulum": Recipe("nb03", "cs285lab.algos.sac:train_sac", "Pendulum-v1",
                                ("eval_return", "train_return"), lambda B: B.sac, _train, cell="5597294e"),
}
