"""The naive off-policy actor-critic with each lecture fix switched on or off: the ablation of notebook 03.

`AblationAC(fix_critic, fix_actor)` changes one thing at a time relative to the naive algorithm
(`cs285lab.algos.naive_offpolicy`), with the same networks, optimizer, loop and buffer:

- critic, unfixed: the naive algorithm's value function fit on buffer transitions;
  fixed: a Q(s, a) critic regressed toward the targets that `q_target_fn` returns.
- actor, unfixed: the naive algorithm's score-function gradient, weighted by an advantage;
  fixed: the loss that `actor_loss_fn` returns, with K actions per buffer state available to it.

(What the fixed pieces compute is notebook 03's exercise: its student copy explains it after the graded
checks, so this docstring does not.) With both switches off it is the naive algorithm; with both on, the
lecture's minimal off-policy actor-critic (no entropy, no twin Q, no reparameterization). Every arm bootstraps
from a slowly moving (Polyak-averaged) copy of its critic, as SAC does, so the arms differ only in the two fixes.
The two pieces that differ are plain functions (`q_target`, `score_function_loss`, the package's twins of the
exercises, stubbed in a student release) so a notebook can plug in a student's own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.algos.off_policy import OffPolicyConfig, run_off_policy
from cs285lab.algos.sac import SquashedGaussianActor
from cs285lab.batch import Batch
from cs285lab.envs.continuous import make_env
from cs285lab.nets import mlp
from cs285lab.record import HistoryRow, Logger
from cs285lab.seeding import seed_run, seeded_init
from cs285lab.twins import twin

ARMS = {  # name -> (fix_critic, fix_actor): the four cells of the 2 x 2 ablation
    "naive": (False, False),
    "critic fixed": (True, False),
    "policy gradient fixed": (False, True),
    "both fixed": (True, True),
}


@dataclass
class AblationConfig(OffPolicyConfig):
    """A run of one arm: the loop's settings (OffPolicyConfig), the naive algorithm's sizes and the fixes' switches."""

    fix_critic: bool = False
    fix_actor: bool = False
    num_samples: int = 4                 # K fresh actions per buffer state (fixed actor only)
    baseline: bool = True                # fixed actor: weight by Q minus the mean Q of the state's K samples
    critic_tau: float | None = 0.005     # every arm bootstraps from a Polyak-averaged copy of its critic (None: itself)
    hidden: tuple[int, ...] = (64, 64)
    lr: float = 3e-3
    gamma: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.baseline and self.num_samples < 2:
            raise ValueError("AblationConfig: the K-sample baseline needs num_samples >= 2")
        if self.critic_tau is not None and not 0.0 < self.critic_tau <= 1.0:
            raise ValueError(f"AblationConfig.critic_tau must be in (0, 1] or None, got {self.critic_tau}")
        if self.num_samples < 1:
            raise ValueError("AblationConfig: num_samples must be positive")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"AblationConfig.gamma must be in [0, 1], got {self.gamma}")


class ActsWithActor:
    """`act` for an agent with a squashed Gaussian `actor` and an `obs_dim` (shared by the off-policy agents)."""

    actor: SquashedGaussianActor
    obs_dim: int

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """One action for obs [obs_dim] or a batch [N, obs_dim]."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        if x.shape[-1] != self.obs_dim or x.ndim not in (1, 2):
            raise ValueError(f"act: expected obs of shape [{self.obs_dim}] or [N, {self.obs_dim}], got {tuple(x.shape)}")
        return self.actor(x, deterministic=deterministic)[0].numpy()


@twin("nb03", "nb03-q-target")
def q_target(batch: Batch, sample_actions: Callable, target_q: Callable, gamma: float,
             alpha: float = 0.0) -> Tensor:
    """y = r + gamma * (Q(s', a') - alpha log pi(a'|s')) * (1 - terminated), a' ~ pi(s') fresh; [B], no gradient."""
    with torch.no_grad():
        next_actions, next_log_prob = sample_actions(batch.next_obs)
        next_value = target_q(batch.next_obs, next_actions) - alpha * next_log_prob
        return batch.rewards + gamma * (1.0 - batch.terminated) * next_value


@twin("nb03", "nb03-score-loss")
def score_function_loss(batch: Batch, policy, critic: Callable, num_samples: int) -> Tensor:
    """-mean over K fresh samples a ~ pi(.|s) and states of log pi(a|s) * Q(s, a) (Q as a fixed weight)."""
    actions = policy.sample(batch.obs, num_samples)
    with torch.no_grad():
        q = critic(batch.obs, actions)
    return -(policy.log_prob(batch.obs, actions) * q).mean()


class _Policy:
    """The actor as the exercises see it: sample(obs, K) -> [K, B, act_dim] (no grad), log_prob(obs, a) -> [K, B]."""

    def __init__(self, actor: SquashedGaussianActor) -> None:
        self.actor = actor

    def sample(self, obs: Tensor, num_samples: int) -> Tensor:
        """K actions per state from the current policy, without gradient."""
        with torch.no_grad():
            return self.actor(obs.expand(num_samples, *obs.shape))[0]

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """log pi(a|s) for actions of any leading shape [..., B, act_dim]."""
        return self.actor.log_prob(obs.expand(*actions.shape[:-1], obs.shape[-1]), actions)


class AblationAC(ActsWithActor):
    """The naive off-policy actor-critic with the critic fix and the policy-gradient fix as switches."""

    def __init__(self, obs_dim: int, act_dim: int, action_low: np.ndarray, action_high: np.ndarray,
                 config: AblationConfig | None = None, seed: int | None = None, *,
                 q_target_fn: Callable = q_target, actor_loss_fn: Callable = score_function_loss) -> None:
        self.config = config = config or AblationConfig()
        self.obs_dim = int(obs_dim)
        self.q_target_fn, self.actor_loss_fn = q_target_fn, actor_loss_fn
        with seeded_init(seed):  # the networks from `seed` if given, else from the global generator
            self.actor = SquashedGaussianActor(obs_dim, act_dim, config.hidden, np.asarray(action_low, np.float32),
                                               np.asarray(action_high, np.float32))
            self.policy = _Policy(self.actor)
            # V(s) for the unfixed critic; Q(s, a) whenever something needs Q. An unfixed critic with a
            # fixed actor fits Q to r + gamma V(s'), with V fit as the naive critic fits it.
            self.value = mlp(obs_dim, 1, config.hidden, activation=nn.ReLU) if not config.fix_critic else None
            needs_q = config.fix_critic or config.fix_actor
            self.q = mlp(obs_dim + act_dim, 1, config.hidden, activation=nn.ReLU) if needs_q else None
            # The bootstrapped critic (Q when fixed, V when not) has a slowly moving copy for its targets, as in SAC.
            self.q_slow = self.v_slow = None
            if config.critic_tau is not None:
                if config.fix_critic:
                    self.q_slow = copy.deepcopy(self.q).requires_grad_(False)
                else:
                    self.v_slow = copy.deepcopy(self.value).requires_grad_(False)
        critic_params = [p for net in (self.value, self.q) if net is not None for p in net.parameters()]
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_opt = torch.optim.Adam(critic_params, lr=config.lr)

    def q_value(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Q(s, a) for actions of any leading shape [..., B, act_dim] -> [..., B]."""
        lead = actions.shape[:-1]
        x = torch.cat([obs.expand(*lead, obs.shape[-1]), actions], dim=-1)
        return self.q(x).squeeze(-1)

    def centered_q(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Q(s, a_k) minus the mean over the K samples of the same state: a baseline that costs nothing."""
        q = self.q_value(obs, actions)
        return q - q.mean(0, keepdim=True) if q.dim() > 1 else q

    @property
    def critic_of_actions(self) -> bool:
        """Whether value_estimate is Q(s, a) (the fixed critic) rather than V(s)."""
        return self.config.fix_critic

    @torch.no_grad()
    def value_estimate(self, obs: Tensor, actions: Tensor) -> Tensor:
        """The bootstrapped critic's value [N]: Q(s, a) when the critic is fixed, V(s) when not."""
        return self.q_value(obs, actions) if self.config.fix_critic else self.value(obs).squeeze(-1)

    def networks(self) -> dict[str, nn.Module]:
        """The bootstrapped critic, the actor and the critic's slow copy, for the evaluation probes."""
        critic, slow = (self.q, self.q_slow) if self.config.fix_critic else (self.value, self.v_slow)
        return {"critic": critic, "actor": self.actor, "target": slow}

    def _bootstrap_q(self, obs: Tensor, actions: Tensor) -> Tensor:
        net = self.q if self.q_slow is None else self.q_slow
        return net(torch.cat([obs, actions], dim=-1)).squeeze(-1)

    def _sample_next(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.actor(obs)

    def critic_loss(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The critic's regression loss, and the advantage of the buffer actions (for the unfixed actor)."""
        gamma, alive = self.config.gamma, 1.0 - batch.terminated
        if self.config.fix_critic:
            y = self.q_target_fn(batch, self._sample_next, self._bootstrap_q, gamma, 0.0)
            q = self.q_value(batch.obs, batch.actions)
            with torch.no_grad():  # line 4 with a Q critic: Q(s, a_i) minus the policy's mean Q at s
                baseline = self.q_value(batch.obs, self.policy.sample(batch.obs, self.config.num_samples)).mean(0)
                advantage = q - baseline
            return ((q - y) ** 2).mean(), advantage
        v = self.value(batch.obs).squeeze(-1)
        with torch.no_grad():
            y = batch.rewards + gamma * alive * (self.value if self.v_slow is None else self.v_slow)(batch.next_obs).squeeze(-1)
        loss = ((v - y) ** 2).mean()
        if self.q is not None:  # Q of the behaviour policies: r + gamma V(s')
            loss = loss + ((self.q_value(batch.obs, batch.actions) - y) ** 2).mean()
        return loss, (y - v).detach()

    def actor_loss(self, batch: Batch, advantage: Tensor) -> Tensor:
        """The policy-gradient surrogate: fresh actions weighted by Q, or the buffer's weighted by the advantage."""
        if self.config.fix_actor:
            critic = self.centered_q if self.config.baseline else self.q_value
            return self.actor_loss_fn(batch, self.policy, critic, self.config.num_samples)
        return -(self.actor.log_prob(batch.obs, batch.actions) * advantage).mean()

    def update(self, batch: Batch) -> dict[str, float]:
        """One critic step, then one actor step, on a batch from the buffer."""
        critic_loss, advantage = self.critic_loss(batch)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        for slow, net in ((self.q_slow, self.q), (self.v_slow, self.value)):
            if slow is not None:
                with torch.no_grad():  # Polyak: slow <- slow + tau * (net - slow)
                    for slow_param, param in zip(slow.parameters(), net.parameters()):
                        slow_param.lerp_(param, self.config.critic_tau)
        actor_loss = self.actor_loss(batch, advantage)
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item()}


@accepts_legacy_calls(AblationConfig, ("total_steps", "seed", "config"))
def train_ablation(env_id: str, config: AblationConfig, *, seed: int, logger: Logger | None = None,
                   q_target_fn: Callable = q_target,
                   actor_loss_fn: Callable = score_function_loss) -> tuple[AblationAC, list[HistoryRow]]:
    """Train one arm of the ablation (the run `config` describes) with the off-policy loop; return agent and history."""
    seed_run(seed)
    env = make_env(env_id, who="the off-policy actor-critic ablation")
    agent = AblationAC(env.observation_space.shape[0], env.action_space.shape[0], env.action_space.low,
                       env.action_space.high, config, q_target_fn=q_target_fn, actor_loss_fn=actor_loss_fn)
    return agent, run_off_policy(agent, env, env_id, config, seed=seed, logger=logger)


__all__ = ["ARMS", "AblationAC", "AblationConfig", "ActsWithActor", "q_target", "score_function_loss", "train_ablation"]
