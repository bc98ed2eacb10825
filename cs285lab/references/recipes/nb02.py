"""Reference-band recipes of notebook 02: its training calls at its budget.

Regenerate one: python -m cs285lab.references generate nb02-sync-n4 --profile full
(nb02-sync-n1 ... nb02-sync-n16: Part 1's synchronous runs; nb02-async: Part 2's healthy threaded run;
nb02-same-budget: Part 3's synchronous A2C with sync vectorization).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cs285lab.references.recipe import Recipe

WORKERS = (1, 2, 4, 8, 16)  # the full budget's sync_workers


def _sync_settings(budget: Any, num_envs: int) -> dict[str, Any]:
    return {"env_id": budget.env_id, "num_envs": num_envs, "total_steps": budget.sync_steps,
            "eval_every": budget.sync_eval_every, "eval_episodes": budget.eval_episodes}


def _sync_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """Part 1: one update per vector-env step (n_steps=1), batch = number of workers, raw advantages."""
    from cs285lab.algos.actor_critic import train_a2c

    train_a2c(settings["env_id"], num_envs=settings["num_envs"], total_steps=settings["total_steps"], seed=seed,
              n_steps=1, normalize_advantages=False, logger=logger, eval_every=settings["eval_every"],
              eval_episodes=settings["eval_episodes"])


def _async_settings(budget: Any) -> dict[str, Any]:
    return {"env_id": budget.env_id, "workers": budget.async_workers, "total_steps": budget.async_steps,
            "batch_size": budget.batch_size, "eval_every": budget.async_eval_every,
            "eval_episodes": budget.eval_episodes}


def _async_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """Part 2's healthy run: worker threads, the learner updates every batch_size transitions."""
    from cs285lab.algos.parallel import train_async

    train_async(settings["env_id"], settings["workers"], settings["total_steps"], seed,
                batch_size=settings["batch_size"], logger=logger, eval_every=settings["eval_every"],
                eval_episodes=settings["eval_episodes"])


def _same_budget_settings(budget: Any) -> dict[str, Any]:
    return {"env_id": budget.env_id, "num_envs": budget.async_workers, "total_steps": budget.async_steps,
            "n_steps": budget.batch_size // budget.async_workers, "eval_every": budget.async_eval_every,
            "eval_episodes": budget.eval_episodes}


def _same_budget_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """Part 3's synchronous A2C on the async learner's budget (lr 1e-3 decayed, gae_lambda=1, raw advantages)."""
    from cs285lab.algos.actor_critic import train_a2c

    train_a2c(settings["env_id"], num_envs=settings["num_envs"], total_steps=settings["total_steps"], seed=seed,
              n_steps=settings["n_steps"], lr=1e-3, gamma=0.99, gae_lambda=1.0, anneal_lr=True,
              normalize_advantages=False, logger=logger, eval_every=settings["eval_every"],
              eval_episodes=settings["eval_episodes"])


RECIPES = {
    **{f"nb02-sync-n{n}": Recipe("nb02", "cs285lab.algos.actor_critic:train_a2c (n_steps=1)", "CartPole-v1",
                                 ("eval_return",), partial(_sync_settings, num_envs=n), _sync_train)
       for n in WORKERS},
    "nb02-async": Recipe("nb02", "cs285lab.algos.parallel:train_async", "CartPole-v1", ("eval_return",),
                         _async_settings, _async_train),
    "nb02-same-budget": Recipe("nb02", "cs285lab.algos.actor_critic:train_a2c (sync vectorization)", "CartPole-v1",
                               ("eval_return",), _same_budget_settings, _same_budget_train),
}
