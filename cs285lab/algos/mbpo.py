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
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from cs285lab.algos.models import FitStats, NllFn, ProbabilisticEnsemble, TerminationFn, gaussian_nll, never_terminates
from cs285lab.algos.off_policy import run_off_policy
from cs285lab.algos.sac import SAC, SACConfig
from cs285lab.batch import Batch
from cs285lab.buffers import ReplayBuffer
from cs285lab.envs.continuous import make_env
from cs285lab.record import HistoryRow, Logger
from cs285lab.seeding import seed_run
from cs285lab.twins import twin

Policy = Callable[[Tensor], Tensor]


@dataclass
class MBPOConfig:
    """Hyperparameters of MBPO (defaults: swing Pendulum-v1 up within ~500-1000 env steps)."""

    # 150 random steps are enough for a first model; the large step size suits the 64-unit nets.
    # Plain critics (no layer norm): what these defaults were tuned with.
    sac: SACConfig = field(default_factory=lambda: SACConfig(hidden=(64, 64), lr=3e-3, batch_size=256,
                                                             learning_starts=150, critic_layer_norm=False))
    rollout_length: int = 3          # k; 0 = plain SAC (no model data at all)
    real_ratio: float = 0.1          # share of real transitions in each SAC batch
    updates_per_step: int = 20       # SAC gradient steps per env step (model data makes many safe)
    model_train_freq: int = 100      # env steps between model refits (each refit is from scratch, ~1-3 s)
    rollout_every: int = 25          # env steps between rollout batches (latest policy each time)
    rollout_starts: int = 400        # real start states per rollout batch
    model_retain: int = 2            # the model buffer holds ~this many refit periods of rollouts
    ensemble_size: int = 5
    num_elites: int = 3
    model_hidden: tuple[int, ...] = (200, 200, 200)
    model_max_epochs: int = 50       # per refit (early stopping usually ends it sooner)
    mve_horizon: int = 0             # > 0: MVE (model rollouts only in the critic target), no model data

    def __post_init__(self) -> None:
        if self.rollout_length < 0 or self.mve_horizon < 0:
            raise ValueError("MBPOConfig: rollout_length and mve_horizon must be >= 0")
        if not 0.0 < self.real_ratio <= 1.0:
            raise ValueError(f"MBPOConfig.real_ratio must be in (0, 1], got {self.real_ratio}")
        if min(self.updates_per_step, self.model_train_freq, self.rollout_every, self.rollout_starts,
               self.model_retain) < 1:
            raise ValueError("MBPOConfig: updates_per_step, model_train_freq, rollout_every, rollout_starts "
                             "and model_retain must be positive")
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
    """What train_mbpo returns: the agent, the model, the evaluation history, the buffers, the fits."""

    agent: SAC
    model: ProbabilisticEnsemble | None
    history: list[HistoryRow]
    real_buffer: ReplayBuffer
    model_buffer: ReplayBuffer | None
    fits: list[FitStats]


def train_mbpo(env_id: str, total_steps: int, seed: int, config: MBPOConfig | None = None, *,
               logger: Logger | None = None, eval_every: int = 250, eval_episodes: int = 5,
               termination_fn: TerminationFn = never_terminates, nll_fn: NllFn = gaussian_nll,
               rollout_fn: Callable[..., int] = branched_rollout, batch_fn: Callable[..., Batch] = mixed_batch,
               refresh_fn: Callable[..., FitStats] = refresh_model) -> MBPOResult:
    """Train MBPO (or SAC with k = 0, or MVE) on `env_id` for `total_steps` real env steps.

    The notebook passes the student's `nll_fn`, `rollout_fn`, `batch_fn` and `refresh_fn`;
    the defaults are the reference versions above. History rows (cs285lab.record): step, eval_return,
    train_return, wall_s, train_s, train_cpu_s, model_val_nll, model_buffer_size and SAC's statistics.
    """
    config = config or MBPOConfig()
    if total_steps < 1 or eval_every < 1 or eval_episodes < 1:
        raise ValueError("train_mbpo: total_steps, eval_every and eval_episodes must be positive")
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
    sac_args = (obs_dim, act_dim, env.action_space.low, env.action_space.high, config.sac)
    if config.mve_horizon > 0:
        agent: SAC = MVESAC(*sac_args, model=model, horizon=config.mve_horizon, rng=rng)
    else:
        agent = SAC(*sac_args)
    real_buffer = ReplayBuffer(total_steps, obs_dim, act_dim)
    model_buffer = ReplayBuffer(config.model_buffer_size(), obs_dim, act_dim) if config.rollout_length > 0 else None

    @torch.no_grad()
    def policy(obs: Tensor) -> Tensor:
        """The LATEST policy, sampled (rollouts explore like the real agent does)."""
        return agent.sample_actions(obs)[0]

    real_ratio = config.real_ratio if config.rollout_length > 0 else 1.0
    start_learning = config.sac.learning_starts
    fits: list[FitStats] = []

    def before_updates(step: int) -> None:
        """Steps 2-3 of MBPO, from step `learning_starts` on (the model's turn in the off-policy loop)."""
        since = step - start_learning
        # 2. Refit the model on real data every model_train_freq steps.
        if model is not None and since % config.model_train_freq == 0:
            fits.append(refresh_fn(model, real_buffer, model_buffer, rng, nll_fn=nll_fn,
                                   max_epochs=config.model_max_epochs))
        # 3. Branched rollouts from real states with the latest policy, into the model buffer.
        if model_buffer is not None and since % config.rollout_every == 0:
            rollout_fn(model, policy, real_buffer, model_buffer, config.rollout_starts, config.rollout_length, rng)

    def sample_batch(rng: np.random.Generator) -> Batch:
        """4. SAC's batches mix real and model data."""
        return batch_fn(real_buffer, model_buffer, config.sac.batch_size, real_ratio, rng)

    def row_stats() -> dict[str, float]:
        return {"model_val_nll": fits[-1].val_nll if fits else float("nan"),
                "model_buffer_size": len(model_buffer) if model_buffer is not None else 0}

    # 1. Act in the real env (random actions until learning starts); store the REAL transition. MBPO starts
    # learning AT step learning_starts (SAC one step later): the first model fit needs no policy.
    history = run_off_policy(agent, env, env_id, total_steps, seed, batch_size=config.sac.batch_size,
                             learning_starts=start_learning, buffer_size=total_steps,
                             updates_per_step=config.updates_per_step, logger=logger, eval_every=eval_every,
                             eval_episodes=eval_episodes, buffer=real_buffer, rng=rng, updates_from=start_learning,
                             before_updates=before_updates, sample_batch=sample_batch, row_stats=row_stats,
                             modules=lambda: [m for m in (agent.actor, agent.critic, model) if m is not None])
    return MBPOResult(agent, model, history, real_buffer, model_buffer, fits)


# ---- measurements for the notebook ------------------------------------------------------------

def collect_random_transitions(env_id: str, steps: int, seed: int) -> Batch:
    """`steps` real transitions of a uniformly random policy (the model section's data)."""
    if steps < 1:
        raise ValueError("collect_random_transitions: steps must be positive")
    env = make_env(env_id, "collect_random_transitions")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, reward, next_obs, float(terminated)))
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    return Batch(*(torch.as_tensor(np.array(column), dtype=torch.float32) for column in zip(*rows)))


@torch.no_grad()
def model_error_vs_horizon(model: ProbabilisticEnsemble, env_id: str, horizon: int, episodes: int = 3,
                           seed: int = 123, policy: Callable[[np.ndarray], np.ndarray] | None = None,
                           stride: int = 10) -> np.ndarray:
    """Mean distance between open-loop model predictions and the real states, h = 1..horizon steps ahead.

    Real trajectories come from `policy` (default: random actions); from every `stride`-th state the model
    replays the recorded actions on its own predictions (elite-mean), so errors compound.
    """
    env = make_env(env_id, "model_error_vs_horizon")
    env.action_space.seed(seed)
    errors: list[np.ndarray] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        states, actions, done = [obs], [], False
        while not done:
            action = env.action_space.sample() if policy is None else policy(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            states.append(obs)
            actions.append(action)
            done = terminated or truncated
        states_t = torch.as_tensor(np.array(states), dtype=torch.float32)
        actions_t = torch.as_tensor(np.array(actions), dtype=torch.float32).reshape(len(actions), -1)
        starts = torch.arange(0, len(actions) - horizon + 1, stride)
        if len(starts) == 0:
            continue
        predicted = states_t[starts]
        per_h = []
        for h in range(horizon):
            predicted, _ = model.predict_mean(predicted, actions_t[starts + h])
            per_h.append((predicted - states_t[starts + h + 1]).norm(dim=-1).mean().item())
        errors.append(np.array(per_h))
    env.close()
    if not errors:
        raise ValueError(f"episodes of {env_id} are shorter than horizon={horizon}")
    return np.mean(errors, axis=0)


@torch.no_grad()
def value_overestimation(agent: SAC, env_id: str, episodes: int = 5, seed: int = 10_000) -> float:
    """Mean of Q(s0, pi(s0)) minus the real discounted return from s0 (deterministic policy): > 0 = optimism."""
    env = make_env(env_id, "value_overestimation")
    gaps = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        action = agent.act(obs, deterministic=True)
        q = agent.critic(torch.as_tensor(obs[None], dtype=torch.float32),
                         torch.as_tensor(action[None], dtype=torch.float32)).min(dim=0).values.item()
        ret, discount, done = 0.0, 1.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(action)
            ret += discount * float(reward)
            discount *= agent.config.gamma
            done = terminated or truncated
            action = agent.act(obs, deterministic=True)
        gaps.append(q - ret)
    env.close()
    return float(np.mean(gaps))


# ---- Lecture 12's cautions, measured (notebook 05, Part 3) ------------------------------------

def pendulum_angle_velocity(obs: np.ndarray | Tensor) -> np.ndarray:
    """Pendulum observations [cos, sin, velocity] -> [angle in (-pi, pi], velocity] (angle 0 = upright)."""
    obs = np.asarray(obs.detach() if isinstance(obs, Tensor) else obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != 3:
        raise ValueError(f"expected Pendulum observations of shape [N, 3], got {obs.shape}")
    return np.stack([np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]], axis=1)


def state_distance(a: np.ndarray, b: np.ndarray, bins: int = 12, max_speed: float = 8.0, seed: int = 0) -> float:
    """Total-variation distance (0 = same, 1 = disjoint) between two Pendulum state sets, on a bins x bins grid.

    The larger set is subsampled (seeded) to the size of the smaller: the histogram estimate of the distance is
    biased upwards for small sets, so two comparisons are only comparable at equal sizes.
    """
    if len(a) == 0 or len(b) == 0:
        raise ValueError("state_distance needs at least one state in each set")
    size, rng = min(len(a), len(b)), np.random.default_rng(seed)
    a, b = (np.asarray(x)[rng.choice(len(x), size, replace=False)] if len(x) > size else np.asarray(x) for x in (a, b))
    edges = (np.linspace(-np.pi, np.pi, bins + 1), np.linspace(-max_speed, max_speed, bins + 1))
    hists = [np.histogram2d(*pendulum_angle_velocity(x).T, bins=edges)[0] for x in (a, b)]
    return float(0.5 * np.abs(hists[0] / hists[0].sum() - hists[1] / hists[1].sum()).sum())


@torch.no_grad()
def on_policy_states(agent: SAC, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """States the agent's current (sampled) policy visits in the real env: what it would train on if on-policy."""
    env = make_env(env_id, "on_policy_states")
    states = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            states.append(obs)
            obs, _, terminated, truncated, _ = env.step(agent.act(obs))
            done = terminated or truncated
    env.close()
    return np.array(states, dtype=np.float32)


@torch.no_grad()
def branched_states(model: ProbabilisticEnsemble, agent: SAC, real_buffer: ReplayBuffer, num_starts: int,
                    horizon: int, rng: np.random.Generator) -> np.ndarray:
    """The states a branched rollout of length `horizon` stores (its `obs` column), as in the model buffer."""
    if horizon < 1 or num_starts < 1:
        raise ValueError("branched_states: horizon and num_starts must be positive")
    obs, states = real_buffer.sample(num_starts, rng).obs, []
    for _ in range(horizon):
        states.append(obs.numpy())
        obs, _, terminated = model.step(obs, agent.sample_actions(obs)[0], rng)
        obs = obs[~terminated]
        if obs.shape[0] == 0:
            break
    return np.concatenate(states)


@torch.no_grad()
def imagined_rollout(model: ProbabilisticEnsemble, agent: SAC, obs: np.ndarray, steps: int,
                     rng: np.random.Generator) -> np.ndarray:
    """The states [steps + 1, obs_dim] the model imagines from `obs` under the agent's deterministic policy."""
    if steps < 1:
        raise ValueError("imagined_rollout: steps must be positive")
    state = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])
    states = [state[0].numpy()]
    for _ in range(steps):
        state, _, _ = model.step(state, agent.act(state.numpy(), deterministic=True), rng)
        states.append(state[0].numpy())
    return np.array(states)


@torch.no_grad()
def imagined_vs_real_return(agent: SAC, model: ProbabilisticEnsemble, env_id: str, horizon: int, episodes: int,
                            rng: np.random.Generator, seed: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Like for like: the same deterministic policy, the same start states, the same horizon and the same value
    (discounted sum of `horizon` rewards), once inside the model (random elite per step, sampled) and once in
    the real env. Returns (predicted, real), one value per start state."""
    if horizon < 1 or episodes < 1:
        raise ValueError("imagined_vs_real_return: horizon and episodes must be positive")
    env = make_env(env_id, "imagined_vs_real_return")
    gamma = agent.config.gamma
    predicted, real = np.zeros(episodes), np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        imagined = torch.as_tensor(obs[None], dtype=torch.float32)
        for h in range(horizon):
            action = agent.act(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            imagined, model_reward, _ = model.step(imagined, agent.act(imagined.numpy(), deterministic=True),
                                                            rng)
            real[episode] += gamma**h * float(reward)
            predicted[episode] += gamma**h * float(model_reward[0])
            if terminated or truncated:
                break
    env.close()
    return predicted, real


__all__ = ["MBPOConfig", "MBPOResult", "MVESAC", "branched_rollout", "buffer_contents", "mixed_batch",
           "collect_random_transitions", "model_error_vs_horizon", "refresh_model", "train_mbpo",
           "value_overestimation", "pendulum_angle_velocity", "state_distance", "on_policy_states",
           "branched_states", "imagined_rollout", "imagined_vs_real_return"]
