"""The course installs as a wheel: it carries every file it needs, and a student notebook runs from it.

The wheel is built from a copy of the source (no build files land in the repository), installed
into a fresh virtual environment that sees the already-installed dependencies through a .pth
file (fast and offline), and a student notebook runs there, in a folder outside the repository,
up to its first stub.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "cs285lab"
pytestmark = pytest.mark.slow

RUNNER = textwrap.dedent("""
    import json, sys
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(sys.argv[1], as_version=4)
    probe = nbformat.v4.new_code_cell("import sys, cs285lab; print(sys.executable); print(cs285lab.__file__)")
    nb.cells.insert(0, probe)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": "."}})
    try:
        client.execute()
    except CellExecutionError:
        pass  # the first stub stops the run, as it does for a student
    nbformat.write(nb, "executed.ipynb")
""")


def _copy_source(dst: Path) -> Path:
    """The files a wheel is built from, copied (so building writes nothing into the repository)."""
    dst.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dst / name)
    shutil.copytree(REPO / PACKAGE, dst / PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*"))
    return dst


def _build_wheel(src: Path, out: Path) -> Path:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "-w", str(out), str(src)], check=True, env=env, cwd=src)
    wheels = list(out.glob(f"{PACKAGE}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def missing_from_wheel(wheel: Path, src: Path) -> list[str]:
    """Package files under `src` (code, budgets, bands, data) that the wheel does not carry."""
    with zipfile.ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    wanted = sorted(str(p.relative_to(src)).replace(os.sep, "/") for p in (src / PACKAGE).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))
    return [name for name in wanted if name not in carried]


def _fresh_venv(where: Path) -> Path:
    """A new venv whose site-packages also sees this environment's installed dependencies (not the repo)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # a plain path entry: the dependencies are importable, but this environment's editable install of
    # the course (a .pth hook inside that folder) is not run, so `cs285lab` can only come from the wheel
    (site / "_course_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("wheel")
    src = _copy_source(base / "src")
    return _build_wheel(src, base / "dist"), src


def test_the_wheel_carries_every_package_file(wheel):
    built, src = wheel
    assert missing_from_wheel(built, src) == []
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    # the files a notebook reads at run time, named so a failure says what broke
    for needed in ("cs285lab/budgets/nb01.toml", "cs285lab/data/reference/nb01-a2c-cartpole.csv",
                   "cs285lab/checks/nb00.py", "cs285lab/plots/episode.py"):
        assert needed in names, f"the wheel lacks {needed}"


def test_the_check_catches_a_package_data_file_left_out(tmp_path):
    src = _copy_source(tmp_path / "src")
    pyproject = src / "pyproject.toml"
    text = pyproject.read_text()
    assert '"data/**/*"' in text, "pyproject.toml's package-data changed: update this test"
    pyproject.write_text(text.replace(', "data/**/*"', ""))
    missing = missing_from_wheel(_build_wheel(src, tmp_path / "dist"), src)
    assert "cs285lab/data/reference/nb01-a2c-cartpole.csv" in missing


def test_a_student_notebook_runs_from_the_installed_wheel_to_its_first_stub(wheel, tmp_path):
    built, _ = wheel
    python = _fresh_venv(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(built)], check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    work = tmp_path / "course"          # a student's folder, far from the repository
    work.mkdir()
    notebook = "00_getting_started.ipynb"
    shutil.copy2(REPO / "notebooks" / notebook, work / notebook)
    (work / "run.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", CS285LAB_PROFILE="ci",
               JUPYTER_PATH=str(tmp_path / "venv" / "share" / "jupyter"))
    subprocess.run([str(python), "run.py", notebook], check=True, cwd=work, env=env, timeout=900)
    nb = nbformat.read(work / "executed.ipynb", as_version=4)
    probe = "".join(o.get("text", "") for o in nb.cells[0].outputs).split()
    assert probe[0].startswith(str(tmp_path / "venv")), f"the kernel ran {probe[0]}, not the wheel's venv"
    assert probe[1].startswith(str(tmp_path / "venv")) and not probe[1].startswith(str(REPO)), probe[1]
    errors = [(i, o) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors, "the notebook ran to the end: a student notebook should stop at its first stub"
    index, error = errors[0]
    ran = [c for c in nb.cells[:index] if c.cell_type == "code"]
    assert all(c.execution_count for c in ran), "every cell before the first stub ran"
    meta = nb.cells[index].metadata.get("cs285lab", {})
    assert error.ename == "NotImplementedError" and meta.get("kind") == "check", (error.ename, meta)
    assert "not implemented yet" in error.evalue
    shown = "\n".join(error.traceback)
    assert len(shown.splitlines()) <= 4, f"a stub's error should be a few lines, got:\n{shown}"
    assert "discounted_reward_to_go" in shown and "at Cell In[" in shown, "the message names the stub and its line"
