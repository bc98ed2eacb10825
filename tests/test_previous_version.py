"""A notebook a student saved from the previous release still grades, every check passing.

tests/fixtures/previous_version/ holds the student notebooks of the release before the package was
restructured (issue #12), with every answer filled in from that release's reference solutions and no
outputs. Students keep the notebook they started: its unlabelled cells (training runs, plots) run as
they were written then, against today's package and today's check cells. So old import paths, call
signatures, budget keys and history columns must keep working, and the check and locked cells of that
release must not be reported as edited (cs285lab/data/previous_cells.json knows them).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "previous_version"
NOTEBOOKS = sorted(FIXTURES.glob("*.ipynb"))


def test_the_six_notebooks_of_the_previous_release_are_here() -> None:
    assert [p.name for p in NOTEBOOKS] == sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")), (
        f"expected the six notebooks of the previous release in {FIXTURES}")


@pytest.fixture(scope="module", params=[p.name for p in NOTEBOOKS], ids=[p.stem for p in NOTEBOOKS])
def graded(request, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """Grade one notebook of the previous release as one student's submission; return the rows of grades.csv.

    One grading run per notebook (not one for all six): each is a work unit of its own under `make test`
    (tests/conftest.py SPLIT), so the six spread over the workers instead of holding one for minutes.
    """
    notebook = request.param
    base = tmp_path_factory.mktemp("previous")
    submissions = base / "submissions" / "previous-release"
    submissions.mkdir(parents=True)
    shutil.copy(FIXTURES / notebook, submissions / notebook)
    # smoke: every cell runs against today's package at a few hundred steps; learning is judged by the
    # solutions' own nbval run at ci, not here (cs285lab/budgets/__init__.py)
    env = {**os.environ, "CS285LAB_PROFILE": "smoke"}
    done = subprocess.run([sys.executable, "-m", "cs285lab", "grade", str(base / "submissions"), "--out",
                           str(base / "out"), "--layout", "class", "-j", "1", "--sandbox", "auto", "--profile", "smoke",
                           "--notebook-timeout", "900", "--notebook", notebook],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"the grader failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    with open(base / "out" / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["notebook"] for row in rows} == {notebook}, f"graded something else than {notebook}: {rows}"
    return rows


def test_every_check_of_the_previous_release_passes(graded: list[dict[str, str]]) -> None:
    checks = [row for row in graded if row["status"] != "pending"]  # pending: written answers, graded by hand
    assert checks, f"no check of the notebook was graded: {graded}"
    failed = [f"{row['notebook']} {row['exercise']}: {row['status']} {row['message'][:300]}"
              for row in checks if row["status"] != "passed"]
    assert not failed, "a notebook saved from the previous release no longer grades:\n" + "\n".join(failed)


def test_no_cell_of_the_previous_release_counts_as_edited(graded: list[dict[str, str]]) -> None:
    flagged = [f"{row['notebook']} {row['exercise']}: {row['message'][:200]}" for row in graded
               if "tampered" in row["status"] or "edited" in row["message"]]
    assert not flagged, "unchanged cells of the previous release were reported as edited:\n" + "\n".join(flagged)


def test_earlier_versions_are_accepted_but_other_edits_are_still_reported(tmp_path: Path) -> None:
    from cs285lab.authoring.previous import accepted
    from cs285lab.authoring.student import cell_meta, read_notebook
    from cs285lab.grading.assemble import assemble, load_references

    references = load_references(ROOT / "solutions")
    for fixture in NOTEBOOKS:
        ref = references[fixture.name]
        saved = read_notebook(fixture)
        assert assemble(saved, ref, tmp_path).protected == {}, f"{fixture.name}: an unchanged cell was flagged"
        known = accepted(fixture.name)
        locked = next(c for c in saved.cells if (cell_meta(c) or {}).get("kind") in ("locked", "check"))
        cid = cell_meta(locked)["id"]
        assert cid in known, f"{fixture.name}: cs285lab/data/previous_cells.json does not know {cid}"
        locked.source += "\nprint('my own change')"
        assert assemble(saved, ref, tmp_path).protected[cid][0] == "tampered", (
            f"{fixture.name}: an edit no release had was not reported")
