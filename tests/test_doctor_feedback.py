"""The curve doctor in a failing learning check's message, and on the grader's feedback page (#26).

A learning check that fails on a broken run ends its message with the doctor's reading (the probable family, its
evidence, where the course explains it); one that fails on a healthy-looking curve (a threshold not met) adds nothing.
The broken runs are the labelled corpus's (tests/fixtures/doctor, `python -m benchmarks.doctor_corpus`), replayed
through the check in place of its training call, so each test runs in a second; one test trains for real.
"""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import nbformat
import pytest

from benchmarks import doctor_corpus as corpus
from cs285lab.budgets import thresholds
from cs285lab.checks import CheckFailed, load

STORED = corpus.load_corpus()
DOCTOR = "The curve doctor reads your run's statistics: probably "
CODE = re.compile(r"\bdef |\.detach\(|\.backward\(|torch\.|\bimport |optimizer|\bself\.")  # it names no code to write


def rows(case: str, seed: int = 0) -> list[dict]:
    return STORED[case]["runs"][str(seed)]["rows"]


def doctor_part(message: str) -> str:
    """The doctor's lines of a check's message ('' when it added none)."""
    return message[message.index(DOCTOR):] if DOCTOR in message else ""


def assert_names(message: str, title: str, course: str) -> None:
    part = doctor_part(message)
    assert part.startswith(DOCTOR + title), message
    assert f"Explained in {course}" in part, message
    assert 2 <= len(part.splitlines()) <= 2, part  # two lines: the family and its evidence, where the course explains it
    assert not CODE.search(part), part


def fails(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as failure:
        check(*args, **kwargs)
    return str(failure.value)


def raise_threshold(monkeypatch, checks, notebook: str, **values: float) -> None:
    """A threshold no run meets: the check fails on any curve, broken or not."""
    monkeypatch.setattr(checks, "thresholds", lambda nb: {**thresholds(nb), **values} if nb == notebook else thresholds(nb))


# ---------------------------------------------------------------------------------------------- notebook 01

def _replay_a2c(monkeypatch, checks, case: str, seeds=(0, 1)) -> None:
    """train_a2c replays the corpus's runs of `case`: the start and the last evaluations, those the check grades."""
    def train_a2c(env_id, config, seed, model, loss_fn, logger):
        recorded = rows(case, seeds[seed])
        return model, [recorded[0], *recorded[-checks.LEARN_LAST:]]
    monkeypatch.setattr(checks, "train_a2c", train_a2c)


@pytest.mark.parametrize("case, title, course", [
    ("a2c/no-terminal-mask", "no learning signal", "notebook 01, Part 1"),
    ("a2c/wrong-sign", "policy collapse or learning rate too high", "notebook 01, Part 3"),
])
def test_nb01_learning_check_names_the_family_of_a_broken_run(monkeypatch, case, title, course):
    from cs285lab.algos.actor_critic import SeparateActorCritic

    checks = load("nb01")
    _replay_a2c(monkeypatch, checks, case)
    message = fails(checks.batched_ac_learns, corpus.a2c_loss(), SeparateActorCritic)  # a loss of the student's own
    assert "mean greedy return" in message  # the check's own verdict first
    assert_names(message, title, course)


def test_nb01_healthy_run_below_a_threshold_gets_no_diagnosis(monkeypatch):
    from cs285lab.algos.actor_critic import SeparateActorCritic

    checks, loss = load("nb01"), corpus.a2c_loss()  # a correct loss of the student's own (the package's is refused)
    _replay_a2c(monkeypatch, checks, "a2c/reference")
    checks.batched_ac_learns(loss, SeparateActorCritic)  # the recorded reference runs pass
    raise_threshold(monkeypatch, checks, "nb01", batched_ac_learns=math.inf)
    message = fails(checks.batched_ac_learns, loss, SeparateActorCritic)
    assert "mean greedy return" in message and "curve doctor" not in message


@pytest.mark.slow
def test_nb01_learning_check_diagnoses_a_real_broken_loss(monkeypatch):
    # trained for real at the check's budget (2 seeds, ~12 s): the loss without the (1 - terminated) mask
    from cs285lab.algos.actor_critic import SeparateActorCritic

    checks, trained = load("nb01"), {}
    real_train_a2c = checks.train_a2c

    def train_a2c(env_id, config, seed, **kwargs):  # the check's own training, recorded on the way
        model, history = real_train_a2c(env_id, config, seed=seed, **kwargs)
        trained[seed] = history
        return model, history

    monkeypatch.setattr(checks, "train_a2c", train_a2c)
    # The one run of a broken loss through this check (tests/test_checks_nb01.py relies on it): it fails on its
    # threshold, and the doctor names the cause.
    message = fails(checks.batched_ac_learns, corpus.a2c_loss(mask_terminal=False), SeparateActorCritic)
    assert f"below {thresholds('nb01')['batched_ac_learns']}" in message, message
    assert_names(message, "no learning signal", "notebook 01, Part 1")
    assert "never ends" in message
    # The doctor is tested on stored runs of this mistake: they must be the very runs this check trains
    for seed, history in trained.items():
        assert json.loads(json.dumps(corpus.clean_rows(history))) == rows("a2c/no-terminal-mask", seed), (
            f"the check's seed-{seed} run differs from the stored corpus run: python -m benchmarks.doctor_corpus")
    assert sorted(trained) == [0, 1], trained


# ---------------------------------------------------------------------------------------------- notebook 03

SAC_BROKEN = [  # a seed whose run ends below the check's threshold (some broken runs learn anyway)
    ("silent/polyak", 0, "a target that never follows the critic", "notebook 03, Part 5"),
    ("silent/broadcast", 0, "no learning signal", "notebook 03, Part 5"),
    ("silent/target", 0, "a target that moves with the online network", "notebook 03, Part 5"),
    ("sac/no-entropy", 3, "policy collapse", "notebook 03, Part 6"),
    ("sac/lr-too-high", 0, "learning rate too high", "notebook 03, Part 6"),
]


@pytest.mark.parametrize("case, seed, title, course", SAC_BROKEN)
def test_nb03_sac_learned_names_the_family_of_a_broken_run(case, seed, title, course):
    history = rows(case, seed)
    assert history[-1]["eval_return"] < thresholds("nb03")["sac_final_return"], f"{case} seed {seed} learned"
    message = fails(load("nb03").sac_learned, history)
    assert "your SAC did not learn" in message
    assert_names(message, title, course)


def test_nb03_sac_learned_on_a_healthy_run_below_a_threshold_adds_no_diagnosis(monkeypatch):
    checks = load("nb03")
    history = rows("sac/reference", 1)
    checks.sac_learned(history)
    raise_threshold(monkeypatch, checks, "nb03", sac_final_return=math.inf)
    message = fails(checks.sac_learned, history)
    assert "your SAC did not learn" in message and "curve doctor" not in message


def _ablation_runs(monkeypatch, checks, fixed_case: str, fixed_seed: int = 0):
    """fixed_learns's agents stand in for trained ones; the re-evaluation returns what the replayed history says."""
    from test_offpolicy_fixes import q_target, score_function_loss  # the answers as a student's own code objects

    def agent(fixed: bool):
        config = SimpleNamespace(fix_critic=fixed, fix_actor=fixed)
        return SimpleNamespace(config=config, q_target_fn=q_target if fixed else None,
                               actor_loss_fn=score_function_loss if fixed else None)

    def reevaluate(ex, agent, history, name):  # the check's own: it also re-evaluates the agent, not needed here
        return sum(r["eval_return"] for r in history[len(history) // 2:]) / len(history[len(history) // 2:])

    monkeypatch.setattr(checks, "_reevaluate", reevaluate)
    runs = {("both fixed", 0): (agent(True), rows(fixed_case, fixed_seed)),
            ("naive", 0): (agent(False), rows("ablation/naive", 0))}
    return q_target, score_function_loss, runs


def test_nb03_fixed_learns_names_stale_data_when_the_fix_still_learns_like_the_naive_code(monkeypatch):
    checks = load("nb03")
    # a "fixed" run that behaves like the unfixed code (the critic-fixed arm: the policy gradient still at buffer actions)
    message = fails(checks.fixed_learns, *_ablation_runs(monkeypatch, checks, "ablation/critic-fixed"))
    assert "should beat it by at least" in message
    assert_names(message, "stale data", "notebook 03, Part 3")


def test_nb03_fixed_learns_on_a_healthy_fixed_run_below_the_margin_adds_no_diagnosis(monkeypatch):
    checks = load("nb03")
    args = _ablation_runs(monkeypatch, checks, "ablation/both-fixed", 2)
    checks.fixed_learns(*args)
    raise_threshold(monkeypatch, checks, "nb03", fixed_margin=math.inf)
    message = fails(checks.fixed_learns, *args)
    assert "should beat it by at least" in message and "curve doctor" not in message


# ---------------------------------------------------------------------------------------------- notebook 05

def _mbpo_result(history: list[dict]):
    from cs285lab.algos.models import FitStats

    fit = dict(epochs=5, updates=50, val_mse=0.01, elites=[0], num_train=100, num_val=20)
    return SimpleNamespace(history=history, fits=[FitStats(train_nll=0.2, val_nll=0.2, val_nll_before=1.0, **fit),
                                                  FitStats(train_nll=-2.0, val_nll=-2.0, val_nll_before=1.0, **fit)])


def test_nb05_learning_check_names_model_exploitation():
    # No MBPO run of the corpus fails its check for a model the policy exploits, so this one is made up from the
    # recorded reference run: the model promises returns 600 above what the real env gives from the same states
    # (at every evaluation that has a model: the first comes before the first model fit).
    history = [{**r, "model_return": r["model_return_real"] + 600.0} if "model_return_real" in r else r
               for r in rows("mbpo/reference")]
    assert sum("model_return" in r for r in history) >= 3, "the recorded run has too few evaluations with a model"
    best = max(r["eval_return"] for r in history)  # no better than a random policy
    message = fails(load("nb05").learning, _mbpo_result(history), random_return=best)
    assert "better than the random policy" in message
    assert_names(message, "model exploitation", "notebook 05, Part 3")


def test_nb05_healthy_run_below_the_required_gain_adds_no_diagnosis(monkeypatch):
    checks = load("nb05")
    history = rows("mbpo/reference")
    # a baseline the recorded run clears by 50 more than the profile's required gain
    baseline = sum(r["eval_return"] for r in history[-2:]) / 2 - float(thresholds("nb05")["min_gain"]) - 50.0
    checks.learning(_mbpo_result(history), random_return=baseline)
    raise_threshold(monkeypatch, checks, "nb05", min_gain=math.inf)
    message = fails(checks.learning, _mbpo_result(history), random_return=baseline)
    assert "better than the random policy" in message and "curve doctor" not in message


def test_a_doctor_that_cannot_read_the_run_leaves_the_check_message_alone(monkeypatch):
    import cs285lab.doctor

    def broken(*args, **kwargs):
        raise RuntimeError("the doctor itself is broken")

    monkeypatch.setattr(cs285lab.doctor, "check_feedback", broken)
    message = fails(load("nb03").sac_learned, rows("silent/polyak"))
    assert message.rstrip().endswith("run the check of each part above first")


# ---------------------------------------------------------------------------------------------- the grader's page

GRADED_NOTEBOOK = "03_doctor.ipynb"


def _graded_class(root):
    """A one-cell course (notebook 03's SAC learning check on a recorded history) and one student whose history is
    a run with notebook 03's Polyak bug; graded by `cs285lab grade` as an instructor would (tests/tinyclass.py)."""
    import tinyclass
    from cs285lab.authoring.student import to_student

    def history_cell(history):
        return f"history = {json.dumps(history)!r}\nhistory = __import__('json').loads(history)\n"

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Does your SAC learn?"),
        nbformat.v4.new_code_cell("from cs285lab.checks import load",
                                  metadata={"cs285lab": {"id": "nb03-doctor-setup", "kind": "locked"}}),
        nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{history_cell(rows('sac/reference', 1))}### END SOLUTION",
                                  metadata={"cs285lab": {"id": "nb03-doctor-history", "kind": "solution"}}),
        nbformat.v4.new_code_cell('load("nb03").sac_learned(history)',
                                  metadata={"cs285lab": {"id": "nb03-check-sac-learned", "kind": "check",
                                                         "points": 2}}),
    ]
    solutions, klass = root / "solutions", root / "class"
    solutions.mkdir(parents=True)
    nbformat.write(nb, solutions / GRADED_NOTEBOOK)
    student = to_student(nb, GRADED_NOTEBOOK)
    student.cells[2].source = history_cell(rows("silent/polyak", 0))  # the solution cell, the student's version
    (klass / "erin").mkdir(parents=True)
    nbformat.write(student, klass / "erin" / GRADED_NOTEBOOK)
    return solutions, klass, tinyclass.grade


@pytest.mark.slow
def test_the_grader_feedback_page_carries_the_doctors_lines(tmp_path):
    solutions, klass, grade = _graded_class(tmp_path)
    result = grade(solutions, klass, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "out" / "feedback" / "erin.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "feedback" / "erin.html").read_text(encoding="utf-8")
    assert "your SAC did not learn" in md
    for text in (md, page):
        assert "probably a target that never follows the critic (high confidence): target_drift = " in text, text
        assert "Explained in notebook 03, Part 5 · Silent bugs: a code review (the Polyak step)." in text, text
