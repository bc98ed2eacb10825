"""Soft actor-critic (SAC): the off-policy actor-critic of the lecture, made practical.

Its parts (notebook 03 asks students to find what the naive algorithm gets wrong before saying it here):
  - critic: Q(s, a) regressed toward r + gamma * Q(s', a') * (1 - terminated), a' ~ pi(s');
  - actor: a ~ pi(s) at buffer states, maximizing Q with the gradient through the action
    (reparameterization of a tanh-squashed Gaussian);
  - entropy bonus with an automatically tuned temperature alpha;
  - twin Q networks (one batched module), the minimum of the two in targets and in the actor loss;
  - Polyak-averaged target networks;
  - (a safeguard beyond the original SAC) layer-normalized critic features, see QEnsemble.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from cs285lab.algos.legacy import accepts_legacy_calls
from cs285lab.algos.off_policy import OffPolicyConfig, run_off_policy
from cs285lab.batch import Batch
from cs285lab.envs.continuous import make_env
from cs285lab.nets import mlp
from cs285lab.record import HistoryRow, Logger
from cs285lab.seeding import seed_run, seeded_init
from cs285lab.twins import answer

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass
class SACConfig(OffPolicyConfig):
    """A SAC run: the loop's settings (OffPolicyConfig: steps, evaluations, batches, buffer) and SAC's own.

    The defaults: small nets that learn Pendulum-v1 in about 4k env steps, and stay there.
    """

    hidden: tuple[int, ...] = (64, 64)   # both actor and critics
    lr: float = 1e-3                     # Adam, actor, critics and temperature
    gamma: float = 0.99
    tau: float = 0.005                   # Polyak: target <- (1 - tau) * target + tau * online
    init_alpha: float = 1.0              # initial entropy temperature
    target_entropy: float | None = None  # None -> -act_dim (the usual heuristic)
    num_q: int = 2                       # twin Q: the minimum fights overestimation
    critic_layer_norm: bool = True       # normalize the critics' hidden features (see QEnsemble)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.hidden = tuple(int(h) for h in self.hidden)
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"SACConfig.tau must be in (0, 1], got {self.tau}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"SACConfig.gamma must be in [0, 1], got {self.gamma}")
        if self.num_q < 1 or self.init_alpha <= 0:
            raise ValueError("SACConfig: num_q and init_alpha must be positive")


class QEnsemble(nn.Module):
    """`num_q` independent Q networks evaluated as ONE batched MLP: Q(s, a) -> [num_q, B].

    Each layer holds weights [num_q, in, out] and runs as one batched matmul, so twin critics
    cost about as much as one (and far less Python overhead than two nn.Sequential).
    With `layer_norm`, each hidden layer's features are normalized (zero mean, unit variance, no
    learned scale) before the ReLU. With it, SAC on Pendulum showed no collapse of the learned return
    over 10 seeds x 10k steps (benchmarks/results/sac.md); no arm of that bench turns it off at the same
    learning rate, so what layer norm itself contributes is not measured here.
    """

    def __init__(self, num_q: int, in_dim: int, hidden: Sequence[int], layer_norm: bool = False) -> None:
        super().__init__()
        self.layer_norm = layer_norm
        sizes = [in_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(a)  # the default init of nn.Linear, per member
            self.weights.append(nn.Parameter(torch.empty(num_q, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_q, 1, b).uniform_(-bound, bound)))
        self.num_q = num_q

    def forward(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Q values of every member for a batch: obs [B, obs_dim], actions [B, act_dim] -> [num_q, B]."""
        x = torch.cat([obs, actions], dim=-1).expand(self.num_q, -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                if self.layer_norm:
                    x = nn.functional.layer_norm(x, x.shape[-1:])
                x = torch.relu(x)
        return x.squeeze(-1)


class SquashedGaussianActor(nn.Module):
    """pi(a|s): a Gaussian in an unbounded space u, squashed by tanh and scaled to the action bounds."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], action_low: np.ndarray,
                 action_high: np.ndarray) -> None:
        super().__init__()
        self.net = mlp(obs_dim, 2 * act_dim, hidden, activation=nn.ReLU)
        low, high = torch.as_tensor(action_low, dtype=torch.float32), torch.as_tensor(action_high, dtype=torch.float32)
        self.register_buffer("scale", (high - low) / 2)
        self.register_buffer("center", (high + low) / 2)

    def forward(self, obs: Tensor, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """Sample a = center + scale * tanh(u), u ~ N(mu(s), sigma(s)) by reparameterization; return (a, log pi(a|s))."""
        mean, log_std = self.gaussian(obs)
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        return self.center + self.scale * torch.tanh(u), self.squashed_log_prob(mean, log_std, u)

    def gaussian(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log standard deviation of the unsquashed Gaussian, each [B, act_dim]."""
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    @answer("nb03", "nb03-squashed")  # Exercise 6's log-density; the actor runs it, so it stays in every handout
    def squashed_log_prob(self, mean: Tensor, log_std: Tensor, u: Tensor) -> Tensor:
        """log pi(a|s) [B] of a = center + scale * tanh(u), with the change-of-variables term."""
        # log N(u; mean, std), summed over action dimensions
        log_prob = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # a = center + scale * tanh(u): subtract log |da/du| = log scale + log(1 - tanh(u)^2),
        # with log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)) (stable for large |u|)
        return log_prob - (torch.log(self.scale) + 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """log pi(a|s) [B] of GIVEN actions (e.g. from the buffer), differentiable w.r.t. the actor."""
        mean, log_std = self.gaussian(obs)
        unit = ((actions - self.center) / self.scale).clamp(-1 + 1e-6, 1 - 1e-6)  # tanh(u), kept off +-1
        return self.squashed_log_prob(mean, log_std, torch.atanh(unit))


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Within this block, gradients flow THROUGH `module` to its inputs but not INTO its parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class SAC:
    """Soft actor-critic: squashed Gaussian actor, `num_q` batched critics, automatic temperature."""

    critic_of_actions = True  # value_estimate is Q(s, a): the evaluation probes measure how it ranks actions

    def __init__(self, obs_dim: int, act_dim: int, action_low: np.ndarray | Sequence[float],
                 action_high: np.ndarray | Sequence[float], config: SACConfig | None = None,
                 seed: int | None = None) -> None:
        """Networks from torch's global generator (train_sac seeds it); `seed` builds them from that seed instead,
        without touching the global generator (an agent built outside a training run: checks, tests)."""
        self.config = config = config or SACConfig()
        low = np.array(np.broadcast_to(np.asarray(action_low, dtype=np.float32), (act_dim,)))
        high = np.array(np.broadcast_to(np.asarray(action_high, dtype=np.float32), (act_dim,)))
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ValueError(f"SAC needs finite action bounds with high > low, got low={low}, high={high}")
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        with seeded_init(seed):
            self.actor = SquashedGaussianActor(obs_dim, act_dim, config.hidden, low, high)
            self.critic = QEnsemble(config.num_q, obs_dim + act_dim, config.hidden, config.critic_layer_norm)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), requires_grad=True)
        self.target_entropy = -float(act_dim) if config.target_entropy is None else float(config.target_entropy)
        # One Adam over the actor, the critics and the temperature (fused: one kernel per step). Adam works per
        # parameter, so this is three Adams, one per part, stepped at once (see update).
        self.optimizer = torch.optim.Adam([*self.actor.parameters(), *self.critic.parameters(), self.log_alpha],
                                          lr=config.lr, fused=True)

    @property
    def alpha(self) -> Tensor:
        """The entropy temperature (a detached scalar tensor)."""
        return self.log_alpha.detach().exp()

    # -- acting ------------------------------------------------------------------------------------
    def sample_actions(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Actions from the current policy, in env bounds, with their log-probabilities [N] (differentiable)."""
        return self.actor(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """One action for obs [obs_dim] (-> [act_dim]) or a batch [N, obs_dim] (-> [N, act_dim])."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_dim:
            raise ValueError(f"SAC.act: expected obs of shape [{self.obs_dim}] or [N, {self.obs_dim}], got {tuple(x.shape)}")
        mean, log_std = self.actor.gaussian(x)  # acting needs no log-probability
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        return (self.actor.center + self.actor.scale * torch.tanh(u)).numpy()

    @torch.no_grad()
    def value_estimate(self, obs: Tensor, actions: Tensor) -> Tensor:
        """min_j Q_j(s, a) [N], the value the actor climbs (what the evaluation probes compare with the returns)."""
        return self.critic(obs, actions).min(dim=0).values

    def networks(self) -> dict[str, nn.Module]:
        """The critic, the actor and the target critic, for the evaluation probes (cs285lab.algos.probes)."""
        return {"critic": self.critic, "actor": self.actor, "target": self.target_critic}

    # -- the update ----------------------------------------------------------------------------------
    @answer("nb03", "nb03-q-target", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3")  # Exercise 3 (and a soft review's fix); SAC runs it
    def q_target(self, batch: Batch) -> Tensor:
        """y = r + gamma * (min_j Qbar_j(s', a') - alpha log pi(a'|s')) * (1 - terminated), a' ~ pi(s') fresh."""
        with torch.no_grad():
            next_actions, next_log_prob = self.sample_actions(batch.next_obs)  # a' ~ pi(.|s')
            next_q = self.target_critic(batch.next_obs, next_actions).min(dim=0).values
            soft_next_value = next_q - self.alpha * next_log_prob
            return batch.rewards + self.config.gamma * (1.0 - batch.terminated) * soft_next_value

    def critic_loss(self, batch: Batch) -> Tensor:
        """Mean squared error of every Q network against the (detached) target."""
        q = self.critic(batch.obs, batch.actions)                   # [num_q, B]
        return ((q - self.q_target(batch)) ** 2).mean(dim=1).sum()  # target [B] broadcasts over the members

    @answer("nb03", "nb03-actor-loss")  # Exercise 7; SAC runs it
    def actor_loss(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """E_{a ~ pi(s)} [alpha log pi(a|s) - min_j Q_j(s, a)] at buffer states, reparameterized; also log pi(a|s)."""
        actions, log_prob = self.sample_actions(batch.obs)  # a ~ pi(.|s), reparameterized
        with frozen(self.critic):                          # the actor's loss must not train the critic
            q = self.critic(batch.obs, actions).min(dim=0).values
        return (self.alpha * log_prob - q).mean(), log_prob

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step of the critics, the actor and the temperature, then Polyak-average the targets."""
        _check_batch(batch, self.obs_dim, self.act_dim)
        # 1. critic loss: regress Q(s, a) on the buffer's (s, a) toward r + gamma * soft V(s'), a' ~ pi(s') fresh
        critic_loss = self.critic_loss(batch)
        # 2. actor loss: maximize Q(s, a) + entropy with a ~ pi(s) from the current policy (critic frozen)
        actor_loss, log_prob = self.actor_loss(batch)
        # 3. temperature loss: raise alpha when the entropy is below its target, lower it when above
        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        # 4. a gradient step for each. Each loss reaches only its own parameters (the target is a fixed label,
        #    the critic is frozen in the actor's loss, log pi is detached in alpha's), so one backward pass of
        #    their sum gives each part its own gradient, and one Adam step moves each part as its own Adam would.
        self.optimizer.zero_grad(set_to_none=True)
        (critic_loss + actor_loss + alpha_loss).backward()
        self.optimizer.step()
        # 5. targets: Polyak averaging, target <- target + tau * (online - target)
        self.soft_update(self.target_critic, self.critic, self.config.tau)
        return self.statistics(critic_loss, actor_loss, log_prob)

    @answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)  # a tau review's fix; SAC runs it
    @torch.no_grad()
    def soft_update(self, target: nn.Module, online: nn.Module, tau: float) -> None:
        """Move each target parameter a fraction `tau` of the way toward its online parameter."""
        for target_param, online_param in zip(target.parameters(), online.parameters()):
            target_param.lerp_(online_param, tau)

    def statistics(self, critic_loss: Tensor, actor_loss: Tensor, log_prob: Tensor) -> dict[str, float]:
        """What one update reports: its losses, the temperature and the policy's entropy."""
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(),
                "alpha": self.alpha.item(), "entropy": -log_prob.mean().item()}


def _check_batch(batch: Batch, obs_dim: int, act_dim: int) -> None:
    """A one-line error for a batch SAC cannot use (numpy arrays, float64, wrong shapes), before torch raises."""
    if not all(hasattr(batch, f) for f in ("obs", "actions", "rewards", "next_obs", "terminated")):
        raise TypeError(f"SAC.update: expected a cs285lab.buffers.Batch (buffer.sample(...)), got {type(batch).__name__}")
    shapes = {"obs": (obs_dim,), "actions": (act_dim,), "rewards": (), "next_obs": (obs_dim,), "terminated": ()}
    size = None
    for name, tail in shapes.items():
        value = getattr(batch, name)
        if not isinstance(value, Tensor):
            raise TypeError(f"SAC.update: batch.{name} is a {type(value).__name__}; use float32 torch tensors "
                            "(torch.as_tensor(x, dtype=torch.float32))")
        if value.dtype != torch.float32:
            raise TypeError(f"SAC.update: batch.{name} has dtype {value.dtype}; use float32 (x.float())")
        size = value.shape[0] if size is None and value.ndim else size
        if value.ndim != 1 + len(tail) or tuple(value.shape[1:]) != tail or value.shape[0] != size:
            raise ValueError(f"SAC.update: batch.{name} has shape {tuple(value.shape)}, expected "
                             f"[{size if size is not None else 'B'}{''.join(f', {d}' for d in tail)}]")


@accepts_legacy_calls(SACConfig, ("total_steps", "seed", "config"))
def train_sac(env_id: str, config: SACConfig, *, seed: int, logger: Logger | None = None,
              agent_cls: type[SAC] = SAC) -> tuple[SAC, list[HistoryRow]]:
    """Train SAC on `env_id` for the run `config` describes; return the agent and its evaluation history.

    History rows (cs285lab.record): step, eval_return (the deterministic policy over `eval_episodes`
    fixed-seed episodes), train_return, wall_s, train_s, train_cpu_s, and the last update's statistics.
    `agent_cls` lets a notebook plug in a subclass (e.g. one with a student's critic target).
    """
    seed_run(seed)  # the run's generators; the agent's networks are drawn from them
    env = make_env(env_id)
    agent = agent_cls(env.observation_space.shape[0], env.action_space.shape[0], env.action_space.low,
                      env.action_space.high, config)
    return agent, run_off_policy(agent, env, env_id, config, seed=seed, logger=logger)


__all__ = ["QEnsemble", "SAC", "SACConfig", "SquashedGaussianActor", "frozen", "train_sac"]
