"""The lecture's first attempt at an off-policy actor-critic: the batch actor-critic fed from a replay buffer.

    1. take a ~ pi_theta(a|s), get (s, a, r, s'), store it in the buffer R
    2. sample a batch {s_i, a_i, r_i, s'_i} from R
    3. fit V_phi(s_i) to y_i = r_i + gamma V_phi(s'_i)
    4. A_i = r_i + gamma V_phi(s'_i) - V_phi(s_i)
    5. grad J = 1/N sum_i grad log pi_theta(a_i|s_i) A_i
    6. theta <- theta + alpha grad J

Notebook 03 asks students to judge each step themselves, so nothing here says which steps are
sound; cs285lab.algos.offpolicy_fixes switches the lecture's fixes on one at a time (its `AblationAC` with both
switches off and no slow critic copy is this algorithm, and trains it: tests/test_offpolicy_fixes.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cs285lab.algos.offpolicy_fixes import AblationConfig, ActsWithActor
from cs285lab.algos.sac import SquashedGaussianActor
from cs285lab.batch import Batch
from cs285lab.nets import mlp
from cs285lab.seeding import seeded_init


class NaiveOffPolicyAC(ActsWithActor):
    """A V critic and a squashed Gaussian actor, both trained on batches from the replay buffer."""

    def __init__(self, obs_dim: int, act_dim: int, action_low: np.ndarray, action_high: np.ndarray,
                 config: AblationConfig, seed: int | None = None) -> None:
        """The networks and optimizers of `config` (the ablation's config: hidden sizes, step size, discount)."""
        self.config = config
        self.obs_dim = int(obs_dim)
        with seeded_init(seed):  # the networks from `seed` if given, else from the global generator
            self.actor = SquashedGaussianActor(obs_dim, act_dim, config.hidden, np.asarray(action_low, np.float32),
                                               np.asarray(action_high, np.float32))
            self.value = mlp(obs_dim, 1, config.hidden, activation=nn.ReLU)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=config.lr)

    @torch.no_grad()
    def value_estimate(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """V(s) [N] (the evaluation probes compare it with the returns)."""
        return self.value(obs).squeeze(-1)

    def networks(self) -> dict[str, nn.Module]:
        """The critic and the actor, for the evaluation probes (cs285lab.algos.probes)."""
        return {"critic": self.value, "actor": self.actor}

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


__all__ = ["NaiveOffPolicyAC"]
