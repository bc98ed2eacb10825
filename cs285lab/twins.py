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

Some answers must stay in every handout because the package's own algorithms run them (the methods
`SAC.q_target`, `SAC.actor_loss`, `SquashedGaussianActor.squashed_log_prob`; the correct code of each
silent-bug family, which the reviews' other hooks run). Those are marked `@answer(notebook, exercise, ...)`:
never stubbed, but a check refuses them at run time (`package_origin`, `calls_answers`: the code object
of the function a student passes, or of anything it calls, is the package's answer) and the grader flags
a solution cell that pastes one (`pasted_answers`, normalized source). Every twin is an answer too.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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
    """`full_names` (dotted) plus every name a module re-exports them under, read from source without importing:
    `from .targets import td_target` makes 'cs285lab.algos.actor_critic.td_target'."""
    names, grew = set(full_names), True
    while grew:  # to a fixpoint: a package may re-export what a subpackage re-exports
        grew = False
        for module, source, name in _package_imports():
            if f"{source}.{name}" in names and f"{module}.{name}" not in names:
                names.add(f"{module}.{name}")
                grew = True
    return names


@functools.lru_cache(maxsize=1)
def _package_imports() -> tuple[tuple[str, str, str], ...]:
    """Every `from X import name` in the package, as (importing module, source module, name), parsed once."""
    import ast

    package = Path(__file__).resolve().parent
    imports: list[tuple[str, str, str]] = []
    for path in sorted(package.rglob("*.py")):
        parts = ("cs285lab", *path.relative_to(package).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in (n for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.ImportFrom)):
            base = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            imports += [(module, source, a.name) for a in node.names if a.asname in (None, a.name)]
    return tuple(imports)


# ------------------------------------------------------------------ answers that must stay: refused at run time
@dataclass(frozen=True)
class Answer:
    """A package function or method that answers an exercise and stays in every handout (the package runs it)."""

    notebook: str
    exercises: tuple[str, ...]   # solution cell ids it answers, e.g. ("nb03-q-target",)
    module: str
    qualname: str                # "SAC.q_target" for a method
    compare_source: bool = True  # False where an honest answer is the same code (a one-line fix of a review)


ANSWERS: dict[tuple[str, str], Answer] = {}  # (module, qualname) -> answer
_ANSWER_CODE: dict[str, set[Any]] = {}       # exercise -> code objects of its answers (twins and answers)


def answer(notebook: str, *exercises: str, compare_source: bool = True) -> Callable[[T], T]:
    """Mark a package function or method that answers `exercises` (solution cell ids) and must stay in a handout."""
    _require_notebook(notebook, "notebook")
    if not exercises or not all(isinstance(e, str) and e.startswith(notebook + "-") for e in exercises):
        raise ValueError(f"answer: exercises must be solution cell ids of {notebook}, got {exercises!r}")

    def mark(obj: T) -> T:
        entry = Answer(notebook, tuple(exercises), obj.__module__, obj.__qualname__, compare_source)
        ANSWERS[(entry.module, entry.qualname)] = entry
        codes = [c for c in _code_objects(obj) if _in_package(c.co_filename)]  # not a decorator's shared wrapper
        for exercise in exercises:
            _ANSWER_CODE.setdefault(exercise, set()).update(codes)
        return obj

    return mark


_PACKAGE = Path(__file__).resolve().parent


def _code_objects(obj: Any) -> list[Any]:
    """The code objects behind a function, method, partial, callable object, class (its methods) or tuple of these."""
    import functools
    import inspect

    seen, out, todo = set(), [], [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (tuple, list)):  # several answers checked together (e.g. two classes)
            todo += list(item)
        elif isinstance(item, functools.partial):
            todo.append(item.func)
        elif inspect.ismethod(item):
            todo.append(item.__func__)
        elif inspect.isclass(item):
            for klass in item.__mro__:
                if klass is object:
                    continue
                todo += [v for v in vars(klass).values() if inspect.isfunction(v)]
        elif hasattr(item, "__code__"):
            out.append(item.__code__)
            wrapped = getattr(item, "__wrapped__", None)
            if wrapped is not None:
                todo.append(wrapped)
        elif callable(item) and hasattr(type(item), "__call__") and inspect.isfunction(type(item).__call__):
            todo.append(type(item).__call__)
    return out


def _in_package(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE)
    except (OSError, RuntimeError, ValueError):
        return False


def package_origin(obj: Any, exercise: str | None = None) -> str | None:
    """Where `obj`'s code comes from, when it is the package's answer: 'cs285lab.x.f'; None for the student's own.

    With `exercise`, only the registered answers of that exercise (twins and `@answer`s) count; without, any
    function whose code lives in the cs285lab package does (a class counts by its methods).
    """
    for code in _code_objects(obj):
        if exercise is not None:
            if code in answer_code(exercise):
                return _describe(code)
        elif _in_package(code.co_filename):
            return _describe(code)
    return None


def _describe(code: Any) -> str:
    try:
        relative = Path(code.co_filename).resolve().relative_to(_PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts)
    except (OSError, ValueError):
        module = Path(code.co_filename).stem
    return f"{module}.{getattr(code, 'co_qualname', code.co_name)}"


def answer_code(exercise: str) -> set[Any]:
    """Code objects of every registered answer of `exercise` (imports the modules that mark them)."""
    _import_marked()
    codes = set(_ANSWER_CODE.get(exercise, set()))
    import importlib

    for entry in REGISTRY.values():
        if entry.exercise == exercise:
            obj = getattr(importlib.import_module(entry.module), entry.qualname, None)
            codes.update(c for c in (_code_objects(obj) if obj is not None else []) if _in_package(c.co_filename))
    return codes


_MARKED_IMPORTED = False


def _import_marked() -> None:
    """Import every module that marks a twin or an answer (once)."""
    global _MARKED_IMPORTED
    if _MARKED_IMPORTED:
        return
    import importlib

    for path in sorted(_PACKAGE.rglob("*.py")):
        if path.name == "twins.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "@twin(" in text or "@answer(" in text:
            parts = path.relative_to(_PACKAGE).with_suffix("").parts
            importlib.import_module(".".join(("cs285lab", *(p for p in parts if p != "__init__"))))
    _MARKED_IMPORTED = True


@contextlib.contextmanager
def calls_answers(exercise: str) -> Iterator[list[str]]:
    """Within the block, record (in the yielded list) every registered answer of `exercise` that runs.

    A profile hook sees each Python call, so an answer reached through a wrapper, `importlib` or a bound
    method is seen too: what counts is the code that runs, not how it was imported. Only this thread.
    """
    codes = answer_code(exercise)
    found: list[str] = []
    previous = sys.getprofile()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            name = _describe(frame.f_code)
            if name not in found:
                found.append(name)

    sys.setprofile(hook)
    try:
        yield found
    finally:
        sys.setprofile(previous)


# ------------------------------------------------------------------ pasted answers (the grader, without importing)
def normalized_source(source: str) -> list[str]:
    """Each function body in `source`, normalized: docstrings and comments dropped, names of the function and its
    arguments kept, formatting erased (ast.unparse). One string per function or method found."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = list(node.body)
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body = body[1:]
            if body:
                try:
                    out.append("\n".join(ast.unparse(stmt) for stmt in body))
                except (ValueError, RecursionError):
                    continue
    return out


def declared_answer_sources() -> dict[str, list[tuple[str, str]]]:
    """Exercise -> [(dotted name, normalized body)] of every `@answer(compare_source=True)`, read from the package's
    source files (no import: the grader avoids torch).

    Twins are not compared: a release stubs a twin whose exercise is not yet due (its source is not in the
    handout), and a twin that stays is the reference solution's own code by design (tests/test_twins.py), so an
    honest answer written from the solution notebook's hints may coincide with it."""
    import ast

    found: dict[str, list[tuple[str, str]]] = {}

    def visit(body: list, module: str, prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, module, f"{prefix}{node.name}.")
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "answer"):
                    continue
                args = [ast.literal_eval(a) for a in deco.args]
                keywords = {k.arg: ast.literal_eval(k.value) for k in deco.keywords}
                if not keywords.get("compare_source", True):
                    continue
                exercises = args[1:]
                if isinstance(node, ast.ClassDef):
                    bodies = [b for item in node.body if isinstance(item, ast.FunctionDef)
                              for b in normalized_source(ast.unparse(item))[:1]]
                else:
                    bodies = normalized_source(ast.unparse(node))[:1]
                for exercise in exercises:
                    found.setdefault(exercise, []).extend((f"{module}.{prefix}{node.name}", b) for b in bodies)

    for path in sorted(_PACKAGE.rglob("*.py")):
        if path.name == "twins.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "@twin(" not in text and "@answer(" not in text:
            continue
        parts = path.relative_to(_PACKAGE).with_suffix("").parts
        visit(ast.parse(text).body, ".".join(("cs285lab", *(p for p in parts if p != "__init__"))), "")
    return found


def pasted_answers(source: str, answers: list[tuple[str, str]]) -> list[str]:
    """The registered answers (dotted names) whose normalized body appears as a function body in `source`.
    Trivial bodies (one short line) are not compared: an honest answer may coincide with them."""
    bodies = set(normalized_source(source))
    return [name for name, body in answers if body in bodies and (body.count("\n") >= 1 or len(body) > 60)]
