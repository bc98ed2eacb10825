"""The package's structure: no import circle in cs285lab/ or benchmarks/, bottom modules import nothing above them,
short files.

The import graph is read from the source with `ast`, not by importing: every `import` and
`from ... import` counts wherever it sits (module level, inside a function, under TYPE_CHECKING),
and so does `importlib.import_module("<literal>")`. An import of a package counts as an arrow to
the package's `__init__`; `from package import name` is an arrow to the module `package.name` when
that is a module, else to the package's `__init__`. The parents of an imported module are not
counted (every module would otherwise point at cs285lab/__init__.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cs285lab"

# The floors of the package, bottom to top (see docs/): a bottom module imports nothing from TOP.
BOTTOM = ("cs285lab.batch", "cs285lab.record", "cs285lab.bands", "cs285lab.runlog", "cs285lab.seeding",
          "cs285lab.nets", "cs285lab.twins", "cs285lab.buffers", "cs285lab.envs",
          "cs285lab.algos", "cs285lab.files", "cs285lab.notebook_format")
TOP = ("cs285lab.plots", "cs285lab.checks", "cs285lab.doctor", "cs285lab.grading", "cs285lab.runs",
       "cs285lab.authoring", "cs285lab.cli", "cs285lab.references")

# Checks, plots, the curve doctor and budgets sit above the algorithms and below the notebook-facing top (runs,
# references, grading, cli).
MIDDLE = ("cs285lab.plots", "cs285lab.checks", "cs285lab.doctor", "cs285lab.budgets")
UPPER = ("cs285lab.runs", "cs285lab.references", "cs285lab.grading", "cs285lab.cli")

MAX_LINES = 400



def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT, package: str = "cs285lab") -> dict[str, Path]:
    """Every module of `package`/ (cs285lab/ or benchmarks/, under `root`) by dotted name."""
    return {_module_name(p, root): p for p in sorted((root / package).rglob("*.py")) if "__pycache__" not in p.parts}


def _resolve(module: str, path: Path, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) import target, seen from `module`."""
    if level == 0:
        return target or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The cs285lab modules that `module` imports, wherever in the file the import sits."""
    found: set[str] = set()

    def add(name: str) -> None:
        # the longest known prefix: `import cs285lab.plots.live.X` names the module cs285lab.plots.live
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                found.add(candidate)
                return

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node.level, node.module)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found |= submodules  # `from cs285lab.plots import live` imports the module cs285lab.plots.live ...
            if len(submodules) < len(node.names):  # ... and a name defined in a package is an arrow to its __init__
                add(base)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "import_module":
                add(node.args[0].value)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT, package: str = "cs285lab") -> dict[str, set[str]]:
    """module -> the modules of `package` it imports (of the checkout at `root`)."""
    mods = modules(root, package)
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import circle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_in(graph, component) for component in components]


def _circle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A concrete circle a -> b -> ... -> a inside one strongly connected component (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no circle through {start} in {sorted(component)}")


def _is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_import_walker_sees_every_kind_of_import(tmp_path):
    source = ("import cs285lab.a\n"
              "from cs285lab.b import thing\n"
              "from cs285lab import c\n"
              "from . import d\n"
              "from cs285lab.k import sub, name\n"
              "from .e import x\n"
              "def f():\n"
              "    import cs285lab.g.h as h\n"
              "    importlib.import_module('cs285lab.i')\n"
              "if TYPE_CHECKING:\n"
              "    from cs285lab.j import J\n")
    path = tmp_path / "cs285lab" / "pkg" / "m.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    known = {"cs285lab", "cs285lab.a", "cs285lab.b", "cs285lab.c", "cs285lab.pkg", "cs285lab.pkg.d", "cs285lab.pkg.e",
             "cs285lab.g", "cs285lab.g.h", "cs285lab.i", "cs285lab.j", "cs285lab.pkg.m", "cs285lab.k", "cs285lab.k.sub"}
    assert imports_of("cs285lab.pkg.m", path, known) == {
        "cs285lab.a", "cs285lab.b", "cs285lab.c", "cs285lab.pkg.d", "cs285lab.pkg.e", "cs285lab.g.h", "cs285lab.i",
        "cs285lab.j", "cs285lab.k", "cs285lab.k.sub"}


def test_the_cycle_finder_names_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package():
    found = cycles(import_graph())
    assert not found, "import circles in cs285lab/:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_import_circle_in_the_benchmarks():
    graph = import_graph(package="benchmarks")
    assert "benchmarks.claims" in graph and "benchmarks.bench_mbpo" in graph
    found = cycles(graph)
    assert not found, "import circles in benchmarks/:\n" + "\n".join(" -> ".join(c) for c in found)


def test_bottom_modules_import_nothing_from_the_top():
    graph = import_graph()
    bad = sorted((module, target) for module, targets in graph.items() if _is_under(module, BOTTOM)
                 for target in targets if _is_under(target, TOP))
    assert not bad, "bottom modules importing from the top floors:\n" + "\n".join(f"{a} -> {b}" for a, b in bad)


def test_plots_and_checks_import_nothing_from_the_notebook_facing_top():
    graph = import_graph()
    bad = sorted((module, target) for module, targets in graph.items() if _is_under(module, MIDDLE)
                 for target in targets if _is_under(target, UPPER))
    assert not bad, ("plots/checks importing runs, references, grading or cli:\n"
                     + "\n".join(f"{a} -> {b}" for a, b in bad))


def _long_files() -> dict[str, int]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.parent.name == "checks" and path.stem.startswith("nb"):
            continue  # one check module per notebook may be long: it reads as the notebook's checklist
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            out[rel] = lines
    return out


def test_no_file_in_the_package_is_over_400_lines():
    too_long = _long_files()
    assert not too_long, f"files over {MAX_LINES} lines (split them by subject): {too_long}"


@pytest.mark.parametrize("module", ["cs285lab.runlog", "cs285lab.record", "cs285lab.bands", "cs285lab.batch"])
def test_the_bottom_of_the_run_record_imports_only_the_bottom(module):
    graph = import_graph()
    assert all(_is_under(target, BOTTOM) for target in graph[module]), sorted(graph[module])


def folder_map(root: Path = ROOT) -> list[str]:
    """The package's import arrows between its folders and top-level modules, one line per place."""
    def place(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "cs285lab (init)"

    arrows: dict[str, set[str]] = {}
    for module, targets in import_graph(root).items():
        arrows.setdefault(place(module), set()).update(place(t) for t in targets)
    return [f"{here:16s} -> {', '.join(sorted(there - {here})) or '(nothing)'}" for here, there in sorted(arrows.items())]


if __name__ == "__main__":  # python tests/test_layers.py [CHECKOUT]: the map docs/ARCHITECTURE.md shows
    import sys

    where = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    print("\n".join(folder_map(where)))
    found = cycles(import_graph(where))
    print("import circles:", "; ".join(" -> ".join(c) for c in found) if found else "none")
    if (where / "benchmarks").is_dir():
        found = cycles(import_graph(where, "benchmarks"))
        print("import circles in benchmarks/:", "; ".join(" -> ".join(c) for c in found) if found else "none")
