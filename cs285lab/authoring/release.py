"""`cs285lab release --through NN --out DIR`: a student handout without the answers of exercises not yet due.

The handout holds the student notebooks 00..NN (generated from solutions/), a copy of the
package, the environment files, and a README and Makefile of its own. In the copied package every
twin (see cs285lab.twins) of an exercise in notebook NN or later has its body replaced by a stub
that raises `NotReleased` ("released after the nbNN deadline"); twins of earlier notebooks, past
their deadline, stay, so later notebooks can build on them. The rewrite is done on the source
(ast line ranges), not by a flag the package reads at import: a flag is one edit away from the
answers, a deleted body is not. solutions/, tests/, hidden tests and the check modules of
unreleased notebooks are not copied.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cs285lab.authoring.student import generate
from cs285lab.files import write_atomic
from cs285lab.notebook_format import AuthoringError
from cs285lab.twins import Twin, all_twins, stub_message

NOTEBOOK_NAME = re.compile(r"^(\d\d)_")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")
ENV_FILES = ("pyproject.toml", "environment.yml", "LICENSE")


@dataclass
class Release:
    """What a release contains: where, which notebooks, which twins were stubbed or kept (and why)."""

    out: Path
    through: int
    notebooks: list[str] = field(default_factory=list)
    stubbed: list[Twin] = field(default_factory=list)
    kept: list[tuple[Twin, str]] = field(default_factory=list)  # twins of due-later notebooks kept, and why

    def manifest(self) -> dict:
        """The RELEASE.json written into the handout."""
        def name(t: Twin) -> str:
            return f"{t.module}.{t.qualname}"
        return {"through": f"nb{self.through:02d}", "notebooks": self.notebooks,
                "stubbed": {name(t): t.exercise for t in self.stubbed},
                "kept_although_not_due": {name(t): why for t, why in self.kept}}


def _number(notebook_file: str) -> int | None:
    match = NOTEBOOK_NAME.match(notebook_file)
    return int(match.group(1)) if match else None


def stub_twins(source: str, twins: list[Twin], where: str) -> str:
    """Replace the bodies of the named top-level functions/classes in `source` by NotReleased stubs.

    Docstrings, signatures, decorators and every other line stay as they were.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    by_name = {t.qualname: t for t in twins}
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in by_name:
            found[node.name] = node
    missing = sorted(set(by_name) - set(found))
    if missing:
        raise AuthoringError(f"{where}: twins {missing} are not top-level definitions; only those can be stubbed")
    # Bottom-up, so earlier line numbers stay valid.
    for name, node in sorted(found.items(), key=lambda item: -item[1].lineno):
        body = node.body
        keep = 1 if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str) else 0
        indent = " " * (body[0].col_offset if body else node.col_offset + 4)
        message = stub_message(by_name[name])
        if isinstance(node, ast.ClassDef):
            stub = [f"{indent}def __init__(self, *args, **kwargs) -> None:\n",
                    f"{indent}    from cs285lab.twins import NotReleased\n",
                    f"{indent}    raise NotReleased({message!r})\n"]
            if keep:
                stub.insert(0, "\n")
        else:
            stub = [f"{indent}from cs285lab.twins import NotReleased\n", f"{indent}raise NotReleased({message!r})\n"]
        if keep:
            start = body[0].end_lineno  # everything after the docstring goes, comments included
        else:
            start = body[0].lineno - 1
            while start > node.lineno and lines[start - 1].strip().startswith("#"):
                start -= 1
        lines[start:node.end_lineno] = stub
    return "".join(lines)


def _copy_package(package: Path, target: Path, through: int, twins: list[Twin]) -> None:
    shutil.copytree(package, target, ignore=IGNORE)
    # Check modules of unreleased notebooks compute the reference answers: not in the handout.
    for check in (target / "checks").glob("nb*.py"):
        number = _number(check.stem[2:] + "_")
        if number is not None and number > through:
            check.unlink()
    by_module: dict[str, list[Twin]] = {}
    for entry in twins:
        by_module.setdefault(entry.module, []).append(entry)
    for module, entries in by_module.items():
        relative = Path(*module.split(".")[1:]).with_suffix(".py")
        path = target / relative
        path.write_text(stub_twins(path.read_text(encoding="utf-8"), entries, str(relative)), encoding="utf-8")


README = """\
# {title}: student handout (notebooks 00-{through:02d})

## Two commands

```bash
make lab      # set up .venv on first use, then open notebooks/ in JupyterLab
make submit   # pack notebooks/ into submission.zip for the course staff
```

Both need Python 3.11+, `make` and a network connection to PyPI the first time. Without make, with
conda: `conda env create -f environment.yml && conda activate cs285lab && pip install -e . &&
jupyter lab notebooks/`.

Work through the notebooks in order. Each exercise cell says `# YOUR CODE HERE`; the check cell
below it grades it and names the mistake it sees. Set `CS285LAB_PROFILE=ci` for a quick run with
small training budgets.

The `cs285lab` package holds the plumbing and the reference code of exercises whose deadline has
passed, so later notebooks can build on them. The reference code of exercises not yet due is
replaced by a stub that raises `NotReleased`: write your own.
"""

MAKEFILE = """\
# Student handout: `make lab` opens notebooks/, `make submit` packs them for the course staff.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab submit
$(BIN)/python:
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
\t$(BIN)/python -m pip install --quiet -e .
\t@touch $@

lab: $(VENV)/.installed
\t$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

submit:
\t$(PYTHON) -c "import pathlib, zipfile; z = zipfile.ZipFile('submission.zip', 'w', zipfile.ZIP_DEFLATED); \\
\t[z.write(p) for p in sorted(pathlib.Path('notebooks').glob('*.ipynb'))]; z.close(); print('wrote submission.zip')"
"""


def build_release(root: Path, through: int, out: Path) -> Release:
    """Write the handout for notebooks 00..`through` into `out` (which must not exist or be empty)."""
    if not 0 <= through <= 99:
        raise AuthoringError(f"--through {through}: expected a notebook number such as 01")
    package = root / "cs285lab"
    if not (package / "__init__.py").is_file():
        raise AuthoringError(f"{root}: not the course repository (no cs285lab/ package)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuthoringError(f"--out {out}: exists and is not empty; a release never overwrites files")
    generated = {name: text for name, text in generate(root / "solutions").items()
                 if (n := _number(name)) is not None and n <= through}
    if not any(_number(name) == through for name in generated):
        raise AuthoringError(f"--through {through:02d}: solutions/ has no notebook {through:02d}_*.ipynb")
    release = Release(out, through, sorted(generated))
    for entry in all_twins():
        if entry.stubbed_in(through):
            release.stubbed.append(entry)
        elif entry.number >= through:
            needing = ", ".join(nb for nb in entry.needed_by if int(nb[2:]) <= through)
            release.kept.append((entry, f"the package code that notebooks {needing} run uses it"))

    out.mkdir(parents=True, exist_ok=True)
    for name, text in generated.items():
        write_atomic(out / "notebooks" / name, text)
    _copy_package(package, out / "cs285lab", through, release.stubbed)
    for name in ENV_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, out / name)
    write_atomic(out / "README.md", README.format(title="cs285lab", through=through))
    write_atomic(out / "Makefile", MAKEFILE)
    write_atomic(out / "RELEASE.json", json.dumps(release.manifest(), indent=2) + "\n")
    return release
