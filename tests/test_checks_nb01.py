"""Notebook 01 checks: correct code passes, each usual mistake fails with a message that names it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Categorical, Independent, Normal

from cs285lab.algos.actor_critic import Batch, make_encoder
from cs285lab.checks import CheckFailed, load
from cs285lab.budgets import budget

from pasted import as_written_by_a_student

nb01 = load("nb01")


# ---------------------------------------------------------------------------------------------
# Correct implementations (what the solution notebook has), and knobs to break them
# ---------------------------------------------------------------------------------------------

def flags_ok(terminated, truncated, prev_done):
    return terminated, ~prev_done


def target_ok(rewards, next_values, terminated, gamma):
    with torch.no_grad():
        return rewards + gamma * next_values * (1 - terminated)


def dist_ok(head_out, log_std=None):
    if log_std is None:
        return Categorical(logits=head_out)
    return Independent(Normal(head_out, log_std.exp().expand_as(head_out)), 1)


def _layer(size, out, gain):
    layer = nn.Linear(size, out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _n_out(space):
    return int(space.n) if isinstance(space, gym.spaces.Discrete) else int(space.shape[0])


def _log_std(space):
    return nn.Parameter(torch.zeros(space.shape[0])) if isinstance(space, gym.spaces.Box) else None


class SeparateOk(nn.Module):
    def __init__(self, obs_space, action_space, hidden=(64, 64)):
        super().__init__()
        self.log_std = _log_std(action_space)
        self.actor_body, size = make_encoder(obs_space, hidden)
        self.critic_body, _ = make_encoder(obs_space, hidden)
        self.policy_head = _layer(size, _n_out(action_space), 0.01)
        self.value_head = _layer(size, 1, 1.0)

    def dist(self, obs):
        return dist_ok(self.policy_head(self.actor_body(obs)), self.log_std)

    def value(self, obs):
        return self.value_head(self.critic_body(obs)).squeeze(-1)


class SharedOk(nn.Module):
    def __init__(self, obs_space, action_space, hidden=(64, 64)):
        super().__init__()
        self.log_std = _log_std(action_space)
        self.trunk, size = make_encoder(obs_space, hidden)
        self.policy_head = _layer(size, _n_out(action_space), 0.01)
        self.value_head = _layer(size, 1, 1.0)

    def dist(self, obs):
        return dist_ok(self.policy_head(self.trunk(obs)), self.log_std)

    def value(self, obs):
        return self.value_head(self.trunk(obs)).squeeze(-1)


def make_loss(*, mask_terminal=True, use_mask=True, detach_adv=True, detach_target=True, sign=1.0,
              unsqueeze_value=False, mse_mean=False, entropy_sign=1.0, coef_on_policy=False, target_fn=None):
    """actor_critic_loss with optional mistakes."""
    def loss_fn(model, batch, gamma, value_coef=0.5, entropy_coef=0.0):
        dist, values = model.dist(batch.obs), model.value(batch.obs)
        next_values = model.value(batch.next_obs)
        if detach_target:
            next_values = next_values.detach()
        if target_fn is not None:
            targets = target_fn(batch.rewards, next_values, batch.terminated, gamma)
        else:
            not_done = (1 - batch.terminated) if mask_terminal else 1.0
            targets = batch.rewards + gamma * next_values * not_done
        advantages = targets - values
        if detach_adv:
            advantages = advantages.detach()
        w = batch.mask.float() if use_mask else torch.ones_like(values)
        w = w / w.sum()
        policy = -sign * (w * dist.log_prob(batch.actions) * advantages).sum()
        v = values.unsqueeze(-1) if unsqueeze_value else values
        value = ((v - targets) ** 2).mean() if mse_mean else (w * (v - targets) ** 2).sum()
        entropy = (w * dist.entropy()).sum()
        if coef_on_policy:
            return value_coef * policy + value - entropy_sign * entropy_coef * entropy, {}
        return policy + value_coef * value - entropy_sign * entropy_coef * entropy, {}
    return loss_fn


def make_online(loss_fn=None, zero_grad=True, step=True, zero_before_step=False):
    loss_fn = loss_fn or make_loss()

    def update(model, optimizer, obs, action, reward, next_obs, terminated, gamma, value_coef=0.5):
        batch = Batch(torch.as_tensor(obs, dtype=torch.float32)[None], torch.as_tensor(action)[None],
                      torch.tensor([float(reward)]), torch.as_tensor(next_obs, dtype=torch.float32)[None],
                      torch.tensor([float(terminated)]), torch.tensor([True]))
        loss, stats = loss_fn(model, batch, gamma, value_coef)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if zero_before_step:
            optimizer.zero_grad()  # erases the gradients step() needs
        if step:
            optimizer.step()
        return stats
    return update


def expect_failure(check, *args, match):
    with pytest.raises(CheckFailed, match=match):
        check(*args)


# ---------------------------------------------------------------------------------------------
# transition_flags
# ---------------------------------------------------------------------------------------------

def test_transition_flags_accepts_correct(capsys):
    nb01.transition_flags(flags_ok)
    assert "transition_flags: all" in capsys.readouterr().out


@pytest.mark.parametrize("broken, match", [
    (lambda te, tr, pd: (te | tr, ~pd), "ends_return is True at truncation"),
    (lambda te, tr, pd: (te, np.ones_like(pd)), "every step is valid"),
    (lambda te, tr, pd: (te, ~(te | tr)), "dropped the last real step"),
    (lambda te, tr, pd: (te, pd), "valid is inverted"),
    (lambda te, tr, pd: te, "return a pair"),
])
def test_transition_flags_names_mistakes(broken, match):
    expect_failure(nb01.transition_flags, broken, match=match)


# ---------------------------------------------------------------------------------------------
# td_target
# ---------------------------------------------------------------------------------------------

def test_td_target_accepts_correct_and_package_version_as_pasted(capsys):
    from cs285lab.algos.actor_critic import td_target
    nb01.td_target(target_ok)
    nb01.td_target(as_written_by_a_student(td_target))
    assert capsys.readouterr().out.count("td_target: all") == 2


@pytest.mark.parametrize("broken, match", [
    (lambda r, v, d, g: (r + g * v).detach(), r"bootstrap past terminal states"),
    (lambda r, v, d, g: (r + g * v * d).detach(), r"mask is inverted"),
    (lambda r, v, d, g: (r + v * (1 - d)).detach(), r"gamma is missing"),
    (lambda r, v, d, g: (g * (r + v * (1 - d))).detach(), r"gamma multiplies the reward"),
    (lambda r, v, d, g: r + g * v * (1 - d), r"target carries gradient"),
    (lambda r, v, d, g: (r + g * v[:, None] * (1 - d)).detach(), r"\[B,1\] and \[B\] tensors broadcast"),
    (lambda r, v, d, g: (r + 0.9 * v * (1 - d)).detach(), r"same output for gamma=0.9 and gamma=0.5: it ignores"),
    (lambda r, v, d, g: (r + 0.99 * v * (1 - d)).detach(), r"ignores its gamma argument"),
    (lambda r, v, d, g: (r + g * v * (1 - d)).detach() + (g == 1.0) * 0.1, r"td_target with gamma=1 and no terminal"),
    (lambda r, v, d, g: (r + g * v * (1 - d)).detach().numpy(), r"numpy array"),
])
def test_td_target_names_mistakes(broken, match):
    expect_failure(nb01.td_target, broken, match=match)


def test_td_target_stub_lets_not_implemented_through():
    def stub(*_):
        raise NotImplementedError("fill in this part")
    with pytest.raises(NotImplementedError):
        nb01.td_target(stub)


# ---------------------------------------------------------------------------------------------
# policy_distribution
# ---------------------------------------------------------------------------------------------

def test_policy_distribution_accepts_correct(capsys):
    nb01.policy_distribution(dist_ok)
    assert "policy_distribution: all" in capsys.readouterr().out


@pytest.mark.parametrize("broken, match", [
    (lambda h, s=None: Categorical(probs=h) if s is None else dist_ok(h, s), "network output is read as probabilities"),
    (lambda h, s=None: dist_ok(h) if s is None else Normal(h, s.exp()), r"Independent\(Normal"),
    (lambda h, s=None: dist_ok(h) if s is None else Independent(Normal(h, s.abs()), 1), "std is log_std itself"),
    # used as the std directly: torch would refuse a negative scale, but the positive probe comes first
    (lambda h, s=None: dist_ok(h) if s is None else Independent(Normal(h, s), 1), "std is log_std itself"),
    (lambda h, s=None: dist_ok(h, s) if s is None or (s > 0).all() else Independent(Normal(h, s), 1),
     "with a negative log_std"),
    (lambda h, s=None: dist_ok(h) if s is None else Independent(Normal(h, (2 * s).exp()), 1), "the variance"),
    (lambda h, s=None: dist_ok(h.detach(), s), "no gradient"),
    (lambda h, s=None: Normal(h, 1.0) if s is None else dist_ok(h, s), "Categorical"),
])
def test_policy_distribution_names_mistakes(broken, match):
    expect_failure(nb01.policy_distribution, broken, match=match)


# ---------------------------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------------------------

def test_architectures_accept_correct_models(capsys):
    nb01.architectures(SeparateOk, SharedOk)
    assert capsys.readouterr().out.count("architectures: all") == 1


def test_package_models_are_refused_however_reached():
    from cs285lab.algos.actor_critic import SeparateActorCritic, SharedActorCritic

    class Mine(SharedActorCritic):  # a cell that only renames the package's class
        pass

    def built_by_the_package(obs_space, action_space, hidden):  # a factory that returns the package's model
        import importlib
        return getattr(importlib.import_module("cs285lab.algos.actor_critic"), "SeparateActorCritic")(
            obs_space, action_space, hidden)

    expect_failure(nb01.architectures, SeparateActorCritic, SharedOk, match="runs the package's own code")
    expect_failure(nb01.architectures, SeparateOk, Mine, match="runs the package's own code")
    expect_failure(nb01.architectures, built_by_the_package, SharedOk, match="runs the package's own code")


class ValueNotSqueezed(SeparateOk):
    def value(self, obs):
        return self.value_head(self.critic_body(obs))


class SeparateSharingBody(SeparateOk):
    def value(self, obs):  # the critic reads the actor's body: not separate
        return self.value_head(self.actor_body(obs)).squeeze(-1)


class SharedWithoutTrunkAttr(SharedOk):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.body = self.trunk
        del self.trunk

    def dist(self, obs):
        return dist_ok(self.policy_head(self.body(obs)), self.log_std)

    def value(self, obs):
        return self.value_head(self.body(obs)).squeeze(-1)


class SharedValueSkipsTrunk(SharedOk):
    def __init__(self, obs_space, action_space, hidden=(64, 64)):
        super().__init__(obs_space, action_space, hidden)
        self.value_body, _ = make_encoder(obs_space, hidden)

    def value(self, obs):
        return self.value_head(self.value_body(obs)).squeeze(-1)


class SharedOneHead(SharedOk):
    def value(self, obs):  # reads V(s) off the policy head: no separate value head
        return self.policy_head(self.trunk(obs))[:, 0]


class SharedBoxIgnored(SharedOk):
    def dist(self, obs):
        return Categorical(logits=self.policy_head(self.trunk(obs)))


@pytest.mark.parametrize("separate, shared, match", [
    (ValueNotSqueezed, SharedOk, r"trailing size-1 dimension"),
    (SeparateSharingBody, SharedOk, "share parameters"),
    (SeparateOk, SharedWithoutTrunkAttr, "self.trunk"),
    (SeparateOk, SharedValueSkipsTrunk, "value\\(\\) does not go through self.trunk"),
    (SeparateOk, SharedOneHead, "value head and the policy head must be separate"),
    (SeparateOk, SharedBoxIgnored, "must return a Independent"),
])
def test_architectures_name_mistakes(separate, shared, match):
    expect_failure(nb01.architectures, separate, shared, match=match)


# ---------------------------------------------------------------------------------------------
# actor_critic_loss
# ---------------------------------------------------------------------------------------------

def test_loss_accepts_correct_code_and_refuses_the_packages_loss_pasted(capsys):
    from cs285lab.algos.actor_critic import actor_critic_loss
    nb01.actor_critic_loss(make_loss())
    assert capsys.readouterr().out.count("actor_critic_loss: all") == 1
    # the package's loss, pasted as a cell, still hands its work to the package's policy_value_loss
    expect_failure(nb01.actor_critic_loss, as_written_by_a_student(actor_critic_loss), match="policy_value_loss")


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_terminal": False}, "bootstrap past terminal states"),
    ({"use_mask": False}, "invalid rows"),
    ({"detach_adv": False}, "advantage carries gradient"),
    ({"detach_target": False}, "gradient flows through the target"),
    ({"sign": -1.0}, "wrong sign"),
    ({"unsqueeze_value": True}, r"\[B,1\] while the target is \[B\]"),
    ({"unsqueeze_value": True, "mse_mean": True}, r"\[B,1\] while the target is \[B\]"),
    ({"coef_on_policy": True}, "value_coef weights the wrong term"),
    ({"entropy_sign": -1.0}, "entropy bonus has the wrong sign"),
    ({"target_fn": lambda r, v, d, g: r + g * v * (1 - d) + 0.1}, "matches none of the usual mistakes"),
])
def test_loss_names_mistakes(kwargs, match):
    expect_failure(nb01.actor_critic_loss, make_loss(**kwargs), match=match)


def test_loss_must_return_pair():
    expect_failure(nb01.actor_critic_loss, lambda *a: make_loss()(*a)[0], match="return a pair")


# ---------------------------------------------------------------------------------------------
# online_update
# ---------------------------------------------------------------------------------------------

def test_online_update_accepts_correct_and_package_version_as_pasted(capsys):
    from cs285lab.algos.actor_critic import online_update
    nb01.online_update(make_online())
    nb01.online_update(as_written_by_a_student(online_update))
    assert capsys.readouterr().out.count("online_update: all") == 2


@pytest.mark.parametrize("update, match", [
    (make_online(step=False), "gradients are set: no optimizer step was taken"),
    (make_online(zero_before_step=True), "every gradient is zero or None: zero_grad\\(\\) ran after backward"),
    (make_online(zero_grad=False), "did not zero the gradients"),
    (make_online(make_loss(sign=-1.0)), "wrong sign"),
    (make_online(make_loss(detach_adv=False)), "advantage carries gradient"),
    (make_online(make_loss(detach_target=False)), "gradient flows through the target"),
    (make_online(make_loss(mask_terminal=False)), "bootstrap past terminal states"),
])
def test_online_update_names_mistakes(update, match):
    expect_failure(nb01.online_update, update, match=match)


# ---------------------------------------------------------------------------------------------
# learning check (trains CartPole twice per call at the check budget: run once, elsewhere)
# ---------------------------------------------------------------------------------------------

# The correct loss passing this check is covered by the solution notebook's run (nbval). The subtle break
# (bootstrapping past terminal states: a loss that runs but does not learn) is trained once, in
# tests/test_doctor_feedback.py::test_nb01_learning_check_diagnoses_a_real_broken_loss, which asserts both the
# threshold message and the doctor's diagnosis.


# ---------------------------------------------------------------------------------------------
# the remaining named mistakes, one test each
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("broken, match", [
    (lambda te, tr, pd: (tr, ~pd), "follows the time limits"),
    (lambda te, tr, pd: (np.zeros_like(te), ~pd), "False everywhere"),
    (lambda te, tr, pd: (te[:3], ~pd), "one entry per worker"),
])
def test_transition_flags_more_mistakes(broken, match):
    expect_failure(nb01.transition_flags, broken, match=match)


@pytest.mark.parametrize("broken, match", [
    (lambda h, s=None: h, "return a torch Distribution"),
    (lambda h, s=None: dist_ok(h) if s is None else dist_ok(h.detach(), s.detach()), "carry no gradient"),
])
def test_policy_distribution_more_mistakes(broken, match):
    expect_failure(nb01.policy_distribution, broken, match=match)


class SeparateUnusedLayer(SeparateOk):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spare = nn.Linear(4, 4)


class SharedPolicySkipsTrunk(SharedOk):
    def __init__(self, obs_space, action_space, hidden=(64, 64)):
        super().__init__(obs_space, action_space, hidden)
        self.policy_body, _ = make_encoder(obs_space, hidden)

    def dist(self, obs):
        return dist_ok(self.policy_head(self.policy_body(obs)), self.log_std)


class SharedBig(SharedOk):
    def __init__(self, obs_space, action_space, hidden=(64, 64)):
        super().__init__(obs_space, action_space, (256, 256))


class NotAModule:
    def __init__(self, *args):
        pass


@pytest.mark.parametrize("separate, shared, match", [
    (SeparateUnusedLayer, SharedOk, "used by neither"),
    (SeparateOk, SharedPolicySkipsTrunk, "dist\\(\\) does not go through self.trunk"),
    (SeparateOk, SharedBig, "should need fewer"),
    (NotAModule, SharedOk, "must be an nn.Module"),
])
def test_architectures_more_mistakes(separate, shared, match):
    expect_failure(nb01.architectures, separate, shared, match=match)


def test_loss_without_gradient_is_named():
    def detached(*args):
        loss, stats = make_loss()(*args)
        return loss.detach(), stats
    expect_failure(nb01.actor_critic_loss, detached, match="carries no gradient")


def test_the_checks_reference_loss_cannot_be_imported_as_an_answer():
    import cs285lab.checks.nb01 as module

    def imported(model, batch, gamma, value_coef=0.5, entropy_coef=0.0):
        return module._reference_or_mistake(model, batch, gamma, value_coef, entropy_coef), {}

    with pytest.raises(RuntimeError, match="internal reference"):
        imported(*([None] * 3))
    expect_failure(nb01.actor_critic_loss, imported, match="internal reference")
    expect_failure(nb01.actor_critic_loss, module._reference_or_mistake, match="check code, not from your notebook")


@pytest.mark.parametrize("name, check", [("td_target", "td_target"), ("actor_critic_loss", "actor_critic_loss"),
                                         ("online_update", "online_update")])
def test_package_answers_are_refused_however_reached(name, check):
    import cs285lab.algos.actor_critic as package

    answer = getattr(package, name)
    expect_failure(getattr(nb01, check), answer, match="runs the package's own code")
    wrapper = lambda *args, **kwargs: answer(*args, **kwargs)  # noqa: E731 - a cell that only forwards
    expect_failure(getattr(nb01, check), wrapper, match="runs the package's own code")


@pytest.mark.parametrize("module, name", [("cs285lab.algos.parallel", "learner_loss"),
                                          ("cs285lab.algos.actor_critic", "policy_value_loss")])
def test_the_packages_other_losses_are_refused_by_the_loss_and_learning_checks(module, name):
    """nb02's learner loss is nb01's loss on one-step transitions; policy_value_loss assembles it from its parts."""
    import importlib

    found = getattr(importlib.import_module(module), name)
    if name == "learner_loss":
        loss = found
    else:
        def loss(model, batch, gamma, value_coef=0.5, entropy_coef=0.0):  # a cell that only assembles the inputs
            dist, values = model.dist(batch.obs), model.value(batch.obs)
            with torch.no_grad():
                targets = batch.rewards + gamma * (1 - batch.terminated) * model.value(batch.next_obs)
            return found(dist, values, batch.actions, targets - values.detach(), targets, batch.mask, value_coef,
                         entropy_coef)
    expect_failure(nb01.actor_critic_loss, loss, match="runs the package's own code")
    expect_failure(nb01.batched_ac_learns, loss, SeparateOk, match="runs the package's own code")


@pytest.mark.parametrize("name", ["ci", "full", "smoke"])
def test_the_learning_check_trains_the_full_budget_at_ci_and_full_and_only_smoke_shortens_it(monkeypatch, name):
    import cs285lab.checks.nb01 as module

    seen = []

    def train_a2c(env_id, config, seed, model, loss_fn, logger):
        seen.append(config.total_steps)
        raise CheckFailed("stop here")

    monkeypatch.setenv("CS285LAB_PROFILE", name)
    monkeypatch.setattr(module, "train_a2c", train_a2c)
    with pytest.raises(CheckFailed):
        module.batched_ac_learns(make_loss(), SeparateOk)
    expected = budget("nb01", "smoke" if name == "smoke" else "full").batched.total_steps
    assert seen == [expected] and (name == "smoke") == (expected < budget("nb01", "full").batched.total_steps)
