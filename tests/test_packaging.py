"""pyproject.toml and environment.yml pin the same versions; the two commands stay wired up."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names of the PyPI packages we pin (where they differ).
CONDA_NAME = {"torch": "pytorch"}
# Packages pip installs that environment.yml does not list on its own (installed by `pip: -e .`).
PIP_ONLY: set[str] = set()


def pip_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([0-9][0-9A-Za-z.]*)", requirement)
        assert match, f"pyproject.toml: {requirement!r} is not pinned exactly (name==version)"
        pins[match.group(1).lower()] = match.group(3)
    return pins


def conda_pins() -> dict[str, str]:
    pins, in_pip = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        text = line.split("#")[0].rstrip()
        if re.match(r"^\s+- pip:\s*$", text):
            in_pip = True
            continue
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)=([0-9][0-9A-Za-z.]*)", text)
        if match and not in_pip:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_pip_pin_is_in_environment_yml_with_the_same_version():
    pip, conda = pip_pins(), conda_pins()
    for name, version in pip.items():
        if name in PIP_ONLY:
            continue
        conda_name = CONDA_NAME.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name} (pyproject pins {name}=={version})"
        assert conda[conda_name] == version, (
            f"{name}: pyproject.toml pins {version}, environment.yml pins {conda[conda_name]}")


def test_environment_yml_pins_nothing_pyproject_does_not():
    pip = {CONDA_NAME.get(n, n) for n in pip_pins()}
    extra = set(conda_pins()) - pip - {"python"}
    assert not extra, f"environment.yml pins {sorted(extra)} that pyproject.toml does not"


def test_environment_yml_uses_only_conda_forge_and_installs_the_package():
    text = (ROOT / "environment.yml").read_text()
    channels = re.search(r"channels:\n((?:\s+- .*\n)+)", text).group(1).split()
    assert [c for c in channels if c != "-"] == ["conda-forge"]
    assert re.search(r"- pip:\n\s+- -e \.", text), "environment.yml must install cs285lab itself (pip: -e .)"


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert pip_pins()["torch"] == "2.13.0"


def test_makefile_and_ci_wire_the_two_commands():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab:", "test:", "bench:"):
        assert re.search(rf"^{target}", makefile, re.M), f"Makefile lacks the {target} target"
    assert "make-student --check" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_make_test_fails_when_pytest_collects_nothing(tmp_path):
    """pytest exits 5 when no test ran (a wrong path, a -k that matches nothing): make must fail, and say why."""
    import subprocess
    import sys

    empty = tmp_path / "no_tests_here"
    empty.mkdir()
    (empty / "test_nothing.py").write_text('"""A test module without a test."""\n')
    # TEST_ARGS without -n 2: the status is pytest's either way (5, measured), and two workers that collect
    # nothing cost ~4 CPU-s of the suite
    done = subprocess.run(["make", "--no-print-directory", "pytest", f"TESTS={empty}", "TEST_ARGS=-p no:cacheprovider",
                           f"BIN={Path(sys.executable).parent}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "no tests ran" in done.stdout, done.stdout
    assert "collected no tests" in done.stderr and "exit status 5" in done.stderr, done.stderr
