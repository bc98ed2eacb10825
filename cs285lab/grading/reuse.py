"""Flag a solution cell that uses the package's reference implementation (its twin) instead of the student's code.

`load("nb01").actor_critic_loss(cs285lab.algos.actor_critic.actor_critic_loss)` passes the check:
the package holds the reference so that later notebooks can reuse it. A release stubs twins not
yet due, but some must stay (the package itself runs them, see cs285lab.twins). So the grader
reads each solution cell statically and flags one that imports or names a twin of its own
exercise: `from cs285lab.buffers import ReplayBuffer`, `actor_critic_loss = ac.actor_critic_loss`,
a wrapper calling it. Two more flags read the cell the same way: a solution cell that *pastes* a registered
answer (its function body equals the package's, normalized: cs285lab.twins.pasted_answers) and one that
imports dynamically (`importlib`, `__import__`), which the import scan cannot follow. (At run time the
checks themselves refuse the package's answers, however they are reached: cs285lab.twins.calls_answers.)
The flag is a row with status `flagged` and no points of its own: the check's verdict stands and the
course staff decide.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.grading.verdict import Row
from cs285lab.notebook_format import cell_id

if TYPE_CHECKING:
    from cs285lab.grading.jobs import Job

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


def notebook_key(notebook: str) -> str:
    """The twins' name of a notebook file: 03_off_policy_actor_critic.ipynb -> nb03."""
    return "nb" + Path(notebook).stem[:2]


def twins_by_notebook(notebooks: set[str] | None = None) -> dict[str, dict[str, set[str]]]:
    """Notebook ("nb03") -> exercise cell id -> every name under which its package twins can be reached
    (only the notebooks named, when `notebooks` is given: following re-exports reads the package's source)."""
    from cs285lab.twins import declared_twins, reexported_names

    by_notebook: dict[str, dict[str, set[str]]] = {}
    for entry in declared_twins():
        if notebooks is not None and entry.notebook not in notebooks:
            continue
        by_notebook.setdefault(entry.notebook, {}).setdefault(entry.exercise, set()).add(
            f"{entry.module}.{entry.qualname}")
    for cells in by_notebook.values():  # a twin is reused as well under a name a package re-exports it as
        for exercise, names in cells.items():
            cells[exercise] = reexported_names(names)
    return by_notebook


DYNAMIC_IMPORT = ("importlib", "__import__", "import_module")


def _answer_sources() -> dict[str, list[tuple[str, str]]]:
    """Exercise -> (name, normalized body) of its registered answers (read once per process, from source)."""
    global _SOURCES
    if _SOURCES is None:
        from cs285lab.twins import declared_answer_sources

        _SOURCES = declared_answer_sources()
    return _SOURCES


_SOURCES: dict[str, list[tuple[str, str]]] | None = None


def pasted_or_dynamic(source: str, exercise: str) -> str | None:
    """Why a solution cell of `exercise` is flagged beyond its imports: pasted reference code or a dynamic import."""
    from cs285lab.twins import pasted_answers

    pasted = pasted_answers(source, _answer_sources().get(exercise, []))
    if pasted:
        return (f"this solution cell contains the package's reference code ({', '.join(pasted)}), pasted; the course "
                "staff will review it")
    if any(word in source for word in DYNAMIC_IMPORT):
        return ("this solution cell imports code dynamically (importlib / __import__), which can reach the package's "
                "reference answer; the course staff will review it")
    return None


def reuse_rows(job: Job, twins: dict[str, dict[str, set[str]]]) -> list[Row]:
    """One `flagged` row per solution cell of the job's notebook that uses a twin of its own exercise, pastes a
    registered answer or imports dynamically."""
    twins_by_cell = twins.get(notebook_key(job.notebook), {})
    if job.nb is None or job.ref is None:
        return []
    answered = {e for e in _answer_sources() if e.startswith(notebook_key(job.notebook) + "-")}
    if not twins_by_cell and not answered:
        return []
    known: dict[str, str] = {}
    for cell in job.nb.cells:
        if cell.cell_type == "code":
            known.update(imported_names(cell.source))
    rows, seen = [], set()
    for cell in job.nb.cells:
        cid = cell_id(cell)
        if cell.cell_type != "code" or (cid not in twins_by_cell and cid not in answered) or cid in seen:
            continue
        seen.add(cid)
        used = used_twins(cell.source, twins_by_cell.get(cid, set()), known)
        if used:
            rows.append(Row(job.submission, job.notebook, cid, 0.0, 0.0, FLAG,
                            f"this solution cell uses the package's reference implementation ({', '.join(used)}) "
                            "instead of your own code; the course staff will review it", "flag"))
        elif (why := pasted_or_dynamic(cell.source, cid)) is not None:
            rows.append(Row(job.submission, job.notebook, cid, 0.0, 0.0, FLAG, why, "flag"))
    return rows
