"""The check toolkit's feedback: short stub errors, the student's line, worked cases, progress lines."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from cs285lab.checks import CheckFailed
from cs285lab.checks.core import Exercise, exercise, student_line


def _stub(rewards, gamma):
    raise NotImplementedError("loop backwards over t")


def _typo(rewards, gamma):
    out = torch.zeros_like(rewards)
    total = out.sum()
    return out + reward * total  # noqa: F821 - the student's typo under test


def test_a_stub_is_a_short_error_that_names_the_function_and_its_line():
    ex = Exercise("discounted_reward_to_go")
    with pytest.raises(NotImplementedError) as info:
        ex.call(_stub, torch.ones(3), 0.9)
    message = str(info.value)
    assert message.startswith("discounted_reward_to_go: not implemented yet")
    assert "defines _stub" in message and "(loop backwards over t)" in message
    assert re.search(r"at test_checks_core\.py, line \d+: raise NotImplementedError", message)
    # Jupyter shows _render_traceback_ instead of the stack through the check code: a couple of lines
    rendered = info.value._render_traceback_()
    assert len("\n".join(rendered).splitlines()) <= 3
    assert type(info.value).__name__ == "NotImplementedError"  # what graders and students see as the error name
    assert info.value.__suppress_context__


def test_a_student_exception_shows_the_students_line_and_the_call():
    ex = Exercise("discounted_reward_to_go")
    with pytest.raises(CheckFailed) as info:
        ex.call(_typo, torch.tensor([1.0, 2.0]), 0.9)
    message = str(info.value)
    assert "your code raised NameError: name 'reward' is not defined" in message
    assert re.search(r"at test_checks_core\.py, line \d+: return out \+ reward \* total", message), message
    assert "called as _typo(rewards=tensor([1.0, 2.0]), gamma=0.9)" in message


def test_the_students_line_is_the_deepest_frame_outside_libraries():
    def student(x):
        return torch.matmul(x, torch.ones(3))  # raises inside torch: the student's line is this one

    try:
        student(torch.ones(2))
    except RuntimeError as exc:
        where = student_line(exc.__traceback__)
    assert where is not None and "return torch.matmul(x, torch.ones(3))" in where


def test_a_wrong_answer_outside_the_catalogue_gets_a_worked_case():
    ex = Exercise("demo")

    def add_one(x, gamma):
        return x + 1.0 + (x > 1.5) * 0.5

    got = ex.call(add_one, torch.tensor([1.0, 2.0, 3.0]), gamma=0.5)
    with pytest.raises(CheckFailed) as info:
        ex.diagnose(got, torch.tensor([2.0, 3.0, 4.0]), {"named": torch.zeros(3)}, what="add_one(x)")
    message = str(info.value)
    assert "add_one(x) is wrong and matches none of the usual mistakes" in message
    assert "call:     add_one(x=tensor([1.0, 2.0, 3.0]), gamma=0.5)" in message
    assert "expected: tensor([2.0, 3.0, 4.0])" in message and "got:      tensor([2.0, 3.5, 4.5])" in message
    assert "first difference at [1]: expected 3, got 3.5 (2 of 3 entries differ)" in message
    # a named mistake still wins
    with pytest.raises(CheckFailed, match="^demo: named$"):
        ex.diagnose(torch.zeros(3), torch.ones(3), {"named": torch.zeros(3)})
    # shapes that differ are said as such; big tensors are summarized
    with pytest.raises(CheckFailed, match=r"the shapes differ: got \(20,\), expected \(3,\)"):
        ex.diagnose(torch.zeros(20), torch.ones(3), {})
    with pytest.raises(CheckFailed, match=r"tensor of shape \(20,\) \(first values"):
        ex.diagnose(torch.zeros(20), torch.ones(20), {})
    with pytest.raises(CheckFailed, match=r"call:     f\(x=1\)"):
        ex.diagnose(np.zeros(2), np.ones(2), {}, inputs="f(x=1)")


def test_progress_lines_vanish_from_the_saved_output(capsys):
    from nbval.plugin import coalesce_streams
    from nbformat import NotebookNode

    with exercise("slow") as ex:
        ex.progress("seed 1 of 2", every=0.0)
        ex.progress("seed 2 of 2 (a longer line)", every=0.0)
        ex.progress("seed 3", every=0.0)
        ex.ok()
    out = capsys.readouterr().out
    assert "\u23f3 slow: seed 2 of 2 (a longer line)" in out
    stream = NotebookNode(output_type="stream", name="stdout", text=out)
    # what nbval compares: only the stable pass line
    assert coalesce_streams([stream])[0].text == "\u2713 slow: all 1 checks passed\n"
    # a failing check erases its progress line too
    with pytest.raises(CheckFailed):
        with exercise("slow") as ex:
            ex.progress("working", every=0.0)
            ex.fail("no")
    out = capsys.readouterr().out
    assert out.endswith("\r") and out.rstrip("\r").split("\r")[-1].strip() == ""


def test_progress_logger_reports_training_steps(capsys):
    ex = Exercise("learns")
    logger = ex.progress_logger("training seed 1 of 2", 1000)
    logger.log(500, eval_return=42.4, loss=1.0)
    assert "learns: training seed 1 of 2: step 500 / 1,000, return 42" in capsys.readouterr().out


def test_a_negative_scale_error_from_torch_is_explained_in_the_students_terms():
    def gaussian(mean, log_std):
        return torch.distributions.Normal(mean, log_std).log_prob(mean)

    ex = Exercise("demo")
    with pytest.raises(CheckFailed) as info:
        ex.call(gaussian, torch.zeros(2), torch.tensor([0.3, -0.5]))
    message = str(info.value)
    assert "your code raised ValueError: Expected parameter scale" in message
    assert "observed: the scale (standard deviation) given to a torch distribution has values <= 0" in message
    assert len(message.splitlines()) <= 5, message  # torch's multi-line value dump is cut
