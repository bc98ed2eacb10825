"""Run logs: what is written, that nothing is overwritten, that a killed run stays readable, load_runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from cs285lab.runs import NullLogger, RunLogger, list_runs, load_configs, load_runs, read_metrics


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_log_writes_one_json_line_per_call_and_the_config(tmp_path):
    logger = RunLogger("nb01/ac", seed=3, config={"lr": 0.001, "hidden": (64, 64)}, root=tmp_path)
    logger.log(0, episode_return=10.0)
    logger.log(128, episode_return=12.5, loss=0.25)
    # written as it goes: readable before close
    rows = _lines(logger.path)
    assert [r["step"] for r in rows] == [0, 128]
    assert rows[1]["episode_return"] == 12.5 and rows[1]["loss"] == 0.25
    assert all(r["wall_s"] >= 0 for r in rows)
    meta = json.loads((logger.path / "config.json").read_text())
    assert meta["experiment"] == "nb01/ac" and meta["seed"] == 3 and meta["run"] == "seed3"
    assert meta["config"]["lr"] == 0.001 and meta["finished"] is None
    logger.close()
    meta = json.loads((logger.path / "config.json").read_text())
    assert meta["finished"] is not None and meta["status"] == "finished"
    assert logger.path == tmp_path / "nb01" / "ac" / "seed3"


def test_a_new_run_never_overwrites_an_older_one(tmp_path):
    with RunLogger("exp", seed=0, root=tmp_path) as first:
        first.log(1, x=1.0)
    with RunLogger("exp", seed=0, root=tmp_path) as second:
        second.log(2, x=2.0)
    with RunLogger("exp", seed=0, root=tmp_path) as third:
        third.log(3, x=3.0)
    assert [p.name for p in list_runs("exp", tmp_path)] == ["seed0", "seed0-2", "seed0-3"]
    assert _lines(first.path)[0]["x"] == 1.0 and _lines(second.path)[0]["x"] == 2.0


@pytest.mark.parametrize("experiment", ["", "../escape", "/abs", "bad name", "a;b"])
def test_bad_experiment_names_are_refused(tmp_path, experiment):
    with pytest.raises(ValueError, match="experiment name"):
        RunLogger(experiment, root=tmp_path)


@pytest.mark.parametrize("run", ["a/b", "..", "sp ace"])
def test_bad_run_names_are_refused(tmp_path, run):
    with pytest.raises(ValueError, match="run name"):
        RunLogger("exp", run=run, root=tmp_path)


def test_log_accepts_numpy_and_torch_scalars_and_maps_nan_to_null(tmp_path):
    with RunLogger("exp", root=tmp_path) as logger:
        logger.log(np.int64(5), a=np.float32(1.5), b=torch.tensor(2.0), c=torch.tensor([3.0]), d=float("nan"),
                   e=True)
        logger.log(torch.tensor(7), a=float("inf"))
        logger.log(9.0, a=1)
    rows = _lines(logger.path)
    assert rows[0] == {"step": 5, "wall_s": rows[0]["wall_s"], "a": 1.5, "b": 2.0, "c": 3.0, "d": None, "e": 1.0}
    assert rows[1]["step"] == 7 and rows[1]["a"] is None
    assert rows[2]["step"] == 9
    frame = load_runs("exp", tmp_path)
    assert frame.loc[frame["metric"] == "d", "value"].isna().all()


def test_log_rejects_bad_input_with_a_clear_message(tmp_path):
    with RunLogger("exp", root=tmp_path) as logger:
        with pytest.raises(TypeError, match=r"loss must be a single number.*shape \(3,\)"):
            logger.log(1, loss=torch.ones(3))
        with pytest.raises(TypeError, match="step must be an int"):
            logger.log("10", loss=1.0)
        with pytest.raises(TypeError, match="step must be an int"):
            logger.log(1.5, loss=1.0)
        with pytest.raises(ValueError, match="step must be >= 0"):
            logger.log(-1, loss=1.0)
        with pytest.raises(TypeError, match="name must be a single number"):
            logger.log(1, name="ppo")
        with pytest.raises(ValueError, match="not a plain name"):
            logger.log(1, **{"bad name": 3.0})
    with pytest.raises(ValueError, match="closed"):
        logger.log(2, loss=1.0)
    assert _lines(logger.path) == []  # nothing half-written by the refused calls
    with pytest.raises(TypeError, match="seed must be an int"):
        RunLogger("exp", seed="0", root=tmp_path)
    with pytest.raises(TypeError, match="config must be a config dataclass .* or a dict, got list"):
        RunLogger("exp", config=[1, 2], root=tmp_path)
    with pytest.raises(ValueError, match="live must be"):
        RunLogger("exp", live=["step"], root=tmp_path)
    with pytest.raises(ValueError, match="x must be 'step'"):
        RunLogger("bad-options", live=True, x="time", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="no reference band 'nb99'"):
        RunLogger("bad-options", live=True, reference="nb99", root=tmp_path)
    assert not (tmp_path / "bad-options").exists(), "a refused logger must not leave a run directory"


def test_a_run_that_raised_is_kept_and_marked_failed(tmp_path):
    with pytest.raises(NotImplementedError):
        with RunLogger("exp", seed=0, root=tmp_path) as logger:
            logger.log(1, x=1.0)
            raise NotImplementedError("a student's stub")
    configs = load_configs("exp", tmp_path)
    assert configs["status"].tolist() == ["failed: NotImplementedError"]
    assert len(load_runs("exp", tmp_path)) == 1


def test_a_training_loops_wall_s_is_the_run_logs_clock(tmp_path):
    from cs285lab.algos.actor_critic import OnlineConfig, train_online_ac

    with RunLogger("exp", root=tmp_path) as logger:
        logger.log(1, wall_s=12.5, eval_return=3.0)
        logger.log(2, eval_return=4.0)  # no clock given: the writer's own
    given, own = _lines(logger.path)
    assert given["wall_s"] == 12.5 and given["eval_return"] == 3.0 and 0 <= own["wall_s"] < 12.5
    with pytest.raises(ValueError, match="wall_s must be a number of seconds >= 0"):
        RunLogger("bad", root=tmp_path).log(1, wall_s=-1.0)
    # a training run's history rows and its run log read one clock
    with RunLogger("online", root=tmp_path) as logger:
        _, history = train_online_ac("CartPole-v1", OnlineConfig(total_steps=60, eval_every=30, eval_episodes=1),
                                     seed=0, logger=logger)
    logged = {r["step"]: r["wall_s"] for r in _lines(logger.path) if "eval_return" in r}
    assert logged and all(logged[r["step"]] == round(r["wall_s"], 4) for r in history)


def test_null_logger_accepts_anything_and_is_a_context_manager():
    with NullLogger() as logger:
        logger.log(1, anything=1.0)


def test_concurrent_threads_never_interleave_lines(tmp_path):
    with RunLogger("exp", root=tmp_path) as logger:
        def work(worker):
            for i in range(300):
                logger.log(i, **{f"worker{worker}": float(i)})

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rows = read_metrics(logger.path)
    assert len(rows) == 1200


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from cs285lab.runs import RunLogger
    logger = RunLogger("killed", seed=1, root=sys.argv[1], config={"note": "will be killed"})
    step = 0
    while True:            # never closes: only SIGKILL ends it
        logger.log(step, episode_return=step * 0.5, loss=1.0 / (1 + step))
        print(step, flush=True)   # tell the parent: this step has been logged
        step += 10
        time.sleep(0.001)
""")


def test_a_run_killed_mid_training_keeps_everything_logged_so_far(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        reported = [int(proc.stdout.readline()) for _ in range(50)]
        os.kill(proc.pid, signal.SIGKILL)
        reported += [int(line) for line in proc.stdout.read().split()]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    frame = load_runs("killed", tmp_path, wide=True)
    # every step the writer had logged before it died is on disk (logging flushes each line)
    assert frame["step"].tolist()[:len(reported)] == reported, "steps logged before the kill are missing"
    np.testing.assert_allclose(frame["episode_return"], frame["step"] * 0.5)
    configs = load_configs("killed", tmp_path)
    # SIGKILL: no chance to write anything; the dead process id tells it was not finished
    assert configs.loc[0, "finished"] is None and configs.loc[0, "status"] == "interrupted"
    assert json.loads((tmp_path / "killed" / "seed1" / "config.json").read_text())["status"] == "running"
    assert configs.loc[0, "config.note"] == "will be killed"


def test_a_truncated_last_line_is_skipped_and_a_corrupt_middle_line_is_skipped_with_a_warning(tmp_path):
    with RunLogger("exp", seed=0, root=tmp_path) as logger:
        for step in range(5):
            logger.log(step, x=float(step))
    path = logger.path / "metrics.jsonl"
    with open(path, "a") as fh:
        fh.write('{"step": 5, "wall_s": 0.1, "x": 5.')  # the writer died mid-line
    frame = load_runs("exp", tmp_path, wide=True)
    assert frame["step"].tolist() == [0, 1, 2, 3, 4]
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:10]                    # a disk that filled up mid-line, then more lines
    lines[3] = '{"wall_s": 1.0, "x": 3.0}'      # no step
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(RuntimeWarning) as caught:
        frame = load_runs("exp", tmp_path, wide=True)
    assert frame["step"].tolist() == [0, 1, 4]  # the rest of the run is still there
    messages = [str(w.message) for w in caught]
    assert any(f"{path}:3: skipped a line that is not a JSON line" in m for m in messages), messages
    assert any(f"{path}:4: skipped a line that is not an object with an integer 'step'" in m for m in messages)


def test_a_corrupt_line_does_not_break_the_comparison_plot_or_widget(tmp_path):
    from cs285lab.plots import compare_widget, plot_comparison

    for seed in (0, 1):
        with RunLogger("exp", seed=seed, root=tmp_path) as logger:
            for step in range(0, 100, 10):
                logger.log(step, episode_return=float(step + seed))
    path = logger.path / "metrics.jsonl"
    path.write_text(path.read_text().replace('"step": 30', '"step": 3\u0000', 1))
    with pytest.warns(RuntimeWarning, match=r"seed1/metrics.jsonl:4: skipped"):
        fig = plot_comparison("exp", root=tmp_path)
    assert [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")] == \
        ["seed0", "seed1"]  # both runs drawn (no faint copy: logged every 10 steps, smoothing leaves them raw)
    with pytest.warns(RuntimeWarning, match="skipped"):
        widget = compare_widget("exp", root=tmp_path)
    assert widget.redraws == 1


def test_a_corrupt_config_loads_the_run_without_it(tmp_path):
    with RunLogger("exp", seed=0, root=tmp_path) as logger:
        logger.log(0, x=1.0)
    (logger.path / "config.json").write_text("{not json")
    with pytest.warns(RuntimeWarning, match="config.json: not valid JSON"):
        assert load_runs("exp", tmp_path)["value"].tolist() == [1.0]


def test_a_run_stopped_by_ctrl_c_or_a_kernel_shutdown_is_interrupted_not_running(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunLogger("exp", run="ctrl-c", root=tmp_path) as logger:
            logger.log(0, x=1.0)
            raise KeyboardInterrupt
    # a kernel restart: the process exits with the logger still open (no `with`, no close())
    script = textwrap.dedent(f"""
        from cs285lab.runs import RunLogger
        logger = RunLogger("exp", run="restart", root={str(tmp_path)!r})
        logger.log(0, x=1.0)
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    raw = json.loads((tmp_path / "exp" / "restart" / "config.json").read_text())
    assert raw["status"] == "interrupted" and raw["finished"] is not None
    configs = load_configs("exp", tmp_path).set_index("run")
    assert configs.loc["ctrl-c", "status"] == "interrupted" and configs.loc["restart", "status"] == "interrupted"


def test_a_live_run_is_running_and_a_misspelt_reference_fails_before_anything_is_written(tmp_path):
    logger = RunLogger("exp", run="open", root=tmp_path, reference="nb01-a2c-cartpole")
    assert load_configs("exp", tmp_path).loc[0, "status"] == "running"  # this process is alive
    logger.close()
    assert json.loads((logger.path / "config.json").read_text())["reference"] == "nb01-a2c-cartpole"
    with pytest.raises(FileNotFoundError, match="no reference band 'nb01-a2c-cartpol'; shipped bands"):
        RunLogger("other", root=tmp_path, reference="nb01-a2c-cartpol")
    assert not (tmp_path / "other").exists()


def test_load_runs_is_tidy_and_filters(tmp_path):
    for seed in (0, 1):
        with RunLogger("exp", seed=seed, root=tmp_path) as logger:
            for step in (100, 200):
                logger.log(step, episode_return=seed * 10.0 + step, loss=0.5)
            logger.log(300, eval_return=seed + 1.0)
    frame = load_runs("exp", tmp_path)
    assert list(frame.columns) == ["experiment", "run", "seed", "step", "wall_s", "metric", "value"]
    assert len(frame) == 2 * (2 * 2 + 1)
    assert str(frame["seed"].dtype) == "Int64" and str(frame["step"].dtype) == "int64"
    seed1 = frame[(frame["run"] == "seed1") & (frame["metric"] == "episode_return")]
    assert seed1["value"].tolist() == [110.0, 210.0] and (seed1["seed"] == 1).all()
    only = load_runs("exp", tmp_path, runs=["seed0"], metrics=["eval_return"])
    assert only[["run", "step", "value"]].values.tolist() == [["seed0", 300, 1.0]]
    wide = load_runs("exp", tmp_path, wide=True)
    assert len(wide) == 6 and {"episode_return", "loss", "eval_return"} <= set(wide.columns)
    assert wide["eval_return"].isna().sum() == 4


def test_load_runs_of_several_experiments_and_clear_errors(tmp_path):
    for exp in ("a", "b"):
        with RunLogger(exp, root=tmp_path) as logger:
            logger.log(1, x=1.0)
    frame = load_runs(["a", "b"], tmp_path)
    assert sorted(frame["experiment"]) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match=r"no experiment 'c'.*experiments there: a, b"):
        load_runs("c", tmp_path)
    with RunLogger("nb01/batched", root=tmp_path) as logger:
        logger.log(1, x=1.0)
    with pytest.raises(FileNotFoundError, match=r"no runs directly in experiment 'nb01'.*inside it: nb01/batched"):
        load_runs("nb01", tmp_path)
    empty_root = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match="nothing logged there yet"):
        load_runs("a", empty_root)


def test_live_logger_outside_a_kernel_saves_the_final_figure(tmp_path):
    with RunLogger("exp", root=tmp_path, live=["episode_return"], total_steps=1000) as logger:
        for step in range(0, 1000, 100):
            logger.log(step, episode_return=float(step), loss=1.0)
    png = (logger.path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and logger.live.frames == 1  # no kernel: nothing drawn until the end
    assert len(load_runs("exp", tmp_path, metrics=["episode_return"])) == 10  # live or not, every row is logged


def test_the_compare_widget_says_which_runs_did_not_finish(tmp_path):
    from cs285lab.plots import compare_widget

    with RunLogger("exp", seed=0, root=tmp_path) as logger:
        logger.log(0, episode_return=1.0)
    with pytest.raises(KeyboardInterrupt):
        with RunLogger("exp", seed=1, root=tmp_path) as logger:
            logger.log(0, episode_return=2.0)
            raise KeyboardInterrupt
    widget = compare_widget("exp", root=tmp_path)
    assert "not finished" in widget.status.value and "<b>seed1</b>: interrupted" in widget.status.value
    assert "seed0" not in widget.status.value


class _Collect:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.closed = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def close(self, status: str) -> None:
        self.closed += 1
        self.status = status


def test_the_writer_feeds_every_row_to_its_sinks_and_closes_them_with_the_run(tmp_path):
    from cs285lab.runlog import RunWriter

    early, late = _Collect(), _Collect()
    with RunWriter("exp", seed=0, root=tmp_path, sinks=[early]) as writer:
        writer.log(0, eval_return=1.0)
        writer.attach(late)
        writer.log(10, eval_return=float("nan"), loss=0.5)
    assert [r["step"] for r in early.rows] == [0, 10] and [r["step"] for r in late.rows] == [10]
    assert early.rows == read_metrics(writer.path)  # a sink sees exactly the rows written, NaN as None
    assert early.closed == late.closed == 1
    with pytest.raises(TypeError, match="a sink needs add"):
        RunWriter("exp", root=tmp_path, sinks=[object()])


def test_run_logger_is_the_writer_with_a_live_sink(tmp_path):
    with RunLogger("exp", root=tmp_path) as plain:
        plain.log(0, x=1.0)
    assert plain.live is None and plain.sinks == []
    with RunLogger("exp", root=tmp_path, live=True, reference="nb01-a2c-cartpole") as live:
        live.log(0, eval_return=1.0)
    # the live plot, then the curve doctor (it prints under the plot: it closes after it)
    assert live.sinks == [live.live, live.doctor] and live.live.reference.name == "nb01-a2c-cartpole"
    extra = _Collect()
    with RunLogger("exp", root=tmp_path, live=True, sinks=[extra]) as both:
        both.log(5, eval_return=2.0)
    assert both.sinks == [extra, both.live] and [r["step"] for r in extra.rows] == [5] and extra.closed == 1
    assert json.loads((live.path / "config.json").read_text())["reference"] == "nb01-a2c-cartpole"


def test_writing_and_reading_runs_loads_no_plotting():
    code = ("import sys, tempfile\n"
            "from cs285lab.runs import RunLogger, load_runs\n"
            "d = tempfile.mkdtemp()\n"
            "with RunLogger('e', seed=0, root=d) as log:\n"
            "    log.log(0, x=1.0)\n"
            "load_runs('e', d)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('cs285lab.plots', 'matplotlib'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.stdout.strip() == "[]", out.stdout


# ----------------------------------------------------------------------------- an interrupted run says so (issue 24)

class _Status:
    """A sink whose close takes the run's status."""

    def __init__(self) -> None:
        self.status = None

    def add(self, row: dict) -> None:
        pass

    def close(self, status: str) -> None:
        self.status = status


def test_an_interrupt_ends_in_one_line_that_says_where(tmp_path):
    from cs285lab.runs import RunInterrupted

    told, plain = _Status(), _Collect()
    with pytest.raises(KeyboardInterrupt) as caught:
        with RunLogger("exp", seed=0, root=tmp_path, config={"total_steps": 20_000}, sinks=[told, plain]) as logger:
            logger.log(1234, eval_return=1.0)
            raise KeyboardInterrupt  # Ctrl-C lands somewhere inside a training loop
    err = caught.value
    assert isinstance(err, RunInterrupted) and type(err).__name__ == "KeyboardInterrupt"  # what Jupyter shows
    assert str(err) == f"interrupted at step 1,234 of 20,000; the run log keeps what was recorded ({logger.path})"
    assert err.__suppress_context__, "the traceback through the training loop is dropped"
    (line,) = err._render_traceback_()  # what IPython prints instead of a traceback
    assert "KeyboardInterrupt" in line and "interrupted at step 1,234 of 20,000" in line
    assert told.status == plain.status == "interrupted" and plain.closed == 1  # a sink learns how the run ended
    assert load_configs("exp", tmp_path)["status"].tolist() == ["interrupted"]
    with pytest.raises(KeyboardInterrupt, match="interrupted before the first logged step; the run log"):
        with RunLogger("exp", seed=1, root=tmp_path):
            raise KeyboardInterrupt
    # nested runs: the inner run's message is the one shown, and both runs are marked
    with pytest.raises(KeyboardInterrupt, match="at step 5 of 10;.*inner"):
        with RunLogger("outer", root=tmp_path) as outer:
            outer.log(99, x=1.0)
            with RunLogger("inner", root=tmp_path, total_steps=10) as inner:
                inner.log(5, x=1.0)
                raise KeyboardInterrupt
    assert load_configs(["outer", "inner"], tmp_path)["status"].tolist() == ["interrupted", "interrupted"]
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        RunLogger("exp", root=tmp_path, total_steps=-3)


INTERRUPTED_CELL = """
from cs285lab.runs import RunLogger
from cs285lab.algos.actor_critic import A2CConfig, train_a2c
config = A2CConfig(num_envs=2, total_steps=200_000, n_steps=8, eval_every=512, eval_episodes=1)
with RunLogger("interrupt", seed=0, live=["eval_return"], config=config, redraw_every=0.2) as log:
    train_a2c("CartPole-v1", config, seed=0, logger=log)
"""


def test_interrupting_the_kernel_during_training_shows_one_line_and_a_true_progress_line(tmp_path):
    import queue
    import re
    import time

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        msg_id = kc.execute(INTERRUPTED_CELL)
        progress, errors, interrupted = [], [], False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "update_display_data") and \
                    "cs285lab-progress" in content["data"].get("text/html", ""):
                progress.append(content["data"]["text/plain"])
                if not interrupted and re.search(r"^step [1-9]", progress[-1]):
                    km.interrupt_kernel()  # what the stop button does
                    interrupted = True
            elif kind == "error":
                errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle" and interrupted:
                break
        assert interrupted, f"the training never showed a step > 0: {progress[-3:]}"
        (error,) = errors
        assert error["ename"] == "KeyboardInterrupt"
        shown = "\n".join(error["traceback"])
        assert len(shown.splitlines()) == 1 and "cs285lab" not in shown.replace(str(tmp_path), ""), shown
        step = re.search(r"interrupted at step ([\d,]+) of 200,000; the run log keeps what was recorded", shown)
        assert step, shown
        assert progress[-1].startswith(f"interrupted at step {step.group(1)} of 200,000"), progress[-1]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert load_configs("interrupt", tmp_path / "runs")["status"].tolist() == ["interrupted"]


def test_a_config_dataclass_is_recorded_as_its_fields(tmp_path):
    from cs285lab.algos.actor_critic import A2CConfig

    config = A2CConfig(num_envs=2, total_steps=1_000)
    with RunLogger("exp", config=config, root=tmp_path) as logger:
        logger.log(1, loss=1.0)
    assert logger.config["num_envs"] == 2 and logger.total_steps == 1_000
    assert load_configs("exp", tmp_path)["config.num_envs"].tolist() == [2]
