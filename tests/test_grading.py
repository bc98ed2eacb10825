"""The autograder end to end: one batch of hostile and broken nb00 submissions, graded in one call.

The batch runs once per module (about a minute on 2 cores); the other tests read its tables,
re-run it against the cache, or use submissions that need no kernel.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs285lab.authoring.student import cell_meta, read_notebook, to_student
from cs285lab.grading import cli
from cs285lab.grading.assemble import assemble, load_references, loader_cell
from cs285lab.grading.run import Limits, RunResult
from cs285lab.grading.sandbox import unavailable_reason
from cs285lab.grading.verdict import grade_rows
from cs285lab.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
NB00 = ROOT / "solutions" / "00_getting_started.ipynb"
# The runaway loop burns its whole per-cell limit (CPU the other tests wait for), so the limit is short. Legit
# nb00 cells took at most 2.4 s (the torch import in nb00-setup) with the batch's -j 2 at a load average of 3 on
# 2 cores: 8 s leaves a 3x margin before a working notebook would time out here.
OPTIONS = ["-j", "2", "--cell-timeout", "8", "--notebook-timeout", "240", "--memory-mb", "3072"]
RTG, TD = "nb00-check-reward-to-go", "nb00-check-td-target"

pytestmark = pytest.mark.skipif(not NB00.exists(), reason="needs solutions/00_getting_started.ipynb")


def _index(nb: nbformat.NotebookNode, cid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if (cell_meta(c) or {}).get("id") == cid)


def _code(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def _break(nb: nbformat.NotebookNode, cid: str, old: str, new: str) -> None:
    cell = nb.cells[_index(nb, cid)]
    assert old in cell.source, f"the reference {cid} changed; update this test's edit"
    cell.source = cell.source.replace(old, new)


def _undiscounted(nb):
    _break(nb, "nb00-reward-to-go", "gamma * running", "running")


def build_class(root: Path) -> None:
    """One folder per student, plus a cut-off file and a file that is no course notebook."""
    solution = read_notebook(NB00)

    def save(name: str, nb: nbformat.NotebookNode) -> None:
        (root / name).mkdir(parents=True)
        nbformat.write(nb, root / name / NB00.name)

    save("solution", solution)
    save("blank", to_student(copy.deepcopy(solution), NB00.name))

    nb = copy.deepcopy(solution)  # a wrong answer whose check cell was edited to "pass"; the other check deleted
    _undiscounted(nb)
    nb.cells[_index(nb, RTG)].source = 'print("✓ discounted_reward_to_go: all 7 checks passed")'
    del nb.cells[_index(nb, TD)]
    save("tampered", nb)

    nb = copy.deepcopy(solution)  # wrong answers, fake checks everywhere, errors silenced, files written around
    _undiscounted(nb)
    _break(nb, "nb00-td-target", " * (1.0 - terminated.float())", "")
    nb.cells.insert(_index(nb, RTG), _code(
        "import sys, types, cs285lab.checks, cs285lab.checks.core as core\n"
        "fake = types.SimpleNamespace(discounted_reward_to_go=lambda fn: print('ok'), td_target=lambda fn: print('ok'))\n"
        "cs285lab.checks.load = lambda name: fake\n"
        "sys.modules['cs285lab.checks.nb00'] = fake\n"
        "core.Exercise.diagnose = lambda self, *args, **kwargs: None\n"
        "core.Exercise.fail = lambda self, message: None\n"
        "open('grades.csv', 'w').write('submission,points\\nmonkeypatch,999\\n')\n"
        "for name in ('../results.jsonl', '../job.json', '../pytest.log'):\n"
        "    open(name, 'w').write('garbage')\n"))
    nb.cells.insert(_index(nb, TD), _code("get_ipython().set_custom_exc((Exception,), lambda *args, **kwargs: None)"))
    save("monkeypatch", nb)

    nb = copy.deepcopy(solution)  # megabytes of output; a child process; the kernel exits between the checks
    nb.cells.insert(_index(nb, RTG), _code("for _ in range(20):\n    print('x' * 10**6)"))
    nb.cells.insert(_index(nb, "nb00-td-target"), _code(
        "import os, subprocess\nsubprocess.Popen(['sleep', '600'])\nos._exit(3)"))
    save("exits", nb)

    nb = copy.deepcopy(solution)  # grows memory until the limit (pages untouched), then loops forever
    _break(nb, "nb00-reward-to-go", "def discounted_reward_to_go",
           "hog = []\nwhile True:\n    hog.append(np.empty(2**24))\n\ndef discounted_reward_to_go")
    _break(nb, "nb00-td-target", "def td_target", "while True:\n    pass\n\ndef td_target")
    save("runaway", nb)

    (root / "truncated").mkdir()
    text = NB00.read_text()
    (root / "truncated" / NB00.name).write_text(text[: len(text) // 2])
    nbformat.write(nbformat.v4.new_notebook(cells=[_code("print(1)")]), root / "scratchpad.ipynb")


EXPECTED = {  # (submission, exercise): (status, points, words the message must contain)
    ("solution", RTG): ("passed", 2, "all 7 checks passed"),
    ("solution", TD): ("passed", 3, "all 5 checks passed"),
    ("blank", RTG): ("failed", 0, "NotImplementedError"),
    ("blank", TD): ("failed", 0, "not implemented yet"),
    ("tampered", RTG): ("tampered", 0, "not discounted"),  # the restored check ran and caught the bug
    ("tampered", TD): ("missing", 3, "restored the reference version and ran it: passed"),
    ("monkeypatch", RTG): ("failed", 0, "not discounted"),  # fakes in sys.modules / the toolkit had no effect
    ("monkeypatch", TD): ("failed", 0, "did not confirm"),  # set_custom_exc swallowed the CheckFailed
    ("exits", RTG): ("passed", 2, "all 7 checks passed"),
    ("exits", TD): ("error", 0, "(`import os, subprocess`) killed the kernel"),
    ("runaway", RTG): ("error", 0, "ran out of memory (limit 3072 MB)"),
    ("runaway", TD): ("timeout", 0, "per-cell limit of 8 s"),
    ("truncated", RTG): ("error", 0, "JSON is broken"),
    ("truncated", TD): ("error", 0, "JSON is broken"),
    ("scratchpad", ""): ("error", 0, "not a course notebook"),
}


def _table(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _grade(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CS285LAB_PROFILE"}
    return subprocess.run([sys.executable, "-m", "cs285lab", "grade", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade the whole class once (-j 2); keep the tables as they were after the first run."""
    if unavailable_reason() is not None:  # the batch runs sandboxed, the default
        pytest.skip(f"the grading sandbox cannot run here: {unavailable_reason()}")
    root = tmp_path_factory.mktemp("grading")
    solutions = root / "solutions"
    solutions.mkdir()
    shutil.copy(NB00, solutions / NB00.name)  # only nb00: the other notebooks are too slow for tests
    build_class(root / "class")
    out = root / "out"
    done = _grade(str(root / "class"), "--out", str(out), "--solutions", str(solutions), *OPTIONS)
    assert done.returncode == 0, done.stderr
    return {"root": root, "out": out, "solutions": solutions, "stderr": done.stderr,
            "grades": _table(out / "grades.csv"), "summary": _table(out / "summary.csv")}


def test_every_row_has_the_right_status_points_and_message(batch):
    rows = {(r["submission"], r["exercise"]): r for r in batch["grades"]}
    assert set(rows) == set(EXPECTED), f"unexpected rows: {set(rows) ^ set(EXPECTED)}"
    for key, (status, points, words) in EXPECTED.items():
        row = rows[key]
        assert (row["status"], float(row["points"])) == (status, points), f"{key}: {row}"
        assert words in row["message"], f"{key}: message {row['message']!r} lacks {words!r}"
        assert len(row["message"]) < 5000, f"{key}: the message is not capped"
    assert all(r["notebook"] == NB00.name for r in batch["grades"] if r["submission"] != "scratchpad")
    # The student's cell is named by the heading it sits under, not by the grader's run (always In[1] there).
    assert not any("Cell In[" in r["message"] for r in batch["grades"])
    assert "your solution cell under “Exercise 1 · Discounted reward-to-go”, line" in rows[("blank", RTG)]["message"]
    assert rows[("solution", TD)]["title"] == "Exercise 2 · A batched TD target, with termination done right: `td_target`"


def test_summary_feedback_and_nothing_written_by_students(batch):
    summary = {r["submission"]: r for r in batch["summary"]}
    assert (summary["solution"]["points"], summary["solution"]["max_points"]) == ("5", "5")
    assert summary["blank"]["points"] == "0" and summary["blank"]["failed"] == "2"
    assert summary["tampered"]["tampered"] == "1" and summary["tampered"]["missing"] == "1"
    assert all(r["cached"] == "no" for r in batch["summary"])
    for name in {s for s, _ in EXPECTED}:
        text = (batch["out"] / "feedback" / f"{name}.md").read_text()
        assert f"# Feedback for {name}" in text
    assert "not discounted" in (batch["out"] / "feedback" / "monkeypatch.md").read_text()
    # The monkeypatching notebook wrote grades.csv in its own folder and junk next to it: no effect here.
    assert "999" not in (batch["out"] / "grades.csv").read_text()
    written = {p.name for p in batch["out"].iterdir()}
    assert sorted(written) == ["cache", "feedback", "gradebook-canvas.csv", "gradebook.csv", "grades.csv",
                               "report.html", "run.json", "summary.csv", "timings.csv"]
    assert "graded 8 notebook(s) of 8 submission(s)" in batch["stderr"] and "(0 from cache)" in batch["stderr"]


def _orphans() -> list[int]:
    """Processes started for a grading run whose scratch folder is already gone (should be none)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        for entry in environ:
            if entry.startswith(b"IPYTHONDIR=") and b"cs285lab-grade-" in entry:
                if not Path(entry.split(b"=", 1)[1].decode()).parent.exists():
                    found.append(int(proc.name))
    return found


def test_no_kernel_outlives_its_run(batch):
    assert _orphans() == []


def test_rerun_reuses_unchanged_results_and_regrades_changed_ones(batch):
    changed = batch["root"] / "class" / "truncated" / NB00.name
    changed.write_text(changed.read_text()[:100])  # a different cut: must be graded again
    done = _grade(str(batch["root"] / "class"), "--out", str(batch["out"]), "--solutions", str(batch["solutions"]),
                  *OPTIONS)
    assert done.returncode == 0, done.stderr
    cached = {r["submission"]: r["cached"] for r in _table(batch["out"] / "summary.csv")}
    assert cached.pop("truncated") == "no" and cached.pop("scratchpad") == "no"  # changed / never cached
    assert set(cached.values()) == {"yes"}, cached
    assert "(6 from cache)" in done.stderr
    grades = {(r["submission"], r["exercise"]): r["status"] for r in _table(batch["out"] / "grades.csv")}
    assert grades == {key: value[0] for key, value in EXPECTED.items()}


def test_gradescope_results_json(batch, tmp_path, capsys):
    results = tmp_path / "results.json"
    code = cli.main([str(batch["root"] / "class" / "solution"), "--out", str(batch["out"]), "--solutions",
                     str(batch["solutions"]), "--gradescope", str(results), *OPTIONS])
    assert code == 0
    assert "(1 from cache)" in capsys.readouterr().err  # same submission, same options: no new run
    data = json.loads(results.read_text())
    assert data["score"] == 5
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == [
        (f"{NB00.name}: Exercise 1 · Discounted reward-to-go: `discounted_reward_to_go`", 2, 2, "passed"),
        (f"{NB00.name}: Exercise 2 · A batched TD target, with termination done right: `td_target`", 3, 3, "passed")]
    assert all(isinstance(t["output"], str) and t["output"] for t in data["tests"])


def test_notebook_time_limit(tmp_path, batch, capsys):
    # The notebook would sleep for 600 s; its 4 s limit stops it (in its first cells on a quiet machine, still
    # starting its kernel on a loaded one: the same kill either way). The grader runs in this process: the
    # notebook still runs in its own, sandboxed.
    nb = read_notebook(NB00)
    nb.cells.insert(1, _code("import time\ntime.sleep(600)"))
    (tmp_path / "sleeper").mkdir()
    nbformat.write(nb, tmp_path / "sleeper" / NB00.name)
    code = cli.main([str(tmp_path / "sleeper"), "--out", str(tmp_path / "out"), "--solutions", str(batch["solutions"]),
                     "--notebook-timeout", "4", "--cell-timeout", "600"])
    assert code == 0, capsys.readouterr().err
    rows = _table(tmp_path / "out" / "grades.csv")
    assert [(r["exercise"], r["status"], r["points"]) for r in rows] == [(RTG, "timeout", "0"), (TD, "timeout", "0")]
    assert all("time limit of 4 s" in r["message"] for r in rows)


def test_shards_split_by_sorted_name(tmp_path, batch, capsys):
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in ("dana", "ali", "chen", "bo", "eve"):
        (folder / f"{name}.ipynb").write_text('{"cells": [')  # unreadable: graded without a kernel
    seen = []
    for index in (1, 2):
        out = tmp_path / f"out{index}"
        assert cli.main([str(folder), "--out", str(out), "--solutions", str(batch["solutions"]),
                         "--shard", f"{index}/2"]) == 0
        seen.append([r["submission"] for r in _table(out / "summary.csv")])
    assert seen == [["ali", "chen", "eve"], ["bo", "dana"]]
    capsys.readouterr()


@pytest.mark.parametrize("args, words", [
    (["--solutions", "no/such/folder"], "no such folder"),
    (["--shard", "3/2"], "between 1 and N"),
    (["--gradescope", "r.json"], "one student's results, but 2 submissions"),
])
def test_the_grader_refuses_to_run_with_a_clear_message(tmp_path, batch, capsys, args, words):
    for name in ("a", "b"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    argv = [str(tmp_path / "a.ipynb"), str(tmp_path / "b.ipynb"), "--out", str(tmp_path / "out")]
    if "--solutions" not in args:
        argv += ["--solutions", str(batch["solutions"])]
    assert cli.main(argv + args) == 2
    assert words in capsys.readouterr().err


def test_no_submissions_is_an_error(tmp_path, batch, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out"),
                     "--solutions", str(batch["solutions"])]) == 2
    assert "no submissions found" in capsys.readouterr().err


def test_moved_and_duplicated_cells_are_matched_by_id(tmp_path):
    ref = load_references(NB00.parent)[NB00.name]
    nb = copy.deepcopy(ref.student)
    moved = nb.cells.pop(_index(nb, RTG))
    nb.cells.append(moved)  # the reward-to-go check moved to the end
    nb.cells.insert(_index(nb, TD) + 1, copy.deepcopy(nb.cells[_index(nb, TD)]))  # a copy of the td check
    nb.cells.insert(3, _code("scratch = 1"))
    assembled = assemble(nb, ref, ROOT / "cs285lab" / "checks")
    assert assembled.protected == {RTG: ("tampered", "this check cell was moved")}
    kinds = [(c["id"], c["kind"]) for c in assembled.cells]
    assert kinds.count((TD, "check")) == 1 and kinds.count((RTG, "check")) == 1
    assert kinds.index((RTG, "check")) < kinds.index(("nb00-td-target", "solution"))  # back in reference order
    sources = [c.source for c in assembled.notebook.cells]
    assert "scratch = 1" in sources  # the student's own cells are kept
    check = next(s for s in sources if "discounted_reward_to_go(discounted_reward_to_go)" in s)
    assert assembled.loader_name + '("nb00")' in check and "\nload(" not in check


def test_private_loader_ignores_monkeypatched_checks(monkeypatch):
    import cs285lab.checks
    import cs285lab.checks.core as core

    namespace: dict = {}
    exec(loader_cell("_private", "nonce", ROOT / "cs285lab" / "checks"), namespace)
    monkeypatch.setattr(cs285lab.checks, "load", lambda name: None)
    monkeypatch.setattr(core.Exercise, "diagnose", lambda self, *args, **kwargs: None)
    monkeypatch.setitem(sys.modules, "cs285lab.checks.nb00", object())

    def wrong(rewards, next_values, terminated, truncated, gamma):
        return rewards + gamma * next_values.detach()  # bootstraps past terminal states

    with pytest.raises(AssertionError, match="terminated"):
        namespace["_private"]("nb00").td_target(wrong)
    assert sys.modules["cs285lab.checks.core"] is core  # the loader put the real modules back
    assert issubclass(CheckFailed, AssertionError)


def test_private_loader_puts_back_the_graders_profile(monkeypatch):
    # a student cell that sets CS285LAB_PROFILE=smoke would otherwise grade its learning with no thresholds
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    namespace: dict = {}
    exec(loader_cell("_private", "nonce", ROOT / "cs285lab" / "checks"), namespace)
    monkeypatch.setenv("CS285LAB_PROFILE", "smoke")  # the student's cell
    namespace["_private"]("nb05")
    assert os.environ["CS285LAB_PROFILE"] == "ci"


def test_a_student_folder_lists_missing_notebooks_unless_one_is_chosen(tmp_path, batch, capsys):
    solutions = tmp_path / "solutions"
    shutil.copytree(batch["solutions"], solutions)
    shutil.copy(NB00, solutions / "01_another.ipynb")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / NB00.name).write_text("{")  # unreadable: graded without a kernel
    for extra, notebooks in (([], {NB00.name: "error", "01_another.ipynb": "missing"}), (["--notebook", "00"],
                                                                                      {NB00.name: "error"})):
        out = tmp_path / f"out{len(extra)}"
        assert cli.main([str(tmp_path / "alice"), "--out", str(out), "--solutions", str(solutions), *extra]) == 0
        assert {r["notebook"]: r["status"] for r in _table(out / "grades.csv")} == notebooks
    capsys.readouterr()
    assert cli.main([str(tmp_path / "alice"), "--out", str(tmp_path / "o"), "--solutions", str(solutions),
                     "--notebook", "07"]) == 2
    assert "matches none" in capsys.readouterr().err


def _records(assembled, **by_id):
    """Plugin records as nbval would report them: every code cell passed unless given in by_id."""
    records = {}
    for number, cell in enumerate(assembled.cells):
        record = {"cell": number, "outcome": "passed", "marker": cell["kind"] == "check", "output": "ok"}
        records[number] = {**record, **by_id.get(cell["id"] or "", {})}
    return records


def test_verdicts_from_cell_records():
    """The status rules, fed records directly (no kernel): tamper policies, dead kernels, time limits."""
    ref = load_references(NB00.parent)[NB00.name]
    limits = Limits(cell_timeout=7, notebook_timeout=50, memory_mb=999)
    nb = copy.deepcopy(ref.student)
    nb.cells[_index(nb, RTG)].source += "\nprint('extra')"
    assembled = assemble(nb, ref, ROOT / "cs285lab" / "checks")

    def statuses(policy="restore", timed_out=False, **by_id):
        result = RunResult(records=_records(assembled, **by_id), notebook_timed_out=timed_out)
        return [(r.exercise, r.status, r.points) for r in grade_rows("s", ref, assembled, result, limits, policy)]

    assert statuses() == [(RTG, "tampered", 2), (TD, "passed", 3)]
    assert statuses("zero") == [(RTG, "tampered", 0), (TD, "passed", 3)]
    died = {"outcome": "failed", "kernel_died": True}
    dead = {"outcome": "failed", "kernel_dead_before": True}
    assert statuses(**{"nb00-td-target": died, TD: dead})[1] == (TD, "error", 0)
    timeout = {"outcome": "failed", "timeout": True}
    assert statuses(**{"nb00-td-target": timeout, TD: {"outcome": "skipped", "ename": "NameError"}})[1] == \
        (TD, "timeout", 0)
    assert statuses(**{TD: {"outcome": "passed", "marker": False}})[1] == (TD, "failed", 0)
    check_td = next(n for n, cell in enumerate(assembled.cells) if cell["id"] == TD)
    unfinished = {n: r for n, r in _records(assembled).items() if n < check_td}  # killed before the td check
    result = RunResult(records=unfinished, notebook_timed_out=True)
    rows = grade_rows("s", ref, assembled, result, limits)
    assert rows[1].status == "timeout" and "time limit of 50 s" in rows[1].message


def test_hidden_tests_run_in_grading_and_either_version_of_a_check_cell_is_unchanged(tmp_path):
    nb = read_notebook(NB00)
    cell = nb.cells[_index(nb, TD)]
    cell.source += "\n### BEGIN HIDDEN TESTS\nprint('hidden test ran')\n### END HIDDEN TESTS"
    nbformat.write(nb, tmp_path / NB00.name)
    ref = load_references(tmp_path)[NB00.name]
    for submitted in (ref.student, ref.solution):
        assembled = assemble(copy.deepcopy(submitted), ref, ROOT / "cs285lab" / "checks")
        assert assembled.protected == {}
        assert any("hidden test ran" in c.source for c in assembled.notebook.cells)
    assert "hidden test ran" not in json.dumps(ref.student)


def test_the_graders_processes_skip_jsonschemas_grammar_compiler_and_still_validate_notebooks():
    # ~1.2 s of every grading process went to compiling rfc3987-syntax's grammars for a format check that
    # notebook validation never uses; with it marked absent, nbformat still validates and rejects
    from cs285lab.grading.run import SKIP_SLOW_IMPORTS

    script = SKIP_SLOW_IMPORTS + (
        "import nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['cell_type'] = 'nonsense'\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('rejected')\n"
        "print('lark' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rejected", "False"], done.stdout


def test_each_submission_starts_its_slowest_notebooks_first():
    from cs285lab.grading.batch import expected_seconds, longest_first
    from cs285lab.grading.jobs import Job

    seconds = expected_seconds()
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(seconds) == solutions, "cs285lab/data/grading_seconds.json must time every course notebook " \
        "(run `make bench ONLY=grading`)"
    jobs = [Job(student, name, None, None) for student in ("ann", "bob") for name in [*solutions, "extra.ipynb"]]
    order = [(jobs[i].submission, jobs[i].notebook) for i in longest_first(jobs, list(range(len(jobs))))]
    slowest = sorted(solutions, key=lambda name: -seconds[name])
    assert order == [(s, n) for s in ("ann", "bob") for n in [*slowest, "extra.ipynb"]], order
    assert seconds[slowest[0]] > seconds[slowest[-1]]  # a real ordering, not the file order by accident
