"""The grader against hostile submissions, with the bubblewrap sandbox on (the default).

A tiny synthetic course (one notebook: a solution cell `double` and a check cell with hidden tests)
keeps kernels cheap. One batch holds the vandal, the detached process, the reader of solutions/,
the hidden-test leaker, Unicode and space-laden names, a folder without a notebook, two copies of a
notebook and the same student twice; the signal tests run the grader as a separate process and
kill it mid-run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from cs285lab.authoring.student import to_student
from cs285lab.grading import cli
from cs285lab.grading.discover import discover, safe_name
from cs285lab.grading.sandbox import SCRATCH_ENV, SCRATCH_PREFIX, remove_stale_scratch, unavailable_reason
from cs285lab.grading.scrub import REMOVED, hidden_fragments, scrub

ROOT = Path(__file__).resolve().parents[1]
NB = "00_tiny.ipynb"
CHECK = "tiny-check"
SECRET = "secret negative case"  # text only the hidden tests hold
NO_SANDBOX = unavailable_reason()
needs_sandbox = pytest.mark.skipif(NO_SANDBOX is not None, reason=f"the grading sandbox cannot run here: {NO_SANDBOX}")
OPTIONS = ["--cell-timeout", "60", "--notebook-timeout", "180", "--memory-mb", "3072"]


def _cell(source: str, **meta) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if meta:
        cell.metadata["cs285lab"] = meta
    return cell


def tiny_solution() -> nbformat.NotebookNode:
    """A one-exercise course notebook: write `double`; the check has a hidden test."""
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A tiny course notebook"),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              id="tiny-double", kind="solution"),
        _cell("assert double(3) == 6, 'double(3) should be 6'\nprint('\u2713 double: all checks passed')\n"
              "### BEGIN HIDDEN TESTS\n"
              f"assert double(-21) == -42, '{SECRET}: the hidden tests call double(-21)'\n"
              "### END HIDDEN TESTS", id=CHECK, kind="check", points=2),
    ])


def tiny_course(folder: Path) -> Path:
    """Write the tiny course's solutions/ folder under `folder`; return it."""
    solutions = folder / "solutions"
    solutions.mkdir(parents=True)
    nbformat.write(tiny_solution(), solutions / NB)
    return solutions


def with_double(body: str, before: str = "") -> nbformat.NotebookNode:
    """The tiny notebook answered by a `double` whose body is `body`, after an extra student cell `before`."""
    nb = tiny_solution()
    nb.cells[1].source = "def double(x):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    if before:
        nb.cells.insert(1, _cell(before))
    return nb


def save(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def table(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def grade(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `cs285lab grade` as a separate process (as an instructor would)."""
    base = {k: v for k, v in os.environ.items() if k not in ("CS285LAB_PROFILE", "CS285LAB_GRADE_SANDBOX")}
    return subprocess.run([sys.executable, "-m", "cs285lab", "grade", *args], cwd=ROOT, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _processes_with(needle: bytes, where: str = "cmdline") -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if needle in (proc / where).read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


# A loaded 2-core machine tears a run down slowly: waits are on a condition with a generous deadline (they
# return as soon as it holds), never fixed sleeps or tight timeouts.
DEADLINE = 300.0


def _gone(needle: bytes, where: str = "cmdline", within: float = 120.0) -> list[int]:
    """Processes still matching after `within` seconds (an empty list as soon as none match)."""
    deadline = time.monotonic() + within
    while (left := _processes_with(needle, where)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


UNICODE = {"张伟": "flat", "李娜": "flat", "José": "folder", "Jose\u0300": "folder", "Mary Ann": "folder"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Grade one class of hostile and odd submissions (-j 2, sandboxed); keep what happened around it."""
    if NO_SANDBOX is not None:
        pytest.skip(f"the grading sandbox cannot run here: {NO_SANDBOX}")
    root = tmp_path_factory.mktemp("hostile")
    solutions = tiny_course(root)
    out = root / "out"
    out.mkdir()
    klass = root / "class"
    tag = uuid.uuid4().hex[:10]
    decoy = root / "other-run" / "grades.csv"  # another grading run's table, in the temporary folder
    decoy.parent.mkdir()
    decoy.write_text("submission,points\nsomeone,3\n")
    home_file = Path.home() / f"cs285lab-vandal-{tag}.txt"
    package_file = ROOT / "cs285lab" / f"vandal-{tag}.txt"
    beside_out = root / f"vandal-{tag}.txt"
    repo_file = ROOT / f"vandal-{tag}.txt"
    targets = {"home": home_file, "package": package_file, "beside_out": beside_out, "repo": repo_file,
               "grades": out / "grades.csv", "solutions": solutions / NB, "decoy": decoy}

    vandal = (
        "import glob, json, os, socket\n"
        f"TARGETS = {json.dumps({k: str(v) for k, v in targets.items()})}\n"
        "REPORT = {'csv': []}\n"
        "for pattern in ('../**/*.csv', '/tmp/**/*.csv', os.path.expanduser('~') + '/**/*.csv'):\n"
        "    for name in glob.glob(pattern, recursive=True):\n"
        "        try:\n"
        "            open(name, 'w').write('vandal,999\\n')\n"
        "            REPORT['csv'].append(name)\n"
        "        except OSError:\n"
        "            pass\n"
        "for key, name in TARGETS.items():\n"
        "    try:\n"
        "        with open(name, 'a') as handle:\n"
        "            handle.write('vandal\\n')\n"
        "        REPORT[key] = 'written'\n"
        "    except OSError as exc:\n"
        "        REPORT[key] = type(exc).__name__\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3).close()\n"
        "    REPORT['network'] = 'connected'\n"
        "except OSError as exc:\n"
        "    REPORT['network'] = type(exc).__name__\n"
        f"for key, name in (('solutions_seen', {str(solutions)!r}), ('cache_seen', {str(out / 'cache')!r}),\n"
        f"                  ('class_seen', {str(klass)!r})):\n"
        "    try:\n"
        "        REPORT[key] = sorted(os.listdir(name))\n"
        "    except OSError as exc:\n"
        "        REPORT[key] = type(exc).__name__\n"
        "REPORT = 'REPORT' + json.dumps(REPORT) + 'END'\n")
    save(klass / "vandal" / NB, with_double("raise RuntimeError(REPORT)", before=vandal))

    marker = f"cs285lab-detached-{tag}"
    detached = (
        "import subprocess, sys\n"
        "LOOP = '''import sys, time\nfor _ in range(1200):\n    for name in sys.argv[1:3]:\n"
        "        try:\n            open(name, 'w').write('submission,points\\\\nhacked,999\\\\n')\n"
        "        except OSError:\n            pass\n    time.sleep(0.1)\n'''\n"
        f"subprocess.Popen([sys.executable, '-c', LOOP, {str(out / 'grades.csv')!r}, {str(out / 'summary.csv')!r},"
        f" {marker!r}], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n")
    save(klass / "detached" / NB, with_double("return 2 * x", before=detached))

    # The calling check cell's source (hidden tests included), raw and JSON-escaped, in the error message.
    save(klass / "leaker" / NB, with_double(
        "import inspect, json, linecache\nframe = inspect.currentframe().f_back\n"
        "source = ''.join(linecache.getlines(frame.f_code.co_filename))\n"
        "raise RuntimeError(source + '\\n' + json.dumps(source))"))

    echo = "import os\nraise RuntimeError('student=' + os.environ['CS285LAB_STUDENT'] + '=')"
    for key, how in UNICODE.items():
        save(klass / f"{key}.ipynb" if how == "flat" else klass / key / NB, with_double(echo))

    (klass / "carol").mkdir()
    (klass / "carol" / "answers.txt").write_text("I wrote my answers here\n")

    stub = save(klass / "dup" / NB, to_student(tiny_solution(), NB))
    save(klass / "dup" / "00_tiny-Copy1.ipynb", tiny_solution())
    os.utime(stub, (time.time() + 60, time.time() + 60))  # the untouched stub is the newest file

    save(klass / "alice" / NB, tiny_solution())
    (klass / "alice.ipynb").write_text('{"cells": [')  # the same student again, cut off

    before = {key: _digest(path) for key, path in targets.items() if path.exists()}
    try:
        done = grade(str(klass), "--out", str(out), "--solutions", str(solutions), "-j", "2", *OPTIONS)
        left = _gone(marker.encode())
        created = {key: targets[key].exists() for key in ("home", "package", "beside_out", "repo")}
    finally:
        for path in (home_file, package_file, beside_out, repo_file):
            path.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr
    return {"out": out, "stderr": done.stderr, "grades": table(out / "grades.csv"),
            "summary": table(out / "summary.csv"), "before": before, "targets": targets, "created": created,
            "left": left, "solutions": solutions}


def _row(batch: dict, submission: str, exercise: str = CHECK) -> dict:
    rows = [r for r in batch["grades"] if r["submission"] == submission and r["exercise"] == exercise]
    assert len(rows) == 1, f"{submission}/{exercise}: {rows}"
    return rows[0]


def _report(batch: dict) -> dict:
    message = _row(batch, "vandal")["message"]
    assert "REPORT" in message, message
    return json.loads(message.split("REPORT", 1)[1].split("END", 1)[0])


@pytest.mark.slow
def test_vandal_changes_nothing_outside_its_scratch_folder(hostile):
    report = _report(hostile)
    # Inside, it could write only into throw-away places (its scratch folder, a private /tmp, empty
    # stand-ins for hidden folders); the package and the repository are read-only.
    assert report["package"] == report["repo"] == "OSError", report
    assert report["network"] == "OSError", report
    for key in ("solutions_seen", "cache_seen", "class_seen"):  # hidden: an empty stand-in, or not there at all
        assert report[key] in ([], "FileNotFoundError"), report
    after = {key: _digest(path) for key, path in hostile["targets"].items() if path.exists()}
    changed = [key for key in hostile["before"] if after.get(key) != hostile["before"][key]]
    assert changed == [], f"the vandal changed {changed} outside its sandbox"
    assert not any(hostile["created"].values()), f"the vandal created files outside its sandbox: {hostile['created']}"
    grades = (hostile["out"] / "grades.csv").read_text()
    assert grades.startswith("submission,notebook,exercise,") and "vandal,999" not in grades


@pytest.mark.slow
def test_detached_process_dies_with_the_run_and_grades_stand(hostile):
    assert hostile["left"] == [], f"a process the notebook detached outlived the grader: {hostile['left']}"
    assert "hacked" not in (hostile["out"] / "grades.csv").read_text()
    assert "hacked" not in (hostile["out"] / "summary.csv").read_text()
    row = _row(hostile, "detached")
    assert (row["status"], row["points"]) == ("passed", "2")
    assert "2 / 2" in (hostile["out"] / "feedback" / "detached.md").read_text()


@pytest.mark.slow
def test_hidden_tests_never_reach_feedback_tables_or_cache(hostile):
    message = _row(hostile, "leaker")["message"]
    assert REMOVED in message, message
    assert "double(3) should be 6" in message  # the visible part of the check is quoted as the student wrote it
    texts = [(hostile["out"] / "grades.csv").read_text(), (hostile["out"] / "feedback" / "leaker.md").read_text()]
    texts += [p.read_text() for p in (hostile["out"] / "cache").glob("*.json")]
    for text in texts:
        assert SECRET not in text and "HIDDEN TESTS" not in text
        assert "double(-21)" not in text.replace("\\", "")


@pytest.mark.slow
def test_every_student_keeps_their_own_name_and_row(hostile):
    keys = {r["submission"] for r in hostile["summary"]}
    expected = {*UNICODE, "vandal", "detached", "leaker", "carol", "dup", "alice", "alice (2)"}
    assert keys == expected, keys ^ expected
    for key in UNICODE:
        row = _row(hostile, key)
        assert f"student={key}=" in row["message"], (key, row["message"])  # CS285LAB_STUDENT, exactly as given
        assert Path(row["path"]).stem == key or Path(row["path"]).parent.name == key
        page = hostile["out"] / "feedback" / f"{safe_name(key)}.md"
        assert page.read_text(encoding="utf-8").startswith(f"# Feedback for {key}\n")
    pages = {p.name for p in (hostile["out"] / "feedback").iterdir() if p.suffix == ".md"}
    assert len(pages) == len(expected), pages
    assert {p.stem for p in (hostile["out"] / "feedback").glob("*.html")} == {p.removesuffix(".md") for p in pages}
    assert {"张伟.md", "李娜.md", "José.md"} <= pages


@pytest.mark.slow
def test_a_folder_without_a_notebook_gets_missing_rows_and_a_page(hostile):
    row = _row(hostile, "carol")
    assert (row["status"], row["points"], row["max_points"]) == ("missing", "0", "2")
    assert "no notebook found" in row["message"] and "answers.txt" in row["message"]
    assert "answers.txt" in (hostile["out"] / "feedback" / "carol.md").read_text()
    assert "carol: no notebook found" in hostile["stderr"]


@pytest.mark.slow
def test_duplicates_are_reported_and_the_filled_copy_is_graded(hostile):
    graded = _row(hostile, "dup")
    assert graded["status"] == "passed" and graded["path"].endswith("00_tiny-Copy1.ipynb"), graded
    ignored = _row(hostile, "dup", "")
    assert ignored["status"] == "ignored" and ignored["path"].endswith(f"dup/{NB}"), ignored
    page = (hostile["out"] / "feedback" / "dup.md").read_text()
    assert "graded 00_tiny-Copy1.ipynb" in page and "most solution cells changed" in page
    assert "1 of 1 solution cells filled in" in page and "0 of 1 solution cells filled in" in page
    # The same student twice: both graded, both told.
    assert _row(hostile, "alice")["status"] == "passed"
    twice = _row(hostile, "alice (2)", "")
    assert twice["status"] == "error" and twice["path"].endswith("alice.ipynb")
    assert "JSON is broken" in twice["message"] and "matches no course notebook" in twice["message"]
    for page in ("alice.md", safe_name("alice (2)") + ".md"):
        assert "found 2 times" in (hostile["out"] / "feedback" / page).read_text()
    assert "the same student name `alice` was found 2 times" in hostile["stderr"]


def test_scrub_removes_quotes_of_hidden_tests_in_any_escaping():
    fragments = hidden_fragments(tiny_solution())
    source = tiny_solution().cells[2].source
    text = "Traceback\n" + source + "\n" + json.dumps(source) + "\n" + repr(source.encode())
    cleaned = scrub(text, fragments)
    assert SECRET not in cleaned and "HIDDEN" not in cleaned
    assert "double(3) should be 6" in cleaned.splitlines()[1] and cleaned.startswith("Traceback\n")
    assert scrub("double(-21) is -42", fragments) == "double(-21) is -42"  # a short phrase alone is no quote
    hidden_line = source.splitlines()[3]
    assert SECRET in hidden_line
    cut = "RuntimeError: " + hidden_line[:40]  # a capped message ending mid-line
    assert scrub(cut, fragments) == REMOVED


def test_keys_keep_unicode_and_safe_names_stay_distinct(tmp_path):
    names = ["张伟", "李娜", "José", "Josè", "Jose\u0301", "Mary Ann", "Mary_Ann", "a/b".replace("/", "\u2215")]
    for name in names:
        save(tmp_path / name / NB, tiny_solution())
    found = discover([tmp_path], {NB})
    assert sorted(s.name for s in found) == sorted(names)
    safe = [s.safe for s in found]
    assert len(set(safe)) == len(safe), safe
    assert all("/" not in s and not s.startswith(".") for s in safe)
    assert safe_name("张伟") == "张伟" and safe_name("Mary Ann") != safe_name("Mary_Ann")


def _grade_here(monkeypatch, capsys, *args: str, env: dict | None = None) -> tuple[int, str]:
    """`cs285lab grade` in this process, with `env` on top of the environment `grade()` gives its subprocess and
    the bubblewrap probe starting over, as in a new process. For runs that start no kernel: the sandbox is
    chosen (or refused) before any notebook runs, and an unreadable notebook is graded without one."""
    from cs285lab.grading import sandbox

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(sandbox, "_PROBED", {})
        for name in ("CS285LAB_PROFILE", "CS285LAB_GRADE_SANDBOX"):
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        code = cli.main(list(args))
    return code, capsys.readouterr().err


def test_the_grader_stops_when_it_cannot_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    solutions = tiny_course(tmp_path)
    (tmp_path / "bob.ipynb").write_text("{")  # unreadable: graded without a kernel
    no_bwrap = {"PATH": str(Path(sys.executable).parent)}  # bubblewrap is not on this PATH
    args = [str(tmp_path / "bob.ipynb"), "--solutions", str(solutions)]
    code, err = _grade_here(monkeypatch, capsys, *args, "--out", str(tmp_path / "o1"), env=no_bwrap)
    assert code == 2, err
    assert "bubblewrap (`bwrap`) is not installed" in err and "--no-sandbox" in err
    assert not (tmp_path / "o1" / "grades.csv").exists()
    for extra, env, words in ((["--no-sandbox"], {}, "NOT sandboxed"),
                              ([], {"CS285LAB_GRADE_SANDBOX": "off"}, "NOT sandboxed"),
                              (["--sandbox", "auto"], {}, "note: no sandbox")):
        out = tmp_path / f"out-{len(extra)}-{len(env)}"
        code, err = _grade_here(monkeypatch, capsys, *args, "--out", str(out), *extra, env={**no_bwrap, **env})
        assert code == 0, err
        assert words in err
        assert table(out / "grades.csv")[0]["status"] == "error"
    fake = tmp_path / "fakebin"  # a bwrap that the kernel refuses, as where user namespaces are disabled
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    code, err = _grade_here(monkeypatch, capsys, *args, "--out", str(tmp_path / "o3"),
                            env={"PATH": f"{fake}:{no_bwrap['PATH']}"})
    assert code == 2 and "uid map: Permission denied" in err, err
    assert "user namespaces" in err and "--no-sandbox" in err
    code, err = _grade_here(monkeypatch, capsys, *args, "--out", str(tmp_path / "o2"),
                            env={"CS285LAB_GRADE_SANDBOX": "maybe"})
    assert code == 2 and "CS285LAB_GRADE_SANDBOX" in err, err
    # The command line a user types reaches the same refusal (its exit status and message).
    refused = grade(*args, "--out", str(tmp_path / "o4"), env=no_bwrap)
    assert refused.returncode == 2 and "bubblewrap (`bwrap`) is not installed" in refused.stderr, refused.stderr


def test_stale_scratch_folders_of_dead_graders_are_removed(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = tmp_path / f"{SCRATCH_PREFIX}{finished.pid}-abc"
    alive = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    other = tmp_path / f"{SCRATCH_PREFIX}notapid"
    for folder in (dead, alive, other):
        (folder / "box").mkdir(parents=True)
    assert remove_stale_scratch(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and other.exists()


# ---- signals: the grader killed mid-run --------------------------------------------------------

def _start(klass: Path, out: Path, solutions: Path, tmp: Path) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if k not in ("CS285LAB_PROFILE", "CS285LAB_GRADE_SANDBOX")}
    base["TMPDIR"] = str(tmp)
    return subprocess.Popen([sys.executable, "-m", "cs285lab", "grade", str(klass), "--out", str(out),
                             "--solutions", str(solutions), "-j", "1", *OPTIONS], cwd=ROOT, env=base,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, what: str, within: float = DEADLINE):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _mid_run(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path, Path, bytes]:
    """A grader (-j 1) that finished `a-quick` and is stuck in `b-sleeper`'s kernel; its scratch prefix.

    The grader gets its own TMPDIR (tmp_path/tmp), so no other grader on the machine tidies up for it.
    """
    solutions = tiny_course(tmp_path)
    klass, out = tmp_path / "class", tmp_path / "out"
    (tmp_path / "tmp").mkdir()
    save(klass / "a-quick" / NB, tiny_solution())
    save(klass / "b-sleeper" / NB, with_double("return 2 * x", before="import time\ntime.sleep(600)"))
    grader = _start(klass, out, solutions, tmp_path / "tmp")
    prefix = f"{SCRATCH_ENV}={tmp_path / 'tmp'}/{SCRATCH_PREFIX}{grader.pid}-".encode()
    _wait_for(lambda: list((out / "cache").glob("*.json")), "a-quick's cached result")
    # The sleeper's kernel is up (its environment names the grader's scratch folder).
    _wait_for(lambda: [p for p in _processes_with(prefix, "environ")
                       if b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes()], "the sleeper's kernel")
    return grader, klass, out, solutions, prefix


def _scratch_of(tmp: Path, pid: int) -> list[Path]:
    return list(tmp.glob(f"{SCRATCH_PREFIX}{pid}-*"))


@needs_sandbox
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_stops_everything_and_keeps_finished_grades(tmp_path, signum):
    grader, _klass, out, _solutions, prefix = _mid_run(tmp_path)
    grader.send_signal(signum)
    stderr = grader.communicate(timeout=DEADLINE)[1]  # returns as soon as the grader has stopped
    assert grader.returncode == 130, stderr
    assert "interrupted" in stderr
    assert _gone(prefix, "environ") == [], "a process of the interrupted run is still alive"
    assert _scratch_of(tmp_path / "tmp", grader.pid) == [], "the interrupted run left its scratch folder"
    rows = {r["submission"]: r["status"] for r in table(out / "grades.csv")}
    assert rows == {"a-quick": "passed"}, rows


@needs_sandbox
@pytest.mark.slow
def test_sigkill_leaves_no_process_and_the_rerun_cleans_up_and_resumes(tmp_path):
    grader, klass, out, solutions, prefix = _mid_run(tmp_path)
    grader.kill()
    grader.communicate(timeout=DEADLINE)
    assert _gone(prefix, "environ") == [], "a process of the killed grader is still alive"
    stale = _scratch_of(tmp_path / "tmp", grader.pid)
    assert len(stale) == 1  # nobody was left to remove it
    # A killed grader writes no tables (they are written once, at the end): its finished work is in the cache
    # and in the finished student's feedback.
    assert not (out / "grades.csv").exists() and len(list((out / "cache").glob("*.json"))) == 1
    assert "passed" in (out / "feedback" / "a-quick.md").read_text()
    save(klass / "b-sleeper" / NB, tiny_solution())  # the rerun should not sleep again
    done = grade(str(klass), "--out", str(out), "--solutions", str(solutions), "-j", "1", *OPTIONS,
                 env={"TMPDIR": str(tmp_path / "tmp")})
    assert done.returncode == 0, done.stderr
    assert "removed 1 scratch folder(s) left by a grader that was killed" in done.stderr
    assert not stale[0].exists()
    assert "(1 from cache)" in done.stderr  # a-quick's grade survived the kill
    assert {r["submission"]: r["status"] for r in table(out / "grades.csv")} == {"a-quick": "passed",
                                                                                "b-sleeper": "passed"}


def test_feedback_names_the_graded_copy_rule_without_a_kernel(tmp_path, capsys):
    """Two unreadable copies: the rule still picks one (newest) and says why, with no kernel at all."""
    solutions = tiny_course(tmp_path)
    older = tmp_path / "eve" / NB
    older.parent.mkdir()
    older.write_text("{")
    newer = tmp_path / "eve" / "00_tiny (1).ipynb"
    newer.write_text("{")
    os.utime(older, (time.time() - 100, time.time() - 100))
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "eve"), "--out", str(out), "--solutions", str(solutions),
                     "--layout", "student", "--no-sandbox"]) == 0
    rows = table(out / "grades.csv")
    statuses = sorted((r["status"], Path(r["path"]).name) for r in rows)
    assert statuses == [("error", "00_tiny (1).ipynb"), ("ignored", NB)], statuses
    assert "graded 00_tiny (1).ipynb" in capsys.readouterr().err
    summary = table(out / "summary.csv")
    assert all(r["feedback"] == "feedback/eve.html" for r in summary)
    assert any("Rule:" in r["notes"] for r in summary)

