"""Asynchronous parallel actor-critic, the workers (lecture: "asynchronous parallel actor-critic").

Worker threads, each with its own env copy, act with the latest parameters they pulled and deliver
transitions at their own pace; the learner updates as soon as `batch_size` transitions have
accumulated from whichever workers delivered (each worker delivers n-step transitions, as in A3C).
Every transition records the parameter version that produced it, so the policy lag (learner
version - behaviour version) is measured, not guessed. This file holds what the workers use
(`Transition`, `ParameterServer`, `Stall`, `Worker`); the learner is in `learner.py`.

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
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

__all__ = ["Transition", "ParameterServer", "Stall", "Worker"]

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
