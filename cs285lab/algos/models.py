"""Learned dynamics: an ensemble of probabilistic models of (state change, reward) given (state, action).

The recipe of PETS/MBPO, written to be read next to the lecture:

- each member outputs a Gaussian over [s' - s, r]: a mean and a log-variance per dimension;
- the log-variance is soft-clamped between learned bounds (max/min log-variance), so the model
  can neither claim infinite certainty nor give up and predict huge variance everywhere;
- members are trained with the Gaussian negative log-likelihood on REAL transitions only,
  each on its own shuffle of the data, with inputs and targets normalised;
- every refit starts from fresh weights on ALL real data (MBPO's choice; the lecture mentions a few
  gradient steps on the new data instead; the two are not compared in this course);
- a held-out validation split stops training early; the members with the lowest validation
  error are the elites, and every model step samples from a randomly chosen elite.

All E members live in one batched module (weights [E, in, out], one torch.baddbmm per layer): one call
per layer instead of E (the arithmetic is still that of E networks).

Public API (also used by the Dyna notebook):

    model = ProbabilisticEnsemble(obs_dim, act_dim, ensemble_size=5, num_elites=3)
    stats = model.fit(obs, actions, rewards, next_obs, rng=rng)   # or model.fit(batch, rng=rng)
    next_obs, rewards, terminated = model.step(obs, actions, rng)  # one sampled step
    next_obs_mean, reward_mean = model.predict_mean(obs, actions)  # mean over elites
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cs285lab.twins import twin

TerminationFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
NllFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_LOG_2PI = math.log(2 * math.pi)
_MAX_LOG_VAR_INIT, _MIN_LOG_VAR_INIT = 0.5, -10.0
_MIN_BATCHES_PER_EPOCH = 8  # a 200-transition data set is ONE 256-batch: far too few gradient steps per epoch


def never_terminates(obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """Termination function of envs that never terminate (Pendulum): all False, shape [N]."""
    return torch.zeros(obs.shape[0], dtype=torch.bool)


@twin("nb05", "nb05-gaussian-nll", needed_by=("nb04", "nb05"))  # ProbabilisticEnsemble.fit's default
def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of `target` under N(mean, exp(log_var)), averaged over the last two dims.

    Inputs [E, N, D] give one loss per ensemble member, shape [E].
    """
    # Squared error weighted by the precision, plus the log-variance that stops "infinite variance".
    per_dim = 0.5 * ((target - mean) ** 2 * torch.exp(-log_var) + log_var + _LOG_2PI)
    return per_dim.mean(dim=(-2, -1))


class EnsembleLinear(nn.Module):
    """E independent linear layers applied in one batched matmul: [E, N, in] -> [E, N, out]."""

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, out_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Fresh weights: truncated normal with std 1/(2 sqrt(in)) as in the MBPO reference code; zero biases."""
        nn.init.trunc_normal_(self.weight, std=1.0 / (2.0 * math.sqrt(self.weight.shape[1])), generator=generator)
        self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply member e's layer to x[e]."""
        return torch.baddbmm(self.bias, x, self.weight)


class Normalizer(nn.Module):
    """Shift and scale features to zero mean and unit variance (statistics set by `fit`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: torch.Tensor) -> None:
        """Set the statistics from data x [N, dim] (constant features keep std 1)."""
        self.mean.copy_(x.mean(0))
        std = x.std(0)
        self.std.copy_(torch.where(std < 1e-6, torch.ones_like(std), std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise x."""
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation."""
        return x * self.std + self.mean


@dataclass
class FitStats:
    """What one call to `ProbabilisticEnsemble.fit` did (losses in normalised target units)."""

    epochs: int
    updates: int
    train_nll: float          # last epoch, mean over members (the loss the model was trained with)
    val_nll: float            # held-out Gaussian NLL of the elites (reference formula)
    val_mse: float            # held-out mean squared error of the elites' means
    val_nll_before: float     # held-out NLL of the elites before this fit (how much it improved)
    elites: list[int]
    num_train: int
    num_val: int


class ProbabilisticEnsemble(nn.Module):
    """E Gaussian models of (s' - s, r) given (s, a), trained jointly, sampled through the elites."""

    def __init__(self, obs_dim: int, act_dim: int, ensemble_size: int = 5, num_elites: int = 3,
                 hidden: Sequence[int] = (200, 200, 200), lr: float = 1e-3, weight_decay: float = 5e-5,
                 termination_fn: TerminationFn = never_terminates) -> None:
        super().__init__()
        if obs_dim <= 0 or act_dim <= 0:
            raise ValueError(f"ProbabilisticEnsemble needs obs_dim, act_dim > 0, got {obs_dim}, {act_dim}")
        if not 1 <= num_elites <= ensemble_size:
            raise ValueError(f"num_elites must be in [1, ensemble_size={ensemble_size}], got {num_elites}")
        if not callable(termination_fn):
            raise TypeError("termination_fn must be a function (obs, actions, next_obs) -> bool tensor [N]")
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.ensemble_size, self.num_elites = ensemble_size, num_elites
        self.termination_fn = termination_fn
        in_dim, self.out_dim = obs_dim + act_dim, obs_dim + 1
        sizes = [in_dim, *hidden]
        self.hidden_layers = nn.ModuleList(EnsembleLinear(ensemble_size, a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = EnsembleLinear(ensemble_size, sizes[-1], 2 * self.out_dim)
        # Learned bounds of the log-variance (per member), pushed towards each other by a small penalty.
        self.max_log_var = nn.Parameter(torch.full((ensemble_size, 1, self.out_dim), _MAX_LOG_VAR_INIT))
        self.min_log_var = nn.Parameter(torch.full((ensemble_size, 1, self.out_dim), _MIN_LOG_VAR_INIT))
        self.input_norm, self.target_norm = Normalizer(in_dim), Normalizer(self.out_dim)
        self.elites = list(range(num_elites))
        self.fitted = False
        decay = [p for layer in [*self.hidden_layers, self.head] for p in (layer.weight,)]
        no_decay = [p for layer in [*self.hidden_layers, self.head] for p in (layer.bias,)]
        self.optimizer = torch.optim.AdamW([
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay + [self.max_log_var, self.min_log_var], "weight_decay": 0.0},
        ], lr=lr)

    @torch.no_grad()
    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Fresh weights, log-variance bounds and optimizer state, drawn from `rng` (a fit from scratch)."""
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        for layer in [*self.hidden_layers, self.head]:
            layer.reset_parameters(generator)
        self.max_log_var.fill_(_MAX_LOG_VAR_INIT)
        self.min_log_var.fill_(_MIN_LOG_VAR_INIT)
        self.optimizer.state.clear()

    # ---- the network -------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs [E, N, in] -> (mean, log_var) of the normalised targets, each [E, N, out]."""
        x = inputs
        for layer in self.hidden_layers:
            x = nn.functional.silu(layer(x))
        mean, raw_log_var = self.head(x).chunk(2, dim=-1)
        # Soft clamp: smooth, so gradients still flow near the bounds (unlike torch.clamp).
        log_var = self.max_log_var - nn.functional.softplus(self.max_log_var - raw_log_var)
        log_var = self.min_log_var + nn.functional.softplus(log_var - self.min_log_var)
        return mean, log_var

    # ---- training ----------------------------------------------------------------------------
    def fit(self, obs: Any, actions: Any = None, rewards: Any = None, next_obs: Any = None, *,
            rng: np.random.Generator, holdout_ratio: float = 0.2, max_holdout: int = 5000,
            batch_size: int = 256, max_epochs: int = 100, patience: int = 5,
            nll_fn: NllFn = gaussian_nll) -> FitStats:
        """Train from scratch on real transitions (arrays, or one object with .obs/.actions/.rewards/.next_obs).

        An epoch has at least 8 minibatches from 128 training rows on (smaller batches while data is scarce,
        never under 16 rows). Early-stops when
        no member improved its held-out error by 1% for `patience` epochs, keeps each member's best
        weights, and picks the elites. `nll_fn(mean, log_var, target) -> [E]`
        is the training loss (the notebook passes the student's).
        """
        obs, actions, rewards, next_obs = self._transitions(obs, actions, rewards, next_obs)
        n = obs.shape[0]
        if n < 2:
            raise ValueError(f"fit needs at least 2 transitions, got {n}")
        inputs = torch.cat([obs, actions], dim=-1)
        targets = torch.cat([next_obs - obs, rewards[:, None]], dim=-1)

        # 1. Held-out split; normalise with training statistics only.
        perm = torch.as_tensor(rng.permutation(n))
        num_val = min(max(1, int(n * holdout_ratio)), max_holdout, n - 1)
        val_idx, train_idx = perm[:num_val], perm[num_val:]
        self.reset_parameters(rng)  # from scratch: old weights are confidently wrong where the new data lies
        self.input_norm.fit(inputs[train_idx])
        self.target_norm.fit(targets[train_idx])
        x_train, y_train = self.input_norm(inputs[train_idx]), self.target_norm(targets[train_idx])
        x_val, y_val = self.input_norm(inputs[val_idx]), self.target_norm(targets[val_idx])
        num_train = x_train.shape[0]
        batch_size = max(16, min(batch_size, math.ceil(num_train / _MIN_BATCHES_PER_EPOCH)))

        best_mse, val_nll_before, _ = self._validate(x_val, y_val)
        best_state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        epochs = updates = since_improved = 0
        train_nll = float("nan")
        E = self.ensemble_size
        while epochs < max_epochs and since_improved < patience:
            # 2. One epoch: each member sees its own shuffle of the training data.
            order = torch.as_tensor(np.argsort(rng.random((E, num_train)), axis=1))
            losses = []
            for start in range(0, num_train, batch_size):
                idx = order[:, start:start + batch_size]
                mean, log_var = self(x_train[idx])
                loss = nll_fn(mean, log_var, y_train[idx])
                if not isinstance(loss, torch.Tensor) or loss.shape not in ((E,), ()):
                    raise ValueError(f"nll_fn must return a tensor of shape [{E}] (one loss per member), "
                                     f"got {getattr(loss, 'shape', type(loss).__name__)}")
                bound_penalty = 0.01 * (self.max_log_var.sum() - self.min_log_var.sum())
                self.optimizer.zero_grad()
                (loss.sum() + bound_penalty).backward()
                self.optimizer.step()
                losses.append(float(loss.detach().mean()))
                updates += 1
            train_nll = float(np.mean(losses))
            epochs += 1

            # 3. Validation: keep each member's best weights; stop when nobody improves.
            mse = self._validate(x_val, y_val)[0]
            improved = (best_mse - mse) / best_mse.clamp_min(1e-12) > 0.01
            if improved.any():
                state = self.state_dict()
                for key, value in state.items():
                    if value.dim() > 0 and value.shape[0] == E and key.split(".")[0] not in ("input_norm", "target_norm"):
                        best_state[key][improved] = value[improved].detach()
                best_mse = torch.where(improved, mse, best_mse)
                since_improved = 0
            else:
                since_improved += 1
        self.load_state_dict(best_state)

        # 4. Elites: the members with the lowest held-out error.
        mse, _, per_member_nll = self._validate(x_val, y_val)
        self.elites = torch.argsort(mse)[: self.num_elites].tolist()
        self.fitted = True
        return FitStats(epochs=epochs, updates=updates, train_nll=train_nll,
                        val_nll=float(per_member_nll[self.elites].mean()),
                        val_mse=float(mse[self.elites].mean()), val_nll_before=val_nll_before,
                        elites=list(self.elites), num_train=num_train, num_val=num_val)

    @torch.no_grad()
    def _validate(self, x_val: torch.Tensor, y_val: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor]:
        """Per-member held-out MSE [E], elite-mean NLL, per-member NLL [E] (reference formula)."""
        E = self.ensemble_size
        mean, log_var = self(x_val.expand(E, *x_val.shape))
        target = y_val.expand(E, *y_val.shape)
        mse = ((mean - target) ** 2).mean(dim=(-2, -1))
        nll = gaussian_nll(mean, log_var, target)
        return mse, float(nll[self.elites].mean()), nll

    def _transitions(self, obs: Any, actions: Any, rewards: Any, next_obs: Any) -> tuple[torch.Tensor, ...]:
        """Accept arrays or one batch-like object; return float32 tensors with checked shapes."""
        if actions is None and rewards is None and next_obs is None:
            batch = obs
            missing = [a for a in ("obs", "actions", "rewards", "next_obs") if not hasattr(batch, a)]
            if missing:
                raise TypeError(f"fit(data) needs an object with .obs, .actions, .rewards, .next_obs "
                                f"(e.g. a Batch); {type(batch).__name__} lacks {missing}. "
                                "Or call fit(obs, actions, rewards, next_obs)")
            obs, actions, rewards, next_obs = batch.obs, batch.actions, batch.rewards, batch.next_obs
        elif actions is None or rewards is None or next_obs is None:
            raise TypeError("fit needs all of obs, actions, rewards, next_obs (or one batch object)")
        obs, next_obs = self._as_matrix(obs, self.obs_dim, "obs"), self._as_matrix(next_obs, self.obs_dim, "next_obs")
        actions = self._as_matrix(actions, self.act_dim, "actions")
        rewards = rewards.detach() if isinstance(rewards, torch.Tensor) else torch.as_tensor(np.asarray(rewards))
        if rewards.dim() == 2 and rewards.shape[1] == 1:
            rewards = rewards[:, 0]
        if rewards.dim() != 1 or not (obs.shape[0] == actions.shape[0] == rewards.shape[0] == next_obs.shape[0]):
            raise ValueError("obs, actions, rewards, next_obs must hold the same number of transitions "
                             f"(rewards as a vector [N]); got {obs.shape[0]}, {actions.shape[0]}, "
                             f"{tuple(rewards.shape)}, {next_obs.shape[0]}")
        rewards = rewards.float()
        return obs, actions, rewards, next_obs

    # ---- using the model ---------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, obs: Any, actions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's Gaussian over [s' - s, r] in raw units: (mean, variance), each [E, N, obs_dim + 1]."""
        self._require_fitted()
        obs, actions = self._as_matrix(obs, self.obs_dim, "obs"), self._as_matrix(actions, self.act_dim, "actions")
        x = self.input_norm(torch.cat([obs, actions], dim=-1))
        mean, log_var = self(x.expand(self.ensemble_size, *x.shape))
        std = self.target_norm.std
        return self.target_norm.inverse(mean), torch.exp(log_var) * std**2

    @torch.no_grad()
    def step(self, obs: Any, actions: Any, rng: np.random.Generator,
             deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One model step per row: (next_obs [N, obs_dim], rewards [N], terminated [N] bool).

        Each row uses a randomly chosen elite and (unless `deterministic`) samples from its Gaussian.
        """
        obs, actions = self._as_matrix(obs, self.obs_dim, "obs"), self._as_matrix(actions, self.act_dim, "actions")
        mean, var = self.predict(obs, actions)
        n = obs.shape[0]
        member = torch.as_tensor(rng.choice(self.elites, size=n))
        rows = torch.arange(n)
        mean, std = mean[member, rows], var[member, rows].sqrt()
        if not deterministic:
            noise = torch.as_tensor(rng.standard_normal(mean.shape), dtype=torch.float32)
            mean = mean + std * noise
        next_obs, rewards = obs + mean[:, :-1], mean[:, -1]
        terminated = torch.as_tensor(self.termination_fn(obs, actions, next_obs)).reshape(-1).bool()
        if terminated.shape[0] != n:
            raise ValueError(f"termination_fn returned {terminated.shape[0]} flags for {n} transitions")
        return next_obs, rewards, terminated

    @torch.no_grad()
    def predict_mean(self, obs: Any, actions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The elites' average prediction: (next_obs [N, obs_dim], rewards [N])."""
        obs = self._as_matrix(obs, self.obs_dim, "obs")
        mean, _ = self.predict(obs, actions)
        mean = mean[self.elites].mean(0)
        return obs + mean[:, :-1], mean[:, -1]

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("the model has not been trained yet: call fit(...) on real transitions first")

    def _as_matrix(self, x: Any, dim: int, name: str) -> torch.Tensor:
        t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
        t = t.float()
        if t.dim() == 1 and dim == 1 and name == "actions":
            t = t[:, None]
        if t.dim() != 2 or t.shape[1] != dim:
            raise ValueError(f"{name} must have shape [N, {dim}], got {tuple(t.shape)}")
        return t

