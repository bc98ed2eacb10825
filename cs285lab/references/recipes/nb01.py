"""Reference-band recipe of notebook 01: its training call at its budget.

Regenerate: python -m cs285lab.references generate nb01-a2c-cartpole [--profile full]
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _nb01_settings(budget: Any) -> dict[str, Any]:
    return {"num_envs": budget.check_envs, "total_steps": budget.check_steps, "n_steps": budget.check_n_steps,
            "lr": budget.check_lr, "eval_every": budget.check_steps // 5, "eval_episodes": budget.check_eval_episodes}


def _nb01_train(seed: int, settings: dict[str, Any], logger: Any) -> None:
    """nb01's batched actor-critic run (Part 3, "Does it learn?"), with the package's model and loss."""
    import gymnasium as gym
    import torch

    from cs285lab.algos.actor_critic import SeparateActorCritic, actor_critic_loss, train_a2c

    env = gym.make("CartPole-v1")
    torch.manual_seed(seed)
    model = SeparateActorCritic(env.observation_space, env.action_space)
    env.close()
    train_a2c("CartPole-v1", settings["num_envs"], settings["total_steps"], seed=seed, n_steps=settings["n_steps"],
              lr=settings["lr"], model=model, loss_fn=actor_critic_loss, logger=logger,
              eval_every=settings["eval_every"], eval_episodes=settings["eval_episodes"])


RECIPES = {
    "nb01-a2c-cartpole": Recipe("nb01", "cs285lab.algos.actor_critic:train_a2c + actor_critic_loss",
                                "CartPole-v1", ("eval_return", "train_return"), _nb01_settings, _nb01_train),
}
