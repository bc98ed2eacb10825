"""Written answers graded by hand: one sheet per question, merged everywhere, the instructor's file never touched."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest

import tinyclass
from cs285lab.grading.manual import answer_id

SHEET = f"manual/{Path(tinyclass.NOTEBOOK).stem}-{tinyclass.QUESTION}.csv"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _regrade(solutions: Path, klass: Path, out: Path, capsys, *extra: str) -> tuple[int, str]:
    """Re-run the grade command in this process (the class is cached: no kernel unless a notebook changed)."""
    from cs285lab.grading import cli

    capsys.readouterr()
    code = cli.main([str(klass), "--out", str(out), "--solutions", str(solutions), "--layout", "class",
                     "--sandbox", "auto", *extra])
    return code, capsys.readouterr().err


def _answer_row(out: Path, student: str) -> dict:
    return next(r for r in _rows(out / "grades.csv") if r["submission"] == student
                and r["exercise"] == tinyclass.QUESTION)


@pytest.fixture
def graded(tmp_path_factory, tmp_path):
    """A private copy of the tiny class, graded once per session (re-grading the copy runs no kernel)."""
    root = tinyclass.copy_of(tinyclass.graded(tmp_path_factory), tmp_path / "tiny")
    return root / "solutions", root / "class", root / "out"


@pytest.mark.slow
def test_first_grading_writes_one_sheet_per_question(tmp_path_factory):
    out = tinyclass.graded(tmp_path_factory) / "out"
    sheet = _rows(out / SHEET)
    assert [r["submission"] for r in sheet] == ["alice", "bob", "dave"], "carol left the answer blank"
    assert all(r["points"] == "" and r["max_points"] == "2" for r in sheet)
    alice = tinyclass.CLASS["alice"][2]
    assert sheet[0]["answer"] == alice and sheet[0]["answer_id"] == answer_id(alice)
    assert sorted(p.name for p in (out / "manual").iterdir()) == [Path(SHEET).name]
    assert _answer_row(out, "alice")["status"] == "pending"
    assert _answer_row(out, "carol")["status"] == "missing"
    flags = [(r["submission"], r["exercise"]) for r in _rows(out / "grades.csv") if r["status"] == "flagged"]
    assert flags == [("dave", "nb04-epsilon-greedy")], "dave imported the package's epsilon_greedy"
    assert "cs285lab.algos.dyna.epsilon_greedy" in (out / "feedback" / "dave.md").read_text()


@pytest.mark.slow
def test_filled_sheet_is_merged_everywhere_and_left_untouched(graded, tmp_path, capsys):
    solutions, klass, out = graded
    sheet = _rows(out / SHEET)
    scores = {"alice": ("2", "names both reasons"), "bob": ("0.5", "vague"), "dave": ("", "")}
    for row in sheet:
        row["points"], row["comment"] = scores[row["submission"]]
    with open(out / SHEET, "w", newline="", encoding="utf-8") as handle:  # what a spreadsheet would save
        writer = csv.DictWriter(handle, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    typed = (out / SHEET).read_bytes()

    code, err = _regrade(solutions, klass, out, capsys)
    assert code == 0, err
    assert (out / SHEET).read_bytes() == typed, "the instructor's sheet was rewritten"
    assert sorted(p.name for p in (out / "manual").glob("*.csv")) == [Path(SHEET).name], "no new sheet needed"

    alice, bob, dave = (_answer_row(out, s) for s in ("alice", "bob", "dave"))
    assert (alice["status"], alice["points"], alice["message"]) == ("graded", "2", "names both reasons")
    assert (bob["status"], bob["points"]) == ("graded", "0.5")
    assert dave["status"] == "pending"
    summary = {r["submission"]: r for r in _rows(out / "summary.csv")}
    assert summary["alice"]["points"] == "6" and summary["alice"]["max_points"] == "6"
    assert summary["bob"]["points"] == "0.5"
    feedback = (out / "feedback" / "alice.md").read_text()
    assert "(written answer)" in feedback and "names both reasons" in feedback and "6 / 6" in feedback
    assert "- ✎ " in feedback and "- - " not in feedback, "every status has its own mark"
    book = {r["student"]: r for r in _rows(out / "gradebook.csv")}
    assert (book["alice"]["written"], book["alice"]["total"], book["alice"]["status"]) == ("2", "6", "complete")
    assert book["alice"]["comments"] == f"{tinyclass.QUESTION}: names both reasons"
    assert book["dave"]["status"] == "1 written answer(s) pending"

    # Gradescope's results for one student carry the hand-graded points too.
    gs_out = tmp_path / "gs"
    shutil.copytree(out, gs_out)
    gs = tmp_path / "results.json"
    from cs285lab.grading import cli

    assert cli.main([str(klass / "alice"), "--out", str(gs_out), "--solutions", str(solutions), "--layout", "student",
                     "--sandbox", "auto", "--gradescope", str(gs)]) == 0
    results = json.loads(gs.read_text())
    written = next(t for t in results["tests"] if "(written answer)" in t["name"])
    assert written["score"] == 2 and written["max_score"] == 2
    assert results["score"] == 6


@pytest.mark.slow
def test_changed_answer_and_bad_score_stay_pending_and_go_to_a_new_sheet(graded, capsys):
    solutions, klass, out = graded
    rows = _rows(out / SHEET)
    scores = {"alice": "2", "bob": "0.5", "dave": "7"}  # dave's is above the question's 2 points
    for row in rows:
        row["points"] = scores[row["submission"]]
    with open(out / SHEET, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    typed = (out / SHEET).read_bytes()
    path = klass / "bob" / tinyclass.NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if (c.metadata.get("cs285lab") or {}).get("id") == tinyclass.QUESTION)
    cell.source = "Because all Q values start at 0 and argmax picks the first."
    nbformat.write(nb, path)

    code, err = _regrade(solutions, klass, out, capsys)
    assert code == 0, err
    assert (out / SHEET).read_bytes() == typed
    assert f"{Path(SHEET).name} row 4: points '7' is not a number from 0 to 2" in err, err
    assert _answer_row(out, "bob")["status"] == "pending", "a score belongs to the answer it was given to"
    assert _answer_row(out, "dave")["status"] == "pending"
    assert _answer_row(out, "alice")["status"] == "graded"
    second = out / SHEET.replace(".csv", ".2.csv")
    assert [r["submission"] for r in _rows(second)] == ["bob"]
    assert _rows(second)[0]["answer"].startswith("Because all Q values")


def test_student_copy_keeps_the_points_but_not_the_rubric():
    from cs285lab.authoring.student import to_student

    student = to_student(tinyclass.reference(), tinyclass.NOTEBOOK)
    cell = next(c for c in student.cells if (c.metadata.get("cs285lab") or {}).get("id") == tinyclass.QUESTION)
    assert cell.metadata["cs285lab"] == {"id": tinyclass.QUESTION, "kind": "written", "points": 2}
    assert "argmax always picks" not in cell.source and "Write your answer here" in cell.source


def test_sheet_cells_cannot_become_spreadsheet_formulas(tmp_path):
    from cs285lab.grading.course import Question
    from cs285lab.grading.manual import _sheet_text, read_sheets

    question = Question("01_x.ipynb", "nb01-a", 2.0, "", "", ())
    text = _sheet_text(question, [("=bob", "=HYPERLINK(\"http://x\")"), ("ann", "plain")])
    rows = list(csv.DictReader(text.splitlines()))
    assert rows[0]["submission"] == "'=bob" and rows[0]["answer"].startswith("'=HYPERLINK")
    assert rows[0]["answer_id"] == answer_id("=HYPERLINK(\"http://x\")"), "the id is of the student's own text"
    rows[0]["points"] = "1"
    (tmp_path / "01_x-nb01-a.csv").write_text(
        "submission,points,answer_id\n" + f"{rows[0]['submission']},1,{rows[0]['answer_id']}\n", encoding="utf-8")
    assert read_sheets(tmp_path, question).scores[("=bob", rows[0]["answer_id"])].points == 1.0
