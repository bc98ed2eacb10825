"""The lecture's first attempt at an off-policy actor-critic: the batch actor-critic fed from a replay buffer.

    1. take a ~ pi_theta(a|s), get (s, a, r, s'), store it in the buffer R
    2. sample a batch {s_i, a_i, r_i, s'_i} from R
    3. fit V_phi(s_i) to y_i = r_i + gamma V_phi(s'_i)
    4. A_i = r_i + gamma V_phi(s'_i) - V_phi(s_i)
    5. grad J = 1/N sum_i grad log pi_theta(a_i|s_i) A_i
    6. theta <- theta + alpha grad J

Notebook 03 asks students to judge each step themselves, so nothing here says which steps are
sound; cs285lab.algos.offpolicy_fixes switches the lecture's fixes on one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cs285lab.algos.configs import Overridable
from cs285lab.algos.off_policy import run_off_policy
from cs285lab.algos.sac import SquashedGaussianActor
from cs285lab.seeding import seeded_init
from cs285lab.batch import Batch
from cs285lab.envs.continuous import make_env
from cs285lab.nets import mlp
from cs285lab.record import HistoryRow, Logger
from cs285lab.seeding import seed_run


@dataclass
class NaiveConfig(Overridable):
    """Hyperparameters of the naive off-policy actor-critic (same sizes as SACConfig's defaults)."""

    hidden: tuple[int, ...] = (64, 64)
    lr: float = 3e-3
    gamma: float = 0.99
    batch_size: int = 128
    learning_starts: int = 500
    buffer_size: int = 1_000_000


class ActsWithActor:
    """`act` for an agent with a squashed Gaussian `actor` and an `obs_dim` (shared by the off-policy agents)."""

    actor: SquashedGaussianActor
    obs_dim: int

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """One action for obs [obs_dim] or a batch [N, obs_dim]."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        if x.shape[-1] != self.obs_dim or x.ndim not in (1, 2):
            raise ValueError(f"act: expected obs of shape [{self.obs_dim}] or [N, {self.obs_dim}], got {tuple(x.shape)}")
        return self.actor(x, deterministic=deterministic)[0].numpy()


class NaiveOffPolicyAC(ActsWithActor):
    """A V critic and a squashed Gaussian actor, both trained on batches from the replay buffer."""

    def __init__(self, obs_dim: int, act_dim: int, action_low: np.ndarray, action_high: np.ndarray,
                 config: NaiveConfig | None = None, seed: int | None = None) -> None:
        self.config = config = config or NaiveConfig()
        self.obs_dim = int(obs_dim)
        with seeded_init(seed):  # the networks from `seed` if given, else from the global generator
            self.actor = SquashedGaussianActor(obs_dim, act_dim, config.hidden, np.asarray(action_low, np.float32),
                                               np.asarray(action_high, np.float32))
            self.value = mlp(obs_dim, 1, config.hidden, activation=nn.ReLU)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=config.lr)

    def update(self, batch: Batch) -> dict[str, float]:
        """Steps 3-6 of the naive algorithm on one batch from the buffer."""
        v = self.value(batch.obs).squeeze(-1)
        with torch.no_grad():
            next_v = self.value(batch.next_obs).squeeze(-1)
            y = batch.rewards + self.config.gamma * (1.0 - batch.terminated) * next_v
        # 3. fit V(s_i) to the targets y_i
        value_loss = ((v - y) ** 2).mean()
        self.value_opt.zero_grad(set_to_none=True)
        value_loss.backward()
        self.value_opt.step()
        # 4. the advantage A(s_i, a_i)
        advantage = (y - v.detach())
        # 5.-6. the policy gradient step, log pi(a_i|s_i) weighted by A(s_i, a_i)
        actor_loss = -(self.actor.log_prob(batch.obs, batch.actions) * advantage).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        return {"value_loss": value_loss.item(), "actor_loss": actor_loss.item()}


def train_naive(env_id: str, total_steps: int, seed: int, config: NaiveConfig | None = None, *,
                logger: Logger | None = None, eval_every: int = 1000,
                eval_episodes: int = 10) -> tuple[NaiveOffPolicyAC, list[HistoryRow]]:
    """Train the naive off-policy actor-critic with the same loop (and buffer) as train_sac."""
    seed_run(seed)
    config = config or NaiveConfig()
    env = make_env(env_id, who="the naive off-policy actor-critic")
    agent = NaiveOffPolicyAC(env.observation_space.shape[0], env.action_space.shape[0], env.action_space.low,
                             env.action_space.high, config)
    history = run_off_policy(agent, env, env_id, total_steps, seed, batch_size=config.batch_size,
                             learning_starts=config.learning_starts, buffer_size=config.buffer_size,
                             logger=logger, eval_every=eval_every, eval_episodes=eval_episodes)
    return agent, history

