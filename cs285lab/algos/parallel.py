"""Parallel actor-critic: batches from N synchronous workers, and worker threads feeding an asynchronous learner.

Synchronous (lecture: "synchronized parallel actor-critic"): a gymnasium vector env steps N
worker envs in lockstep; one batched update per step, batch size = N. `make_workers` and
`collect_step` are the two pieces the notebook asks students to write; the training loop itself
is `cs285lab.algos.actor_critic.train_a2c`.

Asynchronous (lecture: "asynchronous parallel actor-critic"): worker threads, each with its own
env copy, act with the latest parameters they pulled and deliver transitions at their own pace;
the learner updates as soon as `batch_size` transitions have accumulated from whichever workers
delivered (each worker delivers n-step transitions, as in A3C). Every transition records the parameter version that produced it, so the policy lag
(learner version - behaviour version) is measured, not guessed.

Why threads and not processes: a worker's time goes into a small torch forward pass (torch
releases the GIL inside its kernels) and a cheap env step; threads share the parameter snapshot
without pickling, start in microseconds, and are easy to stop and join. The GIL still serialises
the Python parts, so on a laptop threads show the *algorithm* (lag, stragglers, no lockstep),
not a speed-up; processes would be the choice for expensive simulators.
"""

from __future__ import annotations

import copy
import math
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

from cs285lab.algos.actor_critic import (Batch, greedy_policy, make_actor_critic, make_vec_env, policy_value_loss,
                                         td_target)
from cs285lab.algos.guards import check_loss, check_params
from cs285lab.envs import evaluate, require_vector_obs
from cs285lab.runs import Logger, NullLogger
from cs285lab.twins import twin

# --------------------------------------------------------------------------------------------
# Synchronous workers: a vector env, one batched step at a time
# --------------------------------------------------------------------------------------------

@twin("nb02", "nb02-reset-workers", needed_by=("nb02",))  # lockstep_throughput uses it
def reset_workers(envs: gym.vector.VectorEnv, seed: int) -> np.ndarray:
    """Reset all workers, worker i with seed + i (and seed the action space); return the first observations."""
    # Different seeds per worker: one shared seed would make N copies of the same trajectory.
    obs, _ = envs.reset(seed=[seed + i for i in range(envs.num_envs)])
    envs.action_space.seed(seed)
    return obs


def make_workers(env_id: str, num_envs: int, seed: int,
                 vectorization: str = "sync") -> tuple[gym.vector.VectorEnv, np.ndarray]:
    """`num_envs` workers as one NEXT_STEP-autoreset vector env, reset with seeds seed, seed+1, ...; (envs, obs)."""
    envs = make_vec_env(env_id, num_envs, seed, vectorization)
    return envs, reset_workers(envs, seed)


@twin("nb02", "nb02-collect-step", needed_by=("nb02",))  # the throughput probes use it
def collect_step(envs: gym.vector.VectorEnv, model: nn.Module, obs: np.ndarray,
                 prev_done: np.ndarray) -> tuple[Batch, np.ndarray, np.ndarray]:
    """Step every worker once with actions from `model`; return (batch, next obs, done flags for the next call).

    NEXT_STEP autoreset: after a step where a worker's episode ended (terminated or truncated),
    that worker's next step is a reset step: its action is ignored, its reward is 0 and the
    "transition" jumps from the final state to a fresh start. `prev_done` marks those workers.
    """
    obs_t = torch.as_tensor(obs, dtype=torch.float32)
    with torch.no_grad():  # acting does not need gradients; the update recomputes log-probs
        actions = model.dist(obs_t).sample()
    next_obs, rewards, terminated, truncated, _ = envs.step(actions.numpy())
    batch = Batch(
        obs=obs_t,
        actions=actions,
        rewards=torch.as_tensor(rewards, dtype=torch.float32),
        next_obs=torch.as_tensor(next_obs, dtype=torch.float32),  # the real final obs when an episode ended
        terminated=torch.as_tensor(terminated, dtype=torch.float32),  # truncation still bootstraps
        mask=torch.as_tensor(~np.asarray(prev_done, dtype=bool)),  # False: a reset step, not a transition
    )
    return batch, next_obs, np.logical_or(terminated, truncated)


def collection_throughput(env_id: str, num_envs: int, vectorization: str, model: nn.Module,
                          steps: int, seed: int = 0, repeats: int = 3) -> float:
    """Env steps per second of acting only (policy forward + vector env step) with N workers, no learning.

    Best of `repeats` timings: on a shared machine the fastest repeat is the least disturbed one.
    """
    envs, obs = make_workers(env_id, num_envs, seed, vectorization)
    rounds = max(1, steps // num_envs)
    try:
        done = np.zeros(num_envs, dtype=bool)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(rounds):
                _, obs, done = collect_step(envs, model, obs, done)
            best = min(best, time.perf_counter() - start)
    finally:
        envs.close()
    return rounds * num_envs / best


class SlowStep(gym.Wrapper):
    """An env whose every step takes `delay` seconds longer (a straggler: a slow machine or a heavy scene)."""

    def __init__(self, env: gym.Env, delay: float) -> None:
        super().__init__(env)
        self.delay = delay

    def step(self, action: Any) -> tuple:
        """Sleep `delay` seconds, then step."""
        time.sleep(self.delay)
        return self.env.step(action)


def lockstep_throughput(env_id: str, num_envs: int, model: nn.Module, slow_delay: float,
                        steps: int, seed: int = 0) -> float:
    """Env steps per second of a synchronous vector env in which worker 0 is `slow_delay` s slower per step."""
    envs = gym.vector.SyncVectorEnv([lambda i=i: SlowStep(gym.make(env_id), slow_delay if i == 0 else 0.0)
                                     for i in range(num_envs)])
    try:
        obs, done = reset_workers(envs, seed), np.zeros(num_envs, dtype=bool)
        rounds = max(1, steps // num_envs)
        start = time.perf_counter()
        for _ in range(rounds):  # every round waits for worker 0
            _, obs, done = collect_step(envs, model, obs, done)
        return rounds * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


# --------------------------------------------------------------------------------------------
# Asynchronous workers: threads deliver transitions, the learner updates every batch_size of them
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transition:
    """One transition delivered by a worker, stamped with the parameter version that chose the action.

    With n-step returns, `reward` is r_t + gamma r_t+1 + ... (`steps` rewards) and `next_obs` is the
    observation `steps` steps later; the learner bootstraps with gamma ** steps * V(next_obs).
    """

    obs: np.ndarray
    action: Any
    reward: float
    next_obs: np.ndarray
    terminated: bool
    worker: int
    version: int
    episode_return: float | None = None  # set on the last step of an episode (a free training curve)
    steps: int = 1


class ParameterServer:
    """The latest policy parameters and their version: the learner publishes, workers pull."""

    def __init__(self, model: nn.Module) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._params = _snapshot(model)

    @property
    def version(self) -> int:
        """The version of the latest published parameters (0 = the initial ones)."""
        with self._lock:
            return self._version

    def publish(self, model: nn.Module) -> int:
        """Store a copy of `model`'s parameters as the next version; return that version."""
        params = _snapshot(model)  # copy outside the lock: workers never wait for the clone
        with self._changed:
            self._params = params
            self._version += 1
            self._changed.notify_all()
            return self._version

    def pull(self) -> tuple[int, dict[str, torch.Tensor]]:
        """Return (version, parameters); the tensors are never modified after publication."""
        with self._lock:
            return self._version, self._params

    def wait_for(self, version: int, stop: threading.Event, poll: float = 0.05) -> bool:
        """Block until the learner has published `version` (True) or `stop` is set (False)."""
        with self._changed:
            while self._version < version:
                if stop.is_set():
                    return False
                self._changed.wait(poll)
            return True


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


@dataclass(frozen=True)
class Stall:
    """Make a worker hang: after its `at_step`-th step it stops until the learner made `updates` more updates.

    Measuring the stall in learner updates (not seconds) makes the lag it causes the same on
    every machine: the transition delivered after the stall has a lag of at least `updates`.
    `updates=math.inf` hangs the worker until training stops.
    """

    at_step: int
    updates: float


class Worker(threading.Thread):
    """A thread that acts in its own env copy with the latest pulled parameters and delivers transitions."""

    def __init__(self, worker_id: int, env_id: str, seed: int, model: nn.Module, server: ParameterServer,
                 inbox: queue.Queue, stop: threading.Event, step_delay: float = 0.0,
                 stall: Stall | None = None, n_steps: int = 1, gamma: float = 0.99) -> None:
        super().__init__(name=f"worker-{worker_id}", daemon=True)
        self.worker_id, self.env_id, self.seed = worker_id, env_id, seed
        self.model = copy.deepcopy(model)  # the worker's own copy: the learner's tensors change under it
        self.server, self.inbox, self.stop = server, inbox, stop
        self.step_delay, self.stall = step_delay, stall
        self.n_steps, self.gamma = n_steps, gamma
        self.steps = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Act until `stop` is set; any exception is kept in `self.error` for the learner to re-raise."""
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by the learner, never lost in a thread
            self.error = exc

    def _run(self) -> None:
        env = gym.make(self.env_id)
        try:
            obs, _ = env.reset(seed=self.seed)
            env.action_space.seed(self.seed)
            version, episode_return = -1, 0.0
            pending: list[tuple[np.ndarray, torch.Tensor, float, int]] = []  # steps not yet delivered
            while not self.stop.is_set():
                # 1. pull the latest parameters (a cheap check: reload only when the version changed)
                latest, params = self.server.pull()
                if latest != version:
                    self.model.load_state_dict(params)
                    version = latest
                # 2. act with them; the action is stamped with `version`
                with torch.no_grad():
                    action = self.model.dist(torch.as_tensor(obs, dtype=torch.float32)[None]).sample()[0]
                self._straggle(version)
                if self.stop.is_set():
                    return
                # 3. step the env
                next_obs, reward, terminated, truncated, _ = env.step(action.numpy())
                self.steps += 1
                episode_return += float(reward)
                pending.append((obs, action, float(reward), version))
                ended = bool(terminated or truncated)
                # 4. deliver every step whose n-step return is complete (at an episode end: all of them)
                while pending and (ended or len(pending) == self.n_steps):
                    last = ended and len(pending) == 1
                    self._deliver(self._n_step_transition(pending, next_obs, bool(terminated) and ended,
                                                          episode_return if last else None))
                    pending.pop(0)
                if ended:
                    obs, episode_return = env.reset()[0], 0.0
                else:
                    obs = next_obs
        finally:
            env.close()

    def _n_step_transition(self, pending: list, next_obs: np.ndarray, terminated: bool,
                           episode_return: float | None) -> Transition:
        """The oldest pending step with its n-step return r_t + g r_t+1 + ... up to `next_obs`."""
        obs, action, _, version = pending[0]
        ret = sum(self.gamma ** k * r for k, (_, _, r, _) in enumerate(pending))
        return Transition(obs, action, ret, next_obs, terminated, self.worker_id, version, episode_return,
                          steps=len(pending))

    def _straggle(self, version: int) -> None:
        """Simulate a slow env (sleep every step) or a hung worker (stall once)."""
        if self.step_delay > 0:
            self.stop.wait(self.step_delay)  # wakes at once when training stops
        if self.stall is not None and self.steps == self.stall.at_step:
            if math.isinf(self.stall.updates):
                self.stop.wait()
            else:
                self.server.wait_for(version + int(self.stall.updates), self.stop)

    def _deliver(self, transition: Transition) -> None:
        # A bounded inbox pushes back on fast workers; never block forever, so stop always works.
        while not self.stop.is_set():
            try:
                self.inbox.put(transition, timeout=0.05)
                return
            except queue.Full:
                continue


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
    """What an asynchronous run measured: one entry per learner update, plus episodes and evaluations."""

    update_steps: list[int] = field(default_factory=list)    # env steps consumed at each update
    update_wall_s: list[float] = field(default_factory=list)
    lag_worker: list[int] = field(default_factory=list)      # one entry per consumed transition
    lag: list[int] = field(default_factory=list)
    lag_update: list[int] = field(default_factory=list)       # learner version when it was consumed
    episodes: list[tuple[int, int, float]] = field(default_factory=list)  # (env step, worker, return)
    evals: list[tuple[int, float, float]] = field(default_factory=list)   # (env step, wall_s, eval return)
    worker_steps: list[int] = field(default_factory=list)     # env steps each worker took

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


NStepBatch = Batch  # the one Batch carries `steps`; this name is kept for code written before


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


def train_async(env_id: str, num_workers: int, total_steps: int, seed: int, *, batch_size: int = 32,
                n_steps: int = 5, lr: float = 1e-3, anneal_lr: bool = True, gamma: float = 0.99,
                value_coef: float = 0.5, entropy_coef: float = 0.0,
                max_grad_norm: float = 0.5, hidden: Sequence[int] = (64, 64), step_delays: Mapping[int, float] | None = None,
                stalls: Mapping[int, Stall] | None = None, inbox_size: int | None = None,
                timeout: float = 10.0, take_batch_fn: TakeBatch = take_batch,
                loss_fn: Callable[..., tuple[torch.Tensor, dict[str, float]]] = learner_loss,
                logger: Logger | None = None, eval_every: int = 0, eval_episodes: int = 5,
                ) -> tuple[nn.Module, AsyncHistory]:
    """Asynchronous parallel actor-critic: `num_workers` threads act, one learner updates per `batch_size` transitions.

    Workers deliver n-step transitions (`n_steps` rewards, then bootstrap; n = 5 as in A3C): on
    CartPole a one-step critic learns too slowly for the async learner to be reliable at a small
    budget. `step_delays[i]` (seconds) makes worker i slow at every step; `stalls[i]` makes it hang once.
    Training stops after the learner consumed `total_steps` transitions. Threads are always
    stopped and joined before this returns (or raises).
    """
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if eval_every and eval_episodes < 1:
        raise ValueError(f"eval_episodes must be >= 1 when eval_every is set, got {eval_episodes!r}")
    if num_workers < 1 or batch_size < 1 or total_steps < batch_size:
        raise ValueError(f"need num_workers >= 1, batch_size >= 1 and total_steps >= batch_size; got "
                         f"{num_workers}, {batch_size}, {total_steps}")
    step_delays, stalls = dict(step_delays or {}), dict(stalls or {})
    for who in (*step_delays, *stalls):
        if not 0 <= who < num_workers:
            raise ValueError(f"worker {who} does not exist (workers are 0..{num_workers - 1})")
    logger = logger or NullLogger()
    probe = gym.make(env_id)
    try:
        require_vector_obs(probe, "asynchronous actor-critic")
        action_space = probe.action_space
        model = make_actor_critic(probe.observation_space, action_space, hidden=tuple(hidden))
    finally:
        probe.close()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    server = ParameterServer(model)
    inbox: queue.Queue = queue.Queue(maxsize=inbox_size or 2 * batch_size)
    stop = threading.Event()
    workers = [Worker(i, env_id, seed + i, model, server, inbox, stop, step_delays.get(i, 0.0), stalls.get(i),
                      n_steps, gamma) for i in range(num_workers)]
    history = AsyncHistory()
    start, consumed, next_eval = time.perf_counter(), 0, eval_every
    if eval_every:  # where the curve starts: the untrained policy
        history.evals.append((0, 0.0, evaluate(greedy_policy(model, action_space), env_id, eval_episodes, 10_000 + seed)))
    for worker in workers:
        worker.start()
    try:
        while consumed < total_steps:
            # 1. wait for batch_size transitions from whichever workers deliver first
            taken = take_batch_fn(inbox, batch_size, server.version, timeout)
            if taken is None:
                _raise_worker_error(workers)
                raise RuntimeError(f"no transition arrived for {timeout} s: every worker is hung or dead")
            transitions, lags = _checked(taken, batch_size)
            if anneal_lr:  # linear decay to 0: late updates polish the policy instead of shaking it
                for group in optimizer.param_groups:
                    group["lr"] = lr * (1.0 - consumed / total_steps)
            consumed += len(transitions)
            # 2. one actor-critic update on that batch, then publish the new parameters
            loss, stats = loss_fn(model, transitions_to_batch(transitions), gamma, value_coef, entropy_coef)
            check_loss(consumed, loss)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # a stale batch must not take a huge step
            optimizer.step()
            version = server.publish(model)
            # 3. bookkeeping: lag per transition, episode returns, evaluation
            for episode_return in history.record(consumed, time.perf_counter() - start, version - 1, transitions, lags):
                logger.log(consumed, episode_return=episode_return)
            logger.log(consumed, policy_lag=float(lags.float().mean()), **stats)
            if eval_every and consumed >= next_eval:
                check_params(consumed, model)
                next_eval += eval_every
                score = evaluate(greedy_policy(model, action_space), env_id, eval_episodes, seed=10_000 + seed)
                history.evals.append((consumed, time.perf_counter() - start, score))
                logger.log(consumed, eval_return=score)
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
