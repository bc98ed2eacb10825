"""Actor-critic, written once: TD targets, separate and shared actor-critic networks, the batched
loss, synchronous parallel actor-critic (A2C) on a gymnasium vector env, and online actor-critic.

The lecture's batch actor-critic, step by step:
    1. sample transitions (s, a, r, s') with pi(a|s)
    2. fit V(s) to the target y = r + gamma * V(s') * (1 - terminated)
    3. advantage A(s, a) = y - V(s)
    4. policy gradient: grad J = mean grad log pi(a|s) * A(s, a)
    5. step theta along grad J
Online actor-critic is the same with a batch of one transition.

Models follow one small protocol: `dist(obs) -> Distribution`, `value(obs) -> Tensor[B]` and
`dist_and_value(obs)` (both from one forward pass). `SeparateActorCritic` and `SharedActorCritic`
implement it for vector observations (MLP) and images [C, H, W] (a small conv net).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from cs285lab.batch import Batch
from cs285lab.algos.guards import check_loss, check_params, check_rewards, check_stats, positive_int
from cs285lab.envs import evaluate
from cs285lab.nets import mlp
from cs285lab.runs import Logger, NullLogger
from cs285lab.seeding import seed_everything
from cs285lab.twins import twin

__all__ = [
    "Batch", "SeparateActorCritic", "SharedActorCritic", "PolicyHead", "ValueHead", "make_encoder",
    "make_actor_critic", "td_target", "gae_advantages", "policy_value_loss", "actor_critic_loss",
    "online_update", "make_vec_env", "collect_transitions", "train_a2c", "train_online_ac", "greedy_policy",
    "sample_actions",
]


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------

def make_encoder(obs_space: gym.spaces.Space, hidden: Sequence[int] = (64, 64)) -> tuple[nn.Module, int]:
    """Observation -> features: an MLP for vectors, a small conv net for images [C, H, W]; returns (net, size)."""
    _require_obs_space(obs_space)
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
        _require_action_space(action_space)
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
        _require_obs_space(obs_space)
        _require_action_space(action_space)
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
            action = model.dist(_obs_tensor(np.asarray(obs)[None])).mode[0]
        return _env_actions(action[None], space)[0]

    return act


# --------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------

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


@twin("nb01", "nb01-online-update")
def online_update(model: nn.Module, optimizer: torch.optim.Optimizer, obs: np.ndarray, action: Any,
                  reward: float, next_obs: np.ndarray, terminated: bool, gamma: float,
                  value_coef: float = 0.5) -> dict[str, float]:
    """One step of online actor-critic on a single transition (s, a, r, s'): fit V, then step pi."""
    batch = Batch(obs=_obs_tensor(np.asarray(obs)[None]), actions=torch.as_tensor(np.asarray(action)[None]),
                  rewards=torch.tensor([float(reward)]), next_obs=_obs_tensor(np.asarray(next_obs)[None]),
                  terminated=torch.tensor([float(terminated)]))
    loss, stats = actor_critic_loss(model, batch, gamma, value_coef)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return stats


# --------------------------------------------------------------------------------------------
# Synchronous parallel actor-critic (A2C)
# --------------------------------------------------------------------------------------------

def make_vec_env(env_id: str, num_envs: int, seed: int, vectorization: str = "sync") -> gym.vector.VectorEnv:
    """A gymnasium vector env with NEXT_STEP autoreset, workers seeded seed, seed+1, ... (reset is yours)."""
    if vectorization not in ("sync", "async"):
        raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization,
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP})
    try:
        _require_obs_space(envs.single_observation_space, env_id)
        _require_action_space(envs.single_action_space, env_id)
    except TypeError:
        envs.close()
        raise
    envs.action_space.seed(seed)
    return envs


def collect_transitions(model: nn.Module, env_id: str, num_envs: int, n_steps: int, seed: int = 0) -> Batch:
    """Run `model`'s sampled policy on `num_envs` fresh workers for `n_steps` steps; the transitions as one Batch.

    Rows of NEXT_STEP reset steps are in the batch with mask False (select with batch.mask).
    """
    _require_model(model)
    envs = make_vec_env(env_id, num_envs, seed)
    try:
        obs, _ = envs.reset(seed=seed)
        rollout, _, _ = _collect(envs, model, obs, np.zeros(num_envs, dtype=bool), n_steps, _EpisodeTracker(num_envs))
        return rollout.flat_batch()
    finally:
        envs.close()


def train_a2c(env_id: str, num_envs: int = 8, total_steps: int = 100_000, seed: int = 0, *,
              n_steps: int = 8, lr: float = 1e-3, gamma: float = 0.99, gae_lambda: float = 0.95,
              value_coef: float = 0.5, entropy_coef: float = 0.0, max_grad_norm: float = 0.5,
              normalize_advantages: bool = True, anneal_lr: bool = True, critic_steps: int = 0,
              shared: bool = False, hidden: Sequence[int] = (64, 64), model: nn.Module | None = None,
              loss_fn: Callable[..., tuple[torch.Tensor, dict]] | None = None,
              vectorization: str = "sync", logger: Logger | None = None, eval_every: int = 10_000,
              eval_episodes: int = 10, on_update: Callable[[int, int, nn.Module, Batch], None] | None = None,
              ) -> tuple[nn.Module, list[dict]]:
    """Synchronous parallel actor-critic: `num_envs` workers x `n_steps` steps per update; returns (model, history).

    Advantages: GAE(lambda) (`gae_lambda`=0 is the one-step TD advantage of the lecture, 1 the
    n-step return to the end of the rollout); the critic regresses onto advantage + V(s).
    `critic_steps` > 0 first fits V to the rollout's lambda-returns with that many critic-only
    gradient steps (step 2 of the lecture, done properly), so that the advantages come from the
    refitted critic. With `loss_fn(model, batch, gamma, value_coef, entropy_coef)` the rollout goes
    to that loss instead, as one flat `Batch` of one-step transitions (e.g. a student's
    actor_critic_loss).
    The NEXT_STEP reset step after each episode end carries no transition and is masked out.
    `history` holds one row per evaluation: env_steps, eval_return (greedy, mean over
    `eval_episodes`), train_return (sampled episodes finished since the last row), wall_s
    (wall-clock seconds since the start) and train_s (the same without the evaluations).
    Env steps count every worker step, reset steps included. The logger gets eval_return at every
    evaluation and train_return (with the loss stats) ten times as often.
    """
    logger = logger or NullLogger()
    for name, value in (("num_envs", num_envs), ("total_steps", total_steps), ("n_steps", n_steps),
                        ("eval_every", eval_every), ("eval_episodes", eval_episodes)):
        positive_int(name, value)
    if not isinstance(critic_steps, int) or critic_steps < 0:
        raise ValueError(f"critic_steps must be an int >= 0, got {critic_steps!r}")
    if critic_steps and loss_fn is not None:
        raise ValueError("critic_steps works with the built-in GAE loss only; fit the critic inside loss_fn instead")
    seed_everything(seed)
    envs = make_vec_env(env_id, num_envs, seed, vectorization)
    try:
        if model is None:
            model = make_actor_critic(envs.single_observation_space, envs.single_action_space, shared, hidden)
        _require_model(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-5, fused=True)
        steps_per_update = num_envs * n_steps
        num_updates = max(1, total_steps // steps_per_update)
        obs, _ = envs.reset(seed=seed)  # worker i gets seed + i
        prev_done = np.zeros(num_envs, dtype=bool)
        tracker = _EpisodeTracker(num_envs)
        history: list[dict] = []
        start, env_steps, next_eval = time.perf_counter(), 0, 0
        log_every = max(steps_per_update, eval_every // 10)  # training-curve points: 10 per evaluation
        next_log = log_every
        stats: dict[str, float] = {}
        for update in range(num_updates):
            if next_eval <= env_steps:
                history.append(_evaluate_row(model, envs.single_action_space, env_id, eval_episodes, env_steps,
                                             start, tracker, stats, logger))
                next_eval += eval_every
            rollout, obs, prev_done = _collect(envs, model, obs, prev_done, n_steps, tracker)  # 1. sample
            env_steps += steps_per_update
            check_rewards(env_steps, rollout.rewards[rollout.mask])
            if anneal_lr:  # linear decay to 0: late updates polish the policy instead of shaking it
                for group in optimizer.param_groups:
                    group["lr"] = lr * (1.0 - update / num_updates)
            batch = rollout.flat_batch()
            if critic_steps and batch.mask.any():                                          # 2. fit V
                _fit_critic(model, optimizer, rollout, gamma, gae_lambda, critic_steps, max_grad_norm)
            if loss_fn is None:  # 3.-5. advantages from (the refitted) V, one policy (+ critic) step
                loss, stats = _gae_loss(model, rollout, gamma, gae_lambda, value_coef, entropy_coef,
                                        normalize_advantages)
            else:
                loss, stats = loss_fn(model, batch, gamma, value_coef, entropy_coef)
            check_loss(env_steps, loss)
            if batch.mask.any():  # a rollout of only reset steps (n_steps=1) has nothing to learn from
                optimizer.zero_grad()
                loss.backward()
                if max_grad_norm:
                    nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
            if env_steps >= next_log:
                tracker.log_training(logger, env_steps, stats)
                next_log += log_every
            if on_update is not None:
                on_update(update, env_steps, model, batch)
        history.append(_evaluate_row(model, envs.single_action_space, env_id, eval_episodes, env_steps,
                                     start, tracker, stats, logger))
        return model, history
    finally:
        envs.close()


def train_online_ac(env_id: str, total_steps: int = 20_000, seed: int = 0, *, lr: float = 1e-3,
                    gamma: float = 0.99, shared: bool = False,
                    hidden: Sequence[int] = (64, 64), update: Callable[..., Any] | None = None,
                    logger: Logger | None = None, eval_every: int = 5_000, eval_episodes: int = 5,
                    ) -> tuple[nn.Module, list[dict]]:
    """Online actor-critic: one env, one update per transition (batch size 1); returns (model, history).

    `update(model, optimizer, obs, action, reward, next_obs, terminated, gamma)` does the update
    (default: `online_update`). History rows as in `train_a2c`.
    """
    logger = logger or NullLogger()
    for name, value in (("total_steps", total_steps), ("eval_every", eval_every), ("eval_episodes", eval_episodes)):
        positive_int(name, value)
    update = update or online_update
    seed_everything(seed)
    env = gym.make(env_id)
    try:
        _require_obs_space(env.observation_space, env_id)
        _require_action_space(env.action_space, env_id)
        model = make_actor_critic(env.observation_space, env.action_space, shared, hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-5)
        tracker = _EpisodeTracker(1)
        history: list[dict] = []
        start, next_eval, stats = time.perf_counter(), 0, {}
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        for step in range(total_steps):
            if next_eval <= step:
                history.append(_evaluate_row(model, env.action_space, env_id, eval_episodes, step, start, tracker,
                                             stats, logger))
                next_eval += eval_every
            with torch.no_grad():
                action = model.dist(_obs_tensor(obs[None])).sample()          # a ~ pi(.|s)
            env_action = _env_actions(action, env.action_space)[0]
            next_obs, reward, terminated, truncated, _ = env.step(env_action)  # (s, a, r, s')
            check_rewards(step + 1, reward)
            stats = update(model, optimizer, obs, action[0].numpy(), reward, next_obs, terminated, gamma) or {}
            check_stats(step + 1, stats)
            tracker.add(np.array([reward]), np.array([terminated or truncated]))
            if (step + 1) % max(1, eval_every // 10) == 0:
                tracker.log_training(logger, step + 1, stats)
            obs = env.reset()[0] if terminated or truncated else next_obs
        history.append(_evaluate_row(model, env.action_space, env_id, eval_episodes, total_steps, start, tracker,
                                     stats, logger))
        return model, history
    finally:
        env.close()


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------

@dataclass
class _Rollout:
    """n_steps x num_envs transitions; obs has one extra row (the observation after the last step)."""

    obs: torch.Tensor         # [T + 1, N, *obs_shape]
    actions: torch.Tensor     # [T, N, ...]
    rewards: torch.Tensor     # [T, N]
    terminated: torch.Tensor  # [T, N]
    done: torch.Tensor        # [T, N] terminated or truncated
    mask: torch.Tensor        # [T, N] False on NEXT_STEP reset steps

    def advantages(self, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
        """GAE(lambda) advantages [T, N] from V at every row of obs, values [T + 1, N]."""
        return gae_advantages(self.rewards, values[:-1], values[1:], self.terminated, self.done, gamma, lam)

    def flat_batch(self) -> Batch:
        """The rollout as B = T * N one-step transitions."""
        flat = lambda x: x.flatten(0, 1)  # noqa: E731
        return Batch(obs=flat(self.obs[:-1]), actions=flat(self.actions), rewards=flat(self.rewards),
                     next_obs=flat(self.obs[1:]), terminated=flat(self.terminated), mask=flat(self.mask))


def _collect(envs: gym.vector.VectorEnv, model: nn.Module, obs: np.ndarray, prev_done: np.ndarray,
             n_steps: int, tracker: _EpisodeTracker) -> tuple[_Rollout, np.ndarray, np.ndarray]:
    """Step every worker n_steps times with the current policy."""
    obs_rows, actions, rewards, terminated, done, mask = [obs], [], [], [], [], []
    for _ in range(n_steps):
        with torch.no_grad():
            action = sample_actions(model.dist(_obs_tensor(obs)))
        obs, reward, term, trunc, _ = envs.step(_env_actions(action, envs.single_action_space))
        # NEXT_STEP autoreset: where the previous step ended an episode, this step only reset the
        # worker (action ignored, reward 0): it is not a transition of the MDP.
        mask.append(~prev_done)
        prev_done = term | trunc
        tracker.add(reward, prev_done)
        obs_rows.append(obs)
        actions.append(action)
        rewards.append(reward)
        terminated.append(term)
        done.append(prev_done)
    as_t = lambda rows, dtype: torch.as_tensor(np.stack(rows), dtype=dtype)  # noqa: E731
    rollout = _Rollout(obs=_obs_tensor(np.stack(obs_rows)), actions=torch.stack(actions),
                       rewards=as_t(rewards, torch.float32), terminated=as_t(terminated, torch.float32),
                       done=as_t(done, torch.float32), mask=as_t(mask, torch.bool))
    return rollout, obs, prev_done


def _fit_critic(model: nn.Module, optimizer: torch.optim.Optimizer, rollout: _Rollout, gamma: float,
                lam: float, steps: int, max_grad_norm: float) -> None:
    """Regress V(s) onto the rollout's lambda-returns (computed once, held fixed) for `steps` steps."""
    T, N = rollout.rewards.shape
    with torch.no_grad():
        values = model.value(rollout.obs.flatten(0, 1)).view(T + 1, N)
        targets = (rollout.advantages(values, gamma, lam) + values[:-1]).flatten()
    mask = rollout.mask.flatten()
    obs, targets = rollout.obs[:-1].flatten(0, 1)[mask], targets[mask]
    for _ in range(steps):
        optimizer.zero_grad()  # parameters V does not use keep grad None: the optimizer skips them
        (model.value(obs) - targets).pow(2).mean().backward()
        if max_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()


def _gae_loss(model: nn.Module, rollout: _Rollout, gamma: float, lam: float, value_coef: float,
              entropy_coef: float, normalize: bool) -> tuple[torch.Tensor, dict[str, float]]:
    """The A2C loss on a rollout with GAE(lambda) advantages and lambda-return value targets."""
    T, N = rollout.rewards.shape
    dist, values = _dist_and_value(model, rollout.obs[:-1].flatten(0, 1))   # pi(.|s_t), V(s_t)
    with torch.no_grad():
        last_values = model.value(rollout.obs[-1])                          # V(s_T)
        all_values = torch.cat([values.detach().view(T, N), last_values[None]])
    advantages = rollout.advantages(all_values, gamma, lam).flatten()
    targets = advantages + values.detach()                                  # lambda-return for the critic
    mask = rollout.mask.flatten()
    if normalize and mask.sum() > 1:  # one scale for the policy step whatever the reward scale
        valid = advantages[mask]
        advantages = (advantages - valid.mean()) / (valid.std() + 1e-8)
    return policy_value_loss(dist, values, rollout.actions.flatten(0, 1), advantages, targets, mask,
                             value_coef, entropy_coef)


class _EpisodeTracker:
    """Undiscounted returns of the training episodes, per worker (and the time spent evaluating)."""

    def __init__(self, num_envs: int) -> None:
        self.running = np.zeros(num_envs)
        self.finished: list[float] = []   # since the last history row
        self.unlogged: list[float] = []   # since the last training-curve point
        self.eval_s = 0.0  # seconds spent evaluating, so that train_s can leave them out

    def add(self, rewards: np.ndarray, done: np.ndarray) -> None:
        self.running += rewards
        self.finished.extend(self.running[done].tolist())
        self.unlogged.extend(self.running[done].tolist())
        self.running[done] = 0.0

    def log_training(self, logger: Logger, env_steps: int, stats: dict[str, float]) -> None:
        """A point of the training curve: mean return of the episodes finished since the last one."""
        if self.unlogged:
            logger.log(env_steps, train_return=float(np.mean(self.unlogged)), **stats)
            self.unlogged = []

    def pop_mean(self) -> float:
        mean = float(np.mean(self.finished)) if self.finished else float("nan")
        self.finished = []
        return mean


def _evaluate_row(model: nn.Module, action_space: gym.spaces.Space, env_id: str, episodes: int, env_steps: int, start: float,
                  tracker: _EpisodeTracker, stats: dict[str, float], logger: Logger) -> dict:
    """One history row: greedy evaluation now, plus training statistics; logged and returned."""
    check_params(env_steps, model)
    began = time.perf_counter()
    eval_return = evaluate(greedy_policy(model, action_space), env_id, episodes=episodes) if episodes > 0 else float("nan")
    tracker.eval_s += time.perf_counter() - began
    wall = time.perf_counter() - start
    row = {"env_steps": env_steps, "eval_return": eval_return, "train_return": tracker.pop_mean(),
           "wall_s": wall, "train_s": wall - tracker.eval_s, **stats}
    logger.log(env_steps, eval_return=eval_return, train_s=row["train_s"])  # training points come from log_training
    return row


def sample_actions(dist: Distribution) -> torch.Tensor:
    """a ~ dist; a Categorical is sampled by the Gumbel-max trick (same distribution, a third of the cost)."""
    if isinstance(dist, Categorical):  # argmax(logits + Gumbel noise), Gumbel = -log(Exp(1))
        return (dist.logits - torch.empty_like(dist.logits).exponential_().log_()).argmax(-1)
    return dist.sample()


def _obs_tensor(obs: np.ndarray) -> torch.Tensor:
    """Env observations as the float tensor every model takes (images are scaled to [0, 1] first)."""
    obs = np.asarray(obs)
    if obs.dtype == np.uint8:
        return torch.as_tensor(obs, dtype=torch.float32) / 255.0
    return torch.as_tensor(obs, dtype=torch.float32)


def _dist_and_value(model: nn.Module, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
    """pi(.|s) and V(s), in one pass when the model offers it."""
    both = getattr(model, "dist_and_value", None)
    return both(obs) if both is not None else (model.dist(obs), model.value(obs))


def _env_actions(actions: torch.Tensor, space: gym.spaces.Space) -> np.ndarray:
    """Sampled actions as the env wants them: ints, or floats clipped to the Box bounds."""
    if isinstance(space, gym.spaces.Discrete):
        return actions.numpy().astype(np.int64)
    # The unclipped sample is what pi produced (and what log pi is evaluated at); only the env sees the clip.
    return np.clip(actions.numpy(), space.low, space.high).astype(space.dtype)


def _require_model(model: Any) -> None:
    missing = [m for m in ("dist", "value", "parameters") if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"model must be an nn.Module with dist(obs) and value(obs); {type(model).__name__} "
                        f"lacks {missing}")


def _require_obs_space(space: gym.spaces.Space, who: str = "actor-critic") -> None:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) not in (1, 3):
        raise TypeError(f"{who}: needs Box observations that are vectors [D] or images [C, H, W], got {space}. "
                        "Flatten dict/tuple observations (gymnasium.wrappers.FlattenObservation) and "
                        "move image channels first")


def _require_action_space(space: gym.spaces.Space, who: str = "actor-critic") -> None:
    if isinstance(space, gym.spaces.Discrete):
        return
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return
    raise TypeError(f"{who}: needs Discrete actions or 1-D Box actions, got {space}")


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
