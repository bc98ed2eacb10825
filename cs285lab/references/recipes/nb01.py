"""Reference-band recipe of notebook 01: its training run at its budget.

Regenerate: python -m cs285lab.references generate nb01-a2c-cartpole [--profile full]
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _train(seed: int, config: Any, logger: Any) -> None:
    """nb01's batched actor-critic run (Part 3, "Does it learn?"), with the package's model and loss."""
    import gymnasium as gym
    import torch

    from cs285lab.algos.actor_critic import SeparateActorCritic, actor_critic_loss, train_a2c

    env = gym.make("CartPole-v1")
    torch.manual_seed(seed)
    model = SeparateActorCritic(env.observation_space, env.action_space)
    env.close()
    train_a2c("CartPole-v1", config, seed=seed, model=model, loss_fn=actor_critic_loss, logger=logger)


RECIPES = {
    "nb01-a2c-cartpole": Recipe("nb01", "cs285lab.algos.actor_critic:train_a2c + actor_critic_loss",
                                "CartPole-v1", ("eval_return", "train_return"), lambda B: B.batched, _train,
                                cell="d37f3ff9", target="batched"),
}
