"""Find the bugs, measured: which fix of the naive off-policy actor-critic matters, and what each silent bug costs.

Part 1, the ablation of notebook 03 at its full budget (cs285lab/budgets/nb03.toml [full]) over more seeds:
naive, critic fixed, policy gradient fixed, both fixed (cs285lab.algos.offpolicy_fixes, the package's
reference q_target and score_function_loss), and SAC (HookedSAC with the correct hooks, i.e. cs285lab's SAC).
Part 2, the silent-bug series: every variant a student can be given (each family's bug, in both house
conventions and both places: 3 x 2 x 2 = 12), in SAC, over BENCH_FINDBUGS_BUG_SEEDS seeds, with the reviewer's
statistics.
Every run is one process-local torch thread; runs are spread over two worker processes.

Environment variables: BENCH_FINDBUGS_SEEDS (ablation seeds, default: as many as the notebook's), BENCH_FINDBUGS_BUG_SEEDS
(default 2), BENCH_FINDBUGS_PLACES (which bug places, default "0,1": both), BENCH_FINDBUGS_BUGS_ONLY ("1" re-runs only
the silent bugs and keeps the ablation rows of the committed results/findbugs.csv),
BENCH_FINDBUGS_NOTEBOOK ("1"; "0" skips timing notebook 03 at the full budget), BENCH_FINDBUGS_WORKERS (processes,
default 2), BENCH_FINDBUGS_RESUME ("1" keeps the finished runs of an interrupted bench).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from benchmarks.harness import Result, learning_curve_figure, notebook_timing

DESCRIPTION = "nb03 find the bugs: the 2x2 ablation of the lecture's fixes plus SAC, and the silent-bug families"
ENV = "Pendulum-v1"
EVAL_EPISODES = 10
ARM_NAMES = ("naive", "critic fixed", "policy gradient fixed", "both fixed", "SAC")
PARTIAL = Path(__file__).resolve().parent / "results" / "findbugs.partial.json"
STATS = ("q_mean", "target_mean", "critic_grad_norm", "target_drift", "entropy")


def _job(kind: str, name: str, seed: int, steps: int, eval_every: int) -> list[dict]:
    """One training run (in a worker process); returns benchmark rows."""
    from dataclasses import replace

    import torch

    from cs285lab import budget
    from cs285lab.algos.offpolicy_fixes import ARMS, train_ablation
    from cs285lab.algos.sac import train_sac
    from cs285lab.algos.silent_bugs import FAMILIES, hooked_sac

    torch.set_num_threads(1)
    b = budget("nb03", "full")  # notebook 03's runs, evaluated over more episodes
    run = dict(total_steps=steps, eval_every=eval_every, eval_episodes=EVAL_EPISODES)
    if kind == "arm" and name != "SAC":
        config = replace(b.ablation, fix_critic=ARMS[name][0], fix_actor=ARMS[name][1], **run)
        _, history = train_ablation(ENV, config, seed=seed)
    else:
        hooks, polyak = {}, "tau"
        if kind == "bug":
            family, convention, place = name.split("/")
            hooks = {FAMILIES[family].hook: FAMILIES[family].buggy[convention][int(place)]}
            polyak = convention if family == "polyak" else "tau"
        _, history = train_sac(ENV, replace(b.sac, **run), seed=seed, agent_cls=hooked_sac(hooks, polyak))
    impl = name if kind == "arm" else f"silent {name}"
    return [{"impl": impl, "env": ENV, "seed": seed, "step": r["step"], "eval_return": r["eval_return"],
             "wall_s": r["train_s"], "train_cpu_s": r["train_cpu_s"],
             **{k: r.get(k, float("nan")) for k in STATS}} for r in history]


def _star_job(args: tuple) -> list[dict]:
    return _job(*args)


def run() -> Result:
    """The ablation and the silent bugs, two runs at a time."""
    import multiprocessing

    from cs285lab import budget

    b = budget("nb03", "full")
    seeds = list(range(int(os.environ.get("BENCH_FINDBUGS_SEEDS", len(b.seeds)))))
    from cs285lab.algos.silent_bugs import FAMILIES

    bug_seeds = list(range(int(os.environ.get("BENCH_FINDBUGS_BUG_SEEDS", 2))))
    places = [int(p) for p in os.environ.get("BENCH_FINDBUGS_PLACES", "0,1").split(",")]
    steps, eval_every = b.ablation.total_steps, b.ablation.eval_every
    bugs = [f"{name}/{convention}/{place}" for name, family in FAMILIES.items()  # every variant a student can get
            for convention in family.buggy for place in places]
    rows: list[dict] = []
    if os.environ.get("BENCH_FINDBUGS_BUGS_ONLY") == "1":  # keep the committed ablation (and SAC) rows
        rows = _committed_rows(lambda impl: not impl.startswith("silent"))
        seeds = sorted({r["seed"] for r in rows if r["impl"] == "naive"})
        jobs = []
    else:
        jobs = [("arm", arm, seed, steps, eval_every) for seed in seeds for arm in ARM_NAMES]
    jobs += [("bug", bug, seed, steps, eval_every) for seed in bug_seeds for bug in bugs]
    if os.environ.get("BENCH_FINDBUGS_RESUME") == "1" and PARTIAL.is_file():  # keep the runs an interrupted bench finished
        have = {(r["impl"], r["seed"], r["step"]) for r in rows}  # one row per run and step (floats may differ in text)
        rows += [r for r in json.loads(PARTIAL.read_text()) if (r["impl"], r["seed"], r["step"]) not in have]
        done = {(r["impl"], r["seed"]) for r in rows}
        jobs = [j for j in jobs if (j[1] if j[0] == "arm" else f"silent {j[1]}", j[2]) not in done]
    with multiprocessing.get_context("spawn").Pool(int(os.environ.get("BENCH_FINDBUGS_WORKERS", 2))) as pool:
        for result in pool.imap_unordered(_star_job, jobs):
            rows += result
            print(f"{result[0]['impl']} seed {result[0]['seed']}: final {result[-1]['eval_return']:.0f}", flush=True)
            PARTIAL.write_text(json.dumps(rows))  # progress, in case a run is cut short
    PARTIAL.unlink(missing_ok=True)
    summary = _summary(rows, seeds, bug_seeds, steps)
    summary += f"\n\n{notebook_timing('03_off_policy_actor_critic', 'BENCH_FINDBUGS_NOTEBOOK')}."
    arm_rows = [r for r in rows if not r["impl"].startswith("silent")]
    bug_rows = [r for r in rows if r["impl"].startswith("silent") or r["impl"] == "SAC"]
    return Result(rows=rows, summary=summary, extra_columns=("train_cpu_s", *STATS),
                  figures={"": learning_curve_figure(arm_rows, "one fix at a time (median, min-max)"),
                           "silent": learning_curve_figure(bug_rows, "SAC with one silent bug")})


def _committed_rows(keep) -> list[dict]:
    """The rows of the committed results/findbugs.csv whose impl `keep` accepts, with numbers parsed."""
    import csv

    path = Path(__file__).resolve().parent / "results" / "findbugs.csv"
    out = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if keep(row["impl"]):
                out.append({k: (v if k in ("impl", "env") else int(v) if k in ("seed", "step") else float(v))
                            for k, v in row.items()})
    return out


def final_returns(rows: list[dict], impl: str) -> list[float]:
    """Per seed: mean evaluation return over the last 20% of the run's evaluations."""
    out = []
    for seed in sorted({r["seed"] for r in rows if r["impl"] == impl}):
        sel = sorted((r for r in rows if r["impl"] == impl and r["seed"] == seed), key=lambda r: r["step"])
        tail = sel[-max(1, len(sel) // 5):]
        out.append(float(np.mean([r["eval_return"] for r in tail])))
    return out


def _summary(rows: list[dict], seeds: list[int], bug_seeds: list[int], steps: int) -> str:
    lines = [f"Ablation: {len(seeds)} seeds x {steps} env steps (notebook 03's full budget), {EVAL_EPISODES} "
             "evaluation episodes; final = mean of the last 20% of evaluations.", "",
             "| arm | final return, mean ± sd | median | worst seed | best seed |", "| --- | --- | --- | --- | --- |"]
    for impl in ARM_NAMES:
        f = final_returns(rows, impl)
        lines.append(f"| {impl} | {np.mean(f):.0f} ± {np.std(f):.0f} | {np.median(f):.0f} | {min(f):.0f} | {max(f):.0f} |")
    lines += ["", f"Silent bugs in SAC: {len(bug_seeds)} seeds x {steps} env steps; statistics at the last evaluation "
              "(mean over seeds).", "",
              "| run | final return, mean | worst seed | best seed | Q mean | target mean | critic grad norm | target drift |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for impl in ["SAC", *sorted({r["impl"] for r in rows if r["impl"].startswith("silent")})]:
        f = final_returns(rows, impl)
        last = [max((r for r in rows if r["impl"] == impl and r["seed"] == s), key=lambda r: r["step"])
                for s in sorted({r["seed"] for r in rows if r["impl"] == impl})]
        stat = {k: np.mean([r[k] for r in last]) for k in STATS}
        lines.append(f"| {impl} | {np.mean(f):.0f} | {min(f):.0f} | {max(f):.0f} | {stat['q_mean']:.1f} | {stat['target_mean']:.1f} | "
                     f"{stat['critic_grad_norm']:.1f} | {stat['target_drift']:.2f} |")
    cpu = {impl: np.mean([max(r["train_cpu_s"] for r in rows if r["impl"] == impl and r["seed"] == s)
                          for s in sorted({r["seed"] for r in rows if r["impl"] == impl})]) for impl in ARM_NAMES}
    lines += ["", "Training CPU seconds per run (evaluation excluded): "
              + ", ".join(f"{impl} {cpu[impl]:.0f}" for impl in ARM_NAMES) + ".",
              f"Notebook 03 at the full budget trains these {len(ARM_NAMES)} arms x {len(seeds)} seeds once: "
              f"{len(seeds) * sum(cpu.values()):.0f} CPU s of training for the ablation."]
    return "\n".join(lines)
