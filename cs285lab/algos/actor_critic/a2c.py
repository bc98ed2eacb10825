"""Synchronous parallel actor-critic (A2C): N workers x n_steps per update, one config dataclass.

The lecture's batch actor-critic, step by step, as `train_a2c` runs it:
    1. sample transitions (s, a, r, s') with pi(a|s)        collect_rollout -> collect_step, n_steps times
    2. fit V(s) to the target                                critic_steps > 0: regression steps first
    3. advantage A(s, a)                                     GAE(lambda), or y - V(s) ("one_step")
    4. policy gradient: grad J = mean grad log pi(a|s) * A
    5. step theta along grad J                               one Adam step on policy + value loss
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from cs285lab.algos.actor_critic.networks import _dist_and_value, _require_model, greedy_policy, make_actor_critic
from cs285lab.algos.actor_critic.rollout import RecordEpisodes, Rollout, collect_rollout
from cs285lab.algos.actor_critic.targets import actor_critic_loss, policy_value_loss
from cs285lab.algos.guards import check_loss, check_params, check_rewards, positive_int
from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.algos.probes import actor_critic_statistics, probed_evaluation
from cs285lab.batch import Batch
from cs285lab.envs import EVAL_SEED
from cs285lab.envs.vector import make_vec_env
from cs285lab.record import HistoryRow, Logger, Recorder
from cs285lab.seeding import seed_run

__all__ = ["A2CConfig", "train_a2c", "evaluate_greedy", "ADVANTAGES"]

ADVANTAGES = ("gae", "one_step")


@dataclass(frozen=True)
class A2CConfig:
    """Every hyperparameter of `train_a2c`.

    advantage: "gae" is the built-in loss: GAE(lambda) advantages (`gae_lambda`=0 is the one-step TD
    advantage, 1 the n-step return to the end of the rollout), normalized per batch when
    `normalize_advantages`, the critic regressing onto advantage + V(s), and with `critic_steps` > 0
    that many critic-only regression steps first (step 2 done properly). "one_step" hands the rollout
    to a loss function as one flat Batch of one-step transitions (default `actor_critic_loss`);
    gae_lambda, normalize_advantages and critic_steps do not apply to it.
    """

    num_envs: int = 8
    total_steps: int = 100_000
    n_steps: int = 8
    lr: float = 1e-3
    gamma: float = 0.99
    advantage: str = "gae"
    gae_lambda: float = 0.95
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    anneal_lr: bool = True
    critic_steps: int = 0
    shared: bool = False
    hidden: tuple[int, ...] = (64, 64)
    vectorization: str = "sync"
    eval_every: int = 10_000
    eval_episodes: int = 10

    def __post_init__(self) -> None:
        for name in ("num_envs", "total_steps", "n_steps", "eval_every", "eval_episodes"):
            positive_int(name, getattr(self, name))
        positive_int("critic_steps", self.critic_steps, minimum=0)
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if self.critic_steps and self.advantage != "gae":
            raise ValueError("critic_steps works with the built-in GAE loss only (advantage='gae')")
        for name, low, high in (("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
        for name in ("lr", "value_coef", "entropy_coef", "max_grad_norm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (name == "lr" and value == 0):
                raise ValueError(f"{name} must be a number {'> 0' if name == 'lr' else '>= 0'}, got {value!r}")
        if self.vectorization not in ("sync", "async"):
            raise ValueError(f"vectorization must be 'sync' or 'async', got {self.vectorization!r}")
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence) or not self.hidden:
            raise ValueError(f"hidden must be a non-empty sequence of layer widths, got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))



def _one_step_with_a_loss_fn(keywords: Any) -> dict[str, Any]:
    """What an older call without a config meant by passing a loss_fn: the one-step loss it hands the rollout to."""
    return {"advantage": "one_step"} if keywords.get("loss_fn") is not None else {}


@accepts_legacy_calls(A2CConfig, ("num_envs", "total_steps", "seed"), defaults=_one_step_with_a_loss_fn)
def train_a2c(env_id: str, config: A2CConfig, *, seed: int, model: nn.Module | None = None,
              loss_fn: Callable[..., tuple[torch.Tensor, dict]] | None = None, logger: Logger | None = None,
              on_update: Callable[[int, int, nn.Module, Batch], None] | None = None) -> tuple[nn.Module, list[HistoryRow]]:
    """Synchronous parallel actor-critic, the whole run described by `config`; returns (model, history).

    With advantage="one_step", `loss_fn(model, batch, gamma, value_coef, entropy_coef)` is the loss
    (default `actor_critic_loss`). The NEXT_STEP reset step after each episode end carries no
    transition and is masked out. `history` holds one `cs285lab.record` row per evaluation (step,
    eval_return: greedy, mean over `eval_episodes`, train_return, wall_s, train_s, train_cpu_s, and the
    last update's loss stats). Env steps count every worker step, reset steps included. The logger gets
    every row and training-curve points (train_return with the loss stats) ten times as often.
    """
    cfg = config
    if loss_fn is not None and cfg.advantage == "gae":
        raise ValueError("loss_fn replaces the built-in GAE loss: use advantage='one_step' with a loss_fn")
    loss_fn = loss_fn or actor_critic_loss
    seed_run(seed)
    envs = make_vec_env(env_id, cfg.num_envs, seed, cfg.vectorization)
    try:
        if model is None:
            model = make_actor_critic(envs.single_observation_space, envs.single_action_space, cfg.shared, cfg.hidden)
        _require_model(model)
        return model, _train(envs, env_id, model, cfg, seed, loss_fn, logger, on_update)
    finally:
        envs.close()


def _train(envs: Any, env_id: str, model: nn.Module, cfg: A2CConfig, seed: int, loss_fn: Callable[..., Any],
           logger: Logger | None, on_update: Callable[..., None] | None) -> list[HistoryRow]:
    """The training loop of train_a2c on built workers and model."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-5, fused=True)
    recorder = Recorder(logger, cfg.num_envs)
    envs = RecordEpisodes(envs, recorder)  # training episodes' returns, as the workers step
    steps_per_update = cfg.num_envs * cfg.n_steps
    num_updates = max(1, cfg.total_steps // steps_per_update)
    obs, _ = envs.reset(seed=seed)  # worker i gets seed + i
    prev_done = np.zeros(cfg.num_envs, dtype=bool)
    env_steps, next_eval = 0, 0
    log_every = max(steps_per_update, cfg.eval_every // 10)  # training-curve points: 10 per evaluation
    next_log = log_every
    stats: dict[str, float] = {}
    grad_norm_max = 0.0  # the largest gradient norm (before clipping) since the last history row
    for update in range(num_updates):
        if next_eval <= env_steps:
            evaluate_greedy(recorder, model, envs.single_action_space, env_id, cfg.eval_episodes, cfg.gamma, env_steps,
                            stats, **({"grad_norm_max": grad_norm_max} if cfg.max_grad_norm and env_steps else {}))
            next_eval, grad_norm_max = next_eval + cfg.eval_every, 0.0
        rollout, obs, prev_done = collect_rollout(envs, model, obs, prev_done, cfg.n_steps)  # 1. sample
        env_steps += steps_per_update
        check_rewards(env_steps, rollout.rewards[rollout.mask])
        if cfg.anneal_lr:  # linear decay to 0: late updates polish the policy instead of shaking it
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * (1.0 - update / num_updates)
        batch = rollout.flat_batch()
        if cfg.advantage == "gae":
            if cfg.critic_steps and batch.mask.any():                                          # 2. fit V
                _fit_critic(model, optimizer, rollout, cfg.gamma, cfg.gae_lambda, cfg.critic_steps, cfg.max_grad_norm)
            # 3.-5. advantages from (the refitted) V, one policy (+ critic) step
            loss, stats = _gae_loss(model, rollout, cfg.gamma, cfg.gae_lambda, cfg.value_coef, cfg.entropy_coef,
                                    cfg.normalize_advantages)
        else:
            loss, stats = loss_fn(model, batch, cfg.gamma, cfg.value_coef, cfg.entropy_coef)
        check_loss(env_steps, loss)
        if batch.mask.any():  # a rollout of only reset steps (n_steps=1) has nothing to learn from
            optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm:
                grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                grad_norm_max = max(grad_norm_max, float(grad_norm))
            optimizer.step()
        if env_steps >= next_log:
            recorder.log_training(env_steps, stats)
            next_log += log_every
        if on_update is not None:
            on_update(update, env_steps, model, batch)
    evaluate_greedy(recorder, model, envs.single_action_space, env_id, cfg.eval_episodes, cfg.gamma, env_steps, stats,
                    **({"grad_norm_max": grad_norm_max} if cfg.max_grad_norm and env_steps else {}))
    return recorder.rows


def evaluate_greedy(recorder: Recorder, model: nn.Module, action_space: gym.Space, env_id: str, episodes: int,
                    gamma: float, step: int, stats: Mapping[str, float] | None = None, seed: int = EVAL_SEED,
                    **extra: float) -> None:
    """One history row at `step`: the greedy policy's mean return over `episodes` fixed-seed episodes (EVAL_SEED on),
    what the evaluation shows of the critic and the policy (cs285lab.algos.probes), `extra`, and the last update's
    statistics. Every actor-critic trainer evaluates this way."""
    check_params(step, model)
    probed_evaluation(recorder, step, greedy_policy(model, action_space), env_id, episodes,
                      lambda played: actor_critic_statistics(model, played, gamma, action_space), stats, seed, **extra)


def _fit_critic(model: nn.Module, optimizer: torch.optim.Optimizer, rollout: Rollout, gamma: float,
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


def _gae_loss(model: nn.Module, rollout: Rollout, gamma: float, lam: float, value_coef: float,
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
