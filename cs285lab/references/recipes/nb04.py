"""Reference-band recipes of notebook 04's Pendulum part: its three learners at the notebook's budget.

Regenerate: python -m cs285lab.references generate nb04-dyna-pendulum --profile full --seeds 0 1 2
(likewise nb04-sac-pendulum and nb04-classic-dyna-pendulum).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cs285lab.references.recipe import Recipe


def _trainer(classic: bool):
    def train(seed: int, config: Any, logger: Any) -> None:
        """nb04's Pendulum cell for one learner: SAC, Dyna-style or classic Dyna through train_mbpo."""
        from cs285lab.algos.mbpo import classic_dyna_rollout, train_mbpo

        extra = {"rollout_fn": classic_dyna_rollout} if classic else {}
        train_mbpo("Pendulum-v1", config, seed=seed, logger=logger, **extra)
    return train


def _recipe(algorithm: str, k: int, classic: bool) -> Recipe:
    return Recipe("nb04", algorithm, "Pendulum-v1", ("eval_return",), lambda B: replace(B.dyna, rollout_length=k),
                  _trainer(classic), cell="5eacfc1f", binds={"k": k})


RECIPES = {
    "nb04-sac-pendulum": _recipe("cs285lab.algos.mbpo:train_mbpo (k=0: SAC)", 0, False),
    "nb04-dyna-pendulum": _recipe("cs285lab.algos.mbpo:train_mbpo (k=1, policy actions)", 1, False),
    "nb04-classic-dyna-pendulum": _recipe("cs285lab.algos.mbpo:train_mbpo (k=1, buffer actions)", 1, True),
}
