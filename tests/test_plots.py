"""Live curves, static comparison, compare widget and reference bands (no browser: see test_browser.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import cs285lab.plots.live as live_module
from cs285lab.plots import (LiveCurves, available_references, compare_widget, load_reference, make_reference,
                            plot_comparison, smooth)
from cs285lab.plots.reference import resample_runs
from cs285lab.runs import RunLogger, load_runs


# ----------------------------------------------------------------------------- smoothing

def test_smooth_is_a_debiased_ema_that_skips_nans():
    np.testing.assert_allclose(smooth([1.0, 2.0, 3.0], 0.0), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(smooth([5.0] * 6, 0.9), [5.0] * 6)  # debiased: no pull towards zero
    out = smooth([0.0, 10.0], 0.5)
    np.testing.assert_allclose(out, [0.0, (0.5 * 0.0 * 0.5 + 0.5 * 10.0) / 0.75])
    with_nan = smooth([np.nan, 2.0, np.nan, 4.0], 0.5)
    assert np.isnan(with_nan[0]) and with_nan[1] == 2.0 and with_nan[2] == 2.0 and 2.0 < with_nan[3] < 4.0
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
            smooth([1.0], bad)
    with pytest.raises(ValueError, match="1-D"):
        smooth(np.ones((2, 2)), 0.5)


def test_smoothing_against_env_steps_treats_sparse_and_dense_logging_alike():
    sparse_x, dense_x = np.arange(500, 4001, 500), np.arange(10, 4001, 10)
    ramp = lambda x: x / 40.0                                        # a learning curve going up 0 -> 100
    smooth_sparse = smooth(ramp(sparse_x), 0.6, sparse_x, span=4000)
    smooth_dense = smooth(ramp(dense_x), 0.6, dense_x, span=4000)
    at = np.searchsorted(dense_x, sparse_x)
    np.testing.assert_allclose(smooth_sparse, smooth_dense[at], atol=3.0)  # the same lag behind the ramp
    # smoothed per point instead, the sparse curve would lag far behind
    assert (ramp(sparse_x) - smooth(ramp(sparse_x), 0.6))[-1] > 10
    with pytest.raises(ValueError, match="x has shape"):
        smooth([1.0, 2.0], 0.5, [1.0])


# ----------------------------------------------------------------------------- reference bands

def _synthetic_runs(root, experiment="ref", seeds=(0, 1, 2), offset=None, end=2000):
    """Runs whose episode_return is step/10 + 10*seed (+ offset), logged at irregular steps."""
    rng = np.random.default_rng(0)
    for seed in seeds:
        with RunLogger(experiment, seed=seed, root=root) as logger:
            step = 0
            while step < end:
                step += int(rng.integers(5, 40))
                value = step / 10 + 10 * seed + (offset or 0.0)
                logger.log(step, episode_return=value)
                if step % 3 == 0:
                    logger.log(step, eval_return=float(seed))
    return load_runs(experiment, root)


def test_a_band_is_median_and_spread_over_seeds(tmp_path):
    runs = _synthetic_runs(tmp_path)
    path = make_reference(runs, tmp_path / "demo.csv", metrics=["episode_return"], points=50,
                          algorithm="synthetic", profile="ci")
    band = load_reference(path)
    assert band.meta["algorithm"] == "synthetic" and band.meta["profile"] == "ci" and band.seeds == [0, 1, 2]
    assert band.metrics == ["episode_return"] and band.name == "demo"
    # the legend speaks a student's language: no budget-profile jargon
    assert band.label() == "reference: median and middle 50% of 3 seeds"
    assert band.label("minmax") == "reference: median and full range (min–max) of 3 seeds"
    table = band.band("episode_return")
    assert len(table) >= 45 and (table["n_seeds"] == 3).all()
    late = table[table["step"] > 200]
    # seeds differ by exactly 10: median is seed 1, min-max spans seeds 0..2
    # (a bin mean of step/10 over a 40-step bin is off by at most 2 per seed)
    np.testing.assert_allclose(late["high"] - late["low"], 20.0, atol=4.0)
    np.testing.assert_allclose(late["median"], late["step"] / 10 + 10, atol=4.0)
    iqr = band.band("episode_return", spread="iqr")
    np.testing.assert_allclose((iqr["high"] - iqr["low"])[iqr["step"] > 200], 10.0, atol=2.0)
    smoothed = band.band("episode_return", smoothing=0.9)
    assert (smoothed["median"].iloc[-5:] < table["median"].iloc[-5:]).all()  # EMA lags a rising curve
    with pytest.raises(KeyError, match="has no metric 'loss'"):
        band.band("loss")
    with pytest.raises(ValueError, match="spread must be"):
        band.band("episode_return", spread="wide")


def test_resampling_keeps_sparse_metrics_and_needs_two_runs(tmp_path):
    runs = _synthetic_runs(tmp_path)
    curves = resample_runs(runs, ["eval_return"], points=20)
    for seed, group in curves.groupby("seed"):
        np.testing.assert_allclose(group["value"], float(seed))  # interpolated between sparse evaluations
    one = runs[runs["run"] == "seed0"]
    with pytest.raises(ValueError, match="at least 2 runs"):
        make_reference(one, tmp_path / "x.csv")
    with pytest.raises(TypeError, match="tidy DataFrame"):
        make_reference(load_runs("ref", tmp_path, wide=True), tmp_path / "x.csv")


def _fake_train(seed, settings, logger):
    for step in range(0, 1000, 100):
        logger.log(step, eval_return=step / 100 + seed + settings["episodes"], train_return=float(seed))


def test_generate_trains_every_seed_at_the_notebook_budget_and_records_it(tmp_path, monkeypatch):
    from cs285lab import budget
    from cs285lab.references import recipe as reference

    recipe = reference.Recipe("nb00", "fake:algorithm", "Fake-v0", ("eval_return",),
                              lambda b: {"episodes": b.random_episodes}, _fake_train)
    monkeypatch.setitem(reference.RECIPES, "nb00-fake", recipe)
    path = reference.generate("nb00-fake", seeds=(0, 1, 2), profile="ci", out=tmp_path / "band.csv",
                              root=tmp_path / "runs")
    band = load_reference(path)
    ci_episodes = budget("nb00", "ci").random_episodes
    assert ci_episodes != budget("nb00", "full").random_episodes
    assert band.name == "nb00-fake" and band.meta["budget"] == f"episodes={ci_episodes}"
    assert band.meta["profile"] == "ci" and "budget" not in band.label()
    assert band.meta["env"] == "Fake-v0" and band.meta["algorithm"] == "fake:algorithm"
    assert band.seeds == [0, 1, 2] and band.metrics == ["eval_return"]
    table = band.band("eval_return")
    assert table["step"].tolist() == list(range(0, 1000, 100))  # shared evaluation steps are the grid
    assert table["median"].iloc[-1] == 9 + 1 + ci_episodes and table["low"].iloc[-1] == 9 + ci_episodes
    # sizes that do not depend on the profile: the band says it serves both
    same = reference.Recipe("nb00", "fake:algorithm", "Fake-v0", ("eval_return",), lambda b: {"episodes": 3},
                            _fake_train)
    monkeypatch.setitem(reference.RECIPES, "nb00-same", same)
    both = load_reference(reference.generate("nb00-same", seeds=(0, 1), out=tmp_path / "same.csv"))
    assert both.meta["profile"] == "ci, full" and band.label().endswith("of 3 seeds")
    with pytest.raises(KeyError, match="no recipe"):
        reference.generate("nb99-nothing")


def test_every_shipped_band_has_a_recipe_at_its_notebook_budget():
    from cs285lab import budget
    from cs285lab.references import known_recipes

    known = known_recipes()
    for name in available_references():
        assert name in known, f"band {name} has no recipe in cs285lab/references/recipes/"
        recipe = known[name]
        assert load_reference(name).meta["notebook"] == recipe.notebook
        for profile in ("ci", "full"):
            assert recipe.config(budget(recipe.notebook, profile)) is not None  # every table the recipe reads exists


@pytest.mark.parametrize("name", available_references())
def test_a_shipped_band_says_the_command_that_regenerates_it(name):
    import shlex

    from cs285lab.references.cli import parser

    how = load_reference(name).meta["how"]
    assert f"python -m cs285lab.references generate {name}" in how, how
    command = how[how.index("python -m cs285lab.references"):].split(" (")[0]  # a note in parentheses may follow
    args = parser().parse_args(shlex.split(command)[3:])  # a command that no longer parses exits here
    assert args.command == "generate" and args.exercise == name


def test_generate_command_lists_recipes_found_in_the_recipes_package(capsys):
    from cs285lab.references.cli import main

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "nb01-a2c-cartpole" in out and "nb03-sac-pendulum" in out


def test_the_course_command_forwards_references(capsys):
    from cs285lab.cli import main

    assert main(["references", "list"]) == 0
    assert "nb03-sac-pendulum: eval_return, train_return" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # an unknown band is refused before anything trains
        main(["references", "generate", "nb99-nothing"])
    assert refused.value.code == 2 and "invalid choice: 'nb99-nothing'" in capsys.readouterr().err


def test_unknown_reference_names_say_what_is_shipped():
    with pytest.raises(FileNotFoundError, match="shipped bands"):
        load_reference("nb99-nothing")


@pytest.mark.parametrize("name", available_references())
def test_shipped_reference_bands_are_real_and_say_how_they_were_made(name):
    band = load_reference(name)
    assert len(band.seeds) >= 3, "a band needs several seeds"
    assert band.meta.get("profile") in ("ci", "full", "ci, full"), "the header must say which budget made it"
    for key in ("algorithm", "env", "how"):
        assert band.meta.get(key), f"the header must say {key}"
    for metric in band.metrics:
        table = band.band(metric, smoothing=0.6)
        assert len(table) >= 5 and np.isfinite(table[["median", "low", "high"]].to_numpy()).all()
        assert (table["low"] <= table["median"]).all() and (table["median"] <= table["high"]).all()


def _band_as_before(band, metric, smoothing, spread, span):
    """ReferenceBand.band as it was computed before it used cs285lab.bands (pivot, smooth, nan-quantiles)."""
    import warnings

    import pandas as pd

    from cs285lab.bands import SPREADS

    table = band.curves[band.curves["metric"] == metric].pivot_table(
        index="step", columns="seed", values="value", aggfunc="mean").sort_index()
    steps = table.index.to_numpy(float)
    span = span or float(steps.max())
    values = np.column_stack([smooth(table[c].to_numpy(), smoothing, steps, span) for c in table.columns])
    lo_q, hi_q = SPREADS[spread]
    counts = np.isfinite(values).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = pd.DataFrame({"step": table.index.to_numpy(), "median": np.nanmedian(values, axis=1),
                            "low": np.nanquantile(values, lo_q, axis=1), "high": np.nanquantile(values, hi_q, axis=1),
                            "n_seeds": counts})
    n = values.shape[1]
    return out[out["n_seeds"] >= max(min(n, 2), (n + 1) // 2)].reset_index(drop=True)


@pytest.mark.parametrize("name", available_references())
def test_reference_bands_use_the_one_band_function_with_the_same_numbers(name):
    band = load_reference(name)
    for metric in band.metrics:
        for smoothing, spread, span in ((0.0, "minmax", None), (0.6, "iqr", None), (0.9, "80", 50_000.0)):
            got = band.band(metric, smoothing, spread, span)
            before = _band_as_before(band, metric, smoothing, spread, span)
            assert list(got.columns) == list(before.columns) and got["step"].dtype == before["step"].dtype
            for column in got.columns:
                np.testing.assert_array_equal(got[column].to_numpy(), before[column].to_numpy(), err_msg=column)


def test_the_references_command_lists_the_shipped_bands():
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-m", "cs285lab.references", "list"], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert "nb01-a2c-cartpole: eval_return, train_return; reference: median" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "cs285lab.references", "build", "nothing", "--root", "/nonexistent",
                          "--out", "x.csv"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert bad.returncode == 2 and bad.stderr.startswith("error: no experiment 'nothing'")


def test_at_least_one_reference_band_is_shipped():
    assert available_references(), "ship at least one band in cs285lab/data/reference/"


# ----------------------------------------------------------------------------- static comparison

def test_plot_comparison_saves_png_and_svg_and_draws_the_band(tmp_path):
    runs = _synthetic_runs(tmp_path / "runs")
    band = make_reference(runs, tmp_path / "band.csv", metrics=["episode_return"], profile="ci")
    mine = _synthetic_runs(tmp_path / "runs", experiment="mine", seeds=(7,), offset=-100.0)
    fig = plot_comparison(mine, reference=band, save=[tmp_path / "out/cmp.png", tmp_path / "out/cmp.svg"])
    assert (tmp_path / "out/cmp.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (tmp_path / "out/cmp.svg").read_bytes()[:2000]
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == "episode_return"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "reference: median and middle 50% of 3 seeds" and "seed7" in labels
    assert len(ax.collections) == 1  # the band
    fig = plot_comparison("mine", "episode_return", reference=band, x="wall_s", root=tmp_path / "runs")
    assert fig.axes[0].get_xlabel() == "wall-clock (s)" and len(fig.axes[0].collections) == 0


def test_plot_comparison_rejects_bad_input_clearly(tmp_path):
    runs = _synthetic_runs(tmp_path)
    with pytest.raises(KeyError, match="no metric 'reward'.*logged: episode_return, eval_return"):
        plot_comparison(runs, "reward")
    with pytest.raises(ValueError, match="save to a .png/.svg/.pdf file"):
        plot_comparison(runs, save=tmp_path / "x.jpeg")
    with pytest.raises(ValueError, match="x must be 'step'"):
        plot_comparison(runs, x="time")
    with pytest.raises(TypeError, match="tidy DataFrame"):
        plot_comparison(load_runs("ref", tmp_path, wide=True))
    with pytest.raises(TypeError, match="experiment name"):
        plot_comparison(42)


# ----------------------------------------------------------------------------- compare widget

def test_compare_widget_redraws_when_a_control_changes(tmp_path):
    _synthetic_runs(tmp_path)
    make_reference(load_runs("ref", tmp_path), tmp_path / "band.csv", profile="ci")
    widget = compare_widget("ref", reference=tmp_path / "band.csv", root=tmp_path)
    assert widget.runs.value == ("seed0", "seed1", "seed2") and widget.metric.value == "episode_return"
    images = [bytes(widget.image.value)]
    widget.smoothing.value = 0.95
    images.append(bytes(widget.image.value))
    widget.runs.value = ("seed1",)
    images.append(bytes(widget.image.value))
    widget.x.value = "wall_s"
    images.append(bytes(widget.image.value))
    widget.metric.value = "eval_return"
    images.append(bytes(widget.image.value))
    assert all(img.startswith(b"\x89PNG") for img in images)
    assert len(set(images)) == len(images), "every control change must redraw a different figure"
    assert widget.redraws == 5
    widget.runs.value = ()
    assert "select at least one run" in widget.status.value
    bundle = widget._repr_mimebundle_()
    assert bundle["text/plain"] == "CompareWidget(metric='eval_return', runs=3)"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # a run logged after the widget was built appears on reload
    with RunLogger("ref", seed=9, root=tmp_path) as logger:
        logger.log(10, episode_return=1.0)
    widget.refresh()
    assert "seed9" in widget.runs.options and "seed9" in widget.runs.value


# ----------------------------------------------------------------------------- live curves

class FakeHandle:
    def __init__(self, log, obj):
        self.log, self.objects = log, [obj]

    def update(self, obj, **kwargs):
        self.objects.append(obj)


@pytest.fixture
def fake_kernel(monkeypatch):
    """Pretend to run in a Jupyter kernel: record every display() and handle.update()."""
    handles = []

    def display(obj, raw=False, display_id=None):
        assert display_id is True, "live output must be displayed with display_id=True"
        handles.append(FakeHandle(handles, obj))
        return handles[-1]

    monkeypatch.setattr(live_module, "_kernel_display", lambda: display)
    return handles


def _png(obj):
    return obj.data


def test_live_curves_update_one_figure_in_place(tmp_path, fake_kernel, monkeypatch):
    monkeypatch.setattr(live_module, "MAX_DRAW_SHARE", float("inf"))  # redraw on every row: no timing involved
    with RunLogger("exp", root=tmp_path, live=["episode_return", "loss"], total_steps=400,
                   redraw_every=1e-9) as logger:
        for step in range(0, 400, 50):
            logger.log(step, episode_return=step / 4, loss=1.0 / (1 + step), other=1.0)
    progress, figure = fake_kernel
    assert len(fake_kernel) == 2, "exactly two outputs: the progress line and the figure"
    assert "waiting" in figure.objects[0]["text/plain"]  # a placeholder until the first row
    frames = [_png(obj) for obj in figure.objects[1:]]
    assert len(frames) == 8 + 1 and all(f.startswith(b"\x89PNG") for f in frames)
    assert len(set(frames[:-1])) == 8, "each redraw must show the new data"
    assert frames[-1] == (logger.path / "curves.png").read_bytes()  # the final frame is the saved one
    assert logger.live.frames == len(frames)
    texts = [bundle["text/plain"] for bundle in progress.objects]
    assert texts[-1].startswith("done: step 350 / 400") and "episode_return 87.5" in texts[-1]
    assert 'max="400"' in progress.objects[-1]["text/html"]


def test_live_redraws_are_throttled(tmp_path, fake_kernel):
    with RunLogger("exp", root=tmp_path, live=True, redraw_every=60.0) as logger:
        for step in range(2000):
            logger.log(step, episode_return=float(step))
    _, figure = fake_kernel
    assert len(figure.objects) == 3, "placeholder, first row's frame, final frame: nothing in between"
    assert logger.live.frames == 2


def test_live_figure_has_one_panel_per_metric_and_the_reference_band(tmp_path, fake_kernel):
    runs = _synthetic_runs(tmp_path / "runs")
    band = make_reference(runs, tmp_path / "band.csv", profile="ci")
    curves = LiveCurves(None, reference=band, title="me")
    for step in range(0, 1000, 50):
        curves.add({"step": step, "wall_s": step / 1000, "episode_return": step / 10, "loss": 0.1})
    fig = curves.figure()
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["episode_return", "loss"]
    assert len(fig.axes[0].collections) == 1 and len(fig.axes[1].collections) == 0  # band only where known
    curves.close()
    curves.add({"step": 5000, "wall_s": 1.0, "episode_return": 1.0})  # ignored after close
    with pytest.raises(ValueError, match="x must be"):
        LiveCurves(["a"], x="time")
    with pytest.raises(ValueError, match="total_steps"):
        LiveCurves(["a"], total_steps=-5)


def test_a_plotting_failure_never_stops_training(tmp_path, fake_kernel, monkeypatch):
    with RunLogger("exp", root=tmp_path, live=["r"], redraw_every=0.01) as logger:
        monkeypatch.setattr(logger.live, "_render", lambda: 1 / 0)
        with pytest.warns(RuntimeWarning, match="live plot stopped: ZeroDivisionError"):
            for step in range(50):
                logger.log(step, r=float(step))
                time.sleep(0.001)
        with pytest.warns(RuntimeWarning, match="live plot stopped"):
            logger.close()  # the final frame fails too: still no exception
    assert len(load_runs("exp", tmp_path)) == 50


# ----------------------------------------------------------------------------- saved notebooks and nbval

HEADLESS_CELLS = [
    "import time\n"
    "from cs285lab.runs import RunLogger\n"
    "with RunLogger('headless', seed=0, live=['episode_return'], total_steps=300, redraw_every=0.05) as logger:\n"
    "    for step in range(0, 300, 30):\n"
    "        logger.log(step, episode_return=step / 3)\n"
    "        time.sleep(0.02)\n",
    "from cs285lab.plots import compare_widget\ncompare_widget('headless')\n",
]


def test_a_headless_run_saves_one_final_image_and_no_noise(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in HEADLESS_CELLS]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    live_outputs, widget_outputs = nb.cells[0].outputs, nb.cells[1].outputs
    assert [o.output_type for o in live_outputs] == ["display_data", "display_data"], live_outputs
    progress, figure = live_outputs
    assert progress.data["text/plain"].startswith("done: step 270 / 300")
    assert set(figure.data) == {"image/png", "text/plain"}  # the final frame, not a widget
    assert figure.data["text/plain"] == "<IPython.core.display.Image object>"
    widget, copy = widget_outputs  # the widget, then its static copy for a reopened notebook
    assert widget.data["text/plain"] == copy.data["text/plain"] == "CompareWidget(metric='episode_return', runs=1)"
    assert "application/vnd.jupyter.widget-view+json" in widget.data
    assert 'class="cs285lab-static-copy"' in copy.data["text/html"] and "data:image/png;base64," in copy.data["text/html"]
    assert not [o for cell in nb.cells for o in cell.outputs if o.output_type in ("stream", "error")], \
        "no warnings, prints or errors in the saved notebook"


SANITIZE_CASES = {
    "<Logger at 0x7f3a2b1c9d00>": "<Logger at 0xADDRESS>",
    "took 1.23 s, 45ms per update, 1,834.5 steps/s": "took T, T per update, N steps/s",
    "Wall time: 3.2 s": "Wall time: TIME",
    "started 2026-11-22T09:44:19+00:00": "started DATETIME",
    "0:07 elapsed": "HH:MM:SS elapsed",
    'src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="': 'src="data:image/IMAGE;base64,BASE64"',
    "model_id 0123456789abcdef0123456789abcdef": "model_id HEXID",
    "wrote runs/nb01/batched/seed0-3/metrics.jsonl": "wrote runs/nb01/batched/seed0/metrics.jsonl",
    # facts a check prints must survive
    "✓ td_target: all 6 checks passed (5 seeds, 200 steps, return 500.0)":
        "✓ td_target: all 6 checks passed (5 seeds, 200 steps, return 500.0)",
}


@pytest.mark.parametrize("raw", list(SANITIZE_CASES))
def test_the_nbval_sanitizers_hide_machine_facts_and_keep_results(raw):
    import re
    from pathlib import Path

    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((Path(__file__).parent / "sanitize.cfg").read_text())
    assert len(patterns) >= 10
    text = raw
    for regex, replace in patterns:  # exactly what nbval does
        text = re.sub(regex, replace, text)
    assert text == SANITIZE_CASES[raw]


# ----------------------------------------------------------------------------- readability

def _png_size(data: bytes) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", data[16:24])


def test_panels_are_labelled_and_the_legend_never_covers_the_band(tmp_path):
    runs = _synthetic_runs(tmp_path / "runs")
    band = make_reference(runs, tmp_path / "band.csv", metrics=["episode_return"], profile="ci")
    fig = plot_comparison(runs, "episode_return", reference=band)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "episode_return" and ax.get_xlabel() == "env steps"
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    axes_box = ax.get_window_extent()
    assert legend_box.y1 <= axes_box.y0, "the legend sits under the axes, not over the band"
    notes = [t.get_text() for t in ax.texts]
    assert any("faint: raw values" in n and "smoothed (0.6)" in n for n in notes)


def test_identical_runs_are_both_visible_and_say_so(tmp_path):
    for _ in range(2):
        with RunLogger("twins", seed=0, root=tmp_path) as logger:
            for step in range(0, 100, 10):
                logger.log(step, episode_return=float(step))
    ax = plot_comparison("twins", root=tmp_path).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["seed0", "seed0-2 (= seed0)"]
    styles = [line.get_linestyle() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert styles == ["-", "--"], "the repeat is dashed so the first run shows through"


def test_a_first_point_gets_a_readable_axis_and_the_live_x_axis_spans_the_run(tmp_path):
    curves = LiveCurves(["episode_return"], total_steps=5000)
    curves.add({"step": 0, "wall_s": 0.0, "episode_return": 20.0})
    ax = curves.figure().axes[0]
    low, high = ax.get_ylim()
    assert low <= 18.0 and high >= 22.0, f"a single point at 20 drawn on {low:.2f}..{high:.2f}"
    assert ax.get_xlim() == (0.0, 5000.0)


def test_live_panels_and_the_widget_image_are_large_enough_to_read(tmp_path):
    curves = LiveCurves(["a", "b"], total_steps=100)
    curves.add({"step": 10, "wall_s": 0.1, "a": 1.0, "b": 2.0})
    width, _ = _png_size(curves._render())
    assert width >= 2 * 480, f"two panels of at least 480 px each, got {width} px in all"
    _synthetic_runs(tmp_path)
    widget = compare_widget("ref", root=tmp_path)
    width, _ = _png_size(bytes(widget.image.value))
    assert width >= 900 and widget.image.layout.max_width == f"{width}px", "drawn at the size it is shown"


def test_a_band_overlays_the_live_curves_of_the_algorithms_training_loops(tmp_path):
    import gymnasium as gym

    from cs285lab.algos.actor_critic import A2CConfig, train_a2c
    from cs285lab.algos.off_policy import run_off_policy
    from cs285lab.algos.sac import SAC, SACConfig

    with RunLogger("a2c", root=tmp_path, live=["eval_return"], reference="nb01-a2c-cartpole",
                   total_steps=256) as logger:
        train_a2c("CartPole-v1", A2CConfig(num_envs=2, total_steps=256, n_steps=8, eval_every=128, eval_episodes=1),
                  seed=0, logger=logger)
    assert len(logger.live.figure().axes[0].collections) == 1, "the A2C live curve has no band"
    env = gym.make("Pendulum-v1")
    config = SACConfig(hidden=(8, 8), total_steps=60, batch_size=8, learning_starts=20, buffer_size=100,
                       eval_every=30, eval_episodes=1)
    agent = SAC(3, 1, env.action_space.low, env.action_space.high, config)
    with RunLogger("sac", root=tmp_path, live=["eval_return"], reference="nb03-sac-pendulum",
                   total_steps=60) as logger:
        run_off_policy(agent, env, "Pendulum-v1", config, seed=0, logger=logger)
    assert len(logger.live.figure().axes[0].collections) == 1, "the SAC live curve has no band"
    assert (logger.path / "curves.png").read_bytes().startswith(b"\x89PNG")


# ----------------------------------------------------------------------------- one figure for several runs (issue 24)

def test_several_runs_of_one_cell_draw_labelled_lines_into_one_live_figure(tmp_path, fake_kernel, monkeypatch):
    monkeypatch.setattr(live_module, "MAX_DRAW_SHARE", float("inf"))  # redraw on every row
    figure = LiveCurves(["eval_return"], total_steps=400, reference="nb01-a2c-cartpole", redraw_every=1e-9,
                        title="three seeds")
    loggers = []
    for seed in range(3):
        with RunLogger("exp", seed=seed, root=tmp_path, live=figure) as logger:
            for step in range(0, 400, 100):
                logger.log(step, eval_return=step / 10 + 7 * seed, loss=1.0)
        loggers.append(logger)
    assert len(fake_kernel) == 2, "one progress line and one figure for all three runs, not three plots"
    assert all(logger.live is figure for logger in loggers)
    ax = figure.figure().axes[0]
    runs = [(line.get_label(), line.get_color()) for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [label for label, _ in runs] == ["seed0", "seed1", "seed2"]
    assert len({color for _, color in runs}) == 3, "each run its own colour"
    legend = [t.get_text() for t in figure.figure().legends[0].get_texts()]
    assert legend == ["reference: median and middle 50% of 5 seeds", "seed0", "seed1", "seed2"]
    _, shown = fake_kernel
    assert shown.objects[-1].data == (loggers[-1].path / "curves.png").read_bytes()  # the last run's end frame
    assert all((logger.path / "curves.png").is_file() for logger in loggers)
    progress, _ = fake_kernel
    assert progress.objects[-1]["text/plain"].startswith("seed2 · done: step 300 / 400")
    # a run interrupted in a shared figure: its line stays, the progress line says so
    with pytest.raises(KeyboardInterrupt):
        with RunLogger("exp", seed=0, root=tmp_path, live=figure) as logger:
            logger.log(100, eval_return=1.0)
            raise KeyboardInterrupt
    assert progress.objects[-1]["text/plain"].startswith("seed0 (2) · interrupted at step 100 of 400")
    figure.close()  # closing the shared figure itself adds no phantom run
    assert [t.get_text() for t in figure.figure().legends[0].get_texts()][1:] == ["seed0", "seed1", "seed2",
                                                                                 "seed0 (2)"]


def test_the_faint_raw_caption_appears_only_over_a_faint_line(tmp_path):
    sparse = LiveCurves(["eval_return"], total_steps=20_000)  # five evaluations: smoothing leaves them as they are
    for step in range(0, 20_001, 4000):
        sparse.add({"step": step, "wall_s": 1.0, "eval_return": float(step % 7000)})
    ax = sparse.figure().axes[0]
    assert len(ax.get_lines()) == 1 and not [t for t in ax.texts if "faint" in t.get_text()]
    dense = LiveCurves(["train_return"], total_steps=20_000)
    rng = np.random.default_rng(0)
    for step in range(0, 20_001, 100):
        dense.add({"step": step, "wall_s": 1.0, "train_return": step / 100 + rng.normal(0, 20)})
    ax = dense.figure().axes[0]
    assert len(ax.get_lines()) == 2 and [t for t in ax.texts if "faint: raw values" in t.get_text()]


def test_the_band_is_the_middle_half_of_the_reference_seeds_by_default(tmp_path):
    runs = _synthetic_runs(tmp_path / "runs")
    band = make_reference(runs, tmp_path / "band.csv", metrics=["episode_return"], profile="ci")

    def width(fig):
        (fill,) = fig.axes[0].collections
        ys = fill.get_paths()[0].vertices[:, 1]
        return float(np.ptp(ys))

    # seeds sit 10 apart: the middle 50% is 10 wide, the full range 20 (plus the curves' own rise)
    iqr = width(plot_comparison(runs, "episode_return", reference=band))
    full = width(plot_comparison(runs, "episode_return", reference=band, spread="minmax"))
    assert full > iqr
    live = LiveCurves(["episode_return"], reference=band)
    live.add({"step": 100, "wall_s": 0.1, "episode_return": 5.0})
    assert width(live.figure()) == pytest.approx(iqr, rel=0.05)
    assert [t.get_text() for t in live.figure().legends[0].get_texts()][0] == \
        "reference: median and middle 50% of 3 seeds"
    with pytest.raises(ValueError, match="spread must be"):
        LiveCurves(["a"], spread="wide")
