"""Asynchronous parallel actor-critic, the learner: it takes `batch_size` transitions from whichever workers
delivered, makes one update, publishes the parameters, and records the policy lag of every transition.

Configured by one dataclass, `AsyncConfig`; `train_async` runs it (workers in `workers.py`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from cs285lab.algos.actor_critic.a2c import A2CConfig, evaluate_greedy
from cs285lab.algos.actor_critic.networks import make_actor_critic
from cs285lab.algos.actor_critic.targets import policy_value_loss, td_target
from cs285lab.algos.guards import check_loss, positive_int
from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.algos.parallel.workers import ParameterServer, Stall, Transition, Worker
from cs285lab.batch import Batch
from cs285lab.envs.spaces import require_vector_obs
from cs285lab.record import HistoryRow, Logger, Recorder
from cs285lab.seeding import seed_run
from cs285lab.twins import answer, twin

__all__ = ["take_batch", "AsyncHistory", "TakeBatch", "transitions_to_batch", "learner_loss", "AsyncConfig",
           "same_budget_a2c", "train_async"]


@twin("nb02", "nb02-take-batch")
def take_batch(inbox: queue.Queue, batch_size: int, learner_version: int,
               timeout: float) -> tuple[list[Transition], torch.Tensor] | None:
    """Wait until `batch_size` transitions arrived (from any workers); return them and their policy lags.

    Returns None when no transition arrives for `timeout` seconds (every worker hung or dead).
    """
    batch: list[Transition] = []
    while len(batch) < batch_size:
        try:
            batch.append(inbox.get(timeout=timeout))
        except queue.Empty:
            return None
    lags = torch.tensor([learner_version - t.version for t in batch], dtype=torch.int64)
    return batch, lags


@dataclass
class AsyncHistory:
    """What an asynchronous run measured: one entry per learner update, plus episodes and evaluations.

    Evaluations are `cs285lab.record` history rows (`rows`: step, eval_return, train_return, wall_s,
    train_s, train_cpu_s); `evals` is the older view of them as (step, wall_s, eval_return) tuples.
    """

    update_steps: list[int] = field(default_factory=list)    # env steps consumed at each update
    update_wall_s: list[float] = field(default_factory=list)
    lag_worker: list[int] = field(default_factory=list)      # one entry per consumed transition
    lag: list[int] = field(default_factory=list)
    lag_update: list[int] = field(default_factory=list)       # learner version when it was consumed
    episodes: list[tuple[int, int, float]] = field(default_factory=list)  # (env step, worker, return)
    rows: list[HistoryRow] = field(default_factory=list)     # one per evaluation
    worker_steps: list[int] = field(default_factory=list)     # env steps each worker took

    @property
    def evals(self) -> list[tuple[int, float, float]]:
        """The evaluations as (env step, wall_s, eval return) tuples: what notebooks saved from the previous release
        read (removed in the 2027-spring release)."""
        return [(row["step"], row["wall_s"], row["eval_return"]) for row in self.rows]

    def record(self, consumed: int, wall_s: float, learner_version: int, transitions: Sequence[Transition],
               lags: torch.Tensor) -> list[float]:
        """Record one update on `transitions`; return the returns of the episodes they finished."""
        self.update_steps.append(consumed)
        self.update_wall_s.append(wall_s)
        self.lag += lags.tolist()
        self.lag_worker += [t.worker for t in transitions]
        self.lag_update += [learner_version] * len(transitions)
        finished = [t for t in transitions if t.episode_return is not None]
        self.episodes += [(consumed, t.worker, t.episode_return) for t in finished]
        return [t.episode_return for t in finished]

    def lags_of(self, worker: int) -> np.ndarray:
        """Policy lags of the transitions `worker` delivered."""
        w, lag = np.asarray(self.lag_worker), np.asarray(self.lag)
        return lag[w == worker]

    @property
    def mean_lag(self) -> float:
        """Mean policy lag over all consumed transitions."""
        return float(np.mean(self.lag)) if self.lag else 0.0


TakeBatch = Callable[[queue.Queue, int, int, float], "tuple[list[Transition], torch.Tensor] | None"]


def transitions_to_batch(transitions: Sequence[Transition]) -> Batch:
    """Stack delivered transitions into one batch (obs, actions, rewards, next_obs, terminated, steps)."""
    return Batch(
        obs=torch.as_tensor(np.stack([t.obs for t in transitions]), dtype=torch.float32),
        actions=torch.stack([torch.as_tensor(t.action) for t in transitions]),
        rewards=torch.tensor([t.reward for t in transitions], dtype=torch.float32),
        next_obs=torch.as_tensor(np.stack([t.next_obs for t in transitions]), dtype=torch.float32),
        terminated=torch.tensor([t.terminated for t in transitions], dtype=torch.float32),
        steps=torch.tensor([t.steps for t in transitions], dtype=torch.float32),
    )


@answer("nb01", "nb01-actor-critic-loss", compare_source=False)  # with one-step transitions, nb01's loss
def learner_loss(model: nn.Module, batch: Batch, gamma: float, value_coef: float = 0.5,
                 entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The learner's actor-critic loss on delivered (n-step) transitions: fit V to y, step pi along A = y - V(s)."""
    dist, values = model.dist(batch.obs), model.value(batch.obs)                       # pi(.|s), V(s)
    steps = batch.steps if batch.steps is not None else torch.ones_like(batch.rewards)
    with torch.no_grad():
        # y = R + gamma^n V(s_{t+n}) (1 - terminated): td_target with gamma^n folded into V(s')
        next_values = gamma ** steps * model.value(batch.next_obs)
        targets = td_target(batch.rewards, next_values, batch.terminated, 1.0)
    # A = y - V(s), not normalised per batch: with normalisation our runs drifted off 500 again (once
    # the policy is good, most advantages are near-zero noise, and normalising rescales it to unit size).
    advantages = targets - values.detach()
    return policy_value_loss(dist, values, batch.actions, advantages, targets, batch.mask, value_coef, entropy_coef)


@dataclass(frozen=True)
class AsyncConfig:
    """Every hyperparameter of `train_async`.

    Workers deliver n-step transitions (`n_steps` rewards, then bootstrap; n = 5 as in A3C): on
    CartPole a one-step critic learns too slowly for the async learner to be reliable at a small
    budget. `step_delays[i]` (seconds) makes worker i slow at every step; `stalls[i]` makes it hang
    once. Training stops after the learner consumed `total_steps` transitions. `eval_every` = 0: no
    evaluations.
    """

    num_workers: int = 4
    total_steps: int = 20_000
    batch_size: int = 32
    n_steps: int = 5
    lr: float = 1e-3
    anneal_lr: bool = True
    gamma: float = 0.99
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    step_delays: Mapping[int, float] = field(default_factory=dict)
    stalls: Mapping[int, Stall] = field(default_factory=dict)
    inbox_size: int | None = None
    timeout: float = 10.0
    eval_every: int = 0
    eval_episodes: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.n_steps, int) or self.n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {self.n_steps!r}")
        positive_int("eval_every", self.eval_every, minimum=0)
        if self.eval_every and self.eval_episodes < 1:
            raise ValueError(f"eval_episodes must be >= 1 when eval_every is set, got {self.eval_episodes!r}")
        if self.num_workers < 1 or self.batch_size < 1 or self.total_steps < self.batch_size:
            raise ValueError(f"need num_workers >= 1, batch_size >= 1 and total_steps >= batch_size; got "
                             f"{self.num_workers}, {self.batch_size}, {self.total_steps}")
        object.__setattr__(self, "step_delays", dict(self.step_delays or {}))
        object.__setattr__(self, "stalls", dict(self.stalls or {}))
        for who in (*self.step_delays, *self.stalls):
            if not 0 <= who < self.num_workers:
                raise ValueError(f"worker {who} does not exist (workers are 0..{self.num_workers - 1})")
        object.__setattr__(self, "hidden", tuple(self.hidden))



def same_budget_a2c(learner: AsyncConfig) -> A2CConfig:
    """Synchronous A2C on the asynchronous learner's budget: its workers, env steps, transitions per update,
    step size (decayed alike), discount, losses and evaluations; raw n-step advantages, as the learner's."""
    return A2CConfig(num_envs=learner.num_workers, total_steps=learner.total_steps,
                     n_steps=learner.batch_size // learner.num_workers, lr=learner.lr, anneal_lr=learner.anneal_lr,
                     gamma=learner.gamma, gae_lambda=1.0, normalize_advantages=False, value_coef=learner.value_coef,
                     entropy_coef=learner.entropy_coef, max_grad_norm=learner.max_grad_norm, hidden=learner.hidden,
                     eval_every=learner.eval_every, eval_episodes=learner.eval_episodes)


@accepts_legacy_calls(AsyncConfig, ("num_workers", "total_steps", "seed"))
def train_async(env_id: str, config: AsyncConfig, *, seed: int, take_batch_fn: TakeBatch = take_batch,
                loss_fn: Callable[..., tuple[torch.Tensor, dict[str, float]]] = learner_loss,
                logger: Logger | None = None) -> tuple[nn.Module, AsyncHistory]:
    """Asynchronous parallel actor-critic: `num_workers` threads act, one learner updates per `batch_size` transitions.

    Threads are always stopped and joined before this returns (or raises).
    """
    cfg = config
    seed_run(seed)
    probe = gym.make(env_id)
    try:
        require_vector_obs(probe, "asynchronous actor-critic")
        action_space = probe.action_space
        model = make_actor_critic(probe.observation_space, action_space, hidden=cfg.hidden)
    finally:
        probe.close()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    server = ParameterServer(model)
    inbox: queue.Queue = queue.Queue(maxsize=cfg.inbox_size or 2 * cfg.batch_size)
    stop = threading.Event()
    workers = [Worker(i, env_id, seed + i, model, server, inbox, stop, cfg.step_delays.get(i, 0.0),
                      cfg.stalls.get(i), cfg.n_steps, cfg.gamma) for i in range(cfg.num_workers)]
    history, recorder = AsyncHistory(), Recorder(logger)
    history.rows = recorder.rows  # the evaluations, in the one history schema

    since_row = {"lags": [], "grad_norm_max": 0.0}  # what the updates since the last history row measured

    def evaluation(step: int) -> None:  # the same fixed-seed episodes as every trainer's, for every run seed
        lags = since_row["lags"]
        extra = {"policy_lag": float(np.mean(lags)), "policy_lag_max": float(np.max(lags)),
                 "grad_norm_max": since_row["grad_norm_max"]} if lags else {}
        evaluate_greedy(recorder, model, action_space, env_id, cfg.eval_episodes, cfg.gamma, step, **extra)
        since_row.update(lags=[], grad_norm_max=0.0)

    start, consumed, next_eval = time.perf_counter(), 0, cfg.eval_every
    if cfg.eval_every:  # where the curve starts: the untrained policy
        evaluation(0)
    for worker in workers:
        worker.start()
    try:
        while consumed < cfg.total_steps:
            # 1. wait for batch_size transitions from whichever workers deliver first
            taken = take_batch_fn(inbox, cfg.batch_size, server.version, cfg.timeout)
            if taken is None:
                _raise_worker_error(workers)
                raise RuntimeError(f"no transition arrived for {cfg.timeout} s: every worker is hung or dead")
            transitions, lags = _checked(taken, cfg.batch_size)
            if cfg.anneal_lr:  # linear decay to 0: late updates polish the policy instead of shaking it
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * (1.0 - consumed / cfg.total_steps)
            consumed += len(transitions)
            # 2. one actor-critic update on that batch, then publish the new parameters
            loss, stats = loss_fn(model, transitions_to_batch(transitions), cfg.gamma, cfg.value_coef,
                                  cfg.entropy_coef)
            check_loss(consumed, loss)
            optimizer.zero_grad()
            loss.backward()
            # a stale batch must not take a huge step
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            since_row["grad_norm_max"] = max(since_row["grad_norm_max"], float(grad_norm))
            since_row["lags"].extend(lags.tolist())
            version = server.publish(model)
            # 3. bookkeeping: lag per transition, episode returns, evaluation
            returns = history.record(consumed, time.perf_counter() - start, version - 1, transitions, lags)
            recorder.episodes_ended(returns)
            for episode_return in returns:
                recorder.log(consumed, episode_return=episode_return)
            recorder.log(consumed, policy_lag=float(lags.float().mean()), **stats)
            if cfg.eval_every and consumed >= next_eval:
                next_eval += cfg.eval_every
                evaluation(consumed)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=5.0)
        history.worker_steps = [w.steps for w in workers]
    alive = [w.name for w in workers if w.is_alive()]
    if alive:
        raise RuntimeError(f"workers {alive} did not stop within 5 s")
    _raise_worker_error(workers)
    return model, history


def _checked(taken: Any, batch_size: int) -> tuple[list[Transition], torch.Tensor]:
    """Validate what a take_batch function returned, so a wrong return type fails here, not deep in torch."""
    if not isinstance(taken, tuple) or len(taken) != 2:
        raise TypeError(f"take_batch must return (transitions, lags) or None, got {type(taken).__name__}")
    transitions, lags = taken
    if not isinstance(lags, torch.Tensor) or lags.shape != (len(transitions),):
        raise TypeError(f"take_batch must return lags as a tensor of shape [{len(transitions)}], got "
                        f"{getattr(lags, 'shape', type(lags).__name__)}")
    if len(transitions) != batch_size:
        raise ValueError(f"take_batch returned {len(transitions)} transitions, expected batch_size={batch_size}")
    return list(transitions), lags


def _raise_worker_error(workers: Sequence[Worker]) -> None:
    for worker in workers:
        if worker.error is not None:
            raise RuntimeError(f"{worker.name} crashed: {type(worker.error).__name__}: {worker.error}") from worker.error
