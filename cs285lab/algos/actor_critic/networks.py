"""Actor-critic networks: an encoder (MLP for vectors, a small conv net for images), policy and value
heads, and the two architectures of the lecture: separate networks, or one shared trunk with two heads.

Models follow one small protocol: `dist(obs) -> Distribution`, `value(obs) -> Tensor[B]` and
`dist_and_value(obs)` (both from one forward pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from cs285lab.envs.spaces import env_actions, obs_tensor, require_action_space, require_obs_space
from cs285lab.nets import mlp, sample_actions
from cs285lab.twins import twin

__all__ = ["make_encoder", "PolicyHead", "ValueHead", "SeparateActorCritic", "SharedActorCritic",
           "make_actor_critic", "greedy_policy", "sample_actions"]


def make_encoder(obs_space: gym.spaces.Space, hidden: Sequence[int] = (64, 64)) -> tuple[nn.Module, int]:
    """Observation -> features: an MLP for vectors, a small conv net for images [C, H, W]; returns (net, size)."""
    require_obs_space(obs_space)
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) <= 0:
        raise ValueError(f"hidden must be a non-empty sequence of positive sizes, got {hidden}")
    shape = obs_space.shape
    if len(shape) == 1:
        net = nn.Sequential(mlp(shape[0], hidden[-1], hidden[:-1]), nn.Tanh())
    else:
        channels = shape[0]
        conv = nn.Sequential(  # two stride-2 convs: H x W -> H/2 x W/2 -> H/4 x W/4
            nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            flat = conv(torch.zeros(1, *shape)).shape[1]
        net = nn.Sequential(conv, nn.Linear(flat, hidden[-1]), nn.ReLU())
    for layer in net.modules():  # orthogonal init keeps activations well scaled from the first update
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, math.sqrt(2))
            nn.init.zeros_(layer.bias)
    return net, hidden[-1]


class PolicyHead(nn.Module):
    """Features -> pi(.|s): Categorical over logits (Discrete) or a diagonal Gaussian (Box)."""

    def __init__(self, in_dim: int, action_space: gym.spaces.Space) -> None:
        super().__init__()
        require_action_space(action_space)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        out = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.out = nn.Linear(in_dim, out)
        nn.init.orthogonal_(self.out.weight, 0.01)  # small logits/means: the first policy is near uniform
        nn.init.zeros_(self.out.bias)
        # State-independent log std: the usual choice for on-policy Gaussian policies.
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(out))

    def forward(self, features: torch.Tensor) -> Distribution:
        """The action distribution for a batch of features [B, in_dim]."""
        if self.discrete:
            return Categorical(logits=self.out(features), validate_args=False)
        mean = self.out(features)
        std = self.log_std.exp().expand_as(mean)
        # Independent sums log-probs over action dimensions: log_prob(a) has shape [B], not [B, A].
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)


class ValueHead(nn.Module):
    """Features -> V(s), shape [B] (the trailing size-1 dimension squeezed away)."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.out = nn.Linear(in_dim, 1)
        nn.init.orthogonal_(self.out.weight, 1.0)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """V(s) for a batch of features."""
        return self.out(features).squeeze(-1)


class _ActorCritic(nn.Module):
    """Shared plumbing: observation checks and conversion, greedy/sampled actions."""

    def __init__(self, obs_space: gym.spaces.Space, action_space: gym.spaces.Space) -> None:
        super().__init__()
        require_obs_space(obs_space)
        require_action_space(action_space)
        self.obs_shape = tuple(obs_space.shape)
        self.action_space = action_space

    def prepare(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Observations as a float tensor [B, *obs_shape]; a clear error for a wrong shape or type."""
        if isinstance(obs, np.ndarray):
            obs = torch.from_numpy(obs)
        if not isinstance(obs, torch.Tensor):
            raise TypeError(f"observations must be a torch tensor or numpy array, got {type(obs).__name__}")
        if obs.dtype.is_complex or obs.dtype == torch.bool:
            raise TypeError(f"observations must be real numbers, got dtype {obs.dtype}")
        if tuple(obs.shape[1:]) != self.obs_shape:
            if tuple(obs.shape) == self.obs_shape:
                raise ValueError(f"got one observation of shape {tuple(obs.shape)}; pass a batch "
                                 f"[B, {', '.join(map(str, self.obs_shape))}] (e.g. obs[None])")
            raise ValueError(f"observations have shape {tuple(obs.shape)}, expected [B, "
                             f"{', '.join(map(str, self.obs_shape))}]")
        return obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float()  # uint8 pixels -> [0, 1]

    def dist(self, obs: torch.Tensor | np.ndarray) -> Distribution:
        """pi(.|s) for a batch of observations."""
        return self.dist_and_value(obs)[0]

    def value(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """V(s) for a batch of observations, shape [B]."""
        return self.dist_and_value(obs)[1]

    def dist_and_value(self, obs: torch.Tensor | np.ndarray) -> tuple[Distribution, torch.Tensor]:
        """pi(.|s) and V(s) in one call."""
        raise NotImplementedError

    def forward(self, obs: torch.Tensor | np.ndarray) -> tuple[Distribution, torch.Tensor]:
        """Same as dist_and_value."""
        return self.dist_and_value(obs)


@twin("nb01", "nb01-architectures", needed_by=("nb01", "nb02"))  # train_online_ac, train_a2c build it
class SeparateActorCritic(_ActorCritic):
    """Two networks, nothing shared: an actor pi(a|s) and a critic V(s)."""

    def __init__(self, obs_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__(obs_space, action_space)
        actor_body, size = make_encoder(obs_space, hidden)
        critic_body, _ = make_encoder(obs_space, hidden)
        self.actor = nn.Sequential(actor_body, PolicyHead(size, action_space))
        self.critic = nn.Sequential(critic_body, ValueHead(size))

    def dist(self, obs: torch.Tensor | np.ndarray) -> Distribution:
        """pi(.|s): the actor network alone."""
        return self.actor(self.prepare(obs))

    def value(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """V(s): the critic network alone, shape [B]."""
        return self.critic(self.prepare(obs))

    def dist_and_value(self, obs: torch.Tensor | np.ndarray) -> tuple[Distribution, torch.Tensor]:
        """pi(.|s) and V(s) from the two networks."""
        x = self.prepare(obs)
        return self.actor(x), self.critic(x)


@twin("nb01", "nb01-architectures", needed_by=("nb01", "nb02"))
class SharedActorCritic(_ActorCritic):
    """One trunk, two heads: the value loss and the policy loss both train the trunk."""

    def __init__(self, obs_space: gym.spaces.Space, action_space: gym.spaces.Space,
                 hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__(obs_space, action_space)
        self.trunk, size = make_encoder(obs_space, hidden)
        self.policy_head = PolicyHead(size, action_space)
        self.value_head = ValueHead(size)

    def dist(self, obs: torch.Tensor | np.ndarray) -> Distribution:
        """pi(.|s): trunk then policy head."""
        return self.policy_head(self.trunk(self.prepare(obs)))

    def value(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """V(s): trunk then value head, shape [B]."""
        return self.value_head(self.trunk(self.prepare(obs)))

    def dist_and_value(self, obs: torch.Tensor | np.ndarray) -> tuple[Distribution, torch.Tensor]:
        """pi(.|s) and V(s) from one pass through the trunk."""
        features = self.trunk(self.prepare(obs))
        return self.policy_head(features), self.value_head(features)


def make_actor_critic(obs_space: gym.spaces.Space, action_space: gym.spaces.Space, shared: bool = False,
                      hidden: Sequence[int] = (64, 64)) -> nn.Module:
    """Build a SharedActorCritic (shared=True) or a SeparateActorCritic for these spaces."""
    cls = SharedActorCritic if shared else SeparateActorCritic
    return cls(obs_space, action_space, hidden)


def greedy_policy(model: nn.Module, action_space: gym.spaces.Space) -> Callable[[np.ndarray], np.ndarray]:
    """A policy for `cs285lab.envs.evaluate`: the most likely action (Gaussian: the mean, clipped)."""
    space = action_space

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            action = model.dist(obs_tensor(np.asarray(obs)[None])).mode[0]
        return env_actions(action[None], space)[0]

    return act


def _dist_and_value(model: nn.Module, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
    """pi(.|s) and V(s), in one pass when the model offers it."""
    both = getattr(model, "dist_and_value", None)
    return both(obs) if both is not None else (model.dist(obs), model.value(obs))


def _require_model(model: Any) -> None:
    missing = [m for m in ("dist", "value", "parameters") if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"model must be an nn.Module with dist(obs) and value(obs); {type(model).__name__} "
                        f"lacks {missing}")
