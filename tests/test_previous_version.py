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


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """Grade the previous release's notebooks as one student's submission; return the rows of grades.csv."""
    assert len(NOTEBOOKS) == 6, f"expected the six notebooks of the previous release in {FIXTURES}"
    base = tmp_path_factory.mktemp("previous")
    submissions = base / "submissions" / "previous-release"
    submissions.mkdir(parents=True)
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, submissions / notebook.name)
    env = {**os.environ, "CS285LAB_PROFILE": "ci"}
    done = subprocess.run([sys.executable, "-m", "cs285lab", "grade", str(base / "submissions"), "--out",
                           str(base / "out"), "--layout", "class", "-j", "1", "--sandbox", "auto",
                           "--notebook-timeout", "900"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"the grader failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    with open(base / "out" / "grades.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_check_of_the_previous_release_passes(graded: list[dict[str, str]]) -> None:
    checks = [row for row in graded if row["status"] != "pending"]  # pending: written answers, graded by hand
    assert len({row["notebook"] for row in checks}) == 6, f"not every notebook was graded: {graded}"
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
