"""What grading costs, with the bubblewrap sandbox on and off (`make bench ONLY=grading`).

Two measurements, each run sandboxed and unsandboxed in the same session, on 2 cores (-j 2):
  - "tiny": a one-cell course notebook graded for 6 students: the per-notebook price of the grader
    itself (kernel start, nbval, the sandbox), with nothing to compute;
  - "full": one student handing in all six reference notebooks (solutions/*.ipynb, the ci budget):
    seconds per notebook (the grader's own timing, from summary.csv) and wall-clock per submission.
Rows: impl = sandbox | no-sandbox, env = the notebook (or "submission" for the whole one), wall_s =
seconds, eval_return = points earned, step = 0, seed = the repeat. BENCH_GRADING_FULL=0 skips
the full submission (a few minutes per mode). Every grading command is timed by harness.timed: the
load average before and after and the CPU other processes used are recorded (columns load_before,
load_after, others, busy); a measurement taken on a busy machine is taken again, and stays marked
BUSY in the tables if the machine never was quiet.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat

from benchmarks.harness import Result, Timed, timed
from cs285lab.grading.batch import GRADING_SECONDS

DESCRIPTION = "cs285lab grade: seconds per notebook and per six-notebook submission, sandbox on vs off (-j 2)"
ROOT = Path(__file__).resolve().parents[1]
MODES = {"sandbox": ["--sandbox", "on"], "no-sandbox": ["--no-sandbox"]}
TINY_STUDENTS = 6


def _tiny_solution() -> nbformat.NotebookNode:
    solution = nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION")
    solution.metadata["cs285lab"] = {"id": "tiny-double", "kind": "solution"}
    check = nbformat.v4.new_code_cell("assert double(3) == 6\nprint('\u2713 double: passed')")
    check.metadata["cs285lab"] = {"id": "tiny-check", "kind": "check", "points": 1}
    return nbformat.v4.new_notebook(cells=[solution, check])


def _run_grader(submissions: Path, solutions: Path, out: Path, mode: str, *extra: str) -> list[dict]:
    shutil.rmtree(out, ignore_errors=True)  # a re-run after a busy attempt must not read the cache
    env = {k: v for k, v in os.environ.items() if k not in ("CS285LAB_PROFILE", "CS285LAB_GRADE_SANDBOX")}
    done = subprocess.run([sys.executable, "-m", "cs285lab", "grade", str(submissions), "--out", str(out),
                           "--solutions", str(solutions), "-j", "2", "--profile", "ci", *MODES[mode], *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"grading ({mode}) failed: {done.stderr[-2000:]}")
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _grade(submissions: Path, solutions: Path, out: Path, mode: str, *extra: str) -> Timed:
    """One grading command, timed, with the machine's load around it (taken again while the machine is busy)."""
    return timed(_run_grader, submissions, solutions, out, mode, *extra)


def _load(measure: Timed) -> dict:
    return {"load_before": round(measure.load_before, 2), "load_after": round(measure.load_after, 2),
            "others": "" if measure.others is None else round(measure.others, 2), "busy": int(measure.busy)}


def makespan(seconds: list[float], workers: int = 2) -> float:
    """When the last of these jobs ends if each starts, in this order, on the first free worker."""
    free = [0.0] * workers
    for value in seconds:
        k = free.index(min(free))
        free[k] += value
    return max(free)


def _write_expected_seconds(seconds: dict[str, float], measure: Timed) -> None:
    """Store the sandboxed seconds per notebook for the grader's longest-first order (cs285lab/data)."""
    if measure.busy:
        return  # a busy machine's timings would reorder nothing usefully; keep the last quiet measurement
    table = {"note": "seconds per notebook, graded sandboxed at the ci budget with -j 2 by `make bench ONLY=grading`; "
                     "cs285lab grade starts each submission's slowest notebooks first",
             "seconds": {name: round(value, 1) for name, value in sorted(seconds.items())}}
    write = ROOT / "cs285lab" / "data" / GRADING_SECONDS
    write.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")


def run() -> Result:
    """Grade the tiny class and the full submission in both modes; one row per notebook and mode."""
    rows: list[dict] = []
    lines = []
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        tiny = work / "tiny"
        (tiny / "solutions").mkdir(parents=True)
        nbformat.write(_tiny_solution(), tiny / "solutions" / "00_tiny.ipynb")
        for k in range(TINY_STUDENTS):
            (tiny / "class" / f"student{k}").mkdir(parents=True)
            nbformat.write(_tiny_solution(), tiny / "class" / f"student{k}" / "00_tiny.ipynb")
        tiny_wall, measures = {}, []
        for mode in MODES:
            measure = _grade(tiny / "class", tiny / "solutions", work / f"tiny-{mode}", mode)
            measures.append(measure)
            tiny_wall[mode] = measure
            for seed, row in enumerate(measure.value):
                rows.append({"impl": mode, "env": "tiny", "seed": seed, "step": 0, "kind": "tiny",
                             "eval_return": float(row["points"]), "wall_s": float(row["seconds"]), **_load(measure)})
        per = {m: [r["wall_s"] for r in rows if r["impl"] == m and r["kind"] == "tiny"] for m in MODES}
        mean = {m: sum(v) / len(v) for m, v in per.items()}
        lines += ["## A one-cell notebook (the grader's own price)", "",
                  f"{TINY_STUDENTS} students, -j 2. Seconds per notebook (mean of the grader's per-notebook "
                  "timing) and wall-clock of the whole command:", "",
                  "| mode | s per notebook | wall-clock, all students | load |", "| --- | --- | --- | --- |"]
        lines += [f"| {m} | {mean[m]:.1f} | {tiny_wall[m].seconds:.1f} | {tiny_wall[m].note()} |" for m in MODES]
        lines += ["", f"Sandbox / no sandbox, per notebook: {mean['sandbox'] / mean['no-sandbox']:.2f}x.", ""]

        if os.environ.get("BENCH_GRADING_FULL", "1") != "0":
            student = work / "student"
            student.mkdir()
            for path in sorted((ROOT / "solutions").glob("*.ipynb")):
                shutil.copy(path, student / path.name)
            full = {}
            for mode in MODES:
                measure = _grade(student, ROOT / "solutions", work / f"full-{mode}", mode, "--layout", "student")
                measures.append(measure)
                summary = measure.value
                full[mode] = (measure, {r["notebook"]: r for r in summary})
                for r in summary:
                    rows.append({"impl": mode, "env": r["notebook"], "seed": 0, "step": 0, "kind": "notebook",
                                 "eval_return": float(r["points"]), "wall_s": float(r["seconds"]),
                                 "max_points": float(r["max_points"]), **_load(measure)})
                rows.append({"impl": mode, "env": "submission", "seed": 0, "step": 0, "kind": "submission",
                             "eval_return": sum(float(r["points"]) for r in summary), "wall_s": measure.seconds,
                             "max_points": sum(float(r["max_points"]) for r in summary), **_load(measure)})
            lines += ["## One student's six reference notebooks (ci budget, -j 2)", "",
                      "| notebook | points | s, sandbox | s, no sandbox | ratio |", "| --- | --- | --- | --- | --- |"]
            for name in sorted(full["sandbox"][1]):
                on, off = full["sandbox"][1][name], full["no-sandbox"][1].get(name)
                if off is None:
                    continue
                lines.append(f"| {name} | {on['points']}/{on['max_points']} | {float(on['seconds']):.1f} | "
                             f"{float(off['seconds']):.1f} | {float(on['seconds']) / max(0.1, float(off['seconds'])):.2f} |")
            on, off = full["sandbox"][0], full["no-sandbox"][0]
            sandboxed = {name: float(r["seconds"]) for name, r in full["sandbox"][1].items()}
            _write_expected_seconds(sandboxed, on)
            lines += ["", f"Whole submission, wall-clock: {on.seconds:.0f} s sandboxed ({on.note()}), "
                      f"{off.seconds:.0f} s without ({off.note()}); {on.seconds / off.seconds:.2f}x.", ""]
            lines += [f"The grader starts a submission's slowest notebooks first (the order of "
                      f"cs285lab/data/{GRADING_SECONDS}). An estimate from the sandboxed seconds above, two notebooks "
                      f"at a time: {makespan(sorted(sandboxed.values(), reverse=True)):.0f} s longest first, "
                      f"{makespan([sandboxed[n] for n in sorted(sandboxed)]):.0f} s in file order.", ""]
        else:
            lines += ["Full submission: skipped (BENCH_GRADING_FULL=0).", ""]
        busy = [m for m in measures if m.busy]
        lines.append(f"Load: the 1-minute load average before and after each grading command, and the CPU other "
                     f"processes used during it, on {os.cpu_count()} cores. "
                     + (f"WARNING: {len(busy)} of {len(measures)} measurement(s) were taken on a busy machine "
                        "(marked BUSY) even after waiting and re-running: they overstate what grading costs."
                        if busy else "Every measurement was taken on a quiet machine."))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = sorted({r["env"] for r in rows if r["kind"] != "submission"})
    width = 0.4
    for k, mode in enumerate(MODES):
        values = []
        for name in names:
            sel = [r["wall_s"] for r in rows if r["impl"] == mode and r["env"] == name]
            values.append(sum(sel) / len(sel) if sel else 0.0)
        ax.bar([i + (k - 0.5) * width for i in range(len(names))], values, width, label=mode)
    ax.set_xticks(range(len(names)), [n.split("_")[0] for n in names])
    ax.set_ylabel("seconds per notebook")
    ax.set_title("cs285lab grade, -j 2: sandbox on vs off")
    ax.legend()
    fig.tight_layout()
    return Result(rows, "\n".join(lines), extra_columns=("kind", "max_points", "load_before", "load_after", "others",
                                                        "busy"), figures={"": fig})
