"""Earlier versions of protected cells, so that a notebook a student saved before an update still grades.

Students keep the notebook they started. When a check or locked cell changes in `solutions/`, their
copy holds the earlier version: the grader runs today's version in its place either way, and a
cell that matches an earlier released version is not reported as edited. `cs285lab make-student`
records the protected cells of every student notebook it replaces in
cs285lab/data/previous_cells.json (notebook -> cell id -> fingerprints of earlier sources).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import nbformat

from cs285lab.files import write_atomic
from cs285lab.notebook_format import PROTECTED, cell_fingerprint, cell_meta

REGISTRY = "previous_cells.json"


def accepted(notebook: str) -> dict[str, set[str]]:
    """Fingerprints of earlier versions of `notebook`'s protected cells, by cell id (empty if none)."""
    source = resources.files("cs285lab") / "data" / REGISTRY
    if not source.is_file():
        return {}
    table = json.loads(source.read_text(encoding="utf-8")).get(notebook, {})
    return {cid: set(prints) for cid, prints in table.items()}


def remember(notebook: str, old: nbformat.NotebookNode, registry: Path) -> int:
    """Add the protected cells of `old` (a student notebook about to be replaced) to `registry`; return how many were new."""
    table = json.loads(registry.read_text(encoding="utf-8")) if registry.is_file() else {}
    cells = table.setdefault(notebook, {})
    added = 0
    for cell in old.cells:
        meta = cell_meta(cell)
        if meta is None or meta.get("kind") not in PROTECTED or not isinstance(meta.get("id"), str):
            continue
        prints = cells.setdefault(meta["id"], [])
        mark = cell_fingerprint(cell.source)
        if mark not in prints:
            prints.append(mark)
            added += 1
    if added:
        write_atomic(registry, json.dumps(table, indent=1, sort_keys=True) + "\n")
    return added
