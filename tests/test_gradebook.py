"""The instructor's records, on synthetic grade rows (no kernel): gradebook, LMS export, roster, late policy,
overrides, the zips of `make submit`, and the merge's refusals."""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cs285lab.grading.gradebook import Roster, RosterError, canvas_rows, gradebook_rows
from cs285lab.grading.late import LatePolicy, PolicyError, load_policy, submitted_at
from cs285lab.grading.merge import MergeError, check
from cs285lab.grading.overrides import apply_overrides, read_overrides, report_unused
from cs285lab.grading.tables import Tables
from cs285lab.grading.unpack import UnpackError, student_key, unpack
from cs285lab.grading.verdict import Row

A, B = "00_a.ipynb", "01_b.ipynb"


def _grade(student: str, notebook: str, exercise: str, status: str, points: float, most: float,
           kind: str = "check", message: str = "") -> dict:
    return {"submission": student, "notebook": notebook, "exercise": exercise, "kind": kind, "status": status,
            "points": f"{points:g}", "max_points": f"{most:g}", "message": message, "title": "", "path": ""}


def _tables() -> Tables:
    grades = [
        _grade("ann", A, "a-check", "passed", 2, 2), _grade("ann", B, "b-check", "passed", 3, 3),
        _grade("ann", B, "b-answer", "graded", 1.5, 2, "written", "clear, one reason missing"),
        _grade("ben", A, "a-check", "failed", 0, 2), _grade("ben", B, "b-check", "passed", 3, 3),
        _grade("ben", B, "b-answer", "pending", 0, 2, "written", "written answer: waiting for hand grading"),
        _grade("ben", B, "b-flag", "flagged", 0, 0, "flag"),
        _grade("stray.ipynb", "stray.ipynb", "", "error", 0, 0, "file", "not a course notebook"),
    ]
    summary = [
        {"submission": "ann", "notebook": A, "points": "2", "max_points": "2", "pending": "0", "late_penalty": "0"},
        {"submission": "ann", "notebook": B, "points": "4.5", "max_points": "5", "pending": "0", "late_penalty": "1"},
        {"submission": "ben", "notebook": A, "points": "0", "max_points": "2", "pending": "0", "late_penalty": "0"},
        {"submission": "ben", "notebook": B, "points": "3", "max_points": "5", "pending": "1", "late_penalty": "0"},
        {"submission": "stray.ipynb", "notebook": "stray.ipynb", "points": "0", "max_points": "0", "pending": "0",
         "late_penalty": "0"},
    ]
    return Tables(grades, summary, [])


def _roster(tmp_path: Path, text: str) -> Roster:
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    return Roster.read(tmp_path / "roster.csv")


def test_gradebook_has_a_row_per_student_a_column_per_notebook_and_written_apart(tmp_path):
    columns, rows = gradebook_rows(_tables())
    assert columns == ["student", "name", "00_a", "01_b", "written", "late_penalty", "total", "max_points",
                       "pending", "status", "comments"]
    book = {r["student"]: r for r in rows}
    assert set(book) == {"ann", "ben", "stray.ipynb"}
    assert (book["stray.ipynb"]["total"], book["stray.ipynb"]["status"]) == ("0", "nothing gradable was found")
    ann, ben = book["ann"], book["ben"]
    assert (ann["00_a"], ann["01_b"], ann["written"], ann["late_penalty"], ann["total"]) == ("2", "3", "1.5", "1", "5.5")
    assert ann["status"] == "complete" and ann["comments"] == "b-answer: clear, one reason missing"
    assert (ben["total"], ben["pending"], ben["status"]) == ("3", "1", "1 written answer(s) pending")
    assert ben["max_points"] == "7"


def test_roster_students_without_a_submission_appear_and_strangers_are_named(tmp_path):
    roster = _roster(tmp_path, "\ufeffstudent,name,id,sis_user_id\nann,Ann A,11,A1\ncleo,Cleo C,13,C3\n")
    _, rows = gradebook_rows(_tables(), roster)
    book = {r["student"]: r for r in rows}
    assert book["cleo"]["status"] == "no submission" and book["cleo"]["total"] == "0" and book["cleo"]["name"] == "Cleo C"
    assert book["ben"]["status"].endswith("not on the roster")
    assert book["ann"]["name"] == "Ann A"
    with pytest.raises(RosterError, match="no `student` column"):
        _roster(tmp_path, "name\nAnn\n")
    with pytest.raises(RosterError, match="listed twice"):
        _roster(tmp_path, "student\nann\nann\n")


def test_canvas_export_leaves_pending_notebooks_blank_not_zero(tmp_path):
    roster = _roster(tmp_path, "student,name,id,sis_user_id,sis_login_id,section\nann,Ann A,11,A1,ann@x,S1\n")
    columns, rows = canvas_rows(_tables(), roster)
    assert columns[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and columns[5:] == ["00_a", "01_b"]
    assert rows[0]["Student"].strip() == "Points Possible" and (rows[0]["00_a"], rows[0]["01_b"]) == ("2", "5")
    by_name = {r["Student"]: r for r in rows[1:]}
    assert by_name["Ann A"]["ID"] == "11" and by_name["Ann A"]["01_b"] == "3.5", "4.5 earned, 1 late penalty"
    assert by_name["ben"]["01_b"] == "" and by_name["ben"]["00_a"] == "0", "pending: no score yet, not 0"


POLICY = """\
grace_minutes = 10
penalty_per_day = 0.2
max_penalty = 0.5
timezone = "Europe/Paris"

[deadlines]
"00" = 2026-09-10T23:59:00+02:00
"01_b" = "2026-09-24 23:59"

[students.ann]
extension_days = 2

[students.ben]
penalty_per_day = 0
deadlines = { "00" = 2026-09-12T12:00:00+00:00 }
"""


def test_late_policy_deadlines_extensions_and_penalties(tmp_path):
    (tmp_path / "late.toml").write_text(POLICY)
    policy = load_policy(tmp_path / "late.toml")
    due = datetime(2026, 9, 10, 21, 59, tzinfo=timezone.utc)
    assert policy.deadline("cleo", A) == due
    assert policy.deadline("cleo", B) == datetime(2026, 9, 24, 21, 59, tzinfo=timezone.utc), "Paris time, summer"
    assert policy.lateness("cleo", A, due + timedelta(minutes=9)).days_late == 0, "within the grace period"
    late = policy.lateness("cleo", A, due + timedelta(minutes=11))
    assert (late.days_late, late.share) == (1, 0.2)
    assert late.penalty(points=8, max_points=10) == 2.0
    assert late.penalty(points=1, max_points=10) == 1.0, "never below zero points"
    assert policy.lateness("cleo", A, due + timedelta(days=4)).share == 0.5, "capped at max_penalty"
    assert policy.lateness("ann", A, due + timedelta(days=1, hours=23)).days_late == 0, "ann's two-day extension"
    assert policy.lateness("ann", A, due + timedelta(days=2, hours=1)).days_late == 1
    ben = policy.lateness("ben", A, datetime(2026, 9, 13, tzinfo=timezone.utc))
    assert ben.deadline == datetime(2026, 9, 12, 12, tzinfo=timezone.utc) and ben.days_late == 1 and ben.share == 0
    assert policy.lateness("cleo", "05_other.ipynb", due + timedelta(days=9)).days_late == 0, "no deadline, never late"
    assert LatePolicy().lateness("x", A, None).share == 0


@pytest.mark.parametrize("text, words", [
    ("penalty = 1\n", "unknown setting(s) penalty"),
    ("penalty_per_day = -1\n", "penalty_per_day must be a number >= 0"),
    ('timezone = "Mars/Olympus"\n', "is not a time zone name"),
    ('[deadlines]\n"00" = "next friday"\n', "deadlines.00: 'next friday' is not a date and time"),
    ("[students.ann]\nextension = 2\n", "students.ann: use only"),
    ("penalty_per_day = \n", "not valid TOML"),
])
def test_a_malformed_late_policy_is_named(tmp_path, text, words):
    (tmp_path / "late.toml").write_text(text)
    with pytest.raises(PolicyError, match=re.escape(words)):
        load_policy(tmp_path / "late.toml")


def test_submission_time_comes_from_the_unpacked_stamp_else_the_file(tmp_path):
    nb = tmp_path / "ann" / A
    nb.parent.mkdir()
    nb.write_text("{}")
    os.utime(nb, (1_000_000_000, 1_000_000_000))
    assert submitted_at(nb, nb.parent) == datetime.fromtimestamp(1_000_000_000, tz=timezone.utc)
    (nb.parent / ".submitted").write_text("2026-09-11T08:00:00+00:00\n")
    assert submitted_at(nb, nb.parent) == datetime(2026, 9, 11, 8, tzinfo=timezone.utc)


def test_overrides_replace_points_with_a_reason_and_report_what_matched_nothing(tmp_path):
    (tmp_path / "overrides.csv").write_text(
        "submission,notebook,exercise,points,reason\n"
        "ben,00,a-check,1,regrade: the check was too strict\n"
        "ben,01_b,b-check,9,too many points\n"
        "ann,01,nope,1,a typo in the id\n"
        "ann,01,b-check,2,\n"
        "ann,01,b-check,two,not a number\n")
    stream = io.StringIO()
    overrides = read_overrides(tmp_path / "overrides.csv", stream)
    assert len(overrides) == 3, stream.getvalue()
    assert "needs a reason" in stream.getvalue() and "'two' is not a number" in stream.getvalue()
    rows = [Row("ben", A, "a-check", 0.0, 2.0, "failed", "CheckFailed: wrong sign"),
            Row("ben", B, "b-check", 3.0, 3.0, "passed", "ok")]
    used: set[str] = set()
    out = apply_overrides(rows, overrides, used, stream)
    assert (out[0].points, out[0].status) == (1.0, "overridden")
    assert "regrade: the check was too strict" in out[0].message and "failed, 0 / 2" in out[0].message
    assert (out[1].points, out[1].status) == (3.0, "passed"), "9 is more than the check's 3 points: ignored"
    assert "outside 0..3" in stream.getvalue()
    assert rows[0].status == "failed", "the grader's rows are not changed in place"
    unused = report_unused(overrides, used, stream)
    assert [o.exercise for o in unused] == ["nope"] and "override not applied" in stream.getvalue()


def _zip(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_unpack_makes_one_folder_per_student_and_trusts_no_path(tmp_path):
    drop = tmp_path / "drop"
    _zip(drop / "ann.zip", {"notebooks/00_a.ipynb": "{}", "notebooks/01_b.ipynb": "{}", "notes.txt": "hi"})
    _zip(drop / "ben" / "submission.zip", {"../../evil/00_a.ipynb": "{}", "__MACOSX/._00_a.ipynb": "x"})
    (drop / "cleo.zip").write_text("not a zip")
    os.utime(drop / "ann.zip", (1_800_000_000, 1_800_000_000))
    done = unpack([drop], tmp_path / "class")
    assert done.students == {"ann": ["00_a.ipynb", "01_b.ipynb"], "ben": ["00_a.ipynb"], "cleo": []}
    assert sorted(p.name for p in (tmp_path / "class" / "ann").iterdir()) == [".submitted", "00_a.ipynb", "01_b.ipynb"]
    assert not (tmp_path / "evil").exists() and (tmp_path / "class" / "ben" / "00_a.ipynb").is_file()
    assert datetime.fromisoformat((tmp_path / "class" / "ann" / ".submitted").read_text().strip()).timestamp() == 1.8e9
    assert any("notes.txt" in s for s in done.skipped) and any("cleo.zip: not a zip" in s for s in done.skipped)
    with pytest.raises(UnpackError, match="exists"):
        unpack([drop / "ann.zip"], tmp_path / "class")
    _zip(tmp_path / "other" / "ann.zip", {"00_a.ipynb": "{}"})
    with pytest.raises(UnpackError, match="both belong to student 'ann'"):
        unpack([drop / "ann.zip", tmp_path / "other" / "ann.zip"], tmp_path / "class2")
    assert student_key(Path("x/alice_1234_submission.zip"), re.compile(r"^([^_]+)_")) == "alice"
    assert student_key(Path("bob/submission-2.zip")) == "bob"


def _record(folder: str, shard: str, names: list[str], size: int = 4, **extra) -> dict:
    index, count = (int(x) for x in shard.split("/"))
    return {"folder": Path(folder), "shard": shard, "index": index, "count": count, "submissions": names,
            "class_size": size, "references": {"00_a.ipynb": "x"}, "profile": "ci", "tampered": "restore", **extra}


def test_the_merge_refuses_missing_duplicated_overlapping_and_mismatched_shards():
    check([_record("s1", "1/2", ["a", "c"]), _record("s2", "2/2", ["b", "d"])])
    with pytest.raises(MergeError, match=r"shard\(s\) 2/2 missing"):
        check([_record("s1", "1/2", ["a", "c"])])
    with pytest.raises(MergeError, match="shard 1/2 is given twice: s1 and s1b"):
        check([_record("s1", "1/2", ["a", "c"]), _record("s1b", "1/2", ["a", "c"]), _record("s2", "2/2", ["b", "d"])])
    with pytest.raises(MergeError, match="different splits"):
        check([_record("s1", "1/2", ["a", "c"]), _record("s2", "2/3", ["b"])])
    with pytest.raises(MergeError, match="'c' is in two shards"):
        check([_record("s1", "1/2", ["a", "c"]), _record("s2", "2/2", ["b", "c"])])
    with pytest.raises(MergeError, match="different profile"):
        check([_record("s1", "1/2", ["a", "c"]), _record("s2", "2/2", ["b", "d"], profile="full")])
    with pytest.raises(MergeError, match="different classes"):
        check([_record("s1", "1/2", ["a", "c"]), _record("s2", "2/2", ["b"], size=4)])


def test_gradebook_csv_parses_back(tmp_path):
    from cs285lab.grading.gradebook import write_gradebook

    write_gradebook(tmp_path, _tables(), None, io.StringIO())
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as handle:
        assert [r["student"] for r in csv.DictReader(handle)] == ["ann", "ben", "stray.ipynb"]
    assert (tmp_path / "gradebook-canvas.csv").read_text().splitlines()[1].startswith("    Points Possible")
