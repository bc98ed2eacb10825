"""Checks for notebook 03: replay buffer, the fixed off-policy actor-critic, silent bugs, policy gradients, SAC.

Every mistake named here is proved by a test in tests/test_checks_nb03.py that feeds a broken
implementation and asserts the message.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from cs285lab.buffers import Batch
from cs285lab.checks.core import CheckFailed, Exercise, exercise, own_code
from cs285lab.budgets import thresholds


# --------------------------------------------------------------------------------------------
# 0. Your own code, not the package's: the package holds reference answers (twins, SAC's methods)
# --------------------------------------------------------------------------------------------
# own_code (checks/core.py) refuses them, however they are reached.

# --------------------------------------------------------------------------------------------
# 1. The replay buffer
# --------------------------------------------------------------------------------------------
OBS_DIM, ACT_DIM = 2, 1


def _transition(i: int) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]:
    """Transition number i, recognizable from any of its fields (reward = i)."""
    obs = np.array([i, -i], dtype=np.float32)
    return obs, np.array([i / 10], dtype=np.float32), float(i), obs + 0.5, i % 3 == 0


def _add(ex: Exercise, buf, i: int, capacity: int, truncated: bool = False, obs: np.ndarray | None = None,
         terminated: bool | None = None) -> None:
    o, a, r, o2, d = _transition(i)
    o = o if obs is None else obs
    d = d if terminated is None else terminated

    def add() -> None:
        try:
            buf.add(o, a, r, o2, d, truncated)
        except IndexError as exc:
            ex.fail(f"add raised IndexError ({exc}) on transition {i} of a buffer of capacity {capacity}: "
                    "an off-by-one in the wrap-around; the write index must go back to 0 when it reaches "
                    "capacity: index = (index + 1) % capacity")

    ex.call(add)


def _sample(ex: Exercise, buf, n: int, seed: int = 0) -> Batch:
    batch = ex.call(lambda: buf.sample(n, np.random.default_rng(seed)))
    for name, shape in (("obs", (n, OBS_DIM)), ("actions", (n, ACT_DIM)), ("rewards", (n,)),
                        ("next_obs", (n, OBS_DIM)), ("terminated", (n,))):
        if not hasattr(batch, name):
            ex.fail(f"sample() should return a Batch (cs285lab.buffers.Batch); the result has no field {name!r}")
        ex.expect_tensor(getattr(batch, name), shape=shape, dtype=torch.float32, what=f"batch.{name}")
    return batch


def _ids(batch: Batch) -> set[int]:
    return {int(round(x)) for x in batch.rewards.tolist()}


def replay_buffer(cls: type) -> None:
    """Check a ReplayBuffer class: add, sample, wrap-around, unfilled slots, aliasing, termination flag."""
    with exercise("replay_buffer") as ex, own_code(ex, "nb03-buffer", cls, "your ReplayBuffer"):
        capacity = 5
        buf = ex.call(cls, capacity, OBS_DIM, ACT_DIM)
        # 1. a partly filled buffer: only filled slots may be sampled
        for i in (1, 2, 3):
            _add(ex, buf, i, capacity)
        ex.expect(len(buf) == 3, f"len(buffer) is {len(buf)} after 3 adds to a buffer of capacity 5; it should be 3")
        batch = _sample(ex, buf, 300)
        ids = _ids(batch)
        ex.expect(0 not in ids, "sample() returned empty slots (all-zero transitions): draw indices from "
                  "[0, len(buffer)), not [0, capacity); the unfilled slots hold no data yet")
        ex.expect(ids == {1, 2, 3}, f"with transitions 1, 2, 3 stored, 300 samples contained {sorted(ids)}; "
                  "sample uniformly from all filled slots")
        ex.expect(torch.equal(batch.obs[:, 0], batch.rewards) and torch.equal(batch.next_obs, batch.obs + 0.5)
                  and torch.allclose(batch.actions[:, 0], batch.rewards / 10),
                  "the fields of a sampled transition come from different transitions: index obs, actions, "
                  "rewards, next_obs and terminated with the SAME indices")
        ex.expect(torch.equal(batch.terminated, (batch.rewards % 3 == 0).float()),
                  "batch.terminated does not match the stored flags (store terminated as 0.0/1.0 floats)")
        # 2. wrap-around: 7 transitions in 5 slots leave the newest five, 3..7
        for i in (4, 5, 6, 7):
            _add(ex, buf, i, capacity)
        ex.expect(len(buf) == capacity, f"len(buffer) is {len(buf)} after 7 adds to a buffer of capacity 5; "
                  "it should stay at the capacity")
        ids = _ids(_sample(ex, buf, 500))
        if 0 in ids:
            ex.fail("after wrapping around, sample() returned an empty (all-zero) slot: an off-by-one in the "
                    "wrap-around leaves a slot unwritten; wrap with index = (index + 1) % capacity")
        if ids & {1, 2}:
            ex.fail(f"after 7 adds to 5 slots the buffer should hold transitions 3..7 (FIFO: the oldest are "
                    f"overwritten first), but samples contained {sorted(ids)}")
        ex.expect(ids == {3, 4, 5, 6, 7}, f"after 7 adds to 5 slots samples contained {sorted(ids)}, expected "
                  "3..7: the newest transition must overwrite the oldest")
        # 3. uniform sampling, driven by the rng passed in
        counts = np.bincount(_sample(ex, buf, 5000).rewards.long().numpy(), minlength=8)[3:8]
        ex.expect(counts.min() > 800, f"sampling is not uniform: slot counts {counts.tolist()} out of 5000 draws")
        again_a, again_b = _sample(ex, buf, 16, seed=7), _sample(ex, buf, 16, seed=7)
        ex.expect(torch.equal(again_a.rewards, again_b.rewards),
                  "two samples with identically seeded rngs differ: draw indices with the `rng` argument "
                  "(rng.integers), not np.random or torch's global generator")
        # 4. no aliasing: a sampled batch must not change when the buffer is written afterwards ...
        fields = ("obs", "actions", "rewards", "next_obs", "terminated")
        batches = [_sample(ex, buf, 4), _sample(ex, buf, 64)]  # smaller and larger than the buffer
        snapshots = [{f: getattr(b, f).clone() for f in fields} for b in batches]
        for i in range(8, 14):
            _add(ex, buf, i, capacity)
        ex.expect(all(torch.equal(getattr(b, f), s[f]) for b, s in zip(batches, snapshots) for f in fields),
                  "aliasing: a batch you returned changed when the buffer was written afterwards; it shares "
                  "memory with the buffer's arrays. Return copies (fancy indexing with an index array copies)")
        # ... and the buffer must not keep a reference to the caller's arrays
        fresh = ex.call(cls, 4, OBS_DIM, ACT_DIM)
        reused = np.array([21.0, -21.0], dtype=np.float32)
        _add(ex, fresh, 21, 4, obs=reused)
        reused[:] = 99.0  # some envs reuse their observation array
        stored = _sample(ex, fresh, 8)
        ex.expect(torch.all(stored.obs[:, 0] == 21.0),
                  "aliasing: changing the array passed to add() afterwards changed the stored transition; "
                  "copy the values into the preallocated arrays (self.obs[i] = obs), do not keep the array")
        # 5. truncation is not termination
        flags = ex.call(cls, 4, OBS_DIM, ACT_DIM)
        _add(ex, flags, 1, 4, truncated=True, terminated=False)
        ex.expect(float(_sample(ex, flags, 8).terminated.max()) == 0.0,
                  "you stored a truncated transition as terminated: a time limit is not a terminal state, "
                  "the target must still bootstrap from s'; store `terminated` only and ignore `truncated`")
        _add(ex, flags, 2, 4, truncated=False, terminated=True)
        got = _sample(ex, flags, 64)
        ex.expect(bool(torch.all(got.terminated == (got.rewards == 2).float())),
                  "the terminated flag is not stored: a transition added with terminated=True must sample "
                  "with batch.terminated == 1.0")


# --------------------------------------------------------------------------------------------
# 2. Find the bugs: the line-by-line explanations, shown after the graded fix
# --------------------------------------------------------------------------------------------
# The quiz's explanations give the answer away, so they are stored encoded, not in clear.
_QUIZ = (
    "eyJsaW5lcyI6IHsiMSI6ICJUYWtlIGEgfiDPgM64KGF8cykgaW4gdGhlIGVudmlyb25tZW50LCBvYnNlcnZlIChzLCBhLCByLCBz"
    "JywgdGVybWluYXRlZCkgYW5kIGFkZCBpdCB0byB0aGUgYnVmZmVyIFIuIiwgIjIiOiAiU2FtcGxlIGEgYmF0Y2ggeyhz4bWiLCBh"
    "4bWiLCBy4bWiLCBzJ+G1oil9IHVuaWZvcm1seSBmcm9tIFIuIiwgIjMiOiAiRml0IFZfz4Yoc+G1oikgdG8gdGhlIHRhcmdldHMg"
    "eeG1oiA9IHLhtaIgKyDOsyBWX8+GKHMn4bWiKSgxIOKIkiB0ZXJtaW5hdGVk4bWiKS4iLCAiNCI6ICJFdmFsdWF0ZSBBKHPhtaIs"
    "IGHhtaIpID0gcuG1oiArIM6zIFZfz4YocyfhtaIpKDEg4oiSIHRlcm1pbmF0ZWThtaIpIOKIkiBWX8+GKHPhtaIpLiIsICI1Ijog"
    "IuKIh864IEog4omIIDEvTiDOo+G1oiDiiIfOuCBsb2cgz4DOuChh4bWifHPhtaIpIEEoc+G1oiwgYeG1oikuIiwgIjYiOiAizrgg"
    "4oaQIM64ICsgzrEg4oiHzrggSi4ifSwgIndoeSI6IHsiMSI6ICJDb2xsZWN0aW5nIHdpdGggdGhlIGN1cnJlbnQgcG9saWN5IGFu"
    "ZCBrZWVwaW5nIGV2ZXJ5IHRyYW5zaXRpb24gaXMgdGhlIHdob2xlIHBvaW50IG9mIHRoZSBidWZmZXI7IHRoZSBkYXRhIG1heSBj"
    "b21lIGZyb20gYW55IHBvbGljeS4iLCAiMiI6ICJVbmlmb3JtIHNhbXBsaW5nIGlzIGZpbmUuIChUaGUgc3RhdGVzIGRvIGNvbWUg"
    "ZnJvbSBPTEQgcG9saWNpZXMnIHN0YXRlIGRpc3RyaWJ1dGlvbnMsIGEgYmlhcyB3ZSBhY2NlcHQ7IFBhcnQgNyBkaXNjdXNzZXMg"
    "aXQuKSIsICIzIjogInLhtaIgYW5kIHMn4bWiIGZvbGxvd2VkIGZyb20gYeG1oiwgYW4gYWN0aW9uIGFuIE9MRCBwb2xpY3kgY2hv"
    "c2UsIHNvIHnhtaIgaXMgbm90IGEgc2FtcGxlIG9mIFZez4DOuChz4bWiKTogViBsZWFybnMgdGhlIHZhbHVlIG9mIHNvbWUgbWl4"
    "dHVyZSBvZiBwYXN0IHBvbGljaWVzLiBGaXg6IGxlYXJuIFEoc+G1oiwgYeG1oiksIHdoaWNoIGlzIHZhbGlkIGZvciBBTlkgYWN0"
    "aW9uLCB3aXRoIHRhcmdldCBy4bWiICsgzrMgUShzJ+G1oiwgYSfhtaIpLCBhJ+G1oiB+IM+AzrgocyfhtaIpIHNhbXBsZWQgZnJl"
    "c2guIiwgIjQiOiAiSXQgaW5oZXJpdHMgc3RlcCAzJ3MgcHJvYmxlbSAoYSBWIGZvciB0aGUgd3JvbmcgcG9saWN5LCBhbiBhZHZh"
    "bnRhZ2Ugb2YgYW4gb2xkIGFjdGlvbik7IG9uY2UgdGhlIGNyaXRpYyBsZWFybnMgUSwgdGhpcyBzdGVwIGRpc2FwcGVhcnM6IHVz"
    "ZSBRKHPhtaIsIGHhtaJez4ApIGRpcmVjdGx5LiIsICI1IjogIlRoZSBwb2xpY3kgZ3JhZGllbnQgaXMgYW4gZXhwZWN0YXRpb24g"
    "b3ZlciBhIH4gz4DOuChhfHPhtaIpLCBidXQgYeG1oiBjYW1lIGZyb20gYW4gb2xkIHBvbGljeSwgc28gdGhpcyBlc3RpbWF0ZSBp"
    "cyBiaWFzZWQuIFRoZSBsZWN0dXJlIG5vdGVzIHRoYXQgaW1wb3J0YW5jZSB3ZWlnaHRzIGNvdWxkIGNvcnJlY3QgaXQsIGFuZCB0"
    "YWtlcyBhIGJldHRlciB3YXkgZm9yIG9mZi1wb2xpY3kgYWN0b3ItY3JpdGljOiBzYW1wbGUgYeG1ol7PgCB+IM+AzrgoYXxz4bWi"
    "KSBmcmVzaCBhbmQgd2VpZ2h0IGJ5IFEoc+G1oiwgYeG1ol7PgCkuIiwgIjYiOiAiVGhlIGdyYWRpZW50IGFzY2VudCBzdGVwIGl0"
    "c2VsZiBpcyBmaW5lLiJ9LCAiY29ycmVjdCI6IFszLCA1XSwgImVpdGhlciI6IFs0XX0="
)


def bugs_quiz():
    """The interactive "find the bugs" quiz (an ipywidgets form with an explanation per line)."""
    import base64
    import json

    from cs285lab.quiz import Quiz

    data = json.loads(base64.b64decode("".join(_QUIZ)).decode())
    return Quiz("Which steps of the naive off-policy actor-critic are wrong?",
                {int(k): v for k, v in data["lines"].items()}, correct=set(data["correct"]),
                explanations={int(k): v for k, v in data["why"].items()}, either=set(data["either"]))


# --------------------------------------------------------------------------------------------
# 3. The Q target
# --------------------------------------------------------------------------------------------
def _q_problem() -> tuple[Batch, Callable, nn.Module, Callable]:
    g = torch.Generator().manual_seed(3)
    B = 6
    obs, next_obs = torch.randn(B, 3, generator=g), torch.randn(B, 3, generator=g)
    batch = Batch(obs=obs, actions=torch.rand(B, 1, generator=g) * 4 - 2,
                  rewards=torch.tensor([1.0, -0.5, 0.25, 2.0, -1.0, 0.5]), next_obs=next_obs,
                  terminated=torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]))
    policy_w = nn.Parameter(torch.tensor([0.7, -0.4, 0.9]))

    def sample_actions(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A stand-in policy: actions [B, 1] and log-probs [B], both differentiable."""
        z = o @ policy_w
        return 2 * torch.tanh(z)[:, None], -0.5 * z ** 2 - 0.3

    critic = nn.Linear(4, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.5, -1.0, 0.25, 1.5]]))
        critic.bias.fill_(0.2)

    def target_q(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """A stand-in target critic: Q values [B] (with parameters that require grad)."""
        x = torch.cat([o, a], -1)
        return critic(x).squeeze(-1) + 0.3 * a.squeeze(-1) ** 2

    return batch, sample_actions, critic, target_q


def q_target(fn: Callable) -> None:
    """Check q_target(batch, sample_actions, target_q, gamma, alpha) -> [B] soft Q target."""
    batch, sample_actions, _critic, target_q = _q_problem()
    B, gamma = len(batch.rewards), 0.9
    r, d = batch.rewards, batch.terminated
    with torch.no_grad():
        a2, logp2 = sample_actions(batch.next_obs)
        q_next, q_buffer = target_q(batch.next_obs, a2), target_q(batch.next_obs, batch.actions)
        a_now, logp_now = sample_actions(batch.obs)
        q_now = target_q(batch.obs, a_now)
    with exercise("q_target") as ex, own_code(ex, "nb03-q-target", fn, "your q_target"):
        for alpha in (0.0, 0.2):
            soft = q_next - alpha * logp2
            expected = r + gamma * (1 - d) * soft
            # the naive algorithm's own mistake: named, not explained (Exercise 2 grades the explanation by hand)
            old_action = ("your target values s' at a_i, the action stored in the buffer for s_i, not at an action "
                          "chosen at s'. Why bootstrapping from what the buffer holds is wrong is your Exercise 2; "
                          "hint 2 above, if you are stuck")
            mistakes = {
                old_action: r + gamma * (1 - d) * (q_buffer - alpha * logp2),
                old_action + " (and with alpha > 0 the entropy bonus is missing too)": r + gamma * (1 - d) * q_buffer,
                "your target bootstraps past terminal states: a transition that ended the episode has no next "
                "state to add a value for": r + gamma * soft,
                "your target bootstraps only from the terminal transitions and drops the next value of every other "
                "one: the termination mask is inverted": r + gamma * d * soft,
                "your target values the state s the transition started from, not the next state s' it led to":
                    r + gamma * (1 - d) * (q_now - alpha * logp_now),
                "your target does not discount the next value: a value one step later is worth gamma times as "
                "much": r + (1 - d) * soft,
                "your target leaves out the reward the transition earned": gamma * (1 - d) * soft,
            }
            if alpha:
                mistakes.update({
                    "with alpha > 0 your target is the same as with alpha = 0: the entropy bonus of the action "
                    "valued at s' is missing": r + gamma * (1 - d) * q_next,
                    "with alpha > 0 your target rises with the log-probability of the action valued at s': the "
                    "entropy bonus has the wrong sign (a likely action is worth less bonus, not more)":
                        r + gamma * (1 - d) * (q_next + alpha * logp2),
                })
            out = ex.expect_tensor(ex.call(fn, batch, sample_actions, target_q, gamma, alpha), shape=(B,),
                                   what=f"q_target(..., alpha={alpha})")
            ex.diagnose(out, expected, mistakes, what=f"q_target(..., alpha={alpha})")
            ex.expect(not out.requires_grad,
                      "your target carries gradient: the critic's loss would then also move the policy and the "
                      "critic the target bootstraps from; a regression label must be a constant")


# --------------------------------------------------------------------------------------------
# 4. The score-function policy gradient with several action samples per state
# --------------------------------------------------------------------------------------------
class TablePolicy(nn.Module):
    """A Gaussian policy whose samples come from a fixed table, so answers are reproducible."""

    def __init__(self, obs_dim: int, act_dim: int, table: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-0.5, 0.5, obs_dim * act_dim).reshape(obs_dim, act_dim))
        self.log_std = nn.Parameter(torch.full((act_dim,), -0.3))
        self.table, self.cursor = table, 0

    def sample(self, obs: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Actions [num_samples, B, act_dim] (no gradient): the next rows of the table."""
        rows = self.table[self.cursor:self.cursor + num_samples]
        if len(rows) < num_samples:
            raise ValueError("TablePolicy: asked for more samples than the check prepared")
        self.cursor += num_samples
        return rows.clone()

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s): [B] for actions [B, act_dim], [N, B] for actions [N, B, act_dim]."""
        mean, std = obs @ self.w, self.log_std.exp()
        return (-0.5 * ((actions - mean) / std) ** 2 - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


class ToyCritic(nn.Module):
    """Q(s, a) [B] (or [N, B]) with parameters, so gradient leaking into it is visible."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1, 1, obs_dim))
        self.a = nn.Parameter(torch.tensor(1.5))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """-(a - w.s)^2 * a_scale + w.s: a peaked, action-dependent value."""
        center = obs @ self.w
        return -self.a * (actions.sum(-1) - center) ** 2 + center


def _score_problem(num_samples: int) -> tuple[Batch, TablePolicy, ToyCritic]:
    g = torch.Generator().manual_seed(5)
    B, obs_dim, act_dim = 8, 3, 1
    obs = torch.randn(B, obs_dim, generator=g)
    batch = Batch(obs=obs, actions=torch.randn(B, act_dim, generator=g), rewards=torch.randn(B, generator=g),
                  next_obs=torch.randn(B, obs_dim, generator=g), terminated=torch.zeros(B))
    return batch, TablePolicy(obs_dim, act_dim, torch.randn(32, B, act_dim, generator=g)), ToyCritic(obs_dim, act_dim)


def _policy_grad(loss: torch.Tensor, policy: nn.Module) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(policy.parameters()), allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, policy.parameters())])


def _critic_grad_norm(critic: nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in critic.parameters() if p.grad is not None)


def score_function_loss(fn: Callable) -> None:
    """Check score_function_loss(batch, policy, critic, num_samples) -> scalar: -mean(log pi(a|s) Q(s,a)), a ~ pi."""
    with exercise("score_function_loss") as ex, own_code(ex, "nb03-score-loss", fn, "your score_function_loss"):
        for n in (1, 4):
            batch, policy, critic = _score_problem(n)
            obs, table = batch.obs, policy.table
            # references: the gradient with respect to the policy parameters
            fresh = table[:n]
            ref = -(policy.log_prob(obs, fresh) * critic(obs, fresh).detach()).mean()
            wrong = {
                # the naive algorithm's own mistake: named, not explained (Exercise 2 grades the explanation)
                "this is the naive line 5 with Q as the weight: it weights the log-probability of the actions "
                "stored in the buffer. Why that is wrong is your Exercise 2; hint 2 above, if you are stuck":
                    -(policy.log_prob(obs, batch.actions) * critic(obs, batch.actions).detach()).mean(),
                "the sign is flipped: gradient descent on your loss lowers the objective instead of raising it; "
                "the loss is minus the objective": (policy.log_prob(obs, fresh) * critic(obs, fresh).detach()).mean(),
                "your loss is a sum, not an average: its gradient grows with the batch size and with the number of "
                "samples": -(policy.log_prob(obs, fresh) * critic(obs, fresh).detach()).sum(),
            }
            if n > 1:
                wrong["your loss uses one action sample per state although num_samples > 1: average over all "
                      "num_samples of them"] = -(policy.log_prob(obs, table[:1]) * critic(obs, table[:1]).detach()).mean()
            expected = _policy_grad(ref, policy)
            mistakes = {msg: _policy_grad(loss, policy) for msg, loss in wrong.items()}
            for p in critic.parameters():
                p.grad = None
            loss = ex.call(fn, batch, policy, critic, n)
            loss = ex.expect_tensor(loss, what=f"score_function_loss(..., num_samples={n})")
            ex.expect(loss.dim() == 0, f"the loss should be a scalar (shape ()), got shape {tuple(loss.shape)}; "
                      "average with .mean()")
            ex.expect(loss.requires_grad, "your loss carries no gradient to the policy's parameters: the "
                      "score-function gradient flows through the log-probability of the sampled actions")
            loss.backward(retain_graph=True)
            ex.expect(_critic_grad_norm(critic) == 0.0,
                      "your policy loss puts gradient into the critic's parameters: in the score-function "
                      "estimator Q(s, a) is a fixed weight, and the actor's loss must not train the critic")
            got = torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1)
                             for p in policy.parameters()])
            ex.diagnose(got, expected, mistakes, what=f"the policy gradient of your loss (num_samples={n})",
                        inputs=f"batch, policy, critic = cs285lab.checks.nb03._score_problem({n}); "
                               f"score_function_loss(batch, policy, critic, {n}), then .backward()")


# --------------------------------------------------------------------------------------------
# 5. The tanh-squashed Gaussian, reparameterized
# --------------------------------------------------------------------------------------------
def squashed_gaussian(fn: Callable) -> None:
    """Check squashed_gaussian(mean, log_std, noise) -> (action in (-1, 1) [B, A], log_prob [B])."""
    g = torch.Generator().manual_seed(11)
    B, A = 5, 2
    mean = (torch.randn(B, A, generator=g) * 0.8).requires_grad_()
    log_std = (torch.randn(B, A, generator=g) * 0.3 - 0.2).requires_grad_()
    noise = torch.randn(B, A, generator=g)
    with torch.no_grad():
        std = log_std.exp()
        u = mean + std * noise
        gauss = torch.distributions.Normal(mean, std)
        correction = torch.log(1 - torch.tanh(u) ** 2)
        expected_a = torch.tanh(u)
        expected_lp = (gauss.log_prob(u) - correction).sum(-1)
        u_log = mean + log_std * noise
        action_mistakes = {
            "std is exp(log_std), not log_std: u = mean + exp(log_std) * noise": torch.tanh(u_log),
            "the action is not squashed: a = tanh(u) keeps it in (-1, 1)": u,
        }
        lp_mistakes = {
            "the log-probability lacks the change-of-variables term: a = tanh(u) squeezes density, so "
            "log pi(a|s) = log N(u; mean, std) - sum log(1 - tanh(u)^2)": gauss.log_prob(u).sum(-1),
            "the change-of-variables term has the wrong sign: SUBTRACT sum log(1 - tanh(u)^2)":
                (gauss.log_prob(u) + correction).sum(-1),
            "you evaluated the Gaussian density at the squashed action tanh(u); evaluate it at u, then "
            "subtract sum log(1 - tanh(u)^2)": (gauss.log_prob(torch.tanh(u)) - correction).sum(-1),
        }
    with exercise("squashed_gaussian") as ex, own_code(ex, "nb03-squashed", fn, "your squashed_gaussian"):
        # A negative log_std used as a scale makes torch.distributions raise before our comparison can name
        # the mistake, so first probe with a positive log_std, where that mistake gives a distinct action.
        pos_log_std = log_std.detach().abs() + 0.2
        probe = ex.call(lambda: fn(mean.detach().clone(), pos_log_std.clone(), noise.clone()))
        if isinstance(probe, tuple) and len(probe) == 2 and isinstance(probe[0], torch.Tensor) \
                and probe[0].shape == (B, A):
            with torch.no_grad():
                as_std = torch.tanh(mean + pos_log_std * noise)
                right = torch.tanh(mean + pos_log_std.exp() * noise)
            if torch.allclose(probe[0].detach(), as_std, atol=1e-4) and not torch.allclose(as_std, right, atol=1e-4):
                ex.fail("std is exp(log_std), not log_std: u = mean + exp(log_std) * noise")
        leaf_mean = mean.detach().clone().requires_grad_()  # our own leaf, to measure d action / d mean
        result = ex.call(lambda: fn(leaf_mean, log_std.detach().clone().requires_grad_(), noise.clone()))
        if not isinstance(result, tuple) or len(result) != 2:
            ex.fail("return a pair (action, log_prob)")
        action, log_prob = result
        action = ex.expect_tensor(action, shape=(B, A), what="the action")
        if isinstance(log_prob, torch.Tensor) and tuple(log_prob.shape) == (B, A):
            ex.fail("log_prob has shape [B, act_dim]: the action dimensions are independent, so sum the "
                    "per-dimension log-densities over the last dimension: .sum(-1)")
        log_prob = ex.expect_tensor(log_prob, shape=(B,), what="log_prob")
        ex.diagnose(action, expected_a, action_mistakes, what="the action", atol=1e-4)
        ex.expect(action.requires_grad and action.grad_fn is not None,
                  "the action carries no gradient to mean and log_std: with the reparameterization trick the action "
                  "is a differentiable function of mean, log_std and the given noise (not a .sample(), not "
                  "detached), so that the actor can learn through Q(s, a)")
        ex.diagnose(log_prob, expected_lp, lp_mistakes, what="log_prob", atol=1e-3)
        grad_mean, = torch.autograd.grad(action.sum(), leaf_mean, allow_unused=True)
        ex.expect(grad_mean is not None, "the action does not depend on `mean`: it should move with the mean of "
                  "the Gaussian")
        ex.expect(torch.allclose(grad_mean, 1 - expected_a ** 2, atol=1e-4),
                  "d action / d mean is wrong: the unsquashed sample u moves one for one with the mean, so with "
                  "a = tanh(u) it should be 1 - tanh(u)^2")


# --------------------------------------------------------------------------------------------
# 6. The SAC actor loss (reparameterized)
# --------------------------------------------------------------------------------------------
class NoisePolicy(nn.Module):
    """A reparameterized tanh-Gaussian stand-in whose noise comes from a fixed table."""

    def __init__(self, obs_dim: int, noise: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-0.6, 0.8, obs_dim)[:, None])
        self.log_std = nn.Parameter(torch.tensor([-0.5]))
        self.noise = noise

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(actions [B, 1], log_prob [B]), differentiable in the policy's parameters."""
        mean = obs @ self.w
        u = mean + self.log_std.exp() * self.noise
        log_prob = (torch.distributions.Normal(mean, self.log_std.exp()).log_prob(u)
                    - torch.log(1 - torch.tanh(u) ** 2 + 1e-6)).sum(-1)
        return torch.tanh(u), log_prob


class TwinCritic(nn.Module):
    """Two Q functions as one module: forward(obs, actions) -> [2, B]."""

    def __init__(self, obs_dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.stack([torch.linspace(-1, 1, obs_dim), torch.linspace(1, -0.5, obs_dim)]))
        self.k = nn.Parameter(torch.tensor([1.0, 2.0]))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        center = obs @ self.w.T                                   # [B, 2]
        return (-self.k * (actions - torch.tanh(center)) ** 2 + center).T  # [2, B]


def sac_actor_loss(fn: Callable) -> None:
    """Check sac_actor_loss(batch, policy, critic, alpha) -> scalar: mean(alpha log pi(a|s) - min_j Q_j(s, a))."""
    from cs285lab.algos.sac import frozen

    g = torch.Generator().manual_seed(13)
    B, obs_dim, alpha = 7, 3, 0.3
    obs = torch.randn(B, obs_dim, generator=g)
    batch = Batch(obs=obs, actions=torch.rand(B, 1, generator=g) * 2 - 1, rewards=torch.zeros(B),
                  next_obs=torch.randn(B, obs_dim, generator=g), terminated=torch.zeros(B))
    policy, critic = NoisePolicy(obs_dim, torch.randn(B, 1, generator=g)), TwinCritic(obs_dim)

    def loss_of(q_of: Callable, entropy_sign: float = 1.0, detach_actions: bool = False, sign: float = 1.0):
        a, logp = policy(obs)
        with frozen(critic):
            q = q_of(critic(obs, a.detach() if detach_actions else a))
        return sign * (entropy_sign * alpha * logp - q).mean()

    def q_min(q): return q.min(0).values
    expected_loss = loss_of(q_min)
    expected_grad = _policy_grad(expected_loss, policy)
    value_mistakes = {
        "the actor loss evaluated Q at the actions stored in the buffer: use actions sampled from the current "
        "policy, a, logp = policy(batch.obs), so the gradient flows through a":
            (alpha * policy(obs)[1] - critic(obs, batch.actions).min(0).values).mean(),
        "you averaged the twin critics: take their minimum (it counters overestimation)":
            loss_of(lambda q: q.mean(0)),
        "you took the maximum of the twin critics: take the minimum (it counters overestimation)":
            loss_of(lambda q: q.max(0).values),
        "you used only the first critic: take the minimum over both": loss_of(lambda q: q[0]),
        "the entropy term is missing: loss = mean(alpha * log pi(a|s) - min_j Q_j(s, a))":
            (-critic(obs, policy(obs)[0]).min(0).values).mean(),
        "the entropy term has the wrong sign: loss = mean(alpha * log pi(a|s) - min_j Q_j(s, a))":
            loss_of(q_min, entropy_sign=-1.0),
        "the sign is flipped: MINIMIZE alpha * log pi(a|s) - Q(s, a) (i.e. maximize Q plus entropy)":
            loss_of(q_min, sign=-1.0),
    }
    with exercise("sac_actor_loss") as ex, own_code(ex, "nb03-actor-loss", fn, "your sac_actor_loss"):
        loss = ex.expect_tensor(ex.call(fn, batch, policy, critic, alpha), what="sac_actor_loss(...)")
        ex.expect(loss.dim() == 0, f"the loss should be a scalar, got shape {tuple(loss.shape)}; average with .mean()")
        ex.diagnose(loss, expected_loss, {k: v.detach() for k, v in value_mistakes.items()},
                    what="sac_actor_loss(...)", atol=1e-5)
        ex.expect(loss.requires_grad, "the loss carries no gradient to the policy")
        for p in critic.parameters():
            p.grad = None
        loss.backward()
        ex.expect(_critic_grad_norm(critic) == 0.0,
                  "your policy loss sends gradient into the critic's parameters: the actor step must not train "
                  "the critic (the exercise says how to evaluate Q so that gradient flows through it to the action "
                  "but not into its weights)")
        got = torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in policy.parameters()])
        detached = _policy_grad(loss_of(q_min, detach_actions=True), policy)
        ex.diagnose(got, expected_grad, {
            "no gradient flows through Q(s, a) into the action: do not detach the sampled action, the "
            "reparameterized gradient goes dQ/da * da/dtheta": detached}, what="the policy gradient of your loss")


# --------------------------------------------------------------------------------------------
# 7. Measurements and learning
# --------------------------------------------------------------------------------------------
def _recomputed_variances(score_fn: Callable, actor_fn: Callable, agent, states: Batch, ks: list[int],
                          reps: int) -> tuple[dict[int, float], dict[int, float]]:
    """The notebook's measurement, redone here with the student's own loss functions (fixed seed)."""
    actor, critic = agent.actor, agent.critic
    params = list(actor.parameters())

    class Sampled:
        def sample(self, obs, k):
            with torch.no_grad():
                return actor(obs.expand(k, *obs.shape))[0]

        def log_prob(self, obs, actions):
            return actor.log_prob(obs.expand(*actions.shape[:-1], obs.shape[-1]), actions)

    def min_q(obs, actions):
        lead = actions.shape[:-1]
        flat = obs.expand(*lead, obs.shape[-1]).reshape(-1, obs.shape[-1])
        return critic(flat, actions.reshape(-1, actions.shape[-1])).min(0).values.reshape(lead)

    def variance(loss_fn: Callable) -> float:
        grads = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss_fn(), params)]) for _ in range(reps)]
        return float(torch.stack(grads).var(0).sum())

    state = torch.random.get_rng_state()
    torch.manual_seed(31)
    try:
        score, reparam = {}, {}
        for k in ks:
            score[k] = variance(lambda: score_fn(states, Sampled(), min_q, k))
            rep = Batch(states.obs.repeat(k, 1), states.actions.repeat(k, 1), states.rewards.repeat(k),
                        states.next_obs.repeat(k, 1), states.terminated.repeat(k))
            reparam[k] = variance(lambda: actor_fn(rep, agent.sample_actions, critic, 0.0))
    finally:
        torch.random.set_rng_state(state)
    return score, reparam


RECOMPUTE_REPS = 30       # the check's own repetitions per K (the estimate's relative sd is about 0.26)
RECOMPUTE_FACTOR = 3.0    # a measured variance must lie within this factor of the check's recomputation


def gradient_variance(variances: Mapping[str, Mapping[int, float]], score_fn: Callable | None = None,
                      actor_fn: Callable | None = None, agent=None, states: Batch | None = None) -> None:
    """Check measured gradient variances {"score": {K: var}, "reparam": {K: var}}, recomputing them when given the inputs."""
    with exercise("gradient_variance") as ex:
        if not isinstance(variances, Mapping) or not {"score", "reparam"} <= set(variances):
            ex.fail('pass a dict {"score": {K: variance, ...}, "reparam": {K: variance, ...}}')
        score, reparam = dict(variances["score"]), dict(variances["reparam"])
        if not score or not reparam:
            raise NotImplementedError("gradient_variance: nothing measured yet; finish the two measurement exercises")
        ks = sorted(score)
        ex.expect(len(ks) >= 3 and ks[0] == 1 and ks[-1] >= 16,
                  f"measure at least 3 sample counts from K = 1 to K >= 16; you measured K = {ks}")
        vals = [float(score[k]) for k in ks]
        ex.expect(all(math.isfinite(v) and v > 0 for v in vals), f"variances must be positive numbers, got {vals}")
        # Averaging K independent samples divides the variance by K (up to noise in the estimate).
        ratio = vals[0] / vals[-1]
        ex.expect(ratio > ks[-1] / 4,
                  f"the score-function variance fell only {ratio:.1f}x from K=1 to K={ks[-1]} (expected about "
                  f"{ks[-1]}x): are the K samples independent, and does each repetition draw new ones?")
        ex.expect(1 in reparam and 0 < float(reparam[1]) < vals[0],
                  "the reparameterized gradient should have a lower variance than the score-function one at K = 1 "
                  "on the same batch; check that you measure both on the same states")
        if score_fn is None:
            return
        # Measured, not typed: redo the measurement with the student's own functions and compare.
        redo_score, redo_reparam = _recomputed_variances(score_fn, actor_fn, agent, states, ks, RECOMPUTE_REPS)
        for name, theirs, ours in (("score", score, redo_score), ("reparam", reparam, redo_reparam)):
            for k in sorted(set(theirs) & set(ours)):
                got, want = float(theirs[k]), ours[k]
                ex.expect(want / RECOMPUTE_FACTOR <= got <= want * RECOMPUTE_FACTOR,
                          f"your {name} variance at K = {k} is {got:.3g}, but measuring it again with your own "
                          f"functions on the same agent and states gives {want:.3g}: these numbers were not "
                          "measured by the cell above (typed in, or measured on something else). Re-run the "
                          "measurement cells")


def sac_learned(history: list[dict], agent=None) -> None:
    """Check a SAC run learned Pendulum-v1: the last evaluation beats the threshold, re-measured on `agent`."""
    with exercise("sac_learned") as ex:
        if isinstance(history, list) and not history:
            raise NotImplementedError("sac_learned: no training history yet; the training cell above did not finish")
        if not isinstance(history, list) or not isinstance(history[-1], dict) or "eval_return" not in history[-1]:
            ex.fail("pass the history returned by train_sac (a list of dicts with 'eval_return')")
        threshold = float(thresholds("nb03")["sac_final_return"])
        final = float(history[-1]["eval_return"])
        ex.expect(math.isfinite(final), "the final evaluation return is not a number: the training diverged")
        if agent is not None:
            from cs285lab.budgets import budget
            from cs285lab.envs import EVAL_SEED, evaluate

            ex.expect(type(agent).__name__ == "StudentSAC" and callable(getattr(agent, "act", None)),
                      "pass the StudentSAC agent trained in the cell above (it runs your functions)")
            # The same deterministic evaluation as train_sac's last row: it must give the same number.
            again = evaluate(lambda o: agent.act(o, deterministic=True), "Pendulum-v1",
                             budget("nb03").sac.eval_episodes, seed=EVAL_SEED)
            ex.expect(abs(again - final) < 1e-3 * max(1.0, abs(final)),
                      f"the history says the final evaluation return was {final:.0f}, but evaluating your agent "
                      f"the same way gives {again:.0f}: this history does not come from this agent (typed in or "
                      "edited?). Re-run the training cell")
            fresh = evaluate(lambda o: agent.act(o, deterministic=True), "Pendulum-v1", 3, seed=20_000)
            ex.expect_learned(fresh >= threshold, f"your agent scores {fresh:.0f} on three fresh evaluation episodes, "
                              f"below {threshold:.0f}: it has not learned to swing up reliably", history, "sac",
                              "nb03-sac-pendulum")
        ex.expect_learned(final >= threshold,
                  f"your SAC did not learn: final evaluation return {final:.0f} < {threshold:.0f} (a random policy "
                  "scores about -1200). Usual causes: an actor loss whose action is detached or sampled without "
                  "reparameterization (no gradient of Q reaches the policy), a sign error in the actor or "
                  "temperature loss; run the check of each part above first", history, "sac", "nb03-sac-pendulum")


def _reevaluate(ex: Exercise, agent, history: list[dict], name: str) -> float:
    """Evaluate `agent` exactly as its training loop did last; fail if `history` does not match it."""
    from cs285lab.budgets import budget
    from cs285lab.envs import EVAL_SEED, evaluate

    if not isinstance(history, list) or not history or not all(isinstance(r, dict) and "eval_return" in r
                                                              for r in history):
        ex.fail(f"pass the {name} history returned by the training cell (a list of dicts with 'eval_return')")
    final = float(history[-1]["eval_return"])
    ex.expect(math.isfinite(final), f"the {name} agent's final evaluation return is not a number: training diverged")
    again = evaluate(lambda o: agent.act(o, deterministic=True), "Pendulum-v1", budget("nb03").ablation.eval_episodes,
                     seed=EVAL_SEED)
    ex.expect(abs(again - final) < 1e-3 * max(1.0, abs(final)),
              f"the {name} history says the final evaluation return was {final:.0f}, but evaluating that agent "
              f"the same way gives {again:.0f}: the history does not come from this agent (typed in or edited?). "
              "Re-run the training cell")
    return float(np.mean([r["eval_return"] for r in history[len(history) // 2:]]))


def fixed_learns(q_target_fn: Callable, score_loss_fn: Callable, runs: Mapping) -> None:
    """Check your two edits: their unit checks, then that the fixed agent built from them learns where the naive one does not.

    `runs` maps (arm, seed) to (agent, history), as the notebook's training cell fills it; seed 0 of
    "both fixed" and "naive" are graded.
    """
    q_target(q_target_fn)  # a specific named mistake first, before any learning verdict
    score_function_loss(score_loss_fn)
    with exercise("fixed_learns") as ex:
        if not isinstance(runs, Mapping):
            ex.fail("pass the `runs` dict filled by the training cell above")
        if ("both fixed", 0) not in runs or ("naive", 0) not in runs:
            raise NotImplementedError("fixed_learns: the training cell above did not finish; run it first")
        (fixed_agent, fixed_history), (naive_agent, naive_history) = runs["both fixed", 0], runs["naive", 0]
        config = getattr(fixed_agent, "config", None)
        ex.expect(getattr(fixed_agent, "q_target_fn", None) is q_target_fn
                  and getattr(fixed_agent, "actor_loss_fn", None) is score_loss_fn
                  and bool(getattr(config, "fix_critic", False)) and bool(getattr(config, "fix_actor", False)),
                  "pass the agents trained in the cell above: the fixed one must run your q_target and "
                  "score_function_loss (AblationAC with fix_critic=True, fix_actor=True)")
        naive_config = getattr(naive_agent, "config", None)
        ex.expect(naive_config is not None and not getattr(naive_config, "fix_critic", True)
                  and not getattr(naive_config, "fix_actor", True), "pass the naive agent trained in Part 2")
        ex.expect(getattr(naive_config, "total_steps", None) == getattr(config, "total_steps", None),
                  "the naive and the fixed agent trained for different numbers of steps: the comparison needs the "
                  "same budget for both; re-run Part 2's training cell and the one above unchanged")
        fixed = _reevaluate(ex, fixed_agent, fixed_history, "fixed")
        naive = _reevaluate(ex, naive_agent, naive_history, "naive")
        margin = float(thresholds("nb03")["fixed_margin"])
        ex.expect_learned(fixed >= naive + margin,
                  f"your fixed agent averaged {fixed:.0f} over the second half of its evaluations, the naive one "
                  f"{naive:.0f}: the fix should beat it by at least {margin:.0f}. Your functions pass their "
                  "checks, so look for something the checks cannot see: do they use the arguments they are given "
                  "(the policy and critic passed in, not a global agent)?", fixed_history, "ablation",
                  "nb03-ablation", env="Pendulum-v1")


# --------------------------------------------------------------------------------------------
# 8. The silent-bug series: each student's variant, fixed (see cs285lab.variants)
# --------------------------------------------------------------------------------------------
def _silent_broadcast(ex: Exercise, fn: Callable, convention: str, family, slot: int) -> None:
    g = torch.Generator().manual_seed(17)
    q = torch.randn(2, 6, generator=g)
    y = torch.randn(6, generator=g)
    expected = family.correct[convention](q, y)
    exercise = f"nb03-silent-fix-{slot}"
    mistakes = {}
    for conv in (convention, "mean" if convention == "sum" else "sum"):
        mistakes[_still_buggy(slot) + (
                     "" if conv == convention else "; and your loss combines the two critics' errors differently "
                     "from the code under review")] = family.buggy[conv][0](q, y)
    other = "mean" if convention == "sum" else "sum"
    mistakes[f"your loss {'averages' if other == 'mean' else 'sums'} the critics' errors, but the code under review "
             f"{'sums' if convention == 'sum' else 'averages'} them. With SAC's Adam (no gradient clipping) the two "
             "would train alike, since they differ by a constant factor, but a review fixes the bug and leaves the "
             "rest as written: this is another variant's fix, not the fix of yours"] = family.correct[other](q, y)
    q_in = q.clone().requires_grad_()
    with own_code(ex, exercise, fn, f"fix_{slot}"):
        out = ex.expect_tensor(ex.call(fn, q_in, y.clone()), what="your critic_loss(q, y)")
    ex.expect(out.dim() == 0, f"critic_loss should return a scalar, got shape {tuple(out.shape)}")
    if any(torch.allclose(out.detach(), buggy(q, y)) for buggy in family.buggy[convention]):
        ex.fail(_still_buggy(slot))
    ex.diagnose(out, expected, mistakes, what="critic_loss(q, y)",
                inputs="critic_loss(q, y) with q = torch.randn(2, 6, generator=g), y = torch.randn(6, generator=g), "
                       "g = torch.Generator().manual_seed(17)")
    ex.expect(out.requires_grad, "your loss carries no gradient to q: the critics could not learn from it")


def _probe_agent():
    from cs285lab.algos.sac import SAC, SACConfig

    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(16,), init_alpha=0.3), seed=5)
    with torch.no_grad():  # a target critic visibly different from the online one
        for p in agent.target_critic.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    g = torch.Generator().manual_seed(19)
    batch = Batch(obs=torch.randn(8, 3, generator=g), actions=torch.rand(8, 1, generator=g) * 4 - 2,
                  rewards=torch.randn(8, generator=g), next_obs=torch.randn(8, 3, generator=g),
                  terminated=torch.tensor([0.0, 0, 1, 0, 0, 0, 1, 0]))
    return agent, batch


def _silent_target(ex: Exercise, fn: Callable, convention: str, family, slot: int) -> None:
    agent, batch = _probe_agent()

    def run(f: Callable) -> torch.Tensor:
        torch.manual_seed(23)  # the same a' ~ pi(s') for every candidate
        return f(batch, agent)

    expected = run(family.correct[convention])
    online = {}
    for conv in ("soft", "plain"):
        for buggy in family.buggy[conv]:
            online.setdefault(conv, run(buggy).detach())
    other = "plain" if convention == "soft" else "soft"
    moving = ("your target is detached but still computed from the online critic, the network being trained; the "
              "review's SAC computes it from its target critic (agent.target_critic): fix the code you were given "
              "and keep its design")
    # the review's bug (cell 33: the kept gradient) is not named: the diagnosis is graded by hand
    mistakes = {
        moving: online[convention],
        f"your backup {'has no' if other == 'plain' else 'has an'} entropy term, but the code under review "
        f"{'has one' if convention == 'soft' else 'has none'}: that is the fix of a different variant, not of yours; "
        "fix the code you were given, keeping its conventions": run(family.correct[other]),
        moving + "; and your backup does not follow the review's entropy convention": online[other],  # detached
    }
    torch.manual_seed(23)
    with own_code(ex, f"nb03-silent-fix-{slot}", fn, f"fix_{slot}"):
        out = ex.expect_tensor(ex.call(fn, batch, agent), shape=(8,), what="your q_backup(batch, agent)")
    ex.expect(not out.requires_grad, _still_buggy(slot))  # the review's code unchanged, too
    ex.diagnose(out, expected, mistakes, what="q_backup(batch, agent)",
                inputs="q_backup(batch, agent) on a batch of 8 transitions and a small SAC agent whose target "
                       "critics differ from its online critics (torch.manual_seed(23) before the call)")


def _silent_polyak(ex: Exercise, fn: Callable, convention: str, family, slot: int) -> None:
    from cs285lab.algos.silent_bugs import CONVENTION_RATE

    tau = 0.1
    rate = CONVENTION_RATE[convention](tau)

    def pair() -> tuple[nn.Module, nn.Module]:
        torch.manual_seed(29)
        return nn.Linear(3, 2), nn.Linear(3, 2)

    def flat(m: nn.Module) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in m.parameters()])

    def after(f: Callable) -> tuple[torch.Tensor, torch.Tensor]:
        target, online = pair()
        f(target, online, rate)
        return flat(target), flat(online)

    t0, o0 = (flat(m) for m in pair())
    want_t, _ = after(family.correct[convention])
    other = "polyak" if convention == "tau" else "tau"
    other_t, _ = after(family.correct[other])
    with own_code(ex, f"nb03-silent-fix-{slot}", fn, f"fix_{slot}"):
        got = ex.call(lambda: after(fn))
    got_t, got_o = got
    if any(all(torch.allclose(g, b) for g, b in zip(got, after(buggy))) for buggy in family.buggy[convention]):
        ex.fail(_still_buggy(slot))
    case = (f"soft_update(target, online, rate={rate:g}) on target, online = nn.Linear(3, 2), nn.Linear(3, 2) made "
            "after torch.manual_seed(29)")
    ex.expect(torch.allclose(got_o, o0), f"{_still_buggy(slot)}. A case to reproduce: {case}")
    ex.expect(not torch.allclose(got_t, t0), "your soft_update left the target critic unchanged: a target that "
              f"never moves keeps the critic regressing toward its initial values. A case to reproduce: {case}")
    conventions = {"tau": "`rate` is tau, the fraction taken from the online critic",
                   "polyak": "`rate` is polyak, the fraction of the target kept"}
    ex.diagnose(got_t, want_t, {
        f"your update reads `rate` the other way round: in your variant {conventions[convention]}. That is the fix "
        "of a different variant, not of yours; fix the code you were given": other_t},
        what="the target critic after soft_update", inputs=case)


def _still_buggy(slot: int) -> str:
    """The message for a fix that keeps the review's bug, changed or not: it is not named (the diagnosis is graded)."""
    return (f"fix_{slot} still has review {slot}'s bug: finding it is the exercise. Compare the review's "
            "statistics above with SAC's, read its code, write your diagnosis, then change the code")


_SILENT_CHECKS = {"broadcast": _silent_broadcast, "target": _silent_target, "polyak": _silent_polyak}


def silent_fix(slot: int, fn: Callable, student_id: object) -> None:
    """Check the fixed code of review `slot` (1, 2, 3) of this student's silent-bug variant."""
    from cs285lab.algos.silent_bugs import FAMILIES
    from cs285lab.variants import student_variant

    variant = student_variant(student_id)
    if not isinstance(slot, int) or not 1 <= slot <= len(variant.slots):
        raise ValueError(f"slot must be 1..{len(variant.slots)}, got {slot!r}")
    spec = variant.slots[slot - 1]
    family = FAMILIES[spec.family]
    with exercise(f"silent bug {slot}") as ex:
        if fn is ... or fn is None:
            raise NotImplementedError(f"silent bug {slot}: define fix_{slot}, the fixed version of review {slot}")
        ex.expect(callable(fn), f"fix_{slot} should be a function: the fixed version of review {slot}'s "
                  f"{family.signature}")
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = None
        n_args = len(inspect.signature(family.correct[spec.convention]).parameters)
        if params is not None and len(params) != n_args and not any(
                p.kind in (p.VAR_POSITIONAL,) for p in params.values()):
            ex.fail(f"review {slot} of your variant is {family.signature}; fix_{slot} takes {len(params)} "
                    f"argument(s), not {n_args}. Did you fix another student's review? Yours is shown above "
                    f"(variant of {variant.key!r})")
        _SILENT_CHECKS[spec.family](ex, fn, spec.convention, family, slot)


__all__ = ["CheckFailed", "bugs_quiz", "fixed_learns", "silent_fix", "gradient_variance", "q_target", "replay_buffer", "sac_actor_loss",
           "sac_learned", "score_function_loss", "squashed_gaussian"]
