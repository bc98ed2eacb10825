"""Silent bugs in SAC: plausible patches that run without error and fail quietly (notebook 03's code review).

SAC's update calls three small functions ("hooks"); each family of silent bug lives in one of them:

- `critic_loss(q, y)`: the critics' regression loss, q [num_q, B] against targets y [B]
  (family "broadcast": a shape mismatch that broadcasts to [num_q, B, B]);
- `q_backup(batch, agent)`: the regression target (family "target": a target that keeps its gradient
  and comes from the online critic);
- `soft_update(target, online, rate)`: the Polyak step of the target critics (family "polyak": the
  update runs in the wrong direction and drags the online critic back toward the target).

Each family has two house conventions (a team picks one; both are correct code) and two places
its bug can sit. A student's variant (cs285lab.variants) picks, for each review slot, a family, a
convention and a place; the fix differs between conventions, so another student's fixed code is
not the fix of yours (for the loss family the two conventions differ by a constant factor, which SAC's
Adam would not notice: there the check holds a review to its own convention). `HookedSAC` runs SAC with any
hooks and logs the statistics a reviewer reads.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cs285lab.algos.sac import SAC
from cs285lab.batch import Batch
from cs285lab.twins import answer


# ----- family "broadcast": critic_loss(q [num_q, B], y [B]) -> scalar ---------------------------------
@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
def critic_loss_sum(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, summed over the critics."""
    return ((q - y) ** 2).mean(dim=1).sum()


@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
def critic_loss_mean(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, averaged over the critics."""
    return ((q - y) ** 2).mean()


def _critic_loss_sum_unsqueeze(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, summed over the critics."""
    q = q.unsqueeze(-1)  # [num_q, B, 1], explicit about the member and batch dimensions
    return ((q - y) ** 2).mean(dim=(1, 2)).sum()


def _critic_loss_sum_loop(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, summed over the critics."""
    total = 0.0
    for q_member in q:  # one critic at a time, as a column
        total = total + ((q_member[:, None] - y) ** 2).mean()
    return total


def _critic_loss_mean_unsqueeze(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, averaged over the critics."""
    q = q.unsqueeze(-1)  # [num_q, B, 1], explicit about the member and batch dimensions
    return ((q - y) ** 2).mean()


def _critic_loss_mean_loop(q: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each critic against the targets, averaged over the critics."""
    losses = [((q_member[:, None] - y) ** 2).mean() for q_member in q]  # one critic at a time, as a column
    return torch.stack(losses).mean()


# ----- family "target": q_backup(batch, agent) -> y [B] --------------------------------------------------
@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
def q_backup_soft(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) (min_j Qbar_j(s', a') - alpha log pi(a'|s')), a' ~ pi(s'), a fixed label."""
    with torch.no_grad():
        next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
        next_q = agent.target_critic(batch.next_obs, next_actions).min(dim=0).values
        return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)


@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
def q_backup_plain(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) min_j Qbar_j(s', a'), a' ~ pi(s') (no entropy in the backup), a fixed label."""
    with torch.no_grad():
        next_actions, _ = agent.sample_actions(batch.next_obs)
        next_q = agent.target_critic(batch.next_obs, next_actions).min(dim=0).values
        return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * next_q


def _q_backup_soft_live(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) (min_j Qbar_j(s', a') - alpha log pi(a'|s')), a' ~ pi(s'), a fixed label."""
    next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
    next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
    return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)


def _q_backup_soft_half(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) (min_j Qbar_j(s', a') - alpha log pi(a'|s')), a' ~ pi(s'), a fixed label."""
    with torch.no_grad():
        next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
    next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
    return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)


def _q_backup_plain_live(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) min_j Qbar_j(s', a'), a' ~ pi(s') (no entropy in the backup), a fixed label."""
    next_actions, _ = agent.sample_actions(batch.next_obs)
    next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
    return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * next_q


def _q_backup_plain_half(batch: Batch, agent: SAC) -> Tensor:
    """y = r + gamma (1 - terminated) min_j Qbar_j(s', a'), a' ~ pi(s') (no entropy in the backup), a fixed label."""
    with torch.no_grad():
        next_actions, _ = agent.sample_actions(batch.next_obs)
    next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
    return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * next_q


# ----- family "polyak": soft_update(target, online, rate) -> None ------------------------------------------
@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
@torch.no_grad()
def soft_update_tau(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Move the target critics a fraction `rate` (tau, e.g. 0.005) of the way toward the online critics."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(1.0 - rate).add_(o, alpha=rate)


@answer("nb03", "nb03-silent-fix-1", "nb03-silent-fix-2", "nb03-silent-fix-3", compare_source=False)
@torch.no_grad()
def soft_update_polyak(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Keep a fraction `rate` (polyak, e.g. 0.995) of the target critics, take the rest from the online ones."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(rate).add_(o, alpha=1.0 - rate)


@torch.no_grad()
def _soft_update_tau_lerp(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Move the target critics a fraction `rate` (tau, e.g. 0.005) of the way toward the online critics."""
    for t, o in zip(target.parameters(), online.parameters()):
        o.lerp_(t, rate)


@torch.no_grad()
def _soft_update_tau_loop(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Move the target critics a fraction `rate` (tau, e.g. 0.005) of the way toward the online critics."""
    for t, o in zip(target.parameters(), online.parameters()):
        o.mul_(1.0 - rate).add_(t, alpha=rate)


@torch.no_grad()
def _soft_update_polyak_lerp(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Keep a fraction `rate` (polyak, e.g. 0.995) of the target critics, take the rest from the online ones."""
    for t, o in zip(target.parameters(), online.parameters()):
        o.lerp_(t, 1.0 - rate)


@torch.no_grad()
def _soft_update_polyak_loop(target: nn.Module, online: nn.Module, rate: float) -> None:
    """Keep a fraction `rate` (polyak, e.g. 0.995) of the target critics, take the rest from the online ones."""
    for t, o in zip(target.parameters(), online.parameters()):
        o.mul_(rate).add_(t, alpha=1.0 - rate)


# ----- the catalogue ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """One family of silent bug: the hook it lives in, its conventions' correct code and buggy placements."""

    name: str
    hook: str                                  # the function's public name, e.g. "critic_loss"
    signature: str                             # how it is called, for messages
    correct: dict[str, Callable]               # convention -> the correct function
    buggy: dict[str, tuple[Callable, ...]]     # convention -> the buggy placements


FAMILIES: dict[str, Family] = {
    "broadcast": Family("broadcast", "critic_loss", "critic_loss(q, y) with q [num_q, B] and y [B]",
                        {"sum": critic_loss_sum, "mean": critic_loss_mean},
                        {"sum": (_critic_loss_sum_unsqueeze, _critic_loss_sum_loop),
                         "mean": (_critic_loss_mean_unsqueeze, _critic_loss_mean_loop)}),
    "target": Family("target", "q_backup", "q_backup(batch, agent) -> y [B]",
                     {"soft": q_backup_soft, "plain": q_backup_plain},
                     {"soft": (_q_backup_soft_live, _q_backup_soft_half),
                      "plain": (_q_backup_plain_live, _q_backup_plain_half)}),
    "polyak": Family("polyak", "soft_update", "soft_update(target, online, rate) -> None",
                     {"tau": soft_update_tau, "polyak": soft_update_polyak},
                     {"tau": (_soft_update_tau_lerp, _soft_update_tau_loop),
                      "polyak": (_soft_update_polyak_lerp, _soft_update_polyak_loop)}),
}
CONVENTION_RATE = {"tau": lambda tau: tau, "polyak": lambda tau: 1.0 - tau}  # the rate each convention is called with


def hook_source(fn: Callable, name: str) -> str:
    """The source of a hook as a reviewer sees it: exactly the code that runs (decorators included), renamed to
    its public name. Registry marks (`@answer`) are the package's bookkeeping, not the team's code: left out."""
    source = textwrap.dedent(inspect.getsource(fn))
    source = "\n".join(line for line in source.splitlines() if not line.startswith("@answer("))
    return re.sub(r"^def \w+", f"def {name}", source, count=1, flags=re.M)


class HookedSAC(SAC):
    """SAC whose critic loss, target and Polyak step are pluggable functions; logs reviewer statistics.

    `hooks` maps hook names ("critic_loss", "q_backup", "soft_update") to functions; missing hooks use
    the correct code of the given conventions. `polyak_convention` says how soft_update's `rate` is meant.
    SAC.update runs unchanged: it calls these methods.
    """

    hooks: dict[str, Callable] = {}
    polyak_convention: str = "tau"

    def q_target(self, batch: Batch) -> Tensor:
        """The regression target, from the q_backup hook."""
        return self.hooks.get("q_backup", q_backup_soft)(batch, self)

    def critic_loss(self, batch: Batch) -> Tensor:
        """The critics' loss, from the critic_loss hook."""
        q = self.critic(batch.obs, batch.actions)
        y = self.q_target(batch)
        self._last_q_y = (q.detach().mean().item(), y.detach().mean().item())
        return self.hooks.get("critic_loss", critic_loss_sum)(q, y)

    def soft_update(self, target: nn.Module, online: nn.Module, tau: float) -> None:
        """The Polyak step, from the soft_update hook, called with the rate its convention means."""
        correct = soft_update_tau if self.polyak_convention == "tau" else soft_update_polyak
        self.hooks.get("soft_update", correct)(target, online, CONVENTION_RATE[self.polyak_convention](tau))

    def statistics(self, critic_loss: Tensor, actor_loss: Tensor, log_prob: Tensor) -> dict[str, float]:
        """SAC's statistics plus what a reviewer reads: Q and target means, gradient norms, target drift."""
        # the gradients of this update are still on the parameters (the optimizer step does not clear them)
        grad = {name: float(torch.linalg.vector_norm(torch.stack(
            [p.grad.norm() for p in net.parameters() if p.grad is not None])) if any(
            p.grad is not None for p in net.parameters()) else 0.0)
            for name, net in (("critic", self.critic), ("actor", self.actor))}
        with torch.no_grad():
            drift = torch.linalg.vector_norm(torch.stack([(t - o).norm() for t, o in zip(
                self.target_critic.parameters(), self.critic.parameters())]))
        q_mean, y_mean = self._last_q_y
        return {**super().statistics(critic_loss, actor_loss, log_prob), "q_mean": q_mean, "target_mean": y_mean,
                "critic_grad_norm": grad["critic"], "actor_grad_norm": grad["actor"], "target_drift": float(drift)}


def hooked_sac(hooks: dict[str, Callable], polyak_convention: str = "tau") -> type[HookedSAC]:
    """A HookedSAC subclass with these hooks (pass it to train_sac as agent_cls)."""
    if polyak_convention not in CONVENTION_RATE:
        raise ValueError(f"polyak_convention must be one of {sorted(CONVENTION_RATE)}, got {polyak_convention!r}")
    unknown = set(hooks) - {f.hook for f in FAMILIES.values()}
    if unknown:
        raise ValueError(f"unknown hooks {sorted(unknown)}; SAC's hooks are {[f.hook for f in FAMILIES.values()]}")
    return type("ReviewedSAC", (HookedSAC,), {"hooks": dict(hooks), "polyak_convention": polyak_convention})


def critic_statistics(agent: SAC, batch: Batch) -> dict[str, float]:
    """How well the critic tracks its own targets on a fixed batch: correlation and spread of Q vs y."""
    with torch.no_grad():
        q = agent.critic(batch.obs, batch.actions)[0]
        y = agent.q_target(batch)
    return {"corr(Q, y)": float(torch.corrcoef(torch.stack([q, y]))[0, 1]),
            "std(Q) / std(y)": float(q.std() / y.std()), "mean Q": float(q.mean()), "mean y": float(y.mean())}


@dataclass(frozen=True)
class Review:
    """One review of a student's series: the hook under review, its code, and a SAC that runs it."""

    slot: int
    family: str
    convention: str
    hook: str
    source: str
    agent_cls: type


def review_series(variant) -> list[Review]:
    """The reviews of a variant (cs285lab.variants.Variant), in order: the buggy code and a SAC running it."""
    polyak = next((s.convention for s in variant.slots if s.family == "polyak"), "tau")
    reviews = []
    for number, slot in enumerate(variant.slots, 1):
        family = FAMILIES[slot.family]
        buggy = family.buggy[slot.convention][slot.place]
        others = {FAMILIES[s.family].hook: FAMILIES[s.family].correct[s.convention]
                  for s in variant.slots if s is not slot}
        reviews.append(Review(number, slot.family, slot.convention, family.hook, hook_source(buggy, family.hook),
                              hooked_sac({**others, family.hook: buggy}, polyak)))
    return reviews


def fixed_sac(variant, fixes: dict[int, Callable]) -> type[HookedSAC]:
    """A SAC running a variant's hooks with the given fixes (slot -> function) in place of the reviewed code."""
    polyak = next((s.convention for s in variant.slots if s.family == "polyak"), "tau")
    return hooked_sac({FAMILIES[s.family].hook: fixes[n] for n, s in enumerate(variant.slots, 1)}, polyak)


__all__ = ["FAMILIES", "Family", "HookedSAC", "Review", "critic_statistics", "fixed_sac", "hook_source", "hooked_sac",
           "review_series"]
