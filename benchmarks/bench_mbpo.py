"""MBPO vs the notebook-03 SAC on Pendulum-v1: env steps each needs to reach a mean eval return of -200.

Both run in the same process, one after the other, on the same seeds, so the step ratio is
measured under the same conditions. Wall-clock per MBPO run is reported too (the machine may be
shared; the env-step ratio does not depend on that). Environment variables:
BENCH_MBPO_SEEDS (default "0,1,2"), BENCH_MBPO_STEPS (3000), BENCH_SAC_STEPS (15000), BENCH_K0_STEPS (1500:
the control "MBPO with k=0", i.e. SAC with MBPO's 20 updates per env step on real data only).
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from benchmarks.harness import Result, learning_curve_figure
from cs285lab import seed_everything
from cs285lab.algos.mbpo import MBPOConfig, train_mbpo
from cs285lab.algos.sac import SACConfig, train_sac

DESCRIPTION = "MBPO (MBPOConfig defaults) vs notebook-03 SAC on Pendulum-v1: env steps to reach -200"
ENV = "Pendulum-v1"
THRESHOLD = -200.0
EVAL_EPISODES = 5
EVAL_EVERY = 100  # the measurement grid, the same for both: a coarser one would hide MBPO's ~500 steps


def _seeds() -> list[int]:
    return [int(s) for s in os.environ.get("BENCH_MBPO_SEEDS", "0,1,2").split(",") if s.strip()]


def steps_to_threshold(rows: list[dict], impl: str, threshold: float = THRESHOLD) -> int | None:
    """First evaluation step at which the mean eval return over seeds reaches `threshold` (None: never)."""
    sel = [r for r in rows if r["impl"] == impl]
    seeds = {r["seed"] for r in sel}
    for step in sorted({r["step"] for r in sel}):
        at = [r["eval_return"] for r in sel if r["step"] == step]
        if len(at) == len(seeds) and np.mean(at) >= threshold:
            return step
    return None


def _per_seed(rows: list[dict], impl: str) -> list[int | None]:
    """Env steps at which each seed's eval return first reaches the threshold (None: never)."""
    out = []
    for seed in sorted({r["seed"] for r in rows if r["impl"] == impl}):
        sel = sorted((r["step"], r["eval_return"]) for r in rows if r["impl"] == impl and r["seed"] == seed)
        out.append(next((step for step, value in sel if value >= THRESHOLD), None))
    return out


def run() -> Result:
    """Train MBPO and SAC on each seed; summarise steps-to-threshold, their ratio, and MBPO wall-clock."""
    seeds = _seeds()
    mbpo_steps = int(os.environ.get("BENCH_MBPO_STEPS", "3000"))
    sac_steps = int(os.environ.get("BENCH_SAC_STEPS", "15000"))
    config = MBPOConfig(total_steps=mbpo_steps, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES)
    rows: list[dict] = []
    mbpo_wall: list[float] = []
    mbpo_cpu: list[float] = []
    for seed in seeds:
        seed_everything(seed)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = train_mbpo(ENV, config, seed=seed)
        mbpo_wall.append(time.perf_counter() - start)
        mbpo_cpu.append(time.process_time() - cpu_start)  # what the run costs without other jobs around
        rows += [{"impl": "mbpo", "env": ENV, "seed": seed, "step": r["step"], "eval_return": r["eval_return"],
                  "wall_s": round(r["wall_s"], 2)} for r in result.history]
        print(f"mbpo seed {seed}: {mbpo_wall[-1]:.0f} s, final {result.history[-1]['eval_return']:.0f}", flush=True)
    k0_steps = int(os.environ.get("BENCH_K0_STEPS", "1500"))
    control = dataclasses.replace(config, rollout_length=0, total_steps=k0_steps)  # same updates, no model: what does the model add?
    for seed in seeds:
        seed_everything(seed)
        result = train_mbpo(ENV, control, seed=seed)
        rows += [{"impl": "sac_same_updates_k0", "env": ENV, "seed": seed, "step": r["step"],
                  "eval_return": r["eval_return"], "wall_s": round(r["wall_s"], 2)} for r in result.history]
        print(f"k=0 seed {seed}: final {result.history[-1]['eval_return']:.0f}", flush=True)
    for seed in seeds:
        seed_everything(seed)
        _, history = train_sac(ENV, SACConfig(total_steps=sac_steps, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES),
                               seed=seed)
        rows += [{"impl": "sac_nb03", "env": ENV, "seed": seed, "step": r["step"], "eval_return": r["eval_return"],
                  "wall_s": round(r["wall_s"], 2)} for r in history]
        print(f"sac seed {seed}: final {history[-1]['eval_return']:.0f}", flush=True)

    mbpo_at, sac_at = steps_to_threshold(rows, "mbpo"), steps_to_threshold(rows, "sac_nb03")
    k0_at = steps_to_threshold(rows, "sac_same_updates_k0")
    ratio = f"{sac_at / mbpo_at:.1f}x" if mbpo_at and sac_at else "n/a"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    summary = f"""
MBPO (`MBPOConfig()` defaults: k={config.rollout_length}, {config.updates_per_step} SAC updates per env step, \
{config.real_ratio:.0%} real data per batch, {config.learning_starts} random steps, model refit from scratch every \
{config.model_train_freq} steps, ensemble of {config.ensemble_size} with {config.num_elites} elites)
against SAC exactly as notebook 03 trains it (`SACConfig()` defaults, {SACConfig().updates_per_step} update per env step, \
{SACConfig().learning_starts} random steps), Pendulum-v1,
seeds {seeds}, deterministic-policy evaluation over {EVAL_EPISODES} fixed episodes.

| | env steps to mean eval return >= {THRESHOLD:.0f} | final mean eval return |
| --- | --- | --- |
| MBPO | {mbpo_at or f'not within {mbpo_steps}'} | {_final(rows, 'mbpo'):.0f} |
| SAC (notebook 03) | {sac_at or f'not within {sac_steps}'} | {_final(rows, 'sac_nb03'):.0f} |
| control: MBPO with k=0 (SAC, {config.updates_per_step} updates/step, real data only) | {k0_at or f'not within {k0_steps}'} | {_final(rows, 'sac_same_updates_k0'):.0f} (at {k0_steps}) |

Per seed, first evaluation (every {EVAL_EVERY} env steps for all) at or above {THRESHOLD:.0f}:
MBPO {_per_seed(rows, 'mbpo')}, SAC {_per_seed(rows, 'sac_nb03')}, k=0 control {_per_seed(rows, 'sac_same_updates_k0')}.
Worst evaluation after each seed's first crossing: MBPO {_worst_after(rows, 'mbpo')}, SAC {_worst_after(rows, 'sac_nb03')}, k=0 control {_worst_after(rows, 'sac_same_updates_k0')}.

Plateau (mean eval return over the last 20% of each run's env steps, per seed): MBPO {_plateau(rows, 'mbpo')}, \
SAC {_plateau(rows, 'sac_nb03')}, k=0 control {_plateau(rows, 'sac_same_updates_k0')} (runs of {mbpo_steps}, {sac_steps} \
and {k0_steps} env steps: three different stretches). On the same windows, per seed: MBPO over steps 500-1500 \
{_window(rows, 'mbpo', 500, 1500)} and 2400-3000 {_window(rows, 'mbpo', 2400, 3000)}, k=0 control over 500-1500 \
{_window(rows, 'sac_same_updates_k0', 500, 1500)}.

**Sample-efficiency ratio (SAC steps / MBPO steps): {ratio}.**
MBPO per {mbpo_steps}-step run: wall-clock {', '.join(f'{w:.0f} s' for w in mbpo_wall)};
CPU time {', '.join(f'{c:.0f} s' for c in mbpo_cpu)}
(1 torch thread; load average at the end {load:.1f} on {os.cpu_count()} cores: other jobs shared the machine).
"""
    return Result(rows=rows, summary=summary,
                  figures={"": learning_curve_figure(rows, "MBPO vs SAC (nb03) vs k=0, Pendulum-v1")})


def _worst_after(rows: list[dict], impl: str) -> list[int | None]:
    """Per seed, the lowest eval return at or after the first crossing of the threshold (a late collapse shows)."""
    out = []
    for seed in sorted({r["seed"] for r in rows if r["impl"] == impl}):
        sel = sorted((r["step"], r["eval_return"]) for r in rows if r["impl"] == impl and r["seed"] == seed)
        first = next((i for i, (_, value) in enumerate(sel) if value >= THRESHOLD), None)
        out.append(None if first is None else round(min(value for _, value in sel[first:])))
    return out


def _plateau(rows: list[dict], impl: str, last_fraction: float = 0.2) -> list[int]:
    """Per seed, the mean eval return over the last `last_fraction` of the run's env steps (Lecture 12's plateau)."""
    out = []
    for seed in sorted({r["seed"] for r in rows if r["impl"] == impl}):
        sel = [r for r in rows if r["impl"] == impl and r["seed"] == seed]
        cutoff = max(r["step"] for r in sel) * (1 - last_fraction)
        out.append(round(float(np.mean([r["eval_return"] for r in sel if r["step"] >= cutoff]))))
    return out


def _window(rows: list[dict], impl: str, first: int, last: int) -> list[int | None]:
    """Per seed, the mean eval return over the evaluations at env steps first..last (None: none there)."""
    out = []
    for seed in sorted({r["seed"] for r in rows if r["impl"] == impl}):
        sel = [r["eval_return"] for r in rows if r["impl"] == impl and r["seed"] == seed and first <= r["step"] <= last]
        out.append(round(float(np.mean(sel))) if sel else None)
    return out


def _final(rows: list[dict], impl: str) -> float:
    sel = [r for r in rows if r["impl"] == impl]
    last = max(r["step"] for r in sel)
    return float(np.mean([r["eval_return"] for r in sel if r["step"] == last]))
