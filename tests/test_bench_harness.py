"""The benchmark harness: one schema (column `step`) and one band over seeds (cs285lab.bands)."""

from __future__ import annotations

import csv

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
