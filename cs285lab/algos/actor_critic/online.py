"""Online actor-critic: one env, one update per transition (a batch of one), and why it is noisy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from cs285lab.algos.actor_critic.a2c import evaluate_greedy
from cs285lab.algos.actor_critic.networks import make_actor_critic
from cs285lab.algos.actor_critic.targets import actor_critic_loss
from cs285lab.algos.guards import check_rewards, check_stats, positive_int
from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.batch import Batch
from cs285lab.envs.spaces import env_actions, obs_tensor, require_action_space, require_obs_space
from cs285lab.record import HistoryRow, Logger, Recorder
from cs285lab.seeding import seed_run
from cs285lab.twins import twin

__all__ = ["online_update", "OnlineConfig", "train_online_ac"]


@twin("nb01", "nb01-online-update")
def online_update(model: nn.Module, optimizer: torch.optim.Optimizer, obs: np.ndarray, action: Any,
                  reward: float, next_obs: np.ndarray, terminated: bool, gamma: float,
                  value_coef: float = 0.5) -> dict[str, float]:
    """One step of online actor-critic on a single transition (s, a, r, s'): fit V, then step pi."""
    batch = Batch(obs=obs_tensor(np.asarray(obs)[None]), actions=torch.as_tensor(np.asarray(action)[None]),
                  rewards=torch.tensor([float(reward)]), next_obs=obs_tensor(np.asarray(next_obs)[None]),
                  terminated=torch.tensor([float(terminated)]))
    loss, stats = actor_critic_loss(model, batch, gamma, value_coef)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return stats


@dataclass(frozen=True)
class OnlineConfig:
    """Every hyperparameter of `train_online_ac`."""

    total_steps: int = 20_000
    lr: float = 1e-3
    gamma: float = 0.99
    shared: bool = False
    hidden: tuple[int, ...] = (64, 64)
    eval_every: int = 5_000
    eval_episodes: int = 5

    def __post_init__(self) -> None:
        for name in ("total_steps", "eval_every", "eval_episodes"):
            positive_int(name, getattr(self, name))
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or self.lr <= 0:
            raise ValueError(f"lr must be a number > 0, got {self.lr!r}")
        if isinstance(self.gamma, bool) or not isinstance(self.gamma, (int, float)) or not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must be a number in [0, 1], got {self.gamma!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))



@accepts_legacy_calls(OnlineConfig, ("total_steps", "seed"))
def train_online_ac(env_id: str, config: OnlineConfig, *, seed: int, update: Callable[..., Any] | None = None,
                    logger: Logger | None = None) -> tuple[nn.Module, list[HistoryRow]]:
    """Online actor-critic: one env, one update per transition (batch size 1); returns (model, history).

    `update(model, optimizer, obs, action, reward, next_obs, terminated, gamma)` does the update
    (default: `online_update`). History rows as in `train_a2c`.
    """
    cfg = config
    update = update or online_update
    seed_run(seed)
    env = gym.make(env_id)
    try:
        require_obs_space(env.observation_space, env_id)
        require_action_space(env.action_space, env_id)
        model = make_actor_critic(env.observation_space, env.action_space, cfg.shared, cfg.hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-5)
        recorder = Recorder(logger, 1)
        stats: dict[str, float] = {}
        next_eval = 0
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        for step in range(cfg.total_steps):
            if next_eval <= step:
                evaluate_greedy(recorder, model, env.action_space, env_id, cfg.eval_episodes, cfg.gamma, step, stats)
                next_eval += cfg.eval_every
            with torch.no_grad():
                action = model.dist(obs_tensor(obs[None])).sample()          # 1. a ~ pi(.|s)
            next_obs, reward, terminated, truncated, _ = env.step(env_actions(action, env.action_space)[0])
            check_rewards(step + 1, reward)
            # 2.-5. fit V on this one transition, then step pi along log pi(a|s) A
            stats = update(model, optimizer, obs, action[0].numpy(), reward, next_obs, terminated, cfg.gamma) or {}
            check_stats(step + 1, stats)
            recorder.add(reward, terminated or truncated)
            if (step + 1) % max(1, cfg.eval_every // 10) == 0:
                recorder.log_training(step + 1, stats)
            obs = env.reset()[0] if terminated or truncated else next_obs
        evaluate_greedy(recorder, model, env.action_space, env_id, cfg.eval_episodes, cfg.gamma, cfg.total_steps, stats)
        return model, recorder.rows
    finally:
        env.close()

