"""Gradescope's path, run for real: docs/gradescope/setup.sh and run_autograder against a simulated
autograder root (a temporary folder in place of /autograder, chosen by CS285LAB_AUTOGRADER_ROOT).

The simulation reuses this environment (CS285LAB_AUTOGRADER_VENV) instead of apt-get and pip, and
grades the tiny synthetic course of test_grading_sandbox, so it takes a few kernel starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_grading_sandbox import NB, tiny_course, tiny_solution, with_double

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "docs" / "gradescope"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bash") is None, reason="the autograder scripts are bash scripts")]


def _autograder(tmp_path: Path, solution: nbformat.NotebookNode | None = None) -> Path:
    """An autograder root as Gradescope unpacks the zip: source/ holds the scripts and the course."""
    root = tmp_path / "autograder"
    source = root / "source"
    source.mkdir(parents=True)
    for name in ("setup.sh", "run_autograder"):
        shutil.copy(SCRIPTS / name, source / name)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    tiny_course(source)
    if solution is not None:
        nbformat.write(solution, source / "solutions" / NB)
    return root


def _run(script: Path, root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CS285LAB_PROFILE", "CS285LAB_GRADE_SANDBOX")}
    env.update({"CS285LAB_AUTOGRADER_ROOT": str(root), "CS285LAB_AUTOGRADER_VENV": sys.prefix})
    return subprocess.run(["bash", str(script)], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def test_setup_and_run_autograder_grade_a_submission(tmp_path):
    root = _autograder(tmp_path)
    built = _run(root / "source" / "setup.sh", root)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "self-check: 1 checks passed" in built.stdout
    assert (root / "venv" / "bin" / "cs285lab").exists()

    (root / "submission").mkdir()
    nbformat.write(with_double("return x + x + 1"), root / "submission" / NB)  # off by one
    graded = _run(root / "source" / "run_autograder", root)
    assert graded.returncode == 0, graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        (f"{NB}: A tiny course notebook", 0, 2, "failed")]  # named as the notebook names it: its heading
    assert "double(3) should be 6" in results["tests"][0]["output"]
    assert "# Feedback for submission" in graded.stdout  # the page shown in Gradescope's output panel

    nbformat.write(tiny_solution(), root / "submission" / NB)
    graded = _run(root / "source" / "run_autograder", root)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 2 and results["tests"][0]["status"] == "passed", results


def test_setup_fails_when_the_reference_does_not_pass_in_the_image(tmp_path):
    wrong = tiny_solution()
    wrong.cells[1].source = wrong.cells[1].source.replace("return 2 * x", "return 3 * x")
    root = _autograder(tmp_path, wrong)
    built = _run(root / "source" / "setup.sh", root)
    assert built.returncode != 0
    assert "reference notebooks do not pass on this image" in built.stderr


def test_run_autograder_tells_the_student_when_the_grader_cannot_run(tmp_path):
    root = _autograder(tmp_path)
    (root / "venv").symlink_to(sys.prefix)  # what setup.sh links in a simulation
    shutil.rmtree(root / "source" / "solutions")  # a broken autograder zip
    (root / "submission").mkdir()
    nbformat.write(tiny_solution(), root / "submission" / NB)
    graded = _run(root / "source" / "run_autograder", root)
    assert graded.returncode == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "could not run (exit status 2)" in results["output"]
