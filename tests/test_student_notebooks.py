"""Student notebooks (like `nbgrader validate --invert`): they fail at their stubs and nowhere else,
and carry no solution code. Solutions keep only the outputs nbval compares."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from test_release import HANDOUTS
from cs285lab.authoring.outputs import is_checked
from cs285lab.authoring.student import CODE_BEGIN, CODE_END, HINT, MD_BEGIN, MD_END, cell_meta, find_regions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUB_ERRORS = {"NotImplementedError"}
# A student copy runs on the first of the release test's handouts that holds its notebook: a later handout stubs
# less of the package, so a notebook that reaches its stubs there reaches them on every later handout and on the
# whole package too.


def solution_lines(nb: nbformat.NotebookNode) -> tuple[list[list[str]], set[str]]:
    """The bodies of all solution regions, and every line that appears outside them."""
    regions, outside = [], set()
    for cell in nb.cells:
        lines = cell.source.splitlines()
        begin, end = (CODE_BEGIN, CODE_END) if cell.cell_type == "code" else (MD_BEGIN, MD_END)
        inside = set()
        for region in find_regions(lines, begin, end, "solution") if cell_meta(cell) else []:
            body = [line for line in lines[region.begin + 1:region.end] if not HINT.match(line)]
            regions.append(body)
            inside.update(range(region.begin, region.end + 1))
        outside.update(line.strip() for i, line in enumerate(lines) if i not in inside)
    return regions, outside


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_store_only_checked_outputs(solution):
    nb = nbformat.read(solution, as_version=4)
    assert any((cell_meta(c) or {}).get("kind") == "check" for c in nb.cells), f"{solution.name} has no check cell"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.outputs and not is_checked(cell):
            pytest.fail(f"{solution.name} cell {index} stores outputs; solutions keep only cells tagged "
                        "nbval-check-output (run: cs285lab refresh-outputs solutions/<notebook>)")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_student_copy_leaks_no_solution_code(solution):
    student_text = (ROOT / "notebooks" / solution.name).read_text()
    student = "\n".join(c.source for c in nbformat.reads(student_text, as_version=4).cells)
    student_lines = {line.strip() for line in student.splitlines()}
    regions, outside = solution_lines(nbformat.read(solution, as_version=4))
    for body in regions:
        code = [line.strip() for line in body if line.strip() and not line.strip().startswith("#")]
        assert "\n".join(body).strip() not in student or not code, f"a solution region leaked into the student {solution.name}"
        for line in code:
            if len(line) >= 25 and line not in outside:
                assert line not in student_lines, f"solution line leaked into the student {solution.name}: {line!r}"


def top_level_names(source: str) -> set[str]:
    """The names a cell binds at the top level (defs, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_run_or_plot_cell_rebinds_an_exercises_name(solution):
    # A later cell that rebinds `q_target` would replace the student's answer before its check runs (and the
    # test below, which skips such cells after the first stub, would not see it).
    nb = nbformat.read(ROOT / "notebooks" / solution.name, as_version=4)
    exercises = set().union(*(top_level_names(c.source) for c in nb.cells
                              if c.cell_type == "code" and (cell_meta(c) or {}).get("kind") == "solution"))
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not cell_meta(cell):
            clash = top_level_names(cell.source) & exercises
            assert not clash, f"{solution.name} cell {index} rebinds the exercise name(s) {sorted(clash)}"


def _first_handout(name: str, base: Path) -> Path | None:
    """The first handout holding notebook `name`, built in `base` (None: no handout stubs anything it may use)."""
    from cs285lab.authoring.release import build_release

    through = next((n for n in HANDOUTS if int(name[:2]) <= n), None)
    return None if through is None else build_release(ROOT, through, base / f"through{through:02d}").out


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_student_copy_fails_only_at_its_stubs(solution, tmp_path, monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "smoke")  # runs every cell at a few hundred steps; judges no learning
    handout = _first_handout(solution.name, tmp_path / "release")
    package = ROOT / "cs285lab"
    if handout is not None:  # the handout's package, stubs and all: the kernel imports it
        handed_out = (handout / "notebooks" / solution.name).read_bytes()
        assert handed_out == (ROOT / "notebooks" / solution.name).read_bytes(), (
            f"{handout.name} hands out a {solution.name} that differs from notebooks/")
        monkeypatch.setenv("PYTHONPATH", str(handout))
        package = handout / "cs285lab"
    student = tmp_path / solution.name
    shutil.copy(ROOT / "notebooks" / solution.name, student)  # run in a scratch dir: runs/ lands there
    nb = nbformat.read(student, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})

    def error(cell):
        return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)

    # After the first stub, what is left to see is every check failing at a stub. The runs and plots in between
    # (unlabelled cells) are the solutions' own, which nbval runs at ci: they are skipped, unless a check fails
    # otherwise than at a stub; then every cell from the first one skipped runs again in order, the check last,
    # as in a run of every cell.
    stubbed, first_skipped = False, None
    with client.setup_kernel():
        where = nbformat.v4.new_code_cell("import pathlib, cs285lab\nprint(pathlib.Path(cs285lab.__file__).parent)")
        client.execute_cell(where, -1)
        imported = "".join(o.get("text", "") for o in where.outputs).strip()
        assert imported == str(package), f"the kernel imported cs285lab from {imported!r}, not from {package}"
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell_meta(cell) or {}
            if stubbed and not meta:
                first_skipped = index if first_skipped is None else first_skipped
                continue
            client.execute_cell(cell, index)
            err = error(cell)
            if meta.get("kind") == "check" and first_skipped is not None and (err is None or err.ename not in STUB_ERRORS):
                for earlier in range(first_skipped, index + 1):
                    if nb.cells[earlier].cell_type == "code":
                        client.execute_cell(nb.cells[earlier], earlier)
                first_skipped = None
                err = error(cell)
            where = f"{solution.name} cell {index} ({meta.get('id', 'no id')})"
            if err is not None and not stubbed:
                assert err.ename in STUB_ERRORS, (
                    f"{where} raised {err.ename}: {err.evalue} before any stub was reached; the student copy "
                    "must run cleanly up to the first exercise")
                stubbed = True
            if meta.get("kind") == "check":
                assert err is not None, f"{where}: the check passed on the blank student copy; it checks nothing"
                # A check on a stub raises NotImplementedError; a NameError is accepted only when the
                # exercise itself is a top-level stub that never defined the name.
                assert err.ename in STUB_ERRORS or (err.ename == "NameError" and stubbed), (
                    f"{where} failed with {err.ename}: {err.evalue} instead of the stub's NotImplementedError")
    assert stubbed, f"{solution.name}: the student copy ran without reaching a stub"


def test_a_handout_names_make_bench_only_as_the_course_staffs_benchmark():
    # the handout has no benchmarks/ and no bench target: the student reads the staff's tables
    from cs285lab.authoring.student import student_source

    cell = nbformat.v4.new_markdown_cell("Seen in `make bench ONLY=mbpo` (three seeds).")
    assert student_source(cell, "test") == "Seen in the course staff's `make bench ONLY=mbpo` (three seeds)."
    assert student_source(nbformat.v4.new_markdown_cell(student_source(cell, "test")), "test") == \
        student_source(cell, "test")  # regenerating does not repeat it
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for text in (c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"):
            bare = re.findall(r"(?<!course staff's )`make bench", text)
            assert not bare, f"{path.name}: a `make bench` a student cannot run: {text[:200]}"
