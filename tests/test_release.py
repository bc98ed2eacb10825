"""`cs285lab release`: a handout without the answers of exercises not yet due, which still runs.

That each handed-out notebook runs on its handout up to its first stub is tests/test_student_notebooks.py's run of
the student copy (on the first handout holding it); that a completed notebook runs on its handout is nbval's run of
solutions/01 and solutions/03 (conftest.py)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cs285lab.authoring.release import build_release, stub_twins
from cs285lab.authoring.student import AuthoringError
from cs285lab.twins import NotReleased, Twin, all_twins

ROOT = Path(__file__).resolve().parents[1]
HANDOUTS = (1, 3)  # the handouts these tests build (`cs285lab release --through N`)


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> dict[int, Path]:
    base = tmp_path_factory.mktemp("release")
    return {n: build_release(ROOT, n, base / f"through{n:02d}").out for n in HANDOUTS}


def _in_handout(handout: Path, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that imports the handout's package, not the repository's."""
    env = {**os.environ, "PYTHONPATH": str(handout), "CS285LAB_PROFILE": "ci"}
    prelude = (f"import cs285lab, pathlib\nassert pathlib.Path(cs285lab.__file__).is_relative_to({str(handout)!r}), "
               "cs285lab.__file__\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env, cwd=handout,
                          capture_output=True, text=True, timeout=600)


def test_handout_holds_released_notebooks_and_no_answers(handouts):
    out = handouts[1]
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == [
        "00_getting_started.ipynb", "01_actor_critic_architectures.ipynb"]
    assert not (out / "solutions").exists() and not (out / "tests").exists()
    assert {"README.md", "Makefile", "pyproject.toml", "environment.yml", "RELEASE.json"} <= {
        p.name for p in out.iterdir()}
    for path in (out / "notebooks").glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "<!-- BEGIN SOLUTION -->"):
            assert marker not in text, f"{path.relative_to(out)} holds {marker}"
    checks = sorted(p.name for p in (out / "cs285lab" / "checks").glob("nb*.py"))
    assert checks == ["nb00.py", "nb01.py"], "check modules of unreleased notebooks compute their answers"
    makefile = (out / "Makefile").read_text()
    assert "--notebook-dir=notebooks" in makefile
    assert "make lab" in (out / "README.md").read_text() and "make submit" in (out / "README.md").read_text()


def test_handout_files_are_readable_by_the_other_users_of_a_course_server(handouts):
    written = [handouts[1] / name for name in ("README.md", "Makefile", "RELEASE.json")]
    written += sorted((handouts[1] / "notebooks").glob("*.ipynb"))
    umask = os.umask(0)
    os.umask(umask)
    for path in written:  # the atomic writer's temporary file is owner-only; the file it leaves is not
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, f"{path.name}: {oct(path.stat().st_mode & 0o777)}"


def _body(handout: Path, entry: Twin) -> list[ast.stmt]:
    path = handout / Path(*entry.module.split(".")).with_suffix(".py")
    node = next(n for n in ast.parse(path.read_text()).body if getattr(n, "name", None) == entry.qualname)
    return node.body


@pytest.mark.parametrize("through", HANDOUTS)
def test_twins_of_notebooks_not_due_are_stubs(handouts, through):
    manifest = json.loads((handouts[through] / "RELEASE.json").read_text())
    stubbed = set(manifest["stubbed"])
    for entry in all_twins():
        name = f"{entry.module}.{entry.qualname}"
        body = _body(handouts[through], entry)
        is_stub = "NotReleased" in ast.unparse(body[-1]) and len(body) <= 3
        if entry.number < through:
            assert not is_stub and name not in stubbed, f"{name}: notebook {entry.notebook} is past its deadline"
        elif entry.stubbed_in(through):
            assert is_stub and name in stubbed, f"{name}: its body should be a NotReleased stub"
            assert f"released after the {entry.notebook} deadline" in ast.unparse(body[-1])
        else:
            assert name in manifest["kept_although_not_due"], f"{name} kept without a reason in RELEASE.json"
    # The repository's own package is untouched.
    assert "NotReleased" not in (ROOT / "cs285lab" / "algos" / "actor_critic" / "targets.py").read_text()


RUN_CHECK = """
import importlib.util, sys
from cs285lab.checks.core import CheckFailed

def repo_check(module: str):
    # The repository's check module (a not-yet-released notebook's check is not in the handout).
    spec = importlib.util.spec_from_file_location(f"repo_{module}", "__ROOT__/cs285lab/checks/" + module + ".py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

def outcome(check, *args):
    try:
        check(*args)
    except CheckFailed as exc:
        return "failed: " + str(exc)
    return "passed"
"""


def test_reference_code_of_an_exercise_not_yet_due_cannot_pass_its_check(handouts):
    code = RUN_CHECK.replace("__ROOT__", str(ROOT)) + """
from cs285lab.checks import load
import cs285lab.algos.actor_critic as ac
print("LOSS", outcome(load("nb01").actor_critic_loss, ac.actor_critic_loss))
print("ONLINE", outcome(load("nb01").online_update, ac.online_update))
print("NB00", outcome(load("nb00").discounted_reward_to_go, lambda r, g: __import__("torch").zeros_like(r)))
for name, arity in (("actor_critic_loss", 5), ("online_update", 8)):  # the twins are withheld: a call says why
    try:
        getattr(ac, name)(*[None] * arity)
        print(name.upper() + "RAW", "ran")
    except Exception as exc:  # cs285lab.twins.NotReleased in the handout
        print(name.upper() + "RAW", type(exc).__name__, str(exc).replace("\\n", " "))
"""
    result = _in_handout(handouts[1], code)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line[:1].isupper())
    # the checks refuse the package's answers before running them (checks/core.own_code) ...
    for key in ("LOSS", "ONLINE"):
        assert lines[key].startswith("failed:") and "package's own code" in lines[key], lines[key]
    # ... and in this handout the answers are stubs that say when they are released
    for key in ("ACTOR_CRITIC_LOSSRAW", "ONLINE_UPDATERAW"):
        assert lines[key].startswith("NotReleased") and "released after the nb01 deadline" in lines[key], lines[key]
    # Control: in the repository the same calls reach the real code (which fails on the None arguments otherwise)
    control = subprocess.run([sys.executable, "-c", """
import cs285lab.algos.actor_critic as ac
try:
    ac.actor_critic_loss(*[None] * 5)
except Exception as exc:
    print(type(exc).__name__)
"""], capture_output=True, text=True, timeout=600, env={**os.environ, "CS285LAB_PROFILE": "ci"}, cwd=ROOT)
    assert control.stdout.strip() and control.stdout.strip() != "NotReleased", control.stdout + control.stderr


def test_earlier_twins_stay_usable_and_later_ones_fail_their_checks(handouts):
    code = RUN_CHECK.replace("__ROOT__", str(ROOT)) + """
import numpy as np
from cs285lab.checks import load
import cs285lab.algos.actor_critic as ac, cs285lab.algos.parallel as par, cs285lab.algos.dyna as dyna
import cs285lab.algos.models as models
print("NB01", outcome(load("nb01").actor_critic_loss, ac.actor_critic_loss))
import torch
print("NB01RAW", tuple(ac.td_target(torch.zeros(3), torch.ones(3), torch.zeros(3), 0.5).shape))  # released: it runs
print("NB02", outcome(load("nb02").take_batch, par.take_batch))
import queue
print("NB02RAW", par.take_batch(queue.Queue(), 2, 0, 0.01))  # released: it runs (an empty inbox: None)
print("NB04", outcome(repo_check("nb04").epsilon_greedy, dyna.epsilon_greedy))
print("NB04Q", outcome(repo_check("nb04").q_learning_update, dyna.q_learning_update))
print("NB05", outcome(repo_check("nb05").gaussian_nll, models.gaussian_nll))
try:  # the twin itself is withheld: calling it says why
    models.gaussian_nll(None, None, None)
    print("NB05RAW", "ran")
except Exception as exc:  # cs285lab.twins.NotReleased
    print("NB05RAW", str(exc).replace("\\n", " "))
from cs285lab.buffers import ReplayBuffer   # needed by notebook 03's SAC: kept, and it works
buf = ReplayBuffer(4, 2, 1)
buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), False)
print("BUFFER", len(buf))
"""
    result = _in_handout(handouts[3], code)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line[:1].isupper())
    # nb01's checks refuse the package's own answers (checks/core.own_code); the released twin itself works
    assert lines["NB01"].startswith("failed:") and "package's own code" in lines["NB01"], lines["NB01"]
    assert lines["NB01RAW"] == "(3,)", lines["NB01RAW"]
    # nb02's checks refuse the package's own answers (checks/core.own_code); the released twin itself works
    assert lines["NB02"].startswith("failed:") and "package's own code" in lines["NB02"], lines["NB02"]
    assert lines["NB02RAW"] == "None", lines["NB02RAW"]
    assert "released after the nb04 deadline" in lines["NB04"] and lines["NB04"].startswith("failed:")
    assert "released after the nb04 deadline" in lines["NB04Q"]
    # nb05's check refuses the package's own gaussian_nll before running it (checks/core.own_code); the twin itself
    # is withheld in this handout.
    assert lines["NB05"].startswith("failed:") and "package's own code" in lines["NB05"], lines["NB05"]
    assert "released after the nb05 deadline" in lines["NB05RAW"], lines["NB05RAW"]
    assert lines["BUFFER"] == "1"


def test_completed_notebooks_run_on_their_handout_under_nbval():
    """The last released notebook, completed (its solution), runs on the handout's package: the package code it
    runs finds every twin it needs (notebook 03: notebook 01-02's reference code and the replay buffer inside
    SAC; notebook 01: the architectures inside train_online_ac), and its checks pass.

    That run is nbval's own run of solutions/01 and solutions/03 (the repository's conftest.py gives their
    kernels the through-01 and through-03 handouts), not a second run of each here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cs285lab_root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    assert root_conftest.ON_HANDOUT == {"solutions/01_actor_critic_architectures.ipynb": 1,
                                        "solutions/03_off_policy_actor_critic.ipynb": 3}
    for notebook, through in root_conftest.ON_HANDOUT.items():
        assert (ROOT / notebook).is_file(), notebook
        out = root_conftest.handout(through)
        assert (out / "notebooks" / Path(notebook).name).is_file(), f"{notebook} is not in its own handout"
        assert json.loads((out / "RELEASE.json").read_text())["stubbed"], f"the through-{through} handout stubs nothing"
        shutil.rmtree(out.parent)


def test_stub_keeps_signature_docstring_and_decorators():
    source = textwrap.dedent('''\
        import x

        @twin("nb09", "nb09-f")
        def f(a: int,
              b: int = 2) -> int:
            """Docstring stays."""
            # a hint that must go
            return a + b  # the answer


        class C:
            """Kept."""

            def g(self):
                return 42


        def h():
            # no docstring
            return 1
        ''')
    entries = [Twin("nb09", "nb09-f", "m", name) for name in ("f", "C", "h")]
    out = stub_twins(source, entries, "m.py")
    tree = ast.parse(out)
    assert "the answer" not in out and "a hint" not in out and "42" not in out and "return 1" not in out
    assert '"""Docstring stays."""' in out and '"""Kept."""' in out and '@twin("nb09", "nb09-f")' in out
    namespace = {"twin": lambda *a: (lambda obj: obj), "__name__": "m"}
    exec(compile(out.replace("import x\n", ""), "m.py", "exec"), namespace)
    for call in (lambda: namespace["f"](1), lambda: namespace["C"](), namespace["h"]):
        with pytest.raises(NotReleased, match="released after the nb09 deadline"):
            call()
    assert namespace["f"].__doc__ == "Docstring stays."
    assert [n.name for n in tree.body if hasattr(n, "name")] == ["f", "C", "h"]
    with pytest.raises(AuthoringError, match="not top-level"):
        stub_twins(source, [Twin("nb09", "nb09-f", "m", "missing")], "m.py")


def test_release_refuses_to_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(AuthoringError, match="not empty"):
        build_release(ROOT, 1, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    with pytest.raises(AuthoringError, match="no notebook 42"):
        build_release(ROOT, 42, tmp_path / "new")


def test_release_command(tmp_path):
    from cs285lab.cli import main

    assert main(["release", "--through", "01", "--out", str(tmp_path / "h"), "--root", str(ROOT)]) == 0
    assert (tmp_path / "h" / "notebooks" / "01_actor_critic_architectures.ipynb").is_file()
    assert main(["release", "--through", "01", "--out", str(tmp_path / "h"), "--root", str(ROOT)]) == 2
