"""Flag a solution cell that uses the package's reference implementation (its twin) instead of the student's code.

`load("nb01").actor_critic_loss(cs285lab.algos.actor_critic.actor_critic_loss)` passes the check:
the package holds the reference so that later notebooks can reuse it. A release stubs twins not
yet due, but some must stay (the package itself runs them, see cs285lab.twins). So the grader
reads each solution cell statically and flags one that imports or names a twin of its own
exercise: `from cs285lab.buffers import ReplayBuffer`, `actor_critic_loss = ac.actor_critic_loss`,
a wrapper calling it. The flag is a row with status `flagged` and no points of its own: the
check's verdict stands and the course staff decide.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.authoring.student import cell_meta
from cs285lab.grading.assemble import SubmissionError, read_submission
from cs285lab.grading.verdict import Row

if TYPE_CHECKING:
    from cs285lab.grading.batch import Job, JobResult

FLAG = "flagged"


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def imported_names(source: str) -> dict[str, str]:
    """Local name -> the dotted module or object it stands for, from the imports in `source`."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # any source a student can save
        return {}
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def used_twins(source: str, twins: set[str], known: dict[str, str] | None = None) -> list[str]:
    """The fully qualified twins (e.g. 'cs285lab.buffers.ReplayBuffer') that `source` imports or names.

    `known` maps names imported elsewhere in the notebook (its setup cell) to what they stand for.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # any source a student can save
        return []
    own = imported_names(source)
    aliases = {**(known or {}), **own}
    # Twins are functions and classes, so only `from module import twin` can import one by name.
    found = list(dict.fromkeys(full for full in own.values() if full in twins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and isinstance(getattr(node, "ctx", None), ast.Load):
            dotted = _dotted(node)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            full = aliases.get(head, head) + (f".{rest}" if rest else "")
            if full in twins and full not in found:
                found.append(full)
    return found


def reuse_rows(submission: str, notebook: str, path: Path | None, twins_by_cell: dict[str, set[str]]) -> list[Row]:
    """One `flagged` row per solution cell of `path` that uses a twin of its own exercise."""
    if path is None or not twins_by_cell:
        return []
    try:
        nb = read_submission(path)
    except SubmissionError:
        return []
    known: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            known.update(imported_names(cell.source))
    rows, seen = [], set()
    for cell in nb.cells:
        meta = cell_meta(cell)
        cid = meta.get("id") if isinstance(meta, dict) else None
        if cell.cell_type != "code" or cid not in twins_by_cell or cid in seen:
            continue
        seen.add(cid)
        used = used_twins(cell.source, twins_by_cell[cid], known)
        if used:
            rows.append(Row(submission, notebook, cid, 0.0, 0.0, FLAG,
                            f"this solution cell uses the package's reference implementation ({', '.join(used)}) "
                            "instead of your own code; the course staff will review it"))
    return rows


def flag_reuse(jobs: list[Job], results: dict[int, JobResult]) -> int:
    """Add (or refresh) the reuse flags of every finished job; return how many cells were flagged."""
    from cs285lab.twins import declared_twins, reexported_names

    by_notebook: dict[str, dict[str, set[str]]] = {}
    for entry in declared_twins():
        by_notebook.setdefault(entry.notebook, {}).setdefault(entry.exercise, set()).add(
            f"{entry.module}.{entry.qualname}")
    for cells in by_notebook.values():  # a twin is reused as well under a name a package re-exports it as
        for exercise, names in cells.items():
            cells[exercise] = reexported_names(names)
    flagged = 0
    for index, result in results.items():
        job = jobs[index]
        if job.ref is None:
            continue
        twins_by_cell = by_notebook.get("nb" + Path(job.notebook).stem[:2], {})
        rows = reuse_rows(job.submission, job.notebook, job.path, twins_by_cell)
        result.rows = [r for r in result.rows if r.status != FLAG] + rows
        flagged += len(rows)
    return flagged
