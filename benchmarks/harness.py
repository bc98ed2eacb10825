"""Shared benchmark plumbing: discover bench_*.py, write results CSV + markdown summary + plot.

A benchmark module `benchmarks/bench_<name>.py` defines
    DESCRIPTION: str
    def run() -> Result
Rows carry at least impl, env, seed, step, eval_return, wall_s (one row per evaluation point): `step` is
env steps, the same column name as history rows (cs285lab.record), run logs and plots.
"""

from __future__ import annotations

import csv
import importlib
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cs285lab.bands import band_over_seeds  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
COLUMNS = ("impl", "env", "seed", "step", "eval_return", "wall_s")


@dataclass
class Result:
    """What one benchmark produced: evaluation rows, a markdown summary, optional extra tables."""

    rows: list[dict]
    summary: str
    extra_columns: tuple[str, ...] = ()
    figures: dict[str, plt.Figure] = field(default_factory=dict)


def notebook_seconds(name: str, timeout: int = 1800) -> float | str:
    """Wall-clock of solutions/<name>.ipynb at the full budget, or an error text if a cell failed."""
    import nbformat

    from cs285lab.authoring.outputs import execute

    nb = nbformat.read(HERE.parent / "solutions" / f"{name}.ipynb", as_version=4)
    start = time.perf_counter()
    try:
        execute(nb, "full", timeout)
    except Exception as exc:  # noqa: BLE001 - keep the other measurements; report the failure
        return f"FAILED after {time.perf_counter() - start:.0f} s: {type(exc).__name__}: {str(exc)[-300:]}"
    return time.perf_counter() - start


def notebook_timing(name: str, skip_env: str) -> str:
    """One summary sentence: solutions/<name>.ipynb's full-budget wall-clock, unless `skip_env`=0 skips it."""
    if os.environ.get(skip_env, "1") == "0":
        return f"solutions/{name}.ipynb at the full budget: skipped ({skip_env}=0)"
    took = notebook_seconds(name)
    took = f"{took:.0f} s wall-clock" if isinstance(took, float) else took
    return (f"solutions/{name}.ipynb at the full budget: {took} (target <= 600 s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def available() -> list[str]:
    """Names of all benchmarks (bench_<name>.py files)."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def learning_curve_figure(rows: list[dict], title: str) -> plt.Figure:
    """Median and min-max band over seeds (cs285lab.bands) of eval_return against step, one panel per env."""
    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.6), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for impl in sorted({r["impl"] for r in rows if r["env"] == env}):
            sel = [r for r in rows if r["env"] == env and r["impl"] == impl]
            band = band_over_seeds([([r["step"] for r in sel if r["seed"] == seed],
                                     [r["eval_return"] for r in sel if r["seed"] == seed])
                                    for seed in sorted({r["seed"] for r in sel})])
            ax.plot(band.x, band.median, label=impl)
            ax.fill_between(band.x, band.low, band.high, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k" if x else "0")  # 200000 -> 200k: no overlap
        ax.set_ylabel("eval return")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write(name: str, result: Result, seconds: float) -> Path:
    """Write results/<name>.csv, results/<name>.md and results/<name>*.png; return the summary path."""
    RESULTS.mkdir(exist_ok=True)
    columns = COLUMNS + tuple(c for c in result.extra_columns if c not in COLUMNS)
    missing = [c for c in COLUMNS if any(c not in r for r in result.rows)]
    if missing:
        raise ValueError(f"benchmark {name}: rows lack columns {missing}")
    with open(RESULTS / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.rows)
    figures = dict(result.figures) or {"": learning_curve_figure(result.rows, name)}
    images = []
    for suffix, fig in figures.items():
        png = f"{name}{'_' + suffix if suffix else ''}.png"
        fig.savefig(RESULTS / png, dpi=110)
        plt.close(fig)
        images.append(png)
    machine = f"{platform.machine()}, {platform.python_version()}, {__import__('os').cpu_count()} cores"
    text = (f"# Benchmark: {name}\n\n_{time.strftime('%Y-%m-%d')} on {machine}; "
            f"whole benchmark {seconds:.0f} s_\n\n{result.summary.strip()}\n\n"
            + "".join(f"![{png}]({png})\n" for png in images))
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def run(names: list[str]) -> None:
    """Run the named benchmarks one after another and write their results."""
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}: {module.DESCRIPTION}", flush=True)
        start = time.perf_counter()
        result = module.run()
        path = write(name, result, time.perf_counter() - start)
        print(path.read_text(), flush=True)
