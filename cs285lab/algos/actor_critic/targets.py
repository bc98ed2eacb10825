"""Targets and losses of actor-critic: the TD target, GAE, and the policy + value loss.

The lecture's batch actor-critic, steps 2-4:
    2. fit V(s) to the target y = r + gamma * V(s') * (1 - terminated)
    3. advantage A(s, a) = y - V(s)
    4. policy gradient: grad J = mean grad log pi(a|s) * A(s, a)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution

from cs285lab.algos.actor_critic.networks import _dist_and_value
from cs285lab.batch import Batch
from cs285lab.twins import answer, twin

__all__ = ["td_target", "gae_advantages", "policy_value_loss", "actor_critic_loss"]


@twin("nb01", "nb01-td-target", needed_by=("nb01", "nb02"))  # GAE in train_a2c uses it
def td_target(rewards: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor,
              gamma: float) -> torch.Tensor:
    """The one-step TD target r + gamma * V(s') * (1 - terminated), shape [B], carrying no gradient.

    Only termination ends the return. A truncated episode (time limit) still has a future, so
    truncation is deliberately not an argument: its V(s') is bootstrapped like any other state.
    """
    _require_vectors("td_target", rewards=rewards, next_values=next_values, terminated=terminated)
    _require_gamma(gamma)
    with torch.no_grad():  # a regression target: the critic chases it, gradients must not flow into it
        return rewards + gamma * next_values * (1.0 - terminated.float())


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
                   terminated: torch.Tensor, done: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimates for a rollout of shape [T, N] (lam=0: one-step TD advantage).

    `done` = terminated or truncated at that step: the next row of that worker starts a new
    episode, so the sum of TD errors stops there. `terminated` alone decides the bootstrap.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"gae lambda must be in [0, 1], got {lam}")
    shape = rewards.shape
    if rewards.dim() != 2 or any(t.shape != shape for t in (values, next_values, terminated, done)):
        raise ValueError("gae_advantages needs [T, N] tensors of one shape, got "
                         f"{[tuple(t.shape) for t in (rewards, values, next_values, terminated, done)]}")
    with torch.no_grad():
        deltas = td_target(rewards.flatten(), next_values.flatten(), terminated.flatten(), gamma).view(shape)
        deltas = deltas - values
        advantages = torch.zeros_like(deltas)
        running = torch.zeros_like(deltas[0])
        for t in reversed(range(shape[0])):
            running = deltas[t] + gamma * lam * (1.0 - done[t].float()) * running
            advantages[t] = running
    return advantages


@answer("nb01", "nb01-actor-critic-loss", compare_source=False)  # assembles Exercise 6's loss; A2C and nb02 run it
def policy_value_loss(dist: Distribution, values: torch.Tensor, actions: torch.Tensor,
                      advantages: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None,
                      value_coef: float = 0.5, entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Actor-critic objective: -log pi(a|s) A  +  value_coef (V(s) - y)^2  -  entropy_coef H[pi], masked mean."""
    _require_vectors("policy_value_loss", values=values, advantages=advantages, targets=targets)
    log_probs = dist.log_prob(actions)
    if log_probs.shape != values.shape:
        raise ValueError(f"log pi(a|s) has shape {tuple(log_probs.shape)} but V(s) has {tuple(values.shape)}: "
                         "actions must be [B] (Discrete) or [B, action_dim] (Box)")
    weights = torch.ones_like(values) if mask is None else mask.float()
    weights = weights / weights.sum().clamp(min=1.0)  # mean over the valid rows only
    policy_loss = -(weights * log_probs * advantages.detach()).sum()  # ascend log pi, weighted by A
    value_loss = (weights * (values - targets.detach()).pow(2)).sum()  # regress V(s) onto y
    entropy = (weights * dist.entropy()).sum()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    stats = {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item()}
    return loss, stats


@twin("nb01", "nb01-actor-critic-loss")
def actor_critic_loss(model: nn.Module, batch: Batch | Mapping[str, Any], gamma: float,
                      value_coef: float = 0.5, entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """One batched actor-critic update's loss on transitions, with one-step TD targets; returns (loss, stats)."""
    b = Batch.of(batch)
    dist, values = _dist_and_value(model, b.obs)                      # pi(.|s), V(s)
    with torch.no_grad():
        next_values = model.value(b.next_obs)                           # V(s'), held fixed
    targets = td_target(b.rewards, next_values, b.terminated, gamma)   # y = r + gamma V(s') (1 - term)
    advantages = targets - values.detach()                             # A(s, a) = y - V(s)
    return policy_value_loss(dist, values, b.actions, advantages, targets, b.mask, value_coef, entropy_coef)


def _require_vectors(who: str, **tensors: torch.Tensor) -> None:
    sizes = {}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{who}: {name} must be a torch tensor, got {type(t).__name__} (use torch.as_tensor)")
        if t.dim() != 1:
            hint = " (squeeze(-1) the network output: [B,1] and [B] broadcast to [B,B])" if t.dim() == 2 and t.shape[-1] == 1 else ""
            raise ValueError(f"{who}: {name} must be a 1-D tensor [B], got shape {tuple(t.shape)}{hint}")
        sizes[name] = t.shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{who}: batch sizes differ: {sizes}")


def _require_gamma(gamma: float) -> None:
    if isinstance(gamma, (bool, torch.Tensor)) or not isinstance(gamma, (int, float, np.floating)) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}")
