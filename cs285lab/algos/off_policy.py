"""The one off-policy loop: act in the real env, store, learn from batches of stored data, evaluate.

SAC, the naive off-policy actor-critic, the ablation arms and MBPO (with MVE and Dyna-style runs)
all train through `run_off_policy`. What differs between them is plugged in:

    agent.act / agent.update     the algorithm (anything with act(obs, deterministic) and update(batch))
    before_updates(step)         work done before each step's updates (MBPO: model refits, branched rollouts)
    sample_batch(rng)            where update batches come from (default: uniform from the replay buffer;
                                 MBPO: real and model transitions mixed)
    row_stats()                  extra columns of each history row (MBPO: model_val_nll, model_buffer_size)
    probe(episodes)              extra columns measured on the evaluation episodes (MBPO: the model's imagined return)

An agent may also offer `value_estimate(obs, actions)` (its critic's value; `critic_of_actions` True when that is a
Q function) and `networks()` (its critic, actor and target critic): each row then carries what cs285lab.algos.probes
measures with them.

History rows come from `cs285lab.record.Recorder`: step, eval_return, train_return, wall_s, train_s,
train_cpu_s, the extra columns, the probes' statistics, then the last update's statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
from torch import nn

from cs285lab.algos.guards import check_params, check_rewards, check_stats, positive_int
from cs285lab.algos.probes import episode_statistics, network_statistics, probed_evaluation
from cs285lab.batch import Batch
from cs285lab.buffers import ReplayBuffer
from cs285lab.envs import Episode
from cs285lab.record import HistoryRow, Logger, Recorder

__all__ = ["EnvInteraction", "OffPolicyAgent", "OffPolicyConfig", "agent_statistics", "run_off_policy"]


@dataclass
class OffPolicyConfig:
    """What the off-policy loop reads of a run's config (SACConfig, AblationConfig and MBPOConfig extend it)."""

    total_steps: int = 10_000          # real env steps of the run
    eval_every: int = 1000             # env steps between evaluations (and one at the end)
    eval_episodes: int = 10            # fixed-seed episodes per evaluation
    batch_size: int = 128
    learning_starts: int = 500         # uniform random actions (and no updates) up to this many steps
    buffer_size: int = 1_000_000       # the replay buffer keeps the newest this-many transitions
    updates_per_step: int = 1          # gradient steps per env step (update-to-data ratio)

    def __post_init__(self) -> None:
        for name in ("total_steps", "eval_every", "eval_episodes", "batch_size", "buffer_size", "updates_per_step"):
            positive_int(name, getattr(self, name))
        positive_int("learning_starts", self.learning_starts, minimum=0)


class OffPolicyAgent(Protocol):
    """What the loop needs of an agent."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray: ...

    def update(self, batch: Batch) -> dict[str, float]: ...


class EnvInteraction:
    """The "act in the real env" step of the loop: step, store the transition, report the reward to the recorder."""

    def __init__(self, env: gym.Env, buffer: ReplayBuffer, seed: int, recorder: Recorder) -> None:
        self.env, self.buffer = env, buffer
        self.recorder = recorder  # it adds up the training episodes' returns
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


def run_off_policy(agent: OffPolicyAgent, env: gym.Env, env_id: str, config: OffPolicyConfig, *, seed: int,
                   logger: Logger | None = None, buffer: ReplayBuffer | None = None,
                   rng: np.random.Generator | None = None, updates_from: int | None = None,
                   before_updates: Callable[[int], None] | None = None,
                   sample_batch: Callable[[np.random.Generator], Batch] | None = None,
                   row_stats: Callable[[], dict[str, float]] | None = None,
                   modules: Callable[[], Iterable[nn.Module]] | None = None,
                   probe: Callable[[list[Episode]], dict[str, float]] | None = None) -> list[HistoryRow]:
    """The off-policy loop of the run `config` describes: act, store, update on batches, evaluate; `env` is closed at the end.

    Actions are uniform random up to and including step `config.learning_starts`; updates run from step
    `updates_from` (default learning_starts + 1). `buffer` and `rng` default to a fresh replay buffer of
    min(buffer_size, total_steps) transitions and np.random.default_rng(seed).
    """
    rng = np.random.default_rng(seed) if rng is None else rng
    if buffer is None:
        buffer = ReplayBuffer(min(config.buffer_size, config.total_steps), env.observation_space.shape[0],
                              env.action_space.shape[0])
    first_update = config.learning_starts + 1 if updates_from is None else updates_from
    if sample_batch is None:
        def sample_batch(rng: np.random.Generator) -> Batch:
            return buffer.sample(config.batch_size, rng)
    if modules is None:
        def modules() -> list[nn.Module]:
            return [m for m in vars(agent).values() if isinstance(m, nn.Module)]
    recorder = Recorder(logger)
    interaction = EnvInteraction(env, buffer, seed, recorder)
    stats: dict[str, float] = {}
    try:
        for step in range(1, config.total_steps + 1):
            # 1. act: uniform random actions first, then the current policy; store the transition
            action = env.action_space.sample() if step <= config.learning_starts else agent.act(interaction.obs)
            interaction.step(action)
            if step >= first_update:
                # 2. whatever the algorithm does before learning (MBPO: refit the model, branched rollouts)
                if before_updates is not None:
                    before_updates(step)
                # 3. learn from batches of stored transitions
                for _ in range(config.updates_per_step):
                    stats = agent.update(sample_batch(rng))
                check_stats(step, stats)
            # 4. evaluate the deterministic policy from fixed seeds, off the training clocks
            if step % config.eval_every == 0 or step == config.total_steps:
                check_params(step, list(modules()))
                probed_evaluation(recorder, step, lambda o: agent.act(o, deterministic=True), env_id,
                                  config.eval_episodes, lambda played: {**agent_statistics(agent, played, env, config),
                                                                        **(probe(played) if probe else {})},
                                  stats, **(row_stats() if row_stats is not None else {}))
    finally:
        env.close()
    return recorder.rows


def agent_statistics(agent: OffPolicyAgent, played: list[Episode], env: gym.Env,
                     config: OffPolicyConfig) -> dict[str, float]:
    """What the evaluation episodes show of an agent's critic and policy, and its networks' state (algos.probes)."""
    value = getattr(agent, "value_estimate", None)
    networks = agent.networks() if callable(getattr(agent, "networks", None)) else {}
    return {**episode_statistics(played, getattr(config, "gamma", None), env.action_space, value=value,
                                 value_of_actions=bool(getattr(agent, "critic_of_actions", False))),
            **network_statistics(**networks)}
