"""The benchmark harness: one schema (column `step`) and one band over seeds (cs285lab.bands)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import harness
from cs285lab.bands import band_over_seeds


def _rows() -> list[dict]:
    rows = []
    for impl, offset in (("ours", 0.0), ("peer", 10.0)):
        for seed in range(3):
            for step in (0, 100, 200):
                rows.append({"impl": impl, "env": "E-v0", "seed": seed, "step": step,
                             "eval_return": offset + step / 10 + seed * (step / 100), "wall_s": step / 1000})
    return rows


def test_the_learning_curve_figure_draws_the_one_band_over_seeds():
    rows = _rows()
    fig = harness.learning_curve_figure(rows, "t")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    for impl, line in lines.items():
        sel = [r for r in rows if r["impl"] == impl]
        band = band_over_seeds([([r["step"] for r in sel if r["seed"] == s],
                                 [r["eval_return"] for r in sel if r["seed"] == s]) for s in range(3)])
        np.testing.assert_array_equal(line.get_xdata(), band.x)
        np.testing.assert_array_equal(line.get_ydata(), band.median)
    # the shaded spread is min..max over the seeds: at step 200, seeds give 20, 22, 24 for "ours"
    ours = ax.collections[sorted(lines).index("ours")].get_paths()[0].vertices
    at_200 = sorted(y for x, y in ours if x == 200)
    assert at_200[0] == 20 and at_200[-1] == 24


def test_results_tables_use_the_history_schema_column_step(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    harness.write("fake", harness.Result(_rows(), "summary"), 1.0)
    with open(tmp_path / "fake.csv") as handle:
        header = next(csv.reader(handle))
    assert header == ["impl", "env", "seed", "step", "eval_return", "wall_s"]
    old = [{**{k: v for k, v in r.items() if k != "step"}, "env_steps": r["step"]} for r in _rows()]
    with pytest.raises(ValueError, match=r"rows lack columns \['step'\]"):
        harness.write("fake", harness.Result(old, "summary"), 1.0)


def test_every_committed_results_table_has_the_step_column():
    for path in sorted(harness.RESULTS.glob("*.csv")):
        with open(path) as handle:
            header = next(csv.reader(handle))
        assert header[:6] == list(harness.COLUMNS), f"{path.name}: {header[:6]}"


def _machine(monkeypatch, loads: list[float], others: list[float], cores: int = 2) -> list[int]:
    """A machine scripted per attempt: the load average before and after, and the cores other processes use
    while each 10-second measurement runs (ours uses one core). Returns the list of waits for quiet."""
    monkeypatch.setattr(harness.os, "cpu_count", lambda: cores)
    loads = list(loads)
    monkeypatch.setattr(harness.os, "getloadavg", lambda: (loads.pop(0), 0.0, 0.0))
    cpu = [reading for share in others for reading in ((0.0, 0.0), (10.0 * (1.0 + share), 10.0))]
    monkeypatch.setattr(harness, "_cpu_seconds", lambda: cpu.pop(0))
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(harness.time, "perf_counter", lambda: float(next(clock)))
    waited: list[int] = []
    monkeypatch.setattr(harness, "wait_for_quiet", lambda *a, **k: waited.append(1) or 0.1)
    return waited


def test_a_timing_on_a_quiet_machine_is_taken_once_and_says_the_load(monkeypatch):
    waited = _machine(monkeypatch, loads=[0.4, 0.9], others=[0.0])
    calls = []
    measure = harness.timed(lambda: calls.append(1) or "done")
    assert (measure.value, measure.attempts, measure.busy, calls, waited) == ("done", 1, False, [1], [])
    assert measure.note().startswith("load 0.40 -> 0.90") and "BUSY" not in measure.note()


def test_a_timing_on_a_busy_machine_is_taken_again_and_marked_if_it_stays_busy(monkeypatch):
    # before: load 1.8 >= 1.5 on 2 cores; then quiet: the second attempt is kept
    waited = _machine(monkeypatch, loads=[1.8, 2.0, 0.5, 1.0], others=[0.0, 0.0])
    measure = harness.timed(lambda: "x")
    assert (measure.attempts, measure.busy, len(waited)) == (2, False, 1)
    # another process takes a whole core during every attempt: marked BUSY after the retries
    waited = _machine(monkeypatch, loads=[0.2, 1.2] * 3, others=[1.0] * 3)
    measure = harness.timed(lambda: "x", retries=2)
    assert measure.attempts == 3 and measure.busy and "BUSY" in measure.note() and len(waited) == 2


def test_the_results_page_says_the_load(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    harness.write("fake", harness.Result(_rows(), "summary"), 1.0, "load average 0.30 before, 1.10 after")
    assert "load average 0.30 before, 1.10 after" in (tmp_path / "fake.md").read_text().splitlines()[2]


def test_descendants_cpu_counts_a_child_nobody_waits_for():
    # a busy child left unreaped (a zombie) never reaches RUSAGE_CHILDREN; /proc still shows its totals
    import resource
    import subprocess
    import sys

    from benchmarks.harness import DescendantsCPU

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = children_cpu()
    with DescendantsCPU(every=0.05) as tree:
        child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                                  "while time.process_time() - t < 0.6: pass"])
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z":  # not poll(): it reaps
            time.sleep(0.05)
    assert tree.seconds >= 0.5 and children_cpu() - before < 0.1, (tree.seconds, children_cpu() - before)
    child.wait()  # reaped only now, after the block
    assert children_cpu() - before >= 0.5  # the same CPU, which RUSAGE_CHILDREN sees only once it is reaped


def test_makespan_is_list_scheduling_on_the_first_free_worker():
    from benchmarks.bench_grading import makespan

    assert makespan([5.0, 4.0, 3.0, 3.0, 3.0]) == 10.0  # 5 | 4; each 3 to the first free: 4+3, 5+3, 7+3
    assert makespan([3.0, 3.0, 3.0, 4.0, 5.0]) == 11.0  # the same jobs, longest last: 3+3+5 | 3+4
    assert makespan([2.0, 2.0], workers=1) == 4.0
