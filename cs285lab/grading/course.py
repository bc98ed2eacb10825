"""The course as the grader sees it: reference notebooks (checks, written questions, titles) and submitted files.

A `Reference` is read once per run from solutions/; a submitted notebook is read once, leniently
(`read_submission`), and matched to its reference (`match_reference`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cs285lab.authoring.student import read_notebook, to_student, validate
from cs285lab.notebook_format import MD_BEGIN, MD_END, cell_id, cell_meta, headings, region_text

CHECKED_NAME = re.compile(r"""load\(\s*["']\w+["']\s*\)\.(\w+)\(""")
DEFINED_NAME = re.compile(r"^(?:def|class)\s+(\w+)", re.MULTILINE)
CLAIM_MARKER = re.compile(r"[ \t]*<!--\s*claim:.*?-->", re.DOTALL)


class SubmissionError(ValueError):
    """A submitted file is not a usable notebook; the message is written for the student."""


@dataclass(frozen=True)
class Check:
    """One graded check cell of a reference notebook."""

    id: str
    points: float


@dataclass(frozen=True)
class Question:
    """A written answer cell of a reference notebook, graded by hand."""

    notebook: str
    id: str
    points: float
    question: str       # the markdown cell right before the answer cell (the prompt)
    reference: str      # the text of the solution region, without the notebook's claim markers
    rubric: tuple[str, ...]
    refers_to: tuple[str, ...] = ()  # cell ids whose outputs the answer discusses (metadata "refers_to")

    @property
    def stem(self) -> str:
        """The sheet's file name without extension."""
        return f"{Path(self.notebook).stem}-{self.id}"


@dataclass
class Reference:
    """A reference notebook: its solution version, student version and graded cells."""

    name: str
    path: Path
    solution: nbformat.NotebookNode
    student: nbformat.NotebookNode
    checks: list[Check]
    ids: list[str]
    questions: list[Question] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # check or question id -> what the notebook calls it
    title: str = ""  # the notebook's first heading

    @property
    def max_points(self) -> float:
        """Total points of the notebook's check cells."""
        return sum(c.points for c in self.checks)


def strip_claims(text: str) -> str:
    """Markdown without the notebook's `<!-- claim: ... -->` markers (they are for tests, not readers)."""
    return CLAIM_MARKER.sub("", text)


def _strings(value: object) -> tuple[str, ...]:
    """A metadata entry that is a list of strings, or one string, or absent."""
    if not value:
        return ()
    return tuple(str(item) for item in (value if isinstance(value, (list, tuple)) else [value]))


def _questions(name: str, cells: list[nbformat.NotebookNode]) -> list[Question]:
    found = []
    for index, cell in enumerate(cells):
        meta = cell_meta(cell)
        if not meta or meta.get("kind") != "written":
            continue
        reference = region_text(cell.source, MD_BEGIN, MD_END, f"{name} {meta['id']}")
        prompt = cells[index - 1].source.strip() if index > 0 and cells[index - 1].cell_type == "markdown" else ""
        found.append(Question(name, meta["id"], float(meta["points"]), strip_claims(prompt),
                              strip_claims(reference).strip(), _strings(meta.get("rubric")),
                              _strings(meta.get("refers_to"))))
    return found


def _titles(cells: list[nbformat.NotebookNode]) -> tuple[str, dict[str, str]]:
    """The notebook's title and, per check, solution or written cell, its section heading and its function."""
    title, section, titles = "", "", {}
    for cell in cells:
        if cell.cell_type == "markdown":
            for level, text in headings(cell.source):
                if level == 1 and not title:
                    title = text
                else:
                    section = text
        meta = cell_meta(cell)
        if not meta or meta.get("kind") not in ("check", "written", "solution"):
            continue
        name = section or title or meta["id"]
        if meta["kind"] == "written":
            titles[meta["id"]] = f"{name} (written answer)"
            continue
        found = (CHECKED_NAME if meta["kind"] == "check" else DEFINED_NAME).search(cell.source)
        what = f": `{found.group(1)}`" if found else ""
        titles[meta["id"]] = f"{name}{what}" + (" (your solution cell)" if meta["kind"] == "solution" else "")
    return title, titles


def load_references(solutions: Path) -> dict[str, Reference]:
    """Read and validate every reference notebook in `solutions/` (AuthoringError when malformed)."""
    refs = {}
    for path in sorted(solutions.glob("*.ipynb")):
        solution = read_notebook(path)
        validate(solution, path.name)
        student = to_student(solution, path.name)
        checks, ids = [], []
        for cell in solution.cells:
            meta = cell_meta(cell)
            if meta:
                ids.append(meta["id"])
                if meta["kind"] == "check":
                    checks.append(Check(meta["id"], float(meta["points"])))
        title, titles = _titles(solution.cells)
        refs[path.name] = Reference(path.name, path, solution, student, checks, ids,
                                    _questions(path.name, solution.cells), titles, title)
    return refs


def read_submission(path: Path, keep_outputs: bool = False) -> nbformat.NotebookNode:
    """Read a submitted notebook leniently (any Jupyter's output), or raise SubmissionError.

    Outputs are dropped unless `keep_outputs`: the grader runs the sources, and a class of notebooks
    with their figures would not fit in memory.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path.name} is not a text file; submit the .ipynb that Jupyter saves") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path.name} is not a valid notebook: its JSON is broken ({exc.msg} at line "
                              f"{exc.lineno}); the file was probably cut off or edited by hand. Open it in "
                              "Jupyter, save it, and submit it again") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionError(f"{path.name} is JSON but not a notebook (no list of cells)")
    if not keep_outputs:
        for cell in raw["cells"]:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"] = []
        text = json.dumps(raw)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for odd files
        raise SubmissionError(f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})") from None
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
            raise SubmissionError(f"{path.name}: cell {index} is malformed (no cell_type or source)")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
    return nb


def match_reference(path: Path, nb: nbformat.NotebookNode | None, refs: dict[str, Reference]) -> str | None:
    """Which reference a submitted notebook answers: recorded origin, file name, then shared cell ids."""
    if nb is not None:
        origin = nb.metadata.get("cs285lab", {}) if isinstance(nb.metadata.get("cs285lab"), dict) else {}
        generated = Path(str(origin.get("generated_from", ""))).name
        if generated in refs:
            return generated
    if path.name in refs:
        return path.name
    stems = [name for name in refs if Path(name).stem in path.stem]
    if stems:
        return max(stems, key=len)
    if nb is not None:
        ids = {cell_id(c) for c in nb.cells} - {None}
        overlap = {name: len(ids & set(ref.ids)) for name, ref in refs.items()}
        best = max(overlap, key=lambda name: (overlap[name], name), default=None)
        if best is not None and overlap[best] > 0:
            return best
    return None
