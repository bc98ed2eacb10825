"""A term on the tiny class (tests/tinyclass.py): the zips of `make submit` unpacked, a roster, a late policy
and overrides merged into the gradebook; the class graded in shards by the emitted Slurm script and merged;
the Kubernetes manifest. The class is graded once per session; every run here re-uses its cache (no kernel)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tinyclass
from cs285lab.authoring.release import MAKEFILE
from cs285lab.grading import cli

pytestmark = pytest.mark.slow


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _grade(root: Path, *extra: str, klass: Path | None = None) -> int:
    return cli.main([str(klass or root / "class"), "--out", str(root / "out"), "--solutions", str(root / "solutions"),
                     "--layout", "class", "--sandbox", "auto", *extra])


@pytest.fixture
def term(tmp_path_factory, tmp_path):
    """A private copy of the graded tiny class."""
    return tinyclass.copy_of(tinyclass.graded(tmp_path_factory), tmp_path / "term")


def _make_submit(student_folder: Path, zip_path: Path) -> None:
    """`make submit` in a folder laid out like the handout (its Makefile, notebooks/)."""
    work = zip_path.parent / f"handout-{student_folder.name}"
    (work / "notebooks").mkdir(parents=True)
    (work / "Makefile").write_text(MAKEFILE)
    for notebook in student_folder.glob("*.ipynb"):
        shutil.copy(notebook, work / "notebooks" / notebook.name)
    subprocess.run(["make", "submit", f"PYTHON={sys.executable}"], cwd=work, check=True, capture_output=True)
    shutil.move(work / "submission.zip", zip_path)


def test_zips_of_make_submit_unpack_into_the_class_that_grades_the_same(term, capsys):
    drop = term / "drop"
    drop.mkdir()
    for student in tinyclass.CLASS:
        _make_submit(term / "class" / student, drop / f"{student}.zip")
        with zipfile.ZipFile(drop / f"{student}.zip") as archive:
            assert archive.namelist() == [f"notebooks/{tinyclass.NOTEBOOK}"]
    assert cli_main(["unpack", str(drop), "--out", str(term / "unpacked")]) == 0
    assert sorted(p.name for p in (term / "unpacked").iterdir()) == sorted(tinyclass.CLASS)
    assert (term / "unpacked" / "bob" / ".submitted").is_file()
    before = {(r["submission"], r["exercise"]): (r["status"], r["points"]) for r in _rows(term / "out" / "grades.csv")}
    assert _grade(term, klass=term / "unpacked") == 0
    err = capsys.readouterr().err
    assert "(4 from cache)" in err, err
    after = {(r["submission"], r["exercise"]): (r["status"], r["points"]) for r in _rows(term / "out" / "grades.csv")}
    assert after == before


def cli_main(argv: list[str]) -> int:
    from cs285lab.cli import main

    return main(argv)


LATE = """\
penalty_per_day = 0.25
[deadlines]
"04" = 2026-10-01T23:59:00+00:00
[students.carol]
extension_days = 3
"""


def test_roster_late_policy_and_overrides_reach_the_gradebook_and_feedback(term, capsys):
    (term / "out" / "roster.csv").write_text("student,name,id\nalice,Alice L,1\nbob,Bob B,2\ncarol,Carol C,3\n"
                                             "dave,Dave D,4\nerin,Erin E,5\n")
    (term / "out" / "late.toml").write_text(LATE)
    (term / "out" / "overrides.csv").write_text(
        "submission,notebook,exercise,points,reason\n"
        "dave,04,nb04-check-epsilon-greedy,0,imported the package's epsilon_greedy instead of writing it\n")
    stamps = {"alice": "2026-10-01T20:00:00+00:00", "bob": "2026-10-03T08:00:00+00:00",  # bob: 2 days late
              "carol": "2026-10-03T08:00:00+00:00", "dave": "2026-10-01T23:59:00+00:00"}  # carol: extension
    for student, stamp in stamps.items():
        (term / "class" / student / ".submitted").write_text(stamp)
    sheet = term / "out" / "manual" / f"{Path(tinyclass.NOTEBOOK).stem}-{tinyclass.QUESTION}.csv"
    rows = _rows(sheet)
    for row in rows:
        row["points"] = {"alice": "2", "bob": "1", "dave": "0"}[row["submission"]]
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert _grade(term) == 0
    err = capsys.readouterr().err
    assert "1 student(s) on the roster have no submission: erin" in err, err
    book = {r["student"]: r for r in _rows(term / "out" / "gradebook.csv")}
    assert book["erin"]["status"] == "no submission" and book["erin"]["name"] == "Erin E"
    assert (book["alice"]["04_tiny"], book["alice"]["written"], book["alice"]["total"]) == ("4", "2", "6")
    # bob: 0 of 4 check points, 1 written, 2 days late at 25 % of 6 points a day = 3, but never below zero
    assert (book["bob"]["written"], book["bob"]["late_penalty"], book["bob"]["total"]) == ("1", "1", "0")
    assert book["carol"]["late_penalty"] == "0", "carol's extension"
    assert (book["dave"]["04_tiny"], book["dave"]["total"]) == ("0", "0"), "the override took dave's 2 points"
    summary = {r["submission"]: r for r in _rows(term / "out" / "summary.csv")}
    assert summary["bob"]["days_late"] == "2" and summary["bob"]["deadline"].startswith("2026-10-01T23:59")
    grades = {(r["submission"], r["exercise"]): r for r in _rows(term / "out" / "grades.csv")}
    overridden = grades[("dave", "nb04-check-epsilon-greedy")]
    assert overridden["status"] == "overridden" and "imported the package's epsilon_greedy" in overridden["message"]
    feedback = (term / "out" / "feedback" / "bob.html").read_text()
    assert "2 day(s) late, -1 points" in feedback
    assert "imported the package" in (term / "out" / "feedback" / "dave.md").read_text()
    canvas = _rows(term / "out" / "gradebook-canvas.csv")
    assert {r["Student"]: r["04_tiny"] for r in canvas[1:]} == {"Alice L": "6", "Bob B": "0", "Carol C": "2",
                                                                 "Dave D": "0", "Erin E": "0"}
    report = (term / "out" / "report.html").read_text()
    assert "erin" in report and "no submission" in report


def _emit(term: Path, kind: str, shards: int, capsys) -> str:
    """What `cs285lab grade --emit` prints (run in this process: it only writes a script, grades nothing)."""
    capsys.readouterr()
    code = cli.main(["--emit", kind, "--shards", str(shards), str(term / "class"), "--out", str(term / "sharded"),
                     "--solutions", str(term / "solutions"), "--layout", "class", "--sandbox", "auto", "-j", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_a_slurm_array_grades_the_shards_and_the_merge_gives_the_whole_class(term, capsys):
    script = _emit(term, "slurm", 2, capsys)
    assert "#SBATCH --array=1-2\n" in script and "#SBATCH --cpus-per-task=2\n" in script
    sharded = term / "sharded"
    for index in (1, 2):  # what Slurm runs on two nodes; the shards start from the class's cache: no kernel runs
        shutil.copytree(term / "out" / "cache", sharded / f"shard-{index}" / "cache")
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(index), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert "from cache" in done.stderr
    record = json.loads((sharded / "shard-2" / "run.json").read_text())
    assert record["shard"] == "2/2" and record["submissions"] == ["bob", "dave"]
    merged = term / "merged"
    shards = [str(sharded / "shard-1"), str(sharded / "shard-2")]
    assert cli.main(["--merge", str(merged), *shards]) == 0
    whole = term / "out"
    for table in ("grades.csv", "gradebook.csv"):
        drop = {"path"} if table == "grades.csv" else set()
        assert [{k: v for k, v in r.items() if k not in drop} for r in _rows(merged / table)] == \
            [{k: v for k, v in r.items() if k not in drop} for r in _rows(whole / table)], table
    assert [r["points"] for r in _rows(merged / "summary.csv")] == [r["points"] for r in _rows(whole / "summary.csv")]
    assert sorted(p.name for p in (merged / "feedback").iterdir()) == sorted(p.name for p in (whole / "feedback").iterdir())
    sheet = f"manual/{Path(tinyclass.NOTEBOOK).stem}-{tinyclass.QUESTION}.csv"
    assert _rows(merged / sheet) == _rows(whole / sheet)
    assert [r[0] for r in re.findall(r'<a href="(feedback/[^"]+)">([^<]+)</a>', (merged / "report.html").read_text())] \
        == [f"feedback/{s}.html" for s in sorted(tinyclass.CLASS)]

    assert cli.main(["--merge", str(term / "m2"), shards[0]]) == 2, "a missing shard"
    assert cli.main(["--merge", str(term / "m3"), shards[0], shards[0], shards[1]]) == 2, "a duplicated shard"
    assert not (term / "m2").exists() and not (term / "m3").exists()


def test_the_kubernetes_indexed_job_runs_one_shard_per_index(term, tmp_path, capsys):
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load(_emit(term, "k8s", 3, capsys))
    spec = manifest["spec"]
    assert manifest["kind"] == "Job" and spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 3
    container = spec["template"]["spec"]["containers"][0]
    mount = Path(container["volumeMounts"][0]["mountPath"])
    assert mount in (term / "class").resolve().parents and mount in (term / "sharded").resolve().parents
    fake = tmp_path / "bin"  # a cs285lab that records its arguments: what each pod would run
    fake.mkdir()
    (fake / "cs285lab").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "cs285lab").chmod(0o755)
    for index in range(3):
        env = {"JOB_COMPLETION_INDEX": str(index), "PATH": f"{fake}:/usr/bin:/bin"}
        done = subprocess.run([*container["command"], *container["args"]], env=env, capture_output=True, text=True)
        args = done.stdout.splitlines()
        assert args[0] == "grade" and args[args.index("--shard") + 1] == f"{index + 1}/3"
        assert args[args.index("--out") + 1] == f"{(term / 'sharded').resolve()}/shard-{index + 1}"
        assert str((term / "class").resolve()) in args and "--sandbox" in args
