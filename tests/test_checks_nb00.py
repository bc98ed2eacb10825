"""Notebook 00's checks pass the reference and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from cs285lab.checks import CheckFailed, load

checks = load("nb00")


def reward_to_go(rewards, gamma):
    out, running = torch.zeros_like(rewards), torch.zeros(())
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def td_target(rewards, next_values, terminated, truncated, gamma):
    return rewards + gamma * next_values.detach() * (1 - terminated.float())


def test_reference_implementations_pass(capsys):
    checks.discounted_reward_to_go(reward_to_go)
    checks.td_target(td_target)
    out = capsys.readouterr().out
    assert "✓ discounted_reward_to_go" in out and "✓ td_target" in out


@pytest.mark.parametrize("broken, message", [
    (lambda r, g: torch.full_like(r, float(reward_to_go(r, g)[0])), "whole episode's discounted return"),
    (lambda r, g: reward_to_go(r, 1.0), "not discounted"),
    (lambda r, g: torch.stack([(g ** torch.arange(len(r), dtype=torch.float32))[t:] @ r[t:] for t in range(len(r))]),
     "discount from the start"),
    (lambda r, g: torch.cat([reward_to_go(r, g)[1:], torch.zeros(1)]), "must include r_t"),
    (lambda r, g: reward_to_go(r, g).numpy(), "numpy array"),
    (lambda r, g: reward_to_go(r, g).unsqueeze(-1), "trailing size-1"),
    (lambda r, g: reward_to_go(r, g) + 0.5, "matches none of the usual mistakes"),
    (lambda r, g: r.undefined_attribute, "your code raised AttributeError"),
])
def test_reward_to_go_mistakes_are_named(broken, message):
    with pytest.raises(CheckFailed, match=message):
        checks.discounted_reward_to_go(broken)


@pytest.mark.parametrize("broken, message", [
    (lambda r, v, te, tr, g: r + g * v.detach(), "no termination mask"),
    (lambda r, v, te, tr, g: r + g * v.detach() * (1 - (te.float() + tr.float()).clamp(max=1)),
     "stop bootstrapping on truncation"),
    (lambda r, v, te, tr, g: r + g * v.detach() * (1 - tr.float()), "masked with truncated instead"),
    (lambda r, v, te, tr, g: r + g * v.detach() * te.float(), "mask is inverted"),
    (lambda r, v, te, tr, g: r + v.detach() * (1 - te.float()), "gamma is missing"),
    (lambda r, v, te, tr, g: r + g * v * (1 - te.float()), "carries gradient"),
    (lambda r, v, te, tr, g: r + g * v.detach() * (1 - te), "boolean terminated/truncated flags"),
    (lambda r, v, te, tr, g: r.unsqueeze(-1) + g * v.detach() * (1 - te.float()), r"\[B,1\] and \[B\]"),
])
def test_td_target_mistakes_are_named(broken, message):
    with pytest.raises(CheckFailed, match=message):
        checks.td_target(broken)


def test_a_stub_reports_not_implemented():
    def stub(*args):
        raise NotImplementedError("hint")

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        checks.td_target(stub)


def test_monkeypatching_the_imported_module_does_not_reach_a_fresh_load(monkeypatch):
    import cs285lab.checks.nb00 as imported

    monkeypatch.setattr(imported, "td_target", lambda fn: print("✓ td_target: all 99 checks passed"))
    with pytest.raises(CheckFailed):
        load("nb00").td_target(lambda r, v, te, tr, g: r)


def test_the_check_has_no_reference_function_to_import_and_refuses_its_own_code():
    import cs285lab.checks.nb00 as module
    assert not [name for name in vars(module) if "reference" in name.lower()], "a callable reference is an answer key"
    expect = pytest.raises(CheckFailed, match="check code, not from your notebook")
    with expect:
        checks.discounted_reward_to_go(module._is_check_code)


def test_td_target_refuses_the_package_answer_behind_a_wrapper():
    from cs285lab.algos import actor_critic as ac

    def wrapped(rewards, next_values, terminated, truncated, gamma):  # what a student could paste
        return ac.td_target(rewards, next_values, terminated, gamma)

    with pytest.raises(CheckFailed, match="runs the package's own code"):
        load("nb00").td_target(wrapped)
