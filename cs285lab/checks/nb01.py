"""Checks for notebook 01: actor-critic architectures.

Each check compares the student's code with the reference (cs285lab.algos.actor_critic) on
fixed inputs and, when it differs, names the usual mistake it matches.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from cs285lab.algos.actor_critic import Batch, SeparateActorCritic, train_a2c
from cs285lab.checks.core import CheckFailed, exercise, own_code
from cs285lab.budgets import SMOKE, budget, profile, thresholds

CARTPOLE_OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
TWO_ACTIONS = gym.spaces.Discrete(2)
BOX_ACTIONS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
IMAGE_OBS = gym.spaces.Box(0.0, 1.0, (1, 16, 16), np.float32)


# ------------------------------------------------------------------------------------------
# transition_flags
# ------------------------------------------------------------------------------------------

def transition_flags(fn: Callable[..., Any]) -> None:
    """Check transition_flags(terminated, truncated, prev_done) -> (ends_return, valid)."""
    terminated = np.array([False, True, False, False, False, True])
    truncated = np.array([False, False, True, False, False, False])
    prev_done = np.array([False, False, False, True, True, False])
    with exercise("transition_flags") as ex:
        out = ex.call(fn, terminated, truncated, prev_done)
        ex.expect(isinstance(out, tuple) and len(out) == 2, "return a pair (ends_return, valid)")
        ends, valid = (np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x) for x in out)
        ex.expect(ends.shape == (6,) and valid.shape == (6,),
                  f"both arrays must have one entry per worker, shape (6,); got {ends.shape} and {valid.shape}")
        ends, valid = ends.astype(bool), valid.astype(bool)
        ex.diagnose(ends, terminated, {
            "ends_return is True at truncation: a time limit is not the end of the task; the return "
            "goes on, so the target must still bootstrap V(s') there": terminated | truncated,
            "ends_return follows the time limits (truncated) and misses the real ends of the task (terminated)":
                truncated,
            "ends_return is False everywhere: terminal states have no future, mark them": np.zeros(6, bool),
        }, what="ends_return")
        ex.diagnose(valid, ~prev_done, {
            "every step is valid: with NEXT_STEP autoreset the step after an episode end (prev_done) only "
            "resets the worker (action ignored, reward 0), so it is not a transition to learn from":
                np.ones(6, bool),
            "you dropped the last real step of each episode instead of the reset step after it: validity "
            "depends on prev_done, not on this step's terminated/truncated": ~(terminated | truncated),
            "valid is inverted: it marks the reset steps as the only valid ones": prev_done,
        }, what="valid")


# ------------------------------------------------------------------------------------------
# td_target
# ------------------------------------------------------------------------------------------

def td_target(fn: Callable[..., Any]) -> None:
    """Check td_target(rewards, next_values, terminated, gamma) -> [B] target without gradient."""
    g = torch.Generator().manual_seed(1)
    rewards = torch.randn(6, generator=g)
    next_values = torch.randn(6, generator=g).requires_grad_(True)
    terminated = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    gamma = 0.9
    v = next_values.detach()
    with exercise("td_target") as ex, own_code(ex, "nb01-td-target", fn, "your td_target"):
        out = ex.expect_tensor(ex.call(fn, rewards, next_values, terminated, gamma), shape=(6,),
                               what="td_target(...)")
        # A hard-coded gamma shows before any comparison: the same output for two different gammas.
        out1 = ex.expect_tensor(ex.call(fn, rewards, next_values, torch.zeros(6), 1.0), shape=(6,),
                                what="td_target(..., gamma=1)")
        same = ex.expect_tensor(ex.call(fn, rewards, next_values, terminated, 0.5), shape=(6,),
                                what="td_target(..., gamma=0.5)")
        mistakes = {
            "you bootstrap past terminal states: after a terminal state there is no future, so V(s') "
            "must not count there":
                rewards + gamma * v,
            "the mask is inverted: V(s') counts only at terminal states, where it should not count at all":
                rewards + gamma * v * terminated,
            "gamma is missing: the target is r + gamma * V(s') * (1 - terminated)": rewards + v * (1 - terminated),
            "gamma multiplies the reward too: only V(s') is discounted": gamma * (rewards + v * (1 - terminated)),
        }
        if torch.allclose(out.detach(), same.detach()):
            for message, wrong in mistakes.items():
                if torch.allclose(out.detach(), wrong):
                    ex.fail(message)
            ex.fail("td_target gives the same output for gamma=0.9 and gamma=0.5: it ignores its gamma argument "
                    "(a hard-coded discount?)")
        ex.diagnose(out, rewards + gamma * v * (1 - terminated), mistakes, what="td_target(...)")
        ex.expect(not out.requires_grad,
                  "the target carries gradient: the critic would also move its own target (a target is a fixed "
                  "regression label, not part of the graph)")
        ex.diagnose(out1, rewards + v, {}, what="td_target with gamma=1 and no terminal state")


# ------------------------------------------------------------------------------------------
# policy_distribution
# ------------------------------------------------------------------------------------------

def policy_distribution(fn: Callable[..., Any]) -> None:
    """Check policy_distribution(head_out, log_std=None): Categorical(logits) or Independent Normal."""
    g = torch.Generator().manual_seed(2)
    with exercise("policy_distribution") as ex:
        # Discrete: positive logits, so `probs=` would run but give different probabilities.
        logits = (torch.rand(5, 3, generator=g) + 0.1).requires_grad_(True)
        actions = torch.tensor([0, 2, 1, 1, 0])
        dist = ex.call(fn, logits, None)
        ex.expect(isinstance(dist, Distribution), f"return a torch Distribution, got {type(dist).__name__}")
        ex.expect(isinstance(dist, Categorical), "Discrete actions need a Categorical distribution")
        logp = ex.expect_tensor(ex.call(dist.log_prob, actions), shape=(5,), what="log_prob(actions)")
        ex.diagnose(logp, Categorical(logits=logits.detach()).log_prob(actions), {
            "the network output is read as probabilities; it is logits (unnormalized log-probabilities, any "
            "sign, rows not summing to one)": Categorical(probs=logits.detach()).log_prob(actions),
        }, what="log_prob(actions)")
        ex.expect(logp.requires_grad, "log_prob carries no gradient: do not detach the network output")
        # Continuous: a positive log_std first, so using it directly as std runs and can be named
        # (a negative one would make torch refuse the scale before we could say what happened).
        mean = torch.randn(5, 2, generator=g).requires_grad_(True)
        log_std = torch.tensor([0.3, 0.6]).requires_grad_(True)
        box_actions = torch.randn(5, 2, generator=g)
        dist = ex.call(fn, mean, log_std)
        ex.expect(isinstance(dist, Distribution), f"return a torch Distribution, got {type(dist).__name__}")
        logp = ex.call(dist.log_prob, box_actions)
        if isinstance(logp, torch.Tensor) and tuple(logp.shape) == (5, 2):
            ex.fail("log_prob(actions) has shape [B, action_dim]: a multi-dimensional action's log-probability "
                    "is the sum over dimensions; wrap the Normal in Independent(Normal(mean, std), 1)")
        logp = ex.expect_tensor(logp, shape=(5,), what="log_prob(actions)")
        m, s = mean.detach(), log_std.detach()
        ex.diagnose(logp, Independent(Normal(m, s.exp()), 1).log_prob(box_actions), {
            "your log_prob equals that of a Normal whose std is log_std itself; the std is log_std.exp()":
                Independent(Normal(m, s), 1).log_prob(box_actions),
            "your log_prob equals that of a Normal with std exp(2 * log_std) (the variance); the std is "
            "log_std.exp()": Independent(Normal(m, (2 * s).exp()), 1).log_prob(box_actions),
        }, what="log_prob(actions)")
        # A negative log_std (a std below 1) must work too
        neg = torch.tensor([-0.7, -0.2])
        try:
            neg_dist = ex.call(fn, mean.detach(), neg)
        except CheckFailed as failure:
            ex.fail(f"with a negative log_std ({neg.tolist()}) your code fails; a log-std can be any real number, "
                    f"the std = log_std.exp() is always positive ({failure})")
        ex.diagnose(ex.call(neg_dist.log_prob, box_actions), Independent(Normal(m, neg.exp()), 1).log_prob(box_actions),
                    {}, what=f"log_prob(actions) with log_std = {neg.tolist()}")
        ent = ex.expect_tensor(ex.call(dist.entropy), shape=(5,), what="entropy()")
        ex.expect(logp.requires_grad and ent.requires_grad,
                  "log_prob/entropy carry no gradient: keep mean and log_std in the graph (no .detach())")


# ------------------------------------------------------------------------------------------
# architectures
# ------------------------------------------------------------------------------------------

def architectures(separate_cls: type, shared_cls: type) -> None:
    """Check SeparateActorCritic (nothing shared) and SharedActorCritic (trunk + two heads)."""
    with exercise("architectures") as ex, own_code(ex, "nb01-architectures", (separate_cls, shared_cls),
                                                   "your SeparateActorCritic or SharedActorCritic"):
        obs = torch.randn(7, 4)
        for name, cls in (("SeparateActorCritic", separate_cls), ("SharedActorCritic", shared_cls)):
            for obs_space, action_space, x in ((CARTPOLE_OBS, TWO_ACTIONS, obs), (CARTPOLE_OBS, BOX_ACTIONS, obs),
                                               (IMAGE_OBS, TWO_ACTIONS, torch.rand(7, 1, 16, 16))):
                torch.manual_seed(0)
                model = ex.call(cls, obs_space, action_space, (32, 32))
                ex.expect(isinstance(model, nn.Module), f"{name}(...) must be an nn.Module")
                kind = "a Box" if isinstance(action_space, gym.spaces.Box) else "a Discrete"
                where = f"{name} with {kind} action space and {'image' if x.dim() == 4 else 'vector'} observations"
                dist = ex.call(model.dist, x)
                want = Independent if isinstance(action_space, gym.spaces.Box) else Categorical
                ex.expect(isinstance(dist, want), f"{where}: dist() must return a {want.__name__}, "
                          f"got {type(dist).__name__} (use your policy_distribution)")
                ex.expect_tensor(ex.call(model.value, x), shape=(7,), what=f"{where}: value(obs)")
        # Gradient paths: what each loss reaches.
        torch.manual_seed(0)
        sep = ex.call(separate_cls, CARTPOLE_OBS, TWO_ACTIONS, (32, 32))
        value_params, policy_params = _touched(sep, lambda m: m.value(obs).sum()), \
            _touched(sep, lambda m: m.dist(obs).log_prob(torch.zeros(7, dtype=torch.long)).sum())
        ex.expect(not (value_params & policy_params),
                  "SeparateActorCritic: V(s) and pi(a|s) share parameters; the separate design has nothing in "
                  "common (two bodies, two heads)")
        ex.expect(len(value_params | policy_params) == len(list(sep.parameters())),
                  "SeparateActorCritic: some parameters are used by neither dist() nor value()")
        torch.manual_seed(0)
        sha = ex.call(shared_cls, CARTPOLE_OBS, TWO_ACTIONS, (32, 32))
        trunk = getattr(sha, "trunk", None)
        ex.expect(isinstance(trunk, nn.Module), "SharedActorCritic needs its shared layers in `self.trunk`")
        trunk_ids = {id(p) for p in trunk.parameters()}
        value_params = _touched(sha, lambda m: m.value(obs).sum())
        policy_params = _touched(sha, lambda m: m.dist(obs).log_prob(torch.zeros(7, dtype=torch.long)).sum())
        ex.expect(trunk_ids and trunk_ids <= value_params,
                  "SharedActorCritic: value() does not go through self.trunk")
        ex.expect(trunk_ids <= policy_params, "SharedActorCritic: dist() does not go through self.trunk")
        ex.expect(value_params - trunk_ids and policy_params - trunk_ids and
                  not ((value_params - trunk_ids) & (policy_params - trunk_ids)),
                  "SharedActorCritic: the value head and the policy head must be separate layers on the trunk")
        n_sep, n_sha = (sum(p.numel() for p in m.parameters()) for m in (sep, sha))
        ex.expect(n_sha < n_sep, f"the shared model has {n_sha} parameters, the separate one {n_sep}: sharing the "
                  "trunk should need fewer")


def _touched(model: nn.Module, loss_of: Callable[[nn.Module], torch.Tensor]) -> set[int]:
    """Ids of the parameters that get a non-zero gradient from loss_of(model)."""
    model.zero_grad(set_to_none=True)
    loss_of(model).backward()
    touched = {id(p) for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    model.zero_grad(set_to_none=True)
    return touched


# ------------------------------------------------------------------------------------------
# actor_critic_loss
# ------------------------------------------------------------------------------------------

def _check_batch(seed: int = 3) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(8, 4, generator=g), actions=torch.tensor([0, 1, 1, 0, 1, 0, 0, 1]),
                 rewards=torch.randn(8, generator=g), next_obs=torch.randn(8, 4, generator=g),
                 terminated=torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
                 mask=torch.tensor([True, True, False, True, True, True, False, True]))


def _model(seed: int = 0) -> SeparateActorCritic:
    torch.manual_seed(seed)
    model = SeparateActorCritic(CARTPOLE_OBS, TWO_ACTIONS, (16, 16))
    with torch.no_grad():  # larger outputs than the near-uniform init, so every term matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _checks_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A reference helper that runs only when this module's own code calls it: the check's reference is not an
    answer a notebook can import (`from cs285lab.checks.nb01 import ...` and call it)."""
    here = Path(__file__).resolve()

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if Path(sys._getframe(1).f_code.co_filename).resolve() != here:
            raise RuntimeError(f"{fn.__name__} is the check's internal reference, not course code: write your own")
        return fn(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = fn.__name__
    return guarded


def _is_check_code(fn: Any) -> bool:
    """Whether `fn` is code of the check modules themselves (not the student's own)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and Path(code.co_filename).resolve().parent == Path(__file__).resolve().parent


@_checks_only
def _reference_or_mistake(model: nn.Module, b: Batch, gamma: float, value_coef: float, entropy_coef: float, *,
                  bootstrap_mask: bool = True, use_valid: bool = True, detach_adv: bool = True,
                  detach_target: bool = True, pg_sign: float = 1.0, entropy_sign: float = 1.0,
                  broadcast: str = "", value_coef_on_policy: bool = False) -> torch.Tensor:
    """The reference loss, or one of the usual mistakes (keyword flags)."""
    dist, values = model.dist(b.obs), model.value(b.obs)
    next_values = model.value(b.next_obs)
    if detach_target:
        next_values = next_values.detach()
    not_done = (1 - b.terminated) if bootstrap_mask else torch.ones_like(b.terminated)
    targets = b.rewards + gamma * next_values * not_done
    advantages = targets - values
    if detach_adv:
        advantages = advantages.detach()
    w = b.mask.float() if use_valid else torch.ones_like(values)
    w = w / w.sum()
    policy = -pg_sign * (w * dist.log_prob(b.actions) * advantages).sum()
    if broadcast == "mean":
        value = (values[:, None] - targets).pow(2).mean()
    elif broadcast == "weighted":
        value = (w * (values[:, None] - targets).pow(2)).sum()
    else:
        value = (w * (values - targets).pow(2)).sum()
    entropy = (w * dist.entropy()).sum()
    if value_coef_on_policy:
        return value_coef * policy + value - entropy_sign * entropy_coef * entropy
    return policy + value_coef * value - entropy_sign * entropy_coef * entropy


def _fingerprint(model: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    """The loss value and its gradient on every parameter, as one vector."""
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return torch.cat([loss.detach().view(1), *grads])


LOSS_MISTAKES = {
    "you bootstrap past terminal states: the target counts V(s') after states that have no future":
        {"bootstrap_mask": False},
    "the invalid rows (batch.mask False: NEXT_STEP reset steps) enter the loss: the loss averages over "
    "transitions that never happened": {"use_valid": False},
    "the advantage carries gradient: the policy loss then also trains the critic (in the policy term the "
    "advantage is a fixed weight)": {"detach_adv": False},
    "gradient flows through the target V(s'): the critic would chase a moving target (the target is a fixed "
    "regression label)": {"detach_target": False},
    "the policy term has the wrong sign: minimizing it makes actions with a positive advantage less likely "
    "(gradient descent on J instead of ascent)": {"pg_sign": -1.0},
    "V(s) has shape [B,1] while the target is [B]: (V - y)**2 broadcasts to [B,B] and its mean mixes every "
    "pair of rows instead of pairing each V(s) with its own target": {"broadcast": "mean"},
    "V(s) has shape [B,1] while the target is [B]: (V - y)**2 broadcasts to [B,B], so the weighted sum mixes "
    "every pair of rows instead of pairing each V(s) with its own target": {"broadcast": "weighted"},
    "value_coef weights the wrong term: it scales the critic's regression loss, and the policy term is "
    "left at weight one":
        {"value_coef_on_policy": True},
    "the entropy bonus has the wrong sign: more entropy raises your loss, so training makes the policy "
    "less random instead of keeping it exploring":
        {"entropy_sign": -1.0},
}


def actor_critic_loss(fn: Callable[..., Any]) -> None:
    """Check actor_critic_loss(model, batch, gamma, value_coef, entropy_coef) -> (loss, stats)."""
    batch = _check_batch()
    with exercise("actor_critic_loss") as ex, own_code(ex, "nb01-actor-critic-loss", fn, "your actor_critic_loss"):
        ex.expect(not _is_check_code(fn), "this function comes from the course's check code, not from your notebook: "
                  "write actor_critic_loss yourself")
        for gamma, vc, ec in ((0.9, 0.5, 0.0), (0.8, 0.25, 0.1)):
            model = _model()
            out = ex.call(fn, model, batch, gamma, vc, ec)
            ex.expect(isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict),
                      "return a pair (loss, stats) with stats a dict of floats")
            loss = ex.expect_tensor(out[0], shape=(), what="the loss")
            ex.expect(loss.requires_grad, "the loss carries no gradient: build it from model outputs, no .item()")
            got = _fingerprint(model, loss)
            ref_model = _model()
            expected = _fingerprint(ref_model, _reference_or_mistake(ref_model, batch, gamma, vc, ec))
            mistakes = {}
            for message, flags in LOSS_MISTAKES.items():
                wrong_model = _model()
                mistakes[message] = _fingerprint(wrong_model, _reference_or_mistake(wrong_model, batch, gamma, vc, ec,
                                                                                   **flags))
            ex.diagnose(got, expected, mistakes,
                        what=f"the loss or its gradient (gamma={gamma}, value_coef={vc}, entropy_coef={ec})",
                        atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------------
# online_update
# ------------------------------------------------------------------------------------------

def online_update(fn: Callable[..., Any]) -> None:
    """Check online_update(model, optimizer, obs, action, reward, next_obs, terminated, gamma) on one transition."""
    g = torch.Generator().manual_seed(4)
    with exercise("online_update") as ex, own_code(ex, "nb01-online-update", fn, "your online_update"):
        for terminated in (False, True):
            obs, next_obs = torch.randn(4, generator=g).numpy(), torch.randn(4, generator=g).numpy()
            action, reward, gamma = np.int64(1), 0.7, 0.9
            model = _model(1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            before = _flat_params(model)
            for p in model.parameters():  # a stale gradient from an earlier step
                p.grad = torch.full_like(p, 0.5)
            ex.call(fn, model, optimizer, obs, action, reward, next_obs, terminated, gamma)
            after = _flat_params(model)
            if torch.equal(after, before):
                grads = [p.grad for p in model.parameters()]
                if all(gr is None or not gr.any() for gr in grads):
                    ex.fail("the parameters did not change, and after your update every gradient is zero or None: "
                            "zero_grad() ran after backward() (before step() could use the gradients) or backward() "
                            "never ran; step() uses the gradients backward() just computed")
                ex.fail("the parameters did not change although the gradients are set: no optimizer step was "
                        "taken after the backward pass")
            batch = Batch(obs=torch.as_tensor(obs)[None], actions=torch.as_tensor(action)[None],
                          rewards=torch.tensor([reward]), next_obs=torch.as_tensor(next_obs)[None],
                          terminated=torch.tensor([float(terminated)]))
            expected = _sgd_result(batch, gamma, {})
            mistakes = {"you did not zero the gradients before backward(): this step's gradient was added to the "
                        "ones left over from the previous step": _sgd_result(batch, gamma, {}, stale=0.5)}
            for message, flags in LOSS_MISTAKES.items():
                if "use_valid" in flags:
                    continue  # a single transition has no invalid rows
                mistakes[message] = _sgd_result(batch, gamma, flags)
            ex.diagnose(after, expected, mistakes, what=f"the parameters after one update (terminated={terminated})")


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).clone()


@_checks_only
def _sgd_result(batch: Batch, gamma: float, flags: dict, stale: float = 0.0) -> torch.Tensor:
    model = _model(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    batch = Batch(batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.terminated, torch.tensor([True]))
    loss = _reference_or_mistake(model, batch, gamma, 0.5, 0.0, **flags)
    loss.backward()
    if stale:
        for p in model.parameters():
            p.grad += stale
    optimizer.step()
    return _flat_params(model)


# ------------------------------------------------------------------------------------------
# learning check
# ------------------------------------------------------------------------------------------

def _probe_own_loss(ex: Any, loss_fn: Callable[..., Any], model_cls: type, gamma: float) -> None:
    """One call of the loss on a few transitions, watched: the package's losses are refused here as in Exercise 6."""
    from cs285lab.algos.actor_critic import collect_transitions

    env = gym.make("CartPole-v1")
    torch.manual_seed(0)
    model = ex.call(model_cls, env.observation_space, env.action_space, (64, 64))
    env.close()
    batch = collect_transitions(model, "CartPole-v1", num_envs=2, n_steps=4, seed=0)
    with own_code(ex, "nb01-actor-critic-loss", loss_fn, "your actor_critic_loss"):
        ex.call(loss_fn, model, batch, gamma)


LEARN_EVALS, LEARN_LAST = 10, 3  # evaluate every total_steps / 10 env steps (and once untrained); grade the last 3


def learning_config(profile_name: str) -> Any:
    """The A2CConfig batched_ac_learns trains at `profile_name` (the doctor's corpus trains the same runs)."""
    # the [full] table's run at ci and full, so a grade never depends on the profile (smoke, never a grade, only runs it)
    batched = budget("nb01", SMOKE if profile_name == SMOKE else "full").batched
    return replace(batched, eval_every=batched.total_steps // LEARN_EVALS)


def batched_ac_learns(loss_fn: Callable[..., Any], model_cls: type) -> None:
    """Train batched actor-critic on CartPole-v1 with your loss and model (2 seeds); it must learn."""
    config = learning_config(profile())
    threshold = thresholds("nb01")["batched_ac_learns"]
    with exercise("batched_ac_learns") as ex:
        _probe_own_loss(ex, loss_fn, model_cls, config.gamma)
        finals, histories = [], []
        for seed in (0, 1):
            torch.manual_seed(seed)
            env = gym.make("CartPole-v1")
            model = ex.call(model_cls, env.observation_space, env.action_space, (64, 64))
            env.close()
            _, history = train_a2c("CartPole-v1", config, seed=seed, model=model, loss_fn=loss_fn,
                                   logger=ex.progress_logger(f"training seed {seed + 1} of 2", config.total_steps))
            finals.append(np.mean([row["eval_return"] for row in history[-LEARN_LAST:]]))  # one dip is not a grade
            histories.append(history)
            ex.expect(all(math.isfinite(r.get("value_loss", 0.0)) for r in history),
                      "the value loss became NaN or inf: check the loss for divisions by mask.sum() == 0")
        mean = float(np.mean(finals))
        ex.expect_learned(mean >= threshold,
                  f"over its last {LEARN_LAST} evaluations (up to {config.total_steps} env steps) your actor-critic "
                  f"reaches a mean greedy return of {mean:.0f} over 2 seeds, below {threshold}; a correct loss gets "
                  "there. Recheck the sign of the "
                  "policy term, the detached advantage and target, and the (1 - terminated) mask",
                  histories, "a2c", "nb01-a2c-cartpole", gamma=config.gamma)


__all__ = ["transition_flags", "td_target", "policy_distribution", "architectures", "actor_critic_loss",
           "online_update", "batched_ac_learns"]
