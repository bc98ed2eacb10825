"""Package twins of notebook exercises: the reference code later notebooks reuse, marked by notebook.

The package holds reference implementations of many exercises (so notebook 05 can build on
notebook 03's replay buffer). Each is marked where it is defined:

    @twin("nb01", "nb01-actor-critic-loss")
    def actor_critic_loss(...): ...

naming the notebook and the solution cell id of its exercise. Three tools read the marks:
`cs285lab release` replaces the bodies of twins whose notebook is not yet past its deadline by a
stub that raises `NotReleased`; tests/test_twins.py proves each twin and its solution region agree
on random inputs; the grader flags a solution cell that only imports a twin.

`needed_by` names notebooks whose *own* cells run the twin through other package code (e.g.
`train_sac` stores transitions in `cs285lab.buffers.ReplayBuffer`): a release that includes one
of them keeps the twin (stubbing it would break that notebook), and the grader's import flag is
then the only guard.

The decorator only records; it returns the object unchanged (no wrapper, no runtime cost).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
NOTEBOOK = re.compile(r"^nb(\d\d)$")


class NotReleased(RuntimeError):
    """Raised by a stubbed twin in a student release: its exercise is not past its deadline yet."""


@dataclass(frozen=True)
class Twin:
    """One marked twin: where it lives and which exercise it answers."""

    notebook: str          # "nb03"
    exercise: str          # the solution cell id, "nb03-buffer"
    module: str            # "cs285lab.buffers"
    qualname: str          # "ReplayBuffer"
    needed_by: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        """The notebook's number (nb03 -> 3)."""
        return int(self.notebook[2:])

    def stubbed_in(self, through: int) -> bool:
        """Whether a release of notebooks 00..`through` replaces this twin by a stub."""
        if self.number < through:
            return False  # past its deadline: students may reuse it
        return not any(int(nb[2:]) <= through for nb in self.needed_by)


REGISTRY: dict[tuple[str, str], Twin] = {}  # (module, qualname) -> twin; one exercise may have several


def _require_notebook(name: str, what: str) -> None:
    if not isinstance(name, str) or not NOTEBOOK.match(name):
        raise ValueError(f"twin: {what} must look like 'nb03', got {name!r}")


def twin(notebook: str, exercise: str, *, needed_by: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Mark a package function or class as the twin of `exercise` (a solution cell id) of `notebook`."""
    _require_notebook(notebook, "notebook")
    for other in needed_by:
        _require_notebook(other, "needed_by")
    if not isinstance(exercise, str) or not exercise.startswith(notebook + "-"):
        raise ValueError(f"twin: exercise must be a solution cell id of {notebook} ('{notebook}-...'), got {exercise!r}")

    def mark(obj: T) -> T:
        entry = Twin(notebook, exercise, obj.__module__, obj.__qualname__, tuple(needed_by))
        REGISTRY[(entry.module, entry.qualname)] = entry
        obj.__cs285lab_twin__ = entry  # type: ignore[attr-defined]
        return obj

    return mark


def twin_modules() -> list[str]:
    """The package's modules whose source marks a twin (found by text, without importing anything)."""
    from pathlib import Path

    package = Path(__file__).resolve().parent
    names = []
    for path in sorted(package.rglob("*.py")):
        if path.name != "twins.py" and "@twin(" in path.read_text(encoding="utf-8"):
            names.append(".".join(("cs285lab", *path.relative_to(package).with_suffix("").parts)))
    return names


def all_twins() -> list[Twin]:
    """Every marked twin (imports the modules that hold them), sorted by notebook and exercise."""
    import importlib

    for name in twin_modules():
        importlib.import_module(name)
    return sorted(REGISTRY.values(), key=lambda t: (t.notebook, t.exercise, t.qualname))


def stub_message(entry: Twin) -> str:
    """What a stubbed twin says when called."""
    return (f"{entry.module}.{entry.qualname} is the reference answer to {entry.exercise}: it is released after "
            f"the {entry.notebook} deadline. Use your own implementation from notebook {entry.notebook[2:]}.")


def declared_twins() -> list[Twin]:
    """Every marked twin, read from the source files without importing them (the grader avoids torch)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent
    found = []
    for module in twin_modules():
        path = package.joinpath(*module.split(".")[1:]).with_suffix(".py")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            for deco in getattr(node, "decorator_list", []):
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "twin":
                    args = [ast.literal_eval(a) for a in deco.args]
                    keywords = {k.arg: ast.literal_eval(k.value) for k in deco.keywords}
                    found.append(Twin(args[0], args[1], module, node.name, tuple(keywords.get("needed_by", ()))))
    return sorted(found, key=lambda t: (t.notebook, t.exercise, t.qualname))


def reexported_names(full_names: set[str]) -> set[str]:
    """`full_names` (dotted, e.g. 'cs285lab.algos.actor_critic.targets.td_target') plus every name a module
    re-exports them under (`from .targets import td_target` makes 'cs285lab.algos.actor_critic.td_target'),
    read from the source without importing anything."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent
    imports: list[tuple[str, str, str]] = []  # (importing module, source module, name)
    for path in package.rglob("*.py"):
        parts = ("cs285lab", *path.relative_to(package).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    source = ".".join(base + ([source] if source else []))
                imports += [(module, source, a.name) for a in node.names if a.asname in (None, a.name)]
    names, grew = set(full_names), True
    while grew:  # to a fixpoint: a package may re-export what a subpackage re-exports
        grew = False
        for module, source, name in imports:
            if f"{source}.{name}" in names and f"{module}.{name}" not in names:
                names.add(f"{module}.{name}")
                grew = True
    return names
