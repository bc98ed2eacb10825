"""Generate student notebooks from the reference notebooks in solutions/.

The markers and cell metadata are the notebook-format vocabulary of cs285lab/notebook_format.py:
solution regions become stubs (`# HINT: ...` lines become the stub's hint), hidden tests are
removed, check and locked cells are made read-only, outputs are cleared.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
from pathlib import Path

import nbformat

from cs285lab.files import write_atomic
from cs285lab.notebook_format import (CODE_BEGIN, CODE_END, HIDDEN_BEGIN, HIDDEN_END, KINDS, MD_BEGIN, MD_END,
                                      MD_STUB, AuthoringError, Region, cell_meta, find_regions, has_marker,
                                      notebook_fingerprint)

HINT = re.compile(r"^\s*#\s*HINT:\s*(.*)$")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, with an error that names the file."""
    if not path.is_file():
        raise AuthoringError(f"{path}: no such notebook")
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AuthoringError(f"{path}: not a valid .ipynb (JSON error: {exc})") from None
    except Exception as exc:  # nbformat raises several types for malformed files
        raise AuthoringError(f"{path}: not a valid .ipynb ({type(exc).__name__}: {exc})") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise AuthoringError(f"{path}: not a valid notebook: {exc.message}") from None
    return nb


def validate(nb: nbformat.NotebookNode, name: str) -> None:
    """Raise AuthoringError for anything that would make generation or grading ambiguous."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        meta = cell_meta(cell)
        where = f"{name}, cell {index}"
        lines = cell.source.splitlines()
        if meta is None:
            if has_marker(cell.source):
                raise AuthoringError(f"{where}: has solution/hidden-test markers but no cs285lab metadata "
                                     "(add metadata {'cs285lab': {'id': ..., 'kind': 'solution'}})")
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("id"), str) or not meta["id"]:
            raise AuthoringError(f"{where}: cs285lab metadata needs a non-empty string 'id'")
        where = f"{name}, cell {index} (id {meta['id']!r})"
        if meta["id"] in seen:
            raise AuthoringError(f"{where}: duplicate cell id, also used by cell {seen[meta['id']]}")
        seen[meta["id"]] = index
        kind = meta.get("kind")
        if kind not in KINDS:
            raise AuthoringError(f"{where}: kind {kind!r} is not one of {KINDS}")
        points = meta.get("points")
        if kind == "check":
            if cell.cell_type != "code":
                raise AuthoringError(f"{where}: a check cell must be a code cell")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                raise AuthoringError(f"{where}: a check cell needs 'points' > 0, got {points!r}")
            find_regions(lines, HIDDEN_BEGIN, HIDDEN_END, where)
        elif kind == "written":
            if cell.cell_type != "markdown":
                raise AuthoringError(f"{where}: a written answer cell must be a markdown cell")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                raise AuthoringError(f"{where}: a written answer cell needs 'points' > 0, got {points!r}")
        elif points is not None:
            raise AuthoringError(f"{where}: only check cells carry points (and written answers; this is a {kind} cell)")
        if kind in ("solution", "written"):
            begin, end = (CODE_BEGIN, CODE_END) if cell.cell_type == "code" else (MD_BEGIN, MD_END)
            if not find_regions(lines, begin, end, where):
                raise AuthoringError(f"{where}: a solution cell needs a '{begin}' ... '{end}' region")
        elif kind != "check" and has_marker(cell.source):
            raise AuthoringError(f"{where}: markers are only allowed in solution and check cells")
        if kind == "check" and any(m in cell.source for m in (CODE_BEGIN, MD_BEGIN)):
            raise AuthoringError(f"{where}: a check cell cannot hold a solution region")


def _stub(region_lines: list[str], indent: str) -> list[str]:
    hints = [m.group(1).strip() for line in region_lines if (m := HINT.match(line))]
    hints = [h for h in hints if h]
    if len(hints) > 1:  # one sentence per hint line, so that several hints do not run together in the message
        hints = [h if h.endswith((".", "!", "?")) else h.rstrip(";,: ") + "." for h in hints]
    hint = " ".join(hints) or "fill in this part"
    return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({hint!r})"]


def _replace_regions(lines: list[str], regions: list[Region], stub) -> list[str]:
    out, cursor = [], 0
    for region in regions:
        out += lines[cursor:region.begin]
        out += stub(lines[region.begin + 1:region.end], region.indent)
        cursor = region.end + 1
    return out + lines[cursor:]


def student_source(cell: nbformat.NotebookNode, where: str) -> str:
    """The student version of one cell's source."""
    lines = cell.source.splitlines()
    if cell.cell_type == "code":
        lines = _replace_regions(lines, find_regions(lines, CODE_BEGIN, CODE_END, where), _stub)
        lines = _replace_regions(lines, find_regions(lines, HIDDEN_BEGIN, HIDDEN_END, where), lambda _l, _i: [])
    else:
        lines = _replace_regions(lines, find_regions(lines, MD_BEGIN, MD_END, where), lambda _l, _i: [MD_STUB])
        # the handout has no benchmarks: a student reads the staff's tables, not a command to run
        lines = [STAFF_BENCH.sub(r"the course staff's \g<0>", line) for line in lines]
    return "\n".join(lines).rstrip()


STAFF_BENCH = re.compile(r"(?<!course staff's )`make bench ONLY=\w+`")


# The first line of a read-only cell in the student copy: JupyterLab silently ignores typing in a
# cell with editable=False, so the cell says why. Graders accept it (the student copy is a reference).
READ_ONLY_NOTES = {
    "check": "# \U0001f512 read-only check cell: run it to test your code above (it cannot be edited; graders restore it)",
    "locked": "# \U0001f512 read-only cell: run it as it is (it cannot be edited)",
}
MD_READ_ONLY_NOTE = "<sub>\U0001f512 read-only cell</sub>"


def _with_read_only_note(cell: nbformat.NotebookNode, kind: str) -> str:
    if cell.cell_type != "code":
        return cell.source + ("\n\n" if cell.source else "") + MD_READ_ONLY_NOTE
    lines = cell.source.split("\n") if cell.source else []
    at = 1 if lines and lines[0].startswith("%%") else 0  # a cell magic must stay the first line
    return "\n".join([*lines[:at], READ_ONLY_NOTES[kind], *lines[at:]])


def kernel_spec() -> dict:
    """The kernelspec of the course's kernel (ipykernel's python3) as JupyterLab writes it into a notebook."""
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    return {"display_name": spec["display_name"], "language": spec["language"], "name": KERNEL_NAME}


def kernel_language_info() -> dict:
    """The language_info the course's kernel (ipykernel, this interpreter) reports, as JupyterLab saves it."""
    from ipykernel.ipkernel import IPythonKernel

    return copy.deepcopy(IPythonKernel.language_info)


# Fields of language_info that name the interpreter or lexer version: they follow whoever generated
# the notebook, so a regeneration on another Python is not drift (see `_same_notebook`).
KERNEL_VERSION_FIELDS = (("version",), ("codemirror_mode", "version"))


def _without_kernel_versions(text: str) -> dict | str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    info = data.get("metadata", {}).get("language_info") if isinstance(data, dict) else None
    for path in KERNEL_VERSION_FIELDS if isinstance(info, dict) else ():
        holder = info
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    return data


def _same_notebook(current: str, generated: str) -> bool:
    """True when `current` is `generated` up to the kernel's version fields in language_info."""
    return current == generated or _without_kernel_versions(current) == _without_kernel_versions(generated)


def to_student(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Return the student version of a validated solution notebook."""
    validate(nb, name)
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        cell.source = student_source(cell, f"{name}, cell {index}")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        meta = cell_meta(cell)
        if meta and meta["kind"] in ("check", "locked"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
            cell.source = _with_read_only_note(cell, meta["kind"])
        if meta and meta["kind"] == "written":
            meta.pop("rubric", None)  # the grading rubric stays with the instructor
    # Only what the kernel needs (saved UI state would make regeneration depend on who last opened the
    # solution), with kernelspec and language_info exactly as the kernel reports them: JupyterLab writes
    # both into a notebook on opening, so anything else opens the notebook "modified".
    student.metadata = nbformat.from_dict({
        "kernelspec": kernel_spec(),
        "language_info": kernel_language_info(),
    })
    student.metadata["cs285lab"] = {"generated_from": f"solutions/{name}",
                                    "fingerprint": notebook_fingerprint(student.cells)}
    return student


def render(nb: nbformat.NotebookNode) -> str:
    """Serialize a notebook deterministically."""
    return nbformat.writes(nb, version=4) + "\n"


def _solutions(solutions: Path) -> list[Path]:
    if not solutions.is_dir():
        raise AuthoringError(f"{solutions}: no such folder")
    paths = sorted(solutions.glob("*.ipynb"))
    if not paths:
        raise AuthoringError(f"{solutions}: holds no .ipynb notebooks")
    return paths


def _holds_work(path: Path) -> bool:
    """True when a student notebook was edited since generation (its sources no longer match)."""
    try:
        existing = nbformat.read(path, as_version=4)
    except Exception:
        return True  # unreadable: not ours to throw away
    recorded = existing.metadata.get("cs285lab", {}).get("fingerprint")
    return recorded is None or recorded != notebook_fingerprint(existing.cells)


def _has_outputs(path: Path) -> bool:
    """True when a notebook holds run results (outputs or execution counts): a person ran it."""
    try:
        existing = nbformat.read(path, as_version=4)
    except Exception:
        return True
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
               for c in existing.cells)


def _backup(target: Path, out: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = out / ".backup" / f"{target.stem}.{stamp}.ipynb"
    n = 1
    while backup.exists():  # two runs within a second never share a backup
        n += 1
        backup = out / ".backup" / f"{target.stem}.{stamp}-{n}.ipynb"
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(target, backup)
    return backup


def generate(solutions: Path) -> dict[str, str]:
    """Map each student notebook's file name to its generated text (validates all first)."""
    return {path.name: render(to_student(read_notebook(path), path.name)) for path in _solutions(solutions)}


def make_students(solutions: Path, out: Path, force: bool = False, notes: list[str] | None = None,
                  previous: Path | None = None) -> list[Path]:
    """Regenerate `out/` from `solutions/`; return the paths written.

    With `previous` (the registry of earlier protected cells, see cs285lab.authoring.previous), the
    protected cells of each generated notebook being replaced are recorded there first, so that
    notebooks students saved from it still grade without their unchanged cells counting as edited.

    Nothing a person made is lost: a student notebook with edited cells is not overwritten
    unless `force`; one that only holds run outputs is regenerated. Either way the old file is
    first copied to out/.backup/, and a line naming both files is appended to `notes`.
    """
    generated = generate(solutions)  # all-or-nothing: a bad solution stops before any write
    written: list[Path] = []
    blocked = []
    notes = notes if notes is not None else []
    for name, text in generated.items():
        target = out / name
        if target.exists():
            if _same_notebook(target.read_text(encoding="utf-8"), text):
                continue  # in sync (a notebook generated on another Python is not rewritten for its version)
            edited = _holds_work(target)
            if edited and not force:
                blocked.append(target)
                continue
            if previous is not None and not edited:  # an edited copy is someone's work, not a released version
                from cs285lab.authoring.previous import remember

                remember(name, read_notebook(target), previous)
            if edited or _has_outputs(target):
                backup = _backup(target, out)
                what = "edited cells" if edited else "run outputs only"
                notes.append(f"{target}: had {what}; saved a copy as {backup} before regenerating it")
        write_atomic(target, text)
        written.append(target)
    if blocked:
        names = ", ".join(str(p) for p in blocked)
        done = f" (regenerated {', '.join(str(p) for p in written)})" if written else ""
        raise AuthoringError(f"{names}: edited since generation (someone's work); not overwritten. "
                             f"Move it away, or rerun with --force to keep a copy in .backup/ and regenerate{done}"
                             + "".join(f"; {n}" for n in notes))
    return written


def check_students(solutions: Path, out: Path) -> list[str]:
    """Describe every way `out/` differs from what generation would produce (empty: in sync)."""
    drift = []
    generated = generate(solutions)
    for name, text in generated.items():
        target = out / name
        if not target.exists():
            drift.append(f"{target}: missing")
            continue
        current = target.read_text(encoding="utf-8")
        if _same_notebook(current, text):
            continue
        want, have = nbformat.reads(text, as_version=4), nbformat.reads(current, as_version=4)
        if [(c.cell_type, c.source) for c in want.cells] == [(c.cell_type, c.source) for c in have.cells]:
            ran = any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
                      for c in have.cells)
            drift.append(f"{target}: " + ("outputs only (its cells were run; make-student backs it up before "
                                          "regenerating)" if ran else "metadata only"))
            continue
        cells = _differing_cells(want, have)
        drift.append(f"{target}: differs from {solutions / name}" + (f" in {cells}" if cells else " (metadata)"))
    for path in sorted(out.glob("*.ipynb")) if out.is_dir() else []:
        if path.name not in generated and _generated(path):
            drift.append(f"{path}: generated from a solution that no longer exists")
    return drift


def _generated(path: Path) -> bool:
    try:
        return "generated_from" in nbformat.read(path, as_version=4).metadata.get("cs285lab", {})
    except Exception:
        return False


def _differing_cells(want: nbformat.NotebookNode, have: nbformat.NotebookNode) -> str:
    def label(cell, index):
        meta = cell_meta(cell)
        return f"cell {index}" + (f" (id {meta['id']})" if meta else "")

    if len(want.cells) != len(have.cells):
        return f"cell count ({len(have.cells)} instead of {len(want.cells)})"
    diffs = [label(w, i) for i, (w, h) in enumerate(zip(want.cells, have.cells)) if w != h]
    return ", ".join(diffs[:5]) + (f" and {len(diffs) - 5} more" if len(diffs) > 5 else "")
