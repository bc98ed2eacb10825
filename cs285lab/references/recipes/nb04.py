"""Reference-band recipes of notebook 04's Pendulum part: its three learners at the notebook's budget.

Regenerate: python -m cs285lab.references generate nb04-dyna-pendulum --profile full --seeds 0 1 2
(likewise nb04-sac-pendulum and nb04-classic-dyna-pendulum).
"""

from __future__ import annotations

from typing import Any

from cs285lab.references.recipe import Recipe


def _nb04_settings(budget: Any) -> dict[str, Any]:
    return {"total_steps": budget.dyna_steps, "updates_per_step": budget.dyna_updates_per_step,
            "learning_starts": budget.dyna_learning_starts, "model_train_freq": budget.dyna_model_train_freq,
            "model_max_epochs": budget.dyna_model_epochs, "eval_every": max(budget.dyna_steps // 4, 1),
            "eval_episodes": 3}


def _classic_dyna_rollout(model, policy, real_buffer, model_buffer, num_starts, horizon, rng) -> int:
    """Classic Dyna with a neural model: buffer states AND buffer actions, one model step (nb04's cell)."""
    batch = real_buffer.sample(num_starts, rng)
    next_obs, rewards, terminated = model.step(batch.obs, batch.actions, rng)
    model_buffer.add_batch(batch.obs.numpy(), batch.actions.numpy(), rewards.numpy(), next_obs.numpy(),
                           terminated.numpy())
    return num_starts


def _trainer(rollout_length: int, classic: bool):
    def train(seed: int, settings: dict[str, Any], logger: Any) -> None:
        """nb04's Pendulum cell for one learner: SAC, Dyna-style or classic Dyna through train_mbpo."""
        from cs285lab.algos.mbpo import MBPOConfig, train_mbpo
        from cs285lab.algos.sac import SACConfig

        config = MBPOConfig(sac=SACConfig(hidden=(64, 64), batch_size=128, learning_starts=settings["learning_starts"]),
                            rollout_length=rollout_length, real_ratio=0.5, updates_per_step=settings["updates_per_step"],
                            model_train_freq=settings["model_train_freq"], rollout_every=25, rollout_starts=200,
                            model_hidden=(64, 64), model_max_epochs=settings["model_max_epochs"])
        extra = {"rollout_fn": _classic_dyna_rollout} if classic else {}
        train_mbpo("Pendulum-v1", settings["total_steps"], seed, config, logger=logger,
                   eval_every=settings["eval_every"], eval_episodes=settings["eval_episodes"], **extra)
    return train


RECIPES = {
    "nb04-sac-pendulum": Recipe("nb04", "cs285lab.algos.mbpo:train_mbpo (k=0: SAC)", "Pendulum-v1", ("eval_return",),
                                _nb04_settings, _trainer(0, False)),
    "nb04-dyna-pendulum": Recipe("nb04", "cs285lab.algos.mbpo:train_mbpo (k=1, policy actions)", "Pendulum-v1",
                                 ("eval_return",), _nb04_settings, _trainer(1, False)),
    "nb04-classic-dyna-pendulum": Recipe("nb04", "cs285lab.algos.mbpo:train_mbpo (k=1, buffer actions)", "Pendulum-v1",
                                         ("eval_return",), _nb04_settings, _trainer(1, True)),
}
