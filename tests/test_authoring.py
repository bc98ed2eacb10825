"""make-student: stubs, hidden tests, metadata, drift detection, clear errors, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cs285lab.authoring.student import (MD_READ_ONLY_NOTE, READ_ONLY_NOTES, AuthoringError, check_students,
                                        make_students, read_notebook, to_student)
from cs285lab.cli import main as cli

SOLUTION = '''def add(a, b):
    """Add two numbers."""
    ### BEGIN SOLUTION
    # HINT: use +
    secret_line = a + b
    return secret_line
    ### END SOLUTION'''
CHECK = '''assert add(1, 2) == 3
### BEGIN HIDDEN TESTS
assert add(-1, 1) == 0  # hidden
### END HIDDEN TESTS'''


def graded(cell, cell_id, kind, points=None):
    cell.metadata["cs285lab"] = {"id": cell_id, "kind": kind, **({"points": points} if points else {})}
    return cell


def course(tmp_path: Path, cells=None) -> tuple[Path, Path]:
    solutions, out = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    cells = cells or [
        new_markdown_cell("# Demo"),
        graded(new_code_cell("import math"), "setup", "locked"),
        graded(new_code_cell(SOLUTION, outputs=[], execution_count=3), "add", "solution"),
        graded(new_code_cell(CHECK), "check-add", "check", 2),
        graded(new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->\nBecause secret reasons.\n<!-- END SOLUTION -->"),
               "why", "solution"),
    ]
    nbformat.write(new_notebook(cells=cells), solutions / "01_demo.ipynb")
    return solutions, out


def test_student_copy_stubs_solutions_and_removes_hidden_tests(tmp_path):
    solutions, out = course(tmp_path)
    assert make_students(solutions, out) == [out / "01_demo.ipynb"]
    nb = read_notebook(out / "01_demo.ipynb")
    code = nb.cells[2].source
    assert "secret_line" not in code and "BEGIN SOLUTION" not in code
    assert '    raise NotImplementedError(\'use +\')' in code  # indented like the region, hint kept
    assert '"""Add two numbers."""' in code                   # signature and docstring stay
    check = nb.cells[3].source
    assert "hidden" not in check and "HIDDEN" not in check and "assert add(1, 2) == 3" in check
    assert "secret reasons" not in nb.cells[4].source and "_Write your answer here._" in nb.cells[4].source


def test_several_hints_become_separate_sentences_of_the_stub():
    from cs285lab.authoring.student import _stub

    lines = ["    # HINT: look at the mask", "    # HINT: tensors are float32.", "    x = 1"]
    assert _stub(lines, "    ")[1] == "    raise NotImplementedError('look at the mask. tensors are float32.')"
    assert _stub(lines[:1], "")[1] == "raise NotImplementedError('look at the mask')"   # one hint: as written


def test_student_copy_locks_check_and_locked_cells_and_clears_outputs(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    nb = read_notebook(out / "01_demo.ipynb")
    for index in (1, 3):
        assert nb.cells[index].metadata["editable"] is False and nb.cells[index].metadata["deletable"] is False
    assert "editable" not in nb.cells[2].metadata
    assert nb.cells[2].execution_count is None and nb.cells[2].outputs == []
    assert nb.cells[3].metadata["cs285lab"] == {"id": "check-add", "kind": "check", "points": 2}


def test_read_only_cells_say_so_in_their_first_line(tmp_path):
    magic = graded(new_code_cell("%%capture\nprint(1)"), "quiet", "locked")
    solutions, out = course(tmp_path)
    nb = read_notebook(solutions / "01_demo.ipynb")
    nb.cells.append(magic)
    nb.cells.append(graded(new_markdown_cell("Rules of the lab."), "rules", "locked"))
    nbformat.write(nb, solutions / "01_demo.ipynb")
    make_students(solutions, out)
    student = read_notebook(out / "01_demo.ipynb")
    assert student.cells[3].source.splitlines()[0] == READ_ONLY_NOTES["check"]
    assert student.cells[1].source == READ_ONLY_NOTES["locked"] + "\nimport math"
    assert student.cells[5].source.splitlines() == ["%%capture", READ_ONLY_NOTES["locked"], "print(1)"]
    assert student.cells[6].source.endswith(MD_READ_ONLY_NOTE)
    assert "read-only" not in student.cells[2].source  # the student's own cell is theirs


def test_a_notebook_with_only_run_outputs_is_backed_up_before_regeneration(tmp_path, capsys):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    target = out / "01_demo.ipynb"
    nb = read_notebook(target)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="an hour of training\n")]
    nb.cells[1].execution_count = 1
    nbformat.write(nb, target)
    assert check_students(solutions, out)[0].endswith("outputs only (its cells were run; make-student backs it "
                                                      "up before regenerating)")
    solution = read_notebook(solutions / "01_demo.ipynb")
    solution.cells[0].source = "# Demo v2"
    nbformat.write(solution, solutions / "01_demo.ipynb")
    drift = check_students(solutions, out)
    assert len(drift) == 1 and "differs from" in drift[0]
    notes: list[str] = []
    assert make_students(solutions, out, notes=notes) == [target]
    backups = list((out / ".backup").glob("01_demo.*.ipynb"))
    assert len(backups) == 1 and "an hour of training" in backups[0].read_text()
    assert notes == [f"{target}: had run outputs only; saved a copy as {backups[0]} before regenerating it"]
    assert "an hour of training" not in target.read_text() and "Demo v2" in target.read_text()
    # the command line says it too
    nb = read_notebook(target)
    nb.cells[1].execution_count = 4
    nbformat.write(nb, target)
    solution.cells[0].source = "# Demo v3"
    nbformat.write(solution, solutions / "01_demo.ipynb")
    assert cli(["make-student", "--solutions", str(solutions), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{target}: had run outputs only; saved a copy as" in printed and f"wrote {target}" in printed
    assert len(list((out / ".backup").glob("01_demo.*.ipynb"))) == 2


def test_check_says_outputs_only_when_only_outputs_differ(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    target = out / "01_demo.ipynb"
    nb = read_notebook(target)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, target)
    drift = check_students(solutions, out)
    assert drift == [f"{target}: outputs only (its cells were run; make-student backs it up before regenerating)"]
    nb.cells[1].outputs = []
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, target)
    assert check_students(solutions, out) == [f"{target}: metadata only"]


def test_stub_raises_not_implemented_with_hint(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    namespace: dict = {}
    exec(read_notebook(out / "01_demo.ipynb").cells[2].source, namespace)
    with pytest.raises(NotImplementedError, match="use \\+"):
        namespace["add"](1, 2)


def test_regeneration_is_idempotent_and_check_passes(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    assert make_students(solutions, out) == []
    assert check_students(solutions, out) == []


def test_check_names_drifting_notebook_and_cell(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    nb = read_notebook(solutions / "01_demo.ipynb")
    nb.cells[3].source = nb.cells[3].source.replace("== 3", "== 3.0")
    nbformat.write(nb, solutions / "01_demo.ipynb")
    drift = check_students(solutions, out)
    assert len(drift) == 1 and "01_demo.ipynb" in drift[0] and "check-add" in drift[0]
    (out / "01_demo.ipynb").unlink()
    assert "missing" in check_students(solutions, out)[0]


def test_cli_check_exit_code_says_what_to_run(tmp_path, capsys):
    solutions, out = course(tmp_path)
    args = ["make-student", "--solutions", str(solutions), "--out", str(out)]
    assert cli(args + ["--check"]) == 1
    assert "run: cs285lab make-student" in capsys.readouterr().err
    assert cli(args) == 0
    assert cli(args + ["--check"]) == 0


@pytest.mark.parametrize("mutate, message", [
    (lambda cells: cells[2].__setitem__("source", SOLUTION.replace("    ### END SOLUTION", "")), "never closed"),
    (lambda cells: cells[2].__setitem__("source", SOLUTION.replace("    ### BEGIN SOLUTION\n", "")), "without a matching"),
    (lambda cells: cells[3].metadata["cs285lab"].__setitem__("id", "add"), "duplicate cell id"),
    (lambda cells: cells[3].metadata["cs285lab"].pop("points"), "needs 'points'"),
    (lambda cells: cells[3].metadata["cs285lab"].__setitem__("points", -1), "needs 'points'"),
    (lambda cells: cells[1].metadata["cs285lab"].__setitem__("kind", "solutoin"), "kind 'solutoin'"),
    (lambda cells: cells[1].metadata["cs285lab"].__setitem__("points", 3), "only check cells carry points"),
    (lambda cells: cells[0].__setitem__("source", "<!-- BEGIN SOLUTION -->x<!-- END SOLUTION -->"), "no cs285lab metadata"),
    (lambda cells: cells[2].__setitem__("source", "x = 1"), "needs a '### BEGIN SOLUTION'"),
])
def test_bad_solution_gets_a_clear_error_naming_notebook_and_cell(tmp_path, mutate, message):
    solutions, out = course(tmp_path)
    nb = read_notebook(solutions / "01_demo.ipynb")
    mutate(nb.cells)
    nbformat.write(nb, solutions / "01_demo.ipynb")
    with pytest.raises(AuthoringError, match=message) as info:
        make_students(solutions, out)
    assert "01_demo.ipynb, cell" in str(info.value)
    assert not out.exists() or not list(out.iterdir())  # all-or-nothing: nothing written


def test_malformed_and_missing_notebooks(tmp_path, capsys):
    solutions, out = course(tmp_path)
    text = (solutions / "01_demo.ipynb").read_text()
    (solutions / "02_broken.ipynb").write_text(text[: len(text) // 2])
    with pytest.raises(AuthoringError, match="02_broken.ipynb: not a valid .ipynb"):
        make_students(solutions, out)
    (solutions / "02_broken.ipynb").write_text(json.dumps({"cells": "nope"}))
    with pytest.raises(AuthoringError, match="02_broken.ipynb: not a valid"):
        make_students(solutions, out)
    assert cli(["make-student", "--solutions", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_edited_student_notebook_is_not_overwritten_without_force(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    target = out / "01_demo.ipynb"
    nb = read_notebook(target)
    nb.cells[2].source = nb.cells[2].source.replace("raise NotImplementedError('use +')", "return a + b  # my work")
    nbformat.write(nb, target)
    solution = read_notebook(solutions / "01_demo.ipynb")
    solution.cells[0].source = "# Demo, revised"
    nbformat.write(solution, solutions / "01_demo.ipynb")
    other = solutions / "02_other.ipynb"
    other.write_text((solutions / "01_demo.ipynb").read_text())
    with pytest.raises(AuthoringError, match="edited since generation") as info:
        make_students(solutions, out)
    assert f"(regenerated {out / '02_other.ipynb'})" in str(info.value)  # names what it did write
    assert "my work" in target.read_text()
    make_students(solutions, out, force=True)
    backups = list((out / ".backup").glob("01_demo.*.ipynb"))
    assert len(backups) == 1 and "my work" in backups[0].read_text()
    assert "my work" not in target.read_text() and "revised" in target.read_text()


def test_untouched_student_notebook_is_replaced_when_the_solution_changes(tmp_path):
    solutions, out = course(tmp_path)
    make_students(solutions, out)
    solution = read_notebook(solutions / "01_demo.ipynb")
    solution.cells[0].source = "# Demo v2"
    nbformat.write(solution, solutions / "01_demo.ipynb")
    assert make_students(solutions, out) == [out / "01_demo.ipynb"]


def test_to_student_does_not_mutate_the_solution(tmp_path):
    solutions, _ = course(tmp_path)
    nb = read_notebook(solutions / "01_demo.ipynb")
    before = nbformat.writes(nb)
    to_student(nb, "01_demo.ipynb")
    assert nbformat.writes(nb) == before


def test_console_script_and_module_entry_point(tmp_path):
    solutions, out = course(tmp_path)
    result = subprocess.run([sys.executable, "-m", "cs285lab", "make-student", "--solutions", str(solutions),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (out / "01_demo.ipynb").exists()


def test_regeneration_remembers_the_protected_cells_it_replaces(tmp_path):
    import json

    from cs285lab.notebook_format import cell_fingerprint as fingerprint

    solutions, out = course(tmp_path)
    registry = tmp_path / "previous_cells.json"
    make_students(solutions, out, previous=registry)
    assert not registry.exists(), "a first generation replaces nothing"
    released = read_notebook(out / "01_demo.ipynb").cells[1].source
    nb = read_notebook(solutions / "01_demo.ipynb")
    nb.cells[1].source = "import math\nimport cmath"  # the locked cell changes in the next release
    nbformat.write(nb, solutions / "01_demo.ipynb")
    make_students(solutions, out, previous=registry)
    known = json.loads(registry.read_text())["01_demo.ipynb"]
    assert fingerprint(released) in known["setup"] and fingerprint(nb.cells[1].source) not in known["setup"]
    assert "add" not in known, "solution cells are the student's, not a released version"


def test_student_copy_carries_the_kernels_kernelspec_whatever_the_solution_says(tmp_path):
    """JupyterLab writes the kernel's kernelspec on opening: a solution saved under another display name
    ("Python 3", an older ipykernel) must not give students a notebook that opens modified."""
    from ipykernel.kernelspec import get_kernel_dict

    solutions, out = course(tmp_path)
    solution = solutions / "01_demo.ipynb"
    nb = read_notebook(solution)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, solution)
    make_students(solutions, out)
    spec = read_notebook(out / "01_demo.ipynb").metadata["kernelspec"]
    assert spec == {"display_name": get_kernel_dict()["display_name"], "language": "python", "name": "python3"}


def test_student_copy_carries_the_kernels_language_info_and_check_ignores_its_versions(tmp_path):
    """JupyterLab writes the kernel's language_info on opening: a generated notebook already holds it
    (so it opens unmodified), and a copy generated on another Python (other version fields) is in sync."""
    from ipykernel.ipkernel import IPythonKernel

    solutions, out = course(tmp_path)
    make_students(solutions, out)
    target = out / "01_demo.ipynb"
    assert read_notebook(target).metadata["language_info"] == IPythonKernel.language_info
    data = json.loads(target.read_text())
    data["metadata"]["language_info"]["version"] = "3.99.1"
    data["metadata"]["language_info"]["codemirror_mode"]["version"] = 4
    other_python = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    target.write_text(other_python)
    assert check_students(solutions, out) == []
    assert make_students(solutions, out) == [] and target.read_text() == other_python  # not rewritten
    data["metadata"]["language_info"]["name"] = "R"  # anything but the version fields still counts
    target.write_text(json.dumps(data))
    assert check_students(solutions, out) == [f"{target}: metadata only"]
    assert make_students(solutions, out) == [target]
