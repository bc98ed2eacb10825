"""A tiny course (one reference notebook, two fast checks from notebook 04, one written answer) and a
class of four students with known mistakes, for the instructor-tool tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from cs285lab.authoring.student import to_student

NOTEBOOK = "04_tiny.ipynb"
QUESTION = "nb04-tiny-answer"

EPS_GOOD = """\
def epsilon_greedy(q_values, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return int(rng.choice(np.flatnonzero(q_values == q_values.max())))
"""
EPS_ARGMAX = """\
def epsilon_greedy(q_values, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return int(np.argmax(q_values))
"""
EPS_IMPORTED = "from cs285lab.algos.dyna import epsilon_greedy\n"
Q_GOOD = """\
def q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma):
    Q[s, a] += alpha * (r + gamma * Q[s_next].max() * (1 - terminated) - Q[s, a])
"""
Q_NO_MASK = """\
def q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma):
    Q[s, a] += alpha * (r + gamma * Q[s_next].max() - Q[s, a])
"""
Q_STUB = """\
def q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma):
    raise NotImplementedError("the Q-learning update")
"""

# student -> (epsilon_greedy cell, q_learning_update cell, written answer)
CLASS = {
    "alice": (EPS_GOOD, Q_GOOD, "Ties must be broken at random, otherwise the agent always goes up."),
    "bob": (EPS_ARGMAX, Q_NO_MASK, "Because the maze is hard."),
    "carol": (EPS_ARGMAX, Q_GOOD, ""),
    "dave": (EPS_IMPORTED, Q_STUB, "No idea, sorry."),
}
NO_TERMINAL_MISTAKE = "yet your target still counts the value of s_next there"
TIE_MISTAKE = "on ties you always pick the first best action"


def _solution(code: str, cid: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{code}### END SOLUTION",
                                     metadata={"cs285lab": {"id": cid, "kind": "solution"}})


def _check(call: str, cid: str, points: int) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(f"from cs285lab.checks import load\n{call}",
                                     metadata={"cs285lab": {"id": cid, "kind": "check", "points": points}})


def reference() -> nbformat.NotebookNode:
    """The reference notebook of the tiny course."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny course notebook"),
        nbformat.v4.new_code_cell("import numpy as np", metadata={"cs285lab": {"id": "nb04-tiny-setup",
                                                                               "kind": "locked"}}),
        _solution(EPS_GOOD, "nb04-epsilon-greedy"),
        _check('load("nb04").epsilon_greedy(epsilon_greedy)', "nb04-check-epsilon-greedy", 2),
        _solution(Q_GOOD, "nb04-q-update"),
        _check('load("nb04").q_learning_update(q_learning_update)', "nb04-check-q-update", 2),
        nbformat.v4.new_markdown_cell("**Question.** Why must epsilon-greedy break ties at random?"),
        nbformat.v4.new_markdown_cell(
            "<!-- BEGIN SOLUTION -->\nAt the start every Q is 0: argmax always picks the first action.\n"
            "<!-- END SOLUTION -->",
            metadata={"cs285lab": {"id": QUESTION, "kind": "written", "points": 2,
                                   "rubric": ["1 point: names the all-zero start", "1 point: first action forever"]}}),
    ]
    return nb


def build(root: Path) -> tuple[Path, Path]:
    """Write root/solutions/04_tiny.ipynb and root/class/<student>/04_tiny.ipynb; return (solutions, class)."""
    solutions, klass = root / "solutions", root / "class"
    solutions.mkdir(parents=True)
    ref = reference()
    nbformat.write(ref, solutions / NOTEBOOK)
    student = to_student(ref, NOTEBOOK)
    for name, (eps, q, answer) in CLASS.items():
        nb = nbformat.reads(nbformat.writes(student), as_version=4)
        ids = {(c.metadata.get("cs285lab") or {}).get("id"): c for c in nb.cells}
        ids["nb04-epsilon-greedy"].source = eps
        ids["nb04-q-update"].source = q
        if answer:
            ids[QUESTION].source = answer
        (klass / name).mkdir(parents=True)
        nbformat.write(nb, klass / name / NOTEBOOK)
    return solutions, klass


def grade(solutions: Path, klass: Path, out: Path) -> subprocess.CompletedProcess:
    """Run `cs285lab grade` on the class (in a subprocess, like an instructor would)."""
    env = {**os.environ, "CS285LAB_PROFILE": "ci"}
    return subprocess.run([sys.executable, "-m", "cs285lab", "grade", str(klass), "--out", str(out),
                           "--solutions", str(solutions), "--layout", "class", "--sandbox", "auto"],
                          capture_output=True, text=True, env=env, timeout=900)


_GRADED: dict[str, Path] = {}


def graded(tmp_path_factory) -> Path:
    """The tiny class graded once per test session, shared by the xdist workers: root/solutions, root/class,
    root/out.

    Shared by every test that reads the result: copy it (`copy_of`) before changing anything. Under xdist the
    workers' temporary folders sit in one folder of the session; the first worker to get here grades the class
    there, under a lock, and the others wait for it and read the same result.
    """
    if "root" not in _GRADED:
        import fcntl

        shared = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            shared = shared.parent  # this session's folder, above every worker's own
        root = shared / "tinyclass-graded"
        with open(shared / "tinyclass.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (root / ".graded").exists():  # an earlier attempt that failed half-way is started over
                shutil.rmtree(root, ignore_errors=True)
                solutions, klass = build(root)
                result = grade(solutions, klass, root / "out")
                assert result.returncode == 0, result.stderr
                (root / "stderr.txt").write_text(result.stderr, encoding="utf-8")
                (root / ".graded").touch()
        _GRADED["root"] = root
    return _GRADED["root"]


def copy_of(root: Path, where: Path) -> Path:
    """A private copy of a graded class (its cache comes along: re-grading it runs no kernel)."""
    shutil.copytree(root, where, symlinks=True)
    return where
