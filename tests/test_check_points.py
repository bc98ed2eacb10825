"""A passing check says what it is worth: the points of its check cell, from the cell metadata."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import torch

from cs285lab.checks import load
from cs285lab.checks.core import POINTS_FILE, exercise
from cs285lab.checks.points import checks_called, table_from_notebooks

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def test_the_packaged_points_table_is_the_check_cells_metadata():
    # one source of truth: the cell metadata; the packaged table is generated from it and must not drift
    assert json.loads(POINTS_FILE.read_text(encoding="utf-8")) == table_from_notebooks(SOLUTIONS), \
        "regenerate it: python -c \"import glob; from cs285lab.checks.points import write_table; " \
        "write_table(glob.glob('solutions/*.ipynb'))\""
    assert table_from_notebooks(sorted((ROOT / "notebooks").glob("*.ipynb"))) == table_from_notebooks(SOLUTIONS)


def _cell_points(notebook: str, cell_id: str) -> float:
    path = next(p for p in SOLUTIONS if p.name.startswith(notebook[2:]))
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.metadata.get("cs285lab", {}).get("id") == cell_id)
    return cell.metadata["cs285lab"]["points"]


def td_target(rewards, next_values, terminated, truncated, gamma):
    return rewards + gamma * next_values.detach() * (1 - terminated.float())


def test_a_passing_check_prints_the_points_of_its_cell(capsys):
    load("nb00").td_target(td_target)
    points = _cell_points("nb00", "nb00-check-td-target")
    out = capsys.readouterr().out.strip()
    assert out.startswith("✓ td_target: all ") and out.endswith(f"checks passed ({points:g} points)"), out
    with exercise("not a check cell") as ex:  # code that is not a notebook's check: no points to state
        ex.ok()
    assert capsys.readouterr().out.strip() == "✓ not a check cell: all 1 checks passed"


def test_one_point_is_singular(capsys, tmp_path, monkeypatch):
    import cs285lab.checks.core as core

    table = tmp_path / "points.json"
    table.write_text(json.dumps({"nb00": {"td_target": 1}}))
    monkeypatch.setattr(core, "POINTS_FILE", table)
    load("nb00").td_target(td_target)
    assert capsys.readouterr().out.strip().endswith("checks passed (1 point)")


def test_a_check_cell_must_call_one_check_and_one_check_one_points_value(tmp_path):
    assert checks_called('from cs285lab.checks import load\nload("nb03").silent_fix(1, fix_1, ID)') == \
        [("nb03", "silent_fix")]

    def notebook(*cells):
        nb = nbformat.v4.new_notebook()
        for index, (source, points) in enumerate(cells):
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["cs285lab"] = {"id": f"nb09-check-{index}", "kind": "check", "points": points}
            nb.cells.append(cell)
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.ipynb"
        nbformat.write(nb, path)
        return path

    assert table_from_notebooks([notebook(('load("nb09").a(f)', 2), ('load("nb09").b(g)', 1))]) == \
        {"nb09": {"a": 2, "b": 1}}
    with pytest.raises(ValueError, match="carry different points"):
        table_from_notebooks([notebook(('load("nb09").a(1, f)', 2), ('load("nb09").a(2, g)', 3))])
    with pytest.raises(ValueError, match="must call one check"):
        table_from_notebooks([notebook(("print('no check')", 2))])


def test_the_grader_s_fresh_loader_shows_the_points_too(capsys):
    # the grader re-executes core.py and the check module from their files under other module names
    import types

    from cs285lab.checks import core

    module = types.ModuleType("cs285lab.checks._graded_nb00")
    module.__file__ = str(Path(core.__file__).parent / "nb00.py")
    exec(compile(Path(module.__file__).read_text(), module.__file__, "exec"), module.__dict__)  # noqa: S102
    module.discounted_reward_to_go(lambda r, g: torch.stack([
        sum(g ** (k - t) * r[k] for k in range(t, len(r))) for t in range(len(r))]).float())
    assert capsys.readouterr().out.strip().endswith(f"({_cell_points('nb00', 'nb00-check-reward-to-go'):g} points)")
