"""Model-based policy optimization (MBPO) and model-based value expansion (MVE), on top of SAC.

MBPO, as in the lecture:

    repeat:
        act in the real env with the latest policy, store (s, a, r, s') in the REAL buffer
        every `model_train_freq` steps: fit the ensemble on REAL transitions only
        every `rollout_every` steps: branched rollouts of length k from REAL buffer states,
            actions from the latest policy, each step from a random elite -> MODEL buffer
            (its own ring, sized for a few model refits, so stale model data ages out fast)
        `updates_per_step` SAC updates on batches mixing real and model data (`real_ratio` real)

k = 0 is plain SAC with the same update budget; k = 1 is "Dyna-style". MVE keeps SAC's real-data
batches and uses short model rollouts only inside the critic's target (`MVESAC`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass, field

import numpy as np
import torch
from torch import Tensor

# The notebook's measurements moved to mbpo_measures; they stay importable from here.
from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.algos.mbpo_measures import (branched_states, collect_random_transitions,  # noqa: F401
                                          imagined_rollout, imagined_vs_real_return, model_error_vs_horizon,
                                          on_policy_states, pendulum_angle_velocity, state_distance,
                                          value_overestimation)
from cs285lab.algos.models import FitStats, NllFn, ProbabilisticEnsemble, TerminationFn, gaussian_nll, never_terminates
from cs285lab.algos.off_policy import run_off_policy
from cs285lab.algos.probes import model_statistics
from cs285lab.algos.sac import SAC, SACConfig
from cs285lab.batch import Batch
from cs285lab.buffers import ReplayBuffer
from cs285lab.envs.continuous import make_env
from cs285lab.record import HistoryRow, Logger
from cs285lab.seeding import seed_run
from cs285lab.twins import twin

Policy = Callable[[Tensor], Tensor]


# SACConfig fields that MBPOConfig(sac=SACConfig(...)) took from the SAC settings before MBPOConfig held them itself
_LEGACY_SAC_FIELDS = ("hidden", "lr", "gamma", "tau", "batch_size", "init_alpha", "target_entropy", "num_q",
                      "learning_starts", "critic_layer_norm")


@dataclass
class MBPOConfig(SACConfig):
    """An MBPO run: SAC's settings (SACConfig, the loop's included) and the model's (defaults: swing Pendulum-v1
    up within ~500-1000 env steps).

    MBPO trains SAC, so its config is a SACConfig with MBPO's defaults (64-unit nets with a large step size, plain
    critics: what these defaults were tuned with; 150 random steps are enough for a first model; many SAC updates
    per env step, MBPO's setting) plus the model's settings. `sac=SACConfig(...)`, as notebooks saved
    before wrote it, sets the SAC fields from that config (removed in the 2027-spring release).
    """

    total_steps: int = 1500
    eval_every: int = 250
    eval_episodes: int = 5
    batch_size: int = 256
    learning_starts: int = 150
    updates_per_step: int = 20       # SAC gradient steps per env step (MBPO's setting)
    lr: float = 3e-3
    critic_layer_norm: bool = False
    rollout_length: int = 3          # k; 0 = plain SAC (no model data at all)
    real_ratio: float = 0.1          # share of real transitions in each SAC batch
    model_train_freq: int = 100      # env steps between model refits (each refit is from scratch, ~1-3 s)
    rollout_every: int = 25          # env steps between rollout batches (latest policy each time)
    rollout_starts: int = 400        # real start states per rollout batch
    model_retain: int = 2            # the model buffer holds ~this many refit periods of rollouts
    regenerate_on_refit: bool = False  # after each refit, overwrite the whole model buffer with the new model's rollouts
    ensemble_size: int = 5
    num_elites: int = 3
    model_hidden: tuple[int, ...] = (200, 200, 200)
    model_max_epochs: int = 50       # per refit (early stopping usually ends it sooner)
    mve_horizon: int = 0             # > 0: MVE (model rollouts only in the critic target), no model data
    sac: InitVar[SACConfig | None] = None

    def __post_init__(self, sac: SACConfig | None) -> None:
        if sac is not None:
            if not isinstance(sac, SACConfig):
                raise TypeError("MBPOConfig(sac=...) must be a SACConfig; better, set SAC's fields on MBPOConfig itself")
            for name in _LEGACY_SAC_FIELDS:
                setattr(self, name, getattr(sac, name))
        super().__post_init__()
        self.model_hidden = tuple(int(h) for h in self.model_hidden)  # a budget's list reads as a tuple
        if self.rollout_length < 0 or self.mve_horizon < 0:
            raise ValueError("MBPOConfig: rollout_length and mve_horizon must be >= 0")
        if not 0.0 < self.real_ratio <= 1.0:
            raise ValueError(f"MBPOConfig.real_ratio must be in (0, 1], got {self.real_ratio}")
        if min(self.model_train_freq, self.rollout_every, self.rollout_starts, self.model_retain) < 1:
            raise ValueError("MBPOConfig: model_train_freq, rollout_every, rollout_starts and model_retain must be "
                             "positive")
        if self.rollout_length > 0 and self.mve_horizon > 0:
            raise ValueError("MBPOConfig: choose MBPO (rollout_length > 0) or MVE (mve_horizon > 0), not both")

    @property
    def uses_model(self) -> bool:
        """Whether this configuration learns a dynamics model at all."""
        return self.rollout_length > 0 or self.mve_horizon > 0

    def model_buffer_size(self) -> int:
        """Capacity of the model buffer: `model_retain` refit periods of rollouts (at least one batch)."""
        per_refit = max(1, self.model_train_freq // self.rollout_every) * self.rollout_starts * self.rollout_length
        return max(self.model_retain * per_refit, self.rollout_starts * max(1, self.rollout_length))


def buffer_contents(buffer: ReplayBuffer) -> Batch:
    """Every transition a ReplayBuffer holds, as one Batch (no sampling, no duplicates)."""
    return buffer.contents()


# ---- the steps of MBPO that the notebook has students write (reference versions) ----------------

@twin("nb05", "nb05-branched-rollout", needed_by=("nb04", "nb05"))  # train_mbpo's defaults
def branched_rollout(model: ProbabilisticEnsemble, policy: Policy, real_buffer: ReplayBuffer,
                     model_buffer: ReplayBuffer, num_starts: int, horizon: int, rng: np.random.Generator) -> int:
    """Roll the model out `horizon` steps from `num_starts` REAL states; store the transitions; return how many."""
    obs = real_buffer.sample(num_starts, rng).obs          # 1. branch off real states
    stored = 0
    for _ in range(horizon):
        with torch.no_grad():
            actions = policy(obs)                          # 2. the latest policy, not buffer actions
        next_obs, rewards, terminated = model.step(obs, actions, rng)  # 3. a random elite per row
        model_buffer.add_batch(obs.numpy(), actions.numpy(), rewards.numpy(), next_obs.numpy(), terminated.numpy())
        stored += obs.shape[0]
        obs = next_obs[~terminated]                        # 4. terminated rollouts stop here
        if obs.shape[0] == 0:
            break
    return stored


def classic_dyna_rollout(model: ProbabilisticEnsemble, policy: Policy, real_buffer: ReplayBuffer,
                         model_buffer: ReplayBuffer, num_starts: int, horizon: int, rng: np.random.Generator) -> int:
    """Classic Dyna with a neural model: buffer states AND buffer actions, one model step (`policy`, `horizon` unused)."""
    batch = real_buffer.sample(num_starts, rng)
    next_obs, rewards, terminated = model.step(batch.obs, batch.actions, rng)
    model_buffer.add_batch(batch.obs.numpy(), batch.actions.numpy(), rewards.numpy(), next_obs.numpy(),
                           terminated.numpy())
    return num_starts


@twin("nb05", "nb05-mixed-batch", needed_by=("nb04", "nb05"))
def mixed_batch(real_buffer: ReplayBuffer, model_buffer: ReplayBuffer | None, batch_size: int, real_ratio: float,
                rng: np.random.Generator) -> Batch:
    """A SAC batch with round(batch_size * real_ratio) real transitions and the rest from the model buffer."""
    num_real = int(round(batch_size * real_ratio))
    batch = real_buffer.sample(num_real, rng) if num_real > 0 else None
    if num_real < batch_size:
        model_part = model_buffer.sample(batch_size - num_real, rng)
        batch = model_part if batch is None else batch.concat(model_part)
    return batch


@twin("nb05", "nb05-refresh-model", needed_by=("nb04", "nb05"))
def refresh_model(model: ProbabilisticEnsemble, real_buffer: ReplayBuffer, model_buffer: ReplayBuffer | None,
                  rng: np.random.Generator, nll_fn: NllFn = gaussian_nll, max_epochs: int = 50) -> FitStats:
    """Refit the model on every REAL transition (never on model data: it would learn its own errors)."""
    return model.fit(buffer_contents(real_buffer), rng=rng, nll_fn=nll_fn, max_epochs=max_epochs)


# ---- MVE: model rollouts only inside the critic's target ---------------------------------------

class MVESAC(SAC):
    """SAC whose critic target expands H model steps: sum of soft model rewards + gamma^(H+1) soft Q."""

    def __init__(self, *args, model: ProbabilisticEnsemble, horizon: int, rng: np.random.Generator,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model, self.horizon, self.rng = model, horizon, rng

    def q_target(self, batch: Batch) -> Tensor:
        """y = r + sum_h gamma^h (r_h - alpha log pi) over H model steps from s' + gamma^(H+1) soft V(s_H+1)."""
        if not self.model.fitted:
            return super().q_target(batch)
        gamma = self.config.gamma
        with torch.no_grad():
            target = batch.rewards.clone()
            discount = gamma * (1.0 - batch.terminated)    # zero once a (real or model) episode ended
            obs = batch.next_obs
            for _ in range(self.horizon):
                actions, log_prob = self.sample_actions(obs)
                next_obs, rewards, terminated = self.model.step(obs, actions, self.rng)
                target += discount * (rewards - self.alpha * log_prob)
                discount = discount * gamma * (1.0 - terminated.float())
                obs = next_obs
            actions, log_prob = self.sample_actions(obs)
            soft_value = self.target_critic(obs, actions).min(dim=0).values - self.alpha * log_prob
            return target + discount * soft_value


# ---- the training loop -------------------------------------------------------------------------

@dataclass
class MBPOResult:
    """What train_mbpo returns: the agent, the model, the evaluation history, the buffers, the fits, the functions."""

    agent: SAC
    model: ProbabilisticEnsemble | None
    history: list[HistoryRow]
    real_buffer: ReplayBuffer
    model_buffer: ReplayBuffer | None
    fits: list[FitStats]
    # the functions the run called, by train_mbpo's argument name (nll_fn, rollout_fn, batch_fn, refresh_fn):
    # the ones passed, or the package's defaults (the nb05 learning check compares them with its `rerun`)
    functions: dict[str, Callable[..., object]] = field(default_factory=dict)
    config: MBPOConfig | None = None  # the settings the run trained with (the check compares them with its `rerun`)


@accepts_legacy_calls(MBPOConfig, ("total_steps", "seed", "config"))
def train_mbpo(env_id: str, config: MBPOConfig, *, seed: int, logger: Logger | None = None,
               termination_fn: TerminationFn = never_terminates, nll_fn: NllFn = gaussian_nll,
               rollout_fn: Callable[..., int] = branched_rollout, batch_fn: Callable[..., Batch] = mixed_batch,
               refresh_fn: Callable[..., FitStats] = refresh_model) -> MBPOResult:
    """Train MBPO (or SAC with k = 0, or MVE) on `env_id` for the run `config` describes.

    The notebook passes the student's `nll_fn`, `rollout_fn`, `batch_fn` and `refresh_fn`;
    the defaults are the reference versions above. History rows (cs285lab.record): step, eval_return,
    train_return, wall_s, train_s, train_cpu_s, model_val_nll, model_buffer_size, model_steps (model transitions
    generated so far: the model data's compute), model_fresh_share (the model buffer's share made by the
    current model, averaged over the steps so far) and SAC's statistics.
    """
    seed_run(seed)
    env = make_env(env_id, "MBPO")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    rng = np.random.default_rng(seed)
    model = None
    if config.uses_model:
        with torch.random.fork_rng(devices=[]):  # the model's weights from a sub-seed; the agent's from `seed`
            torch.manual_seed(seed + 1)
            model = ProbabilisticEnsemble(obs_dim, act_dim, config.ensemble_size, config.num_elites,
                                          config.model_hidden, termination_fn=termination_fn)
    sac_args = (obs_dim, act_dim, env.action_space.low, env.action_space.high, config)
    if config.mve_horizon > 0:
        agent: SAC = MVESAC(*sac_args, model=model, horizon=config.mve_horizon, rng=rng)
    else:
        agent = SAC(*sac_args)
    real_buffer = ReplayBuffer(min(config.buffer_size, config.total_steps), obs_dim, act_dim)
    model_buffer = ReplayBuffer(config.model_buffer_size(), obs_dim, act_dim) if config.rollout_length > 0 else None

    @torch.no_grad()
    def policy(obs: Tensor) -> Tensor:
        """The LATEST policy, sampled (rollouts explore like the real agent does)."""
        return agent.sample_actions(obs)[0]

    real_ratio = config.real_ratio if config.rollout_length > 0 else 1.0
    start_learning = config.learning_starts
    fits: list[FitStats] = []
    # The model data's cost and freshness: model transitions generated (the compute), and those made since the
    # last refit (by the current model), whose share of the model buffer is averaged over the steps.
    made = {"model_steps": 0, "since_refit": 0, "fresh_share_sum": 0.0, "steps": 0}

    def rollouts(count: int) -> None:
        for _ in range(count):
            stored = rollout_fn(model, policy, real_buffer, model_buffer, config.rollout_starts, config.rollout_length,
                                rng)
            made["model_steps"] += stored
            made["since_refit"] += stored

    def before_updates(step: int) -> None:
        """Steps 2-3 of MBPO, from step `learning_starts` on (the model's turn in the off-policy loop)."""
        since = step - start_learning
        # 2. Refit the model on real data every model_train_freq steps.
        refit = model is not None and since % config.model_train_freq == 0
        if refit:
            fits.append(refresh_fn(model, real_buffer, model_buffer, rng, nll_fn=nll_fn,
                                   max_epochs=config.model_max_epochs))
            made["since_refit"] = 0
        # 3. Branched rollouts from real states with the latest policy, into the model buffer.
        if model_buffer is not None:
            if refit and config.regenerate_on_refit:   # a full buffer of the new model's rollouts: none of the old stays
                per_batch = config.rollout_starts * config.rollout_length
                rollouts(-(-model_buffer.capacity // per_batch))
            elif since % config.rollout_every == 0:
                rollouts(1)
            if len(model_buffer):
                made["fresh_share_sum"] += min(made["since_refit"], len(model_buffer)) / len(model_buffer)
                made["steps"] += 1

    def sample_batch(rng: np.random.Generator) -> Batch:
        """4. SAC's batches mix real and model data."""
        return batch_fn(real_buffer, model_buffer, config.batch_size, real_ratio, rng)

    def row_stats() -> dict[str, float]:
        return {"model_val_nll": fits[-1].val_nll if fits else float("nan"),
                "model_buffer_size": len(model_buffer) if model_buffer is not None else 0,
                "model_steps": made["model_steps"],
                "model_fresh_share": made["fresh_share_sum"] / made["steps"] if made["steps"] else float("nan")}

    def probe(played: list) -> dict[str, float]:
        """The model's imagined return of the evaluation policy next to the real one (cs285lab.algos.probes)."""
        return model_statistics(played, model, lambda obs: agent.act(obs, deterministic=True), config.gamma)

    # 1. Act in the real env (random actions until learning starts); store the REAL transition. MBPO starts
    # learning AT step learning_starts (SAC one step later): the first model fit needs no policy.
    history = run_off_policy(agent, env, env_id, config, seed=seed, logger=logger, buffer=real_buffer, rng=rng,
                             updates_from=start_learning, before_updates=before_updates, sample_batch=sample_batch,
                             row_stats=row_stats, probe=probe,
                             modules=lambda: [m for m in (agent.actor, agent.critic, model) if m is not None])
    used = {"nll_fn": nll_fn, "rollout_fn": rollout_fn, "batch_fn": batch_fn, "refresh_fn": refresh_fn}
    return MBPOResult(agent, model, history, real_buffer, model_buffer, fits, used, config)


__all__ = ["MBPOConfig", "MBPOResult", "MVESAC", "branched_rollout", "buffer_contents", "classic_dyna_rollout", "mixed_batch",
           "collect_random_transitions", "model_error_vs_horizon", "refresh_model", "train_mbpo",
           "value_overestimation", "pendulum_angle_velocity", "state_distance", "on_policy_states",
           "branched_states", "imagined_rollout", "imagined_vs_real_return"]
