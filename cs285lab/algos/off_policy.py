"""The one off-policy loop: act in the real env, store, learn from batches of stored data, evaluate.

SAC, the naive off-policy actor-critic, the ablation arms and MBPO (with MVE and Dyna-style runs)
all train through `run_off_policy`. What differs between them is plugged in:

    agent.act / agent.update     the algorithm (anything with act(obs, deterministic) and update(batch);
                                 an agent's `train_step`, if it has one, runs in place of update)
    before_updates(step)         work done before each step's updates (MBPO: model refits, branched rollouts)
    sample_batch(rng)            where update batches come from (default: uniform from the replay buffer;
                                 MBPO: real and model transitions mixed)
    row_stats()                  extra columns of each history row (MBPO: model_val_nll, model_buffer_size)

History rows come from `cs285lab.record.Recorder`: step, eval_return, train_return, wall_s, train_s,
train_cpu_s, the extra columns, then the last update's statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import gymnasium as gym
import numpy as np
from torch import nn

from cs285lab.algos.guards import check_params, check_rewards, check_stats
from cs285lab.batch import Batch
from cs285lab.buffers import ReplayBuffer
from cs285lab.envs import evaluate
from cs285lab.record import HistoryRow, Logger, Recorder

__all__ = ["EVAL_SEED", "EnvInteraction", "OffPolicyAgent", "run_off_policy"]

EVAL_SEED = 10_000  # evaluation episodes start from these seeds, the same for every algorithm and checkpoint


class OffPolicyAgent(Protocol):
    """What the loop needs of an agent."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray: ...

    def update(self, batch: Batch) -> dict[str, float]: ...


class EnvInteraction:
    """The "act in the real env" step of the loop: step, store the transition, report the reward to the recorder."""

    def __init__(self, env: gym.Env, buffer: ReplayBuffer, seed: int, recorder: Recorder | None = None) -> None:
        self.env, self.buffer = env, buffer
        self.recorder = Recorder() if recorder is None else recorder  # it adds up the training episodes' returns
        env.action_space.seed(seed)
        self.obs, _ = env.reset(seed=seed)
        self.steps = 0

    def step(self, action: np.ndarray) -> None:
        """Take `action`, store (s, a, r, s', terminated) in the buffer, reset the env at episode ends."""
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.steps += 1
        check_rewards(self.steps, reward)
        self.buffer.add(self.obs, action, reward, next_obs, terminated, truncated)
        self.recorder.add(reward, terminated or truncated)
        self.obs = next_obs
        if terminated or truncated:
            self.obs, _ = self.env.reset()


def run_off_policy(agent: OffPolicyAgent, env: gym.Env, env_id: str, total_steps: int, seed: int, *,
                   batch_size: int, learning_starts: int, buffer_size: int, updates_per_step: int = 1,
                   logger: Logger | None = None, eval_every: int = 1000, eval_episodes: int = 10,
                   buffer: ReplayBuffer | None = None, rng: np.random.Generator | None = None,
                   updates_from: int | None = None, before_updates: Callable[[int], None] | None = None,
                   sample_batch: Callable[[np.random.Generator], Batch] | None = None,
                   row_stats: Callable[[], dict[str, float]] | None = None,
                   modules: Callable[[], Iterable[nn.Module]] | None = None) -> list[HistoryRow]:
    """The off-policy loop: act, store in the replay buffer, update on batches, evaluate; `env` is closed at the end.

    Actions are uniform random up to and including step `learning_starts`; updates run from step
    `updates_from` (default learning_starts + 1). `buffer` and `rng` default to a fresh replay buffer of
    min(buffer_size, total_steps) transitions and np.random.default_rng(seed).
    """
    if total_steps < 1 or eval_every < 1 or eval_episodes < 1:
        env.close()
        raise ValueError("total_steps, eval_every and eval_episodes must be positive")
    rng = np.random.default_rng(seed) if rng is None else rng
    if buffer is None:
        buffer = ReplayBuffer(min(buffer_size, total_steps), env.observation_space.shape[0], env.action_space.shape[0])
    first_update = learning_starts + 1 if updates_from is None else updates_from
    if sample_batch is None:
        def sample_batch(rng: np.random.Generator) -> Batch:
            return buffer.sample(batch_size, rng)
    if modules is None:
        def modules() -> list[nn.Module]:
            return [m for m in vars(agent).values() if isinstance(m, nn.Module)]
    learn = getattr(agent, "train_step", agent.update)  # SAC's fast path where it has one (tested equal to update)
    recorder = Recorder(logger)
    interaction = EnvInteraction(env, buffer, seed, recorder)
    stats: dict[str, float] = {}
    try:
        for step in range(1, total_steps + 1):
            # 1. act: uniform random actions first, then the current policy; store the transition
            action = env.action_space.sample() if step <= learning_starts else agent.act(interaction.obs)
            interaction.step(action)
            if step >= first_update:
                # 2. whatever the algorithm does before learning (MBPO: refit the model, branched rollouts)
                if before_updates is not None:
                    before_updates(step)
                # 3. learn from batches of stored transitions
                for _ in range(updates_per_step):
                    stats = learn(sample_batch(rng))
                check_stats(step, stats)
            # 4. evaluate the deterministic policy from fixed seeds, off the training clocks
            if step % eval_every == 0 or step == total_steps:
                check_params(step, list(modules()))
                recorder.evaluate(step, lambda: evaluate(lambda o: agent.act(o, deterministic=True), env_id,
                                                         eval_episodes, seed=EVAL_SEED),
                                  stats, **(row_stats() if row_stats is not None else {}))
    finally:
        env.close()
    return recorder.rows
