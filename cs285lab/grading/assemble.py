"""Build the notebook the grader runs: the student's code, the reference check and locked cells.

Cells are matched by their `cs285lab` id, never by position. Check and locked cells always run in
their reference version (hidden tests included); an edited, moved or deleted one is reported.
Check cells obtain their checks from a private loader that a grader-inserted first cell creates
before any student code runs (see `loader_cell`).
"""

from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cs285lab.authoring.previous import accepted
from cs285lab.grading.course import Reference, load_references

__all__ = ["Assembled", "assemble", "graded_check_source", "loader_cell", "marker",
           "load_references"]  # load_references lives in course.py; tests/test_previous_version.py imports it here
from cs285lab.notebook_format import cell_fingerprint, cell_id, cell_meta, normalized

CHECK_IMPORT = re.compile(r"^(\s*)from\s+cs285lab\.checks\s+import\s+load\s*$", re.MULTILINE)
LOAD_CALL = re.compile(r"(?<![\w.])load\(")
MARKER_PREFIX = "[cs285lab-grader "


@dataclass
class Assembled:
    """The notebook to run, what each code cell is, and what happened to protected cells."""

    notebook: nbformat.NotebookNode
    cells: list[dict]  # one entry per code cell, in order: {"id", "kind", "origin"} (origin: index in the submission)
    protected: dict[str, tuple[str, str]] = field(default_factory=dict)  # cell id -> (tampered|missing, why)
    loader_name: str = ""
    nonce: str = ""


def loader_cell(loader_name: str, nonce: str, checks_dir: Path) -> str:
    """Source of the grader's first cell: a private, fresh checks loader bound to a random name.

    It runs before any student code, captures the builtins it needs, and re-executes
    cs285lab/checks/core.py and the notebook's check module from the installed files on every
    call, so a student cell that replaces `cs285lab.checks.load`, a check function, or the check
    toolkit in sys.modules does not change what a check cell runs. It also puts back the budget profile
    the grader chose (a cell that sets CS285LAB_PROFILE would otherwise choose its own thresholds). After a check returns, the
    check cell calls `.passed(cell_id)`, which prints a per-run nonce the grader requires.
    """
    return f'''# Inserted by the cs285lab grader before any student code; not part of the notebook.
def _cs285lab_make_loader(checks_dir, nonce, out, _open=open, _compile=compile, _exec=exec,
                          _isinstance=isinstance, _str=str):
    import os as _os
    import sys as _sys
    import types as _types

    profile = _os.environ.get("CS285LAB_PROFILE")

    def _fresh(name, path):
        module = _types.ModuleType(name)
        module.__file__, module.__package__ = path, "cs285lab.checks"
        with _open(path, encoding="utf-8") as handle:
            code = _compile(handle.read(), path, "exec")
        _exec(code, module.__dict__)
        return module

    def load(notebook):
        if not _isinstance(notebook, _str) or not notebook.isidentifier() or notebook.startswith("_"):
            raise ValueError(f"not a check module name: {{notebook!r}}")
        if profile is None:
            _os.environ.pop("CS285LAB_PROFILE", None)
        else:
            _os.environ["CS285LAB_PROFILE"] = profile
        keys = ("cs285lab.checks", "cs285lab.checks.core")
        saved = {{key: _sys.modules.get(key) for key in keys}}
        try:
            core = _fresh("cs285lab.checks.core", _os.path.join(checks_dir, "core.py"))
            package = _types.ModuleType("cs285lab.checks")
            package.__path__ = [checks_dir]
            package.core, package.load = core, load
            package.CheckFailed, package.Exercise, package.exercise = core.CheckFailed, core.Exercise, core.exercise
            _sys.modules.update({{"cs285lab.checks": package, "cs285lab.checks.core": core}})
            return _fresh(f"cs285lab.checks._graded_{{notebook}}", _os.path.join(checks_dir, notebook + ".py"))
        finally:
            for key, module in saved.items():
                if module is None:
                    _sys.modules.pop(key, None)
                else:
                    _sys.modules[key] = module

    def passed(cell_id):
        out.write(f"\\n{MARKER_PREFIX}{{nonce}} passed {{cell_id}}]\\n")
        out.flush()

    load.passed = passed
    return load


import sys as _cs285lab_sys
import cs285lab as _cs285lab_package  # pins the installed package before student code runs
{loader_name} = _cs285lab_make_loader({str(checks_dir)!r}, {nonce!r}, _cs285lab_sys.stdout)
del _cs285lab_make_loader, _cs285lab_sys, _cs285lab_package
'''


def graded_check_source(source: str, loader_name: str, cell_id: str) -> str:
    """Rewrite a reference check cell to use the private loader and confirm it ran to the end.

    Calls are renamed rather than `load` rebound, so the notebook's own `load` (used by locked
    cells, e.g. to demonstrate a failure) keeps meaning the package's loader.
    """
    body = CHECK_IMPORT.sub(lambda m: f"{m.group(1)}pass  # checks come from the grader's private loader", source)
    body = LOAD_CALL.sub(f"{loader_name}(", body)
    return f"{body.rstrip()}\n{loader_name}.passed({cell_id!r})\n"


def marker(nonce: str) -> str:
    """The line a check cell prints after its check returned (format field: cell)."""
    return MARKER_PREFIX + nonce + " passed {cell}]"


def assemble(submission: nbformat.NotebookNode, ref: Reference, checks_dir: Path) -> Assembled:
    """Merge a submission into its reference: student code in place, reference checks restored."""
    ref_cells = {cell_meta(c)["id"]: c for c in ref.solution.cells if cell_meta(c)}
    student_cells = {cell_meta(c)["id"]: c for c in ref.student.cells if cell_meta(c)}
    kinds = {cid: cell_meta(c)["kind"] for cid, c in ref_cells.items()}

    # 1. Walk the submission: the first cell with each known id is that cell; any other cell
    #    (scratch work, duplicates, unknown ids) stays attached to the id'd cell before it.
    found: dict[str, nbformat.NotebookNode] = {}
    order: list[str] = []
    attached: dict[str | None, list[nbformat.NotebookNode]] = {None: []}
    anchor: str | None = None
    origin = {id(cell): index for index, cell in enumerate(submission.cells)}
    for cell in submission.cells:
        cid = cell_id(cell)
        if isinstance(cid, str) and cid in ref_cells and cid not in found:
            found[cid], anchor = cell, cid
            order.append(cid)
            attached.setdefault(cid, [])
        elif isinstance(cid, str) and cid in ref_cells and kinds[cid] not in ("solution", "written"):
            continue  # a copy of a check or locked cell: the reference version runs once, in place
        else:
            attached.setdefault(anchor, []).append(cell)

    # 2. Protected cells: edited, moved or deleted ones are reported (and restored below). The
    #    student version and the reference version (with hidden tests) both count as unchanged.
    present = [cid for cid in ref.ids if cid in found]
    matcher = difflib.SequenceMatcher(None, present, order, autojunk=False)
    in_place = {present[b.a + k] for b in matcher.get_matching_blocks() for k in range(b.size)}
    protected: dict[str, tuple[str, str]] = {}
    earlier = accepted(ref.name)  # versions of protected cells released before the last update
    for cid in ref.ids:
        if kinds[cid] in ("solution", "written"):  # the student's own answer
            continue
        what = "check" if kinds[cid] == "check" else "locked"
        if cid not in found:
            protected[cid] = ("missing", f"this {what} cell was deleted (or its metadata removed)")
        elif (found[cid].cell_type != student_cells[cid].cell_type
              or (normalized(found[cid].source) not in {normalized(student_cells[cid].source),
                                                          normalized(ref_cells[cid].source)}
                  and cell_fingerprint(found[cid].source) not in earlier.get(cid, ()))):
            protected[cid] = ("tampered", f"this {what} cell was edited")
        elif cid not in in_place:
            protected[cid] = ("tampered", f"this {what} cell was moved")

    # 3. Emit in reference order; a private loader cell goes first.
    loader_name = f"_cs285lab_grader_{secrets.token_hex(6)}"
    nonce = secrets.token_hex(12)
    out_cells = [nbformat.v4.new_code_cell(loader_cell(loader_name, nonce, checks_dir))]
    kinds_out: list[dict] = [{"id": None, "kind": "grader", "origin": None}]

    def emit(cell: nbformat.NotebookNode, cid: str | None, kind: str, source: str | None = None) -> None:
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if isinstance(t, str)]
        metadata = {"tags": tags} if tags else {}
        text = cell.source if source is None else source
        if cell.cell_type == "code":
            out_cells.append(nbformat.v4.new_code_cell(text, metadata=metadata))
            kinds_out.append({"id": cid, "kind": kind, "origin": origin.get(id(cell))})
        elif cell.cell_type == "markdown":
            out_cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            out_cells.append(nbformat.v4.new_raw_cell(text))

    for cell in attached[None]:
        emit(cell, None, "student")
    for cid in ref.ids:
        kind = kinds[cid]
        if kind == "check":
            emit(ref_cells[cid], cid, "check", graded_check_source(ref_cells[cid].source, loader_name, cid))
            if cid in found:
                kinds_out[-1]["origin"] = origin.get(id(found[cid]))
        elif kind == "locked":
            emit(ref_cells[cid], cid, "locked")
            if cid in found:  # run in the reference version, but it sits where the student's copy is
                kinds_out[-1]["origin"] = origin.get(id(found[cid]))
        elif cid in found:
            emit(found[cid], cid, "solution")
        for cell in attached.get(cid, []):
            emit(cell, None, "student")

    notebook = nbformat.v4.new_notebook(cells=out_cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Assembled(notebook, kinds_out, protected, loader_name, nonce)
