"""The points each check carries, as the notebooks' check cells state them, for the check's pass line.

A check cell's points live in its metadata (`metadata["cs285lab"]["points"]`), the one source the
grader reads too. The check code runs without seeing its cell, so the points of every check cell are
collected into `cs285lab/data/check_points.json` (notebook -> check function -> points):

    {"nb00": {"discounted_reward_to_go": 2, "td_target": 3}, ...}

`table_from_notebooks` builds it from the notebooks; `write_table` writes it. The table is generated,
never typed: `tests/test_check_points.py` fails when it and the solution notebooks part ways.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

from cs285lab.checks.core import POINTS_FILE

__all__ = ["POINTS_FILE", "checks_called", "table_from_notebooks", "write_table"]


def checks_called(source: str) -> list[tuple[str, str]]:
    """The (notebook, check function) pairs a check cell's source calls, e.g. `load("nb00").td_target(...)`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        loader = node.func.value
        if (isinstance(loader, ast.Call) and isinstance(loader.func, ast.Name) and loader.func.id == "load"
                and len(loader.args) == 1 and isinstance(loader.args[0], ast.Constant)
                and isinstance(loader.args[0].value, str)):
            found.append((loader.args[0].value, node.func.attr))
    return found


def table_from_notebooks(paths: Iterable[str | Path]) -> dict[str, dict[str, float]]:
    """notebook -> check function -> points, from the check cells of the notebooks at `paths`."""
    import nbformat

    table: dict[str, dict[str, float]] = {}
    for path in sorted(Path(p) for p in paths):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("cs285lab", {})
            if cell.cell_type != "code" or meta.get("kind") != "check" or "points" not in meta:
                continue
            called = checks_called(cell.source)
            if len(called) != 1:
                raise ValueError(f"{path.name}: check cell {meta.get('id')!r} must call one check "
                                 f"(load(\"nbNN\").<check>(...)), it calls {called or 'none'}")
            (notebook, check), points = called[0], meta["points"]
            known = table.setdefault(notebook, {}).setdefault(check, points)
            if known != points:  # e.g. nb03's silent_fix(1/2/3, ...): one function, several cells
                raise ValueError(f"{path.name}: check cells calling {notebook}.{check} carry different points "
                                 f"({known} and {points}); the pass line could not say which")
    return {nb: dict(sorted(checks.items())) for nb, checks in sorted(table.items())}


def write_table(paths: Iterable[str | Path], out: str | Path = POINTS_FILE) -> Path:
    """Write the table of the notebooks at `paths` to `out` (the packaged file by default); return its path."""
    out = Path(out)
    out.write_text(json.dumps(table_from_notebooks(paths), indent=1) + "\n", encoding="utf-8")
    return out
