"""nbval of two reference notebooks runs on a release handout's package (docs/ARCHITECTURE.md, "The test suite").

`cs285lab release --through N` hands students a package whose twins of notebooks not yet due are stubs that
raise NotReleased. A completed notebook N must run on that package: the package code it runs may need
no twin of a later notebook. The handout's package is the repository's with those bodies replaced, so one
run proves both things at once: nbval of solutions/01 (on the through-01 handout) and of solutions/03 (on
the through-03 handout) passes only if the notebook runs and matches its outputs AND touches no stub.
(It used to be a second full run of each notebook in tests/test_release.py: 220 s of the suite.)

The kernel nbval starts for the notebook (in the notebook's folder) inherits PYTHONPATH=<handout>; before
that, this hook checks that this interpreter, with that environment and folder, imports cs285lab from the
handout and not from the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
ON_HANDOUT = {"solutions/01_actor_critic_architectures.ipynb": 1, "solutions/03_off_policy_actor_critic.ipynb": 3}

_handouts: dict[int, Path] = {}
_active: dict[str, str | None] = {}  # notebook -> the PYTHONPATH it replaced, while its cells run


def handout(through: int) -> Path:
    """The handout through notebook `through`, built once per test process from this checkout."""
    if through not in _handouts:
        from cs285lab.authoring.release import build_release

        base = Path(tempfile.mkdtemp(prefix=f"cs285lab-handout{through:02d}-"))
        _handouts[through] = build_release(ROOT, through, base / "handout").out
    return _handouts[through]


def _notebook(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    notebook = _notebook(item)
    if notebook not in ON_HANDOUT or notebook in _active:
        return
    out = handout(ON_HANDOUT[notebook])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(out), os.environ.get("PYTHONPATH")]))}
    where = subprocess.run([sys.executable, "-c", "import cs285lab; print(cs285lab.__file__)"], env=env,
                           cwd=ROOT / Path(notebook).parent, capture_output=True, text=True, timeout=120)  # as nbval's kernel
    assert Path(where.stdout.strip()).is_relative_to(out), (
        f"with PYTHONPATH={out}, cs285lab comes from {where.stdout.strip()!r} {where.stderr[-500:]}")
    _active[notebook] = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # read when nbval starts the notebook's kernel, just after this


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    notebook = _notebook(item)
    if notebook in _active and (nextitem is None or _notebook(nextitem) != notebook):
        previous = _active.pop(notebook)
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def pytest_unconfigure(config: pytest.Config) -> None:
    for out in _handouts.values():
        shutil.rmtree(out.parent, ignore_errors=True)
