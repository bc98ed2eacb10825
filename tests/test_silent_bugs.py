"""The silent-bug series of notebook 03: families, per-student variants, and their checks.

Every check is fed the code under review (each placement), the correct code, and the fix of the other
convention (another variant's answer); grading one student with another's fixes must give no points.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import textwrap
import unicodedata

import numpy as np
import pytest
import torch

import cs285lab.variants as variants
from torch import Tensor, nn

from cs285lab.algos.sac import SAC
from cs285lab.algos.silent_bugs import FAMILIES, fixed_sac, review_series
from cs285lab.buffers import Batch
from cs285lab.checks import CheckFailed, load

checks = load("nb03")
CASES = [(f, c) for f in FAMILIES for c in FAMILIES[f].correct]


def pasted(fn):
    """`fn` as a student's cell holds it: its source pasted (and renamed), so its code is the student's, not the
    package's (the checks refuse the package's own code objects)."""
    source = "\n".join(line for line in textwrap.dedent(inspect.getsource(fn)).splitlines()
                       if not line.startswith("@answer("))
    namespace = {"torch": torch, "Tensor": Tensor, "nn": nn, "Batch": Batch, "SAC": SAC}
    exec(compile(source, "<student cell>", "exec"), namespace)
    return namespace[fn.__name__]


def student_fix(variant, slot: int):
    """What a student who fixed review `slot` of `variant` correctly submits: the correct code, in their own cell."""
    spec = variant.slots[slot - 1]
    return pasted(FAMILIES[spec.family].correct[spec.convention])


def _other(family: str, convention: str) -> str:
    return next(c for c in FAMILIES[family].correct if c != convention)


def _run(family: str, convention: str, fn) -> None:
    checks._SILENT_CHECKS[family](checks.Exercise("review"), fn, convention, FAMILIES[family], 1)


@pytest.mark.parametrize("family, convention", CASES)
def test_correct_code_passes(family, convention):
    _run(family, convention, pasted(FAMILIES[family].correct[convention]))


@pytest.mark.parametrize("family, convention", CASES)
def test_the_packages_correct_code_is_refused_however_it_is_reached(family, convention):
    """Importing the package's correct function, wrapping it, or reaching it through importlib: refused."""
    correct = FAMILIES[family].correct[convention]
    module = importlib.import_module("cs285lab.algos." + "silent_bugs")
    dynamic = getattr(module, correct.__name__)

    def wrapper(*args):
        return dynamic(*args)

    for fn in (correct, wrapper):
        with pytest.raises(CheckFailed, match="the package's own code .*silent_bugs"):
            _run(family, convention, fn)


def test_sac_methods_are_refused_as_fixes():
    def via_sac(batch, agent):  # SAC's own target is the soft convention's answer
        return agent.q_target(batch)

    def via_sac_polyak(target, online, rate):
        SAC.soft_update(None, target, online, rate)

    with pytest.raises(CheckFailed, match=r"the package's own code \(cs285lab.algos.sac.SAC.q_target"):
        _run("target", "soft", via_sac)
    with pytest.raises(CheckFailed, match=r"the package's own code \(cs285lab.algos.sac.SAC.soft_update"):
        _run("polyak", "tau", via_sac_polyak)


@pytest.mark.parametrize("family, convention", CASES)
@pytest.mark.parametrize("place", [0, 1])
def test_code_under_review_fails_without_giving_its_diagnosis_away(family, convention, place):
    # the diagnosis is graded by hand: the unchanged review's code must not get it from the check
    diagnosis = {"broadcast": "every target", "target": "gradient", "polyak": "ONLINE"}[family]
    with pytest.raises(CheckFailed, match="still has review 1's bug") as failed:
        _run(family, convention, FAMILIES[family].buggy[convention][place])
    assert diagnosis not in str(failed.value) and "q_mean" not in str(failed.value) and "target_drift" not in str(failed.value)


def test_a_detached_target_from_the_online_critic_is_told_to_keep_the_reviews_design():
    def detached_online(batch, agent):  # the kept gradient is gone (it learns: doctor corpus), the design is not SAC's
        with torch.no_grad():
            next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
            next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
            return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)

    with pytest.raises(CheckFailed, match="detached but still computed from the online critic"):
        _run("target", "soft", detached_online)


@pytest.mark.parametrize("family, convention", CASES)
def test_the_other_conventions_fix_is_another_variants_answer(family, convention):
    with pytest.raises(CheckFailed, match="fix of a different variant|another variant.s fix"):
        _run(family, convention, pasted(FAMILIES[family].correct[_other(family, convention)]))


def test_other_broken_fixes_are_named():
    def detached_loss(q, y):  # no gradient to the critics
        return ((q.detach() - y) ** 2).mean(dim=1).sum()

    def half_detached_target(batch, agent):  # the target critic, but the graph is kept
        next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
        next_q = agent.target_critic(batch.next_obs, next_actions).min(dim=0).values
        return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)

    def no_op(target, online, rate):
        return None

    def returns_new_tensors(target, online, rate):  # rebinding .data of a copy changes nothing in place
        [t.detach().clone().lerp_(o, rate) for t, o in zip(target.parameters(), online.parameters())]

    with pytest.raises(CheckFailed, match="no gradient to q"):
        _run("broadcast", "sum", detached_loss)
    with pytest.raises(CheckFailed, match="still has review 1's bug"):  # the kept gradient (cell 33), not named
        _run("target", "soft", half_detached_target)
    with pytest.raises(CheckFailed, match="left the target critic unchanged"):
        _run("polyak", "tau", no_op)
    with pytest.raises(CheckFailed, match="left the target critic unchanged"):
        _run("polyak", "polyak", returns_new_tensors)


def _fully_different_pair() -> tuple[str, str]:
    """Two student ids whose variants differ (family or convention) in every slot, under this term's salt."""
    names = [f"student-{i}" for i in range(200)]
    keys = {n: variants.variant_for(n).answer_key for n in names}
    for a, b in itertools.combinations(names, 2):
        if all(x != y for x, y in zip(keys[a], keys[b])):
            return a, b
    raise AssertionError("no two of 200 students have fully different variants")


def test_another_students_fixes_earn_no_points():
    alice, bob = _fully_different_pair()
    va, vb = variants.variant_for(alice), variants.variant_for(bob)
    for slot in (1, 2, 3):
        checks.silent_fix(slot, student_fix(va, slot), alice)  # alice's own fixes pass
        with pytest.raises(CheckFailed):                          # ... and earn bob nothing, slot by slot
            checks.silent_fix(slot, student_fix(va, slot), bob)
        checks.silent_fix(slot, student_fix(vb, slot), bob)


def test_under_the_grader_the_submission_name_chooses_the_variant(monkeypatch):
    """CS285LAB_STUDENT (from the environment the kernel started with) wins over the notebook's STUDENT_ID."""
    alice, bob = _fully_different_pair()
    vb = variants.variant_for(bob)
    monkeypatch.setattr(variants, "initial_environ", lambda: {variants.STUDENT_VAR: bob})
    for slot in (1, 2, 3):  # bob's notebook claims to be alice; bob's own fixes still pass, alice's fail
        checks.silent_fix(slot, student_fix(vb, slot), alice)
        with pytest.raises(CheckFailed):
            checks.silent_fix(slot, student_fix(variants.variant_for(alice), slot), alice)


@pytest.mark.skipif(not __import__("pathlib").Path("/proc/self/environ").exists(), reason="Linux only")
def test_changing_os_environ_in_the_kernel_does_not_switch_variants(monkeypatch):
    monkeypatch.setenv(variants.STUDENT_VAR, "someone-else")
    assert variants.student_key("Alice") == "alice"


def test_student_keys_are_normalized():
    nfd = unicodedata.normalize("NFD", "Zoë")
    assert variants.normalize_key(nfd) == variants.normalize_key(" zoë.ipynb ") == "zoë"
    assert variants.variant_for(variants.normalize_key(nfd)) == variants.variant_for("zoë")
    with pytest.raises(NotImplementedError, match="set STUDENT_ID"):
        variants.student_key(...)
    with pytest.raises(TypeError):
        variants.student_key(42)


def test_variants_spread_over_many_answer_keys():
    keys = [variants.variant_for(f"s{i}").answer_key for i in range(400)]
    assert len(set(keys)) >= 40  # of 3! orders x 2^3 conventions = 48
    same = sum(a == b for a, b in itertools.combinations(keys, 2)) / (400 * 399 / 2)
    assert same < 0.05
    assert variants.variant_for("s1", salt="term A") != variants.variant_for("s1", salt="term B") or \
        variants.variant_for("s2", salt="term A") != variants.variant_for("s2", salt="term B")


def test_fixes_of_the_wrong_review_are_told_apart():
    alice, _ = _fully_different_pair()
    va = variants.variant_for(alice)
    for slot in (1, 2, 3):
        wrong_slot = 1 + slot % 3
        with pytest.raises(CheckFailed):
            checks.silent_fix(slot, student_fix(va, wrong_slot), alice)
    with pytest.raises(NotImplementedError):
        checks.silent_fix(1, ..., alice)


def test_reviews_run_and_do_not_name_their_bug():
    alice, _ = _fully_different_pair()
    variant = variants.variant_for(alice)
    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.randn(16, 3, generator=g), torch.rand(16, 1, generator=g) * 4 - 2, torch.randn(16, generator=g),
                  torch.randn(16, 3, generator=g), torch.zeros(16))
    for review in review_series(variant):
        lowered = review.source.lower()
        assert not any(word in lowered for word in ("bug", "wrong", "should", "instead")), review.source
        agent = review.agent_cls(3, 1, np.array([-2.0]), np.array([2.0]), seed=0)
        stats = agent.update(batch)
        assert {"q_mean", "target_mean", "critic_grad_norm", "target_drift", "entropy"} <= set(stats)
    fixed = fixed_sac(variant, {n: student_fix(variant, n) for n in (1, 2, 3)})(3, 1, [-2.0], [2.0], seed=0)
    assert np.isfinite(fixed.update(batch)["critic_loss"])


def _identifiers(fn) -> set[str]:
    import re

    body = inspect.getsource(fn).split('"""')[-1]  # the code after the docstring
    body = "\n".join(line.split("#")[0] for line in body.splitlines())  # without comments
    return {w for w in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", body) if len(w) >= 4}


@pytest.mark.parametrize("family, convention", CASES)
@pytest.mark.parametrize("place", [0, 1])
def test_messages_on_the_code_under_review_hold_no_code_of_the_fix(family, convention, place):
    """The check describes what the submitted code does; it never names an attribute, a function or a line that
    the fix adds or removes (the diagnosis is graded by hand and must not be copied from the message)."""
    import re

    buggy, correct = FAMILIES[family].buggy[convention][place], FAMILIES[family].correct[convention]
    changed = (_identifiers(correct) ^ _identifiers(buggy)) | {"no_grad", "target_critic", "unsqueeze", "lerp_"}
    with pytest.raises(CheckFailed) as caught:
        _run(family, convention, buggy)
    message = str(caught.value)
    # as code: an attribute (.critic), a call (no_grad(), or a name no English word has (target_critic)
    named = {w for w in changed if re.search(rf"\.{re.escape(w)}\b|\b{re.escape(w)}\(|`{re.escape(w)}`", message)
             or (("_" in w or w == "unsqueeze") and re.search(rf"\b{re.escape(w)}\b", message))}
    assert not named, f"the message names {named}: {message}"
    assert "run(" not in message and "call:" not in message, message  # no internal helper as the case to reproduce


def _notebook_namespace() -> dict:
    """The names notebook 03's setup cell defines (a pasted review runs in them as it is)."""
    import json
    from pathlib import Path

    (path,) = (Path(__file__).resolve().parents[1] / "solutions").glob("03_*.ipynb")
    setup = next(c for c in json.loads(path.read_text())["cells"]
                 if c["metadata"].get("cs285lab", {}).get("id") == "nb03-setup")
    namespace: dict = {}
    exec(compile("".join(setup["source"]), "nb03-setup", "exec"), namespace)
    return namespace


POLYAK_FIXES = {  # the fix a reviewer makes to the code exactly as shown: the two modules' roles swapped
    "o.lerp_(t, rate)": "t.lerp_(o, rate)", "o.lerp_(t, 1.0 - rate)": "t.lerp_(o, 1.0 - rate)",
    "o.mul_(1.0 - rate).add_(t, alpha=rate)": "t.mul_(1.0 - rate).add_(o, alpha=rate)",
    "o.mul_(rate).add_(t, alpha=1.0 - rate)": "t.mul_(rate).add_(o, alpha=1.0 - rate)",
}


@pytest.mark.parametrize("family, convention", CASES)
@pytest.mark.parametrize("place", [0, 1])
def test_a_pasted_review_runs_and_shows_the_code_that_runs(family, convention, place):
    """The review prints exactly the code under review (decorators included); pasted into the fix cell with the
    notebook's imports it runs as it is, and for the Polyak family the fix made to the code as shown passes."""
    from cs285lab.algos.silent_bugs import hook_source

    buggy = FAMILIES[family].buggy[convention][place]
    source = hook_source(buggy, FAMILIES[family].hook)
    assert ("@torch.no_grad()" in source) == ("@torch.no_grad()" in inspect.getsource(buggy))
    namespace = _notebook_namespace()
    exec(compile(source.replace(f"def {FAMILIES[family].hook}(", "def fix_1(", 1), "<fix cell>", "exec"), namespace)
    assert callable(namespace["fix_1"])
    if family == "polyak":
        fixed = source
        for shown, fix in POLYAK_FIXES.items():
            fixed = fixed.replace(shown, fix)
        assert fixed != source
        exec(compile(fixed.replace("def soft_update(", "def fix_1(", 1), "<fix cell>", "exec"), namespace)
        _run(family, convention, namespace["fix_1"])
