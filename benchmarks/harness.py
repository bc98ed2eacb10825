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
BUSY_LOAD_PER_CORE = 0.75  # a load average of 1.5 on 2 cores: timings taken above it are not the machine's own
BUSY_OTHERS_PER_CORE = 0.25  # other processes using half a core of 2 during a measurement slow it visibly
RETRIES = 2  # a busy measurement is taken again this many times (after waiting for the load to fall)


@dataclass
class Timed:
    """One timed measurement and how busy the machine was around it."""

    value: object
    seconds: float
    load_before: float
    load_after: float
    others: float | None  # cores that other processes used on average during it (None: not measurable here)
    attempts: int = 1

    @property
    def busy(self) -> bool:
        """True when other work on the machine may have slowed this measurement."""
        cores = os.cpu_count() or 1
        return (self.load_before >= BUSY_LOAD_PER_CORE * cores
                or (self.others is not None and self.others >= BUSY_OTHERS_PER_CORE * cores))

    def note(self) -> str:
        """The load, as the results tables print it."""
        others = "" if self.others is None else f", others {self.others:.2f} cores"
        return (f"load {self.load_before:.2f} -> {self.load_after:.2f}{others}"
                + (" (BUSY: not the machine's own speed)" if self.busy else ""))


def _cpu_seconds() -> tuple[float, float] | None:
    """(seconds of CPU the whole machine has used, seconds this process and its finished children used)."""
    import resource

    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # all but idle and iowait
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    return busy / hz, own


class DescendantsCPU:
    """CPU seconds this process's descendants used while the block ran, read from /proc every `every` seconds.

    RUSAGE_CHILDREN sees only children that were waited for; a sandboxed kernel torn down with its PID
    namespace, or a zombie nobody reaps, never reaches it, and the load meter would call its CPU "others".
    A descendant's last sample counts (a zombie still shows its totals), less what it had used at the start."""

    def __init__(self, every: float = 0.25) -> None:
        import threading

        self.every, self.first, self.last, self.sampled = every, {}, {}, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _table() -> dict[tuple[int, int], tuple[int, float]]:
        """(pid, start time) -> (parent pid, utime + stime in seconds) of every process /proc shows."""
        hz, table = os.sysconf("SC_CLK_TCK"), {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:  # after "pid (comm)": state ppid ... utime(12) stime(13) ... starttime(20), 0-based from state
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[(int(entry.name), int(fields[19]))] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / hz)
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile, or a line this parser does not know
        return table

    def sample(self) -> None:
        """Record the current CPU totals of every descendant of this process."""
        table = self._table()
        children: dict[int, list[tuple[int, int]]] = {}
        for key, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(key)
        todo = list(children.get(os.getpid(), []))
        while todo:
            key = todo.pop()
            self.first.setdefault(key, table[key][1] if not self.sampled else 0.0)  # running at the start: its CPU so far
            self.last[key] = table[key][1]
            todo.extend(children.get(key[0], []))
        self.sampled = True

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> DescendantsCPU:
        if Path("/proc/self/stat").exists():
            self.sample()
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self.sample()

    @property
    def seconds(self) -> float:
        """CPU seconds the descendants used inside the block."""
        return sum(v - self.first[k] for k, v in self.last.items())


def wait_for_quiet(limit_s: float = 300.0) -> float:
    """Wait (up to `limit_s`) until the 1-minute load average is below the busy line; return it."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= BUSY_LOAD_PER_CORE * cores and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def timed(fn, *args, retries: int = RETRIES, settle_s: float = 300.0, **kwargs) -> Timed:
    """Run `fn(*args, **kwargs)`, timing it and recording the load before and after; a busy measurement is
    taken again (up to `retries` times, each after waiting for the load to fall) and stays marked if it
    never was quiet."""
    attempt, last = 0, None
    while True:
        attempt += 1
        before, cpu = os.getloadavg()[0], _cpu_seconds()
        start = time.perf_counter()
        with DescendantsCPU() as descendants:
            value = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        after, cpu_after = os.getloadavg()[0], _cpu_seconds()
        others = None
        if cpu is not None and cpu_after is not None and seconds > 0:
            ours = max(cpu_after[1] - cpu[1], descendants.seconds)  # both are lower bounds of what we used
            others = max(0.0, ((cpu_after[0] - cpu[0]) - ours) / seconds)
        last = Timed(value, seconds, before, after, others, attempt)
        if not last.busy or attempt > retries:
            return last
        wait_for_quiet(settle_s)


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


def write(name: str, result: Result, seconds: float, loads: str = "") -> Path:
    """Write results/<name>.csv, results/<name>.md and results/<name>*.png; return the summary path.

    `loads` (the load average around the whole run) goes into the page's header line."""
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
    machine = f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores"
    load = f"; {loads}" if loads else ""
    text = (f"# Benchmark: {name}\n\n_{time.strftime('%Y-%m-%d')} on {machine}; "
            f"whole benchmark {seconds:.0f} s{load}_\n\n{result.summary.strip()}\n\n"
            + "".join(f"![{png}]({png})\n" for png in images))
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def run(names: list[str]) -> None:
    """Run the named benchmarks one after another and write their results."""
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}: {module.DESCRIPTION}", flush=True)
        before = os.getloadavg()[0]
        if before >= BUSY_LOAD_PER_CORE * (os.cpu_count() or 1):
            print(f"warning: load average {before:.2f}: timings taken now are not the machine's own; waiting "
                  "up to 5 minutes for it to fall", flush=True)
            before = wait_for_quiet()
        start = time.perf_counter()
        result = module.run()
        after = os.getloadavg()[0]
        path = write(name, result, time.perf_counter() - start, f"load average {before:.2f} before, {after:.2f} after")
        print(path.read_text(), flush=True)
