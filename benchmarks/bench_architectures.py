"""Notebook 01's design questions, over more seeds than the notebook can afford (ours only, no peer).

1. **critic_steps**: A2C on CartPole-v1 with bench_a2c's settings (8 workers, n_steps 16, 100k env
   steps), with and without 8 critic-only regression steps per batch (the lecture's step 2 done
   properly). Rows `A2C critic_steps=0` / `A2C critic_steps=8`.
2. **shared vs separate conv nets on pixels**: notebook 01 Part 5 (PixelCatch, 4 workers x 4 steps,
   lr 5e-3, 20k env steps, GAE loss) with the package's `SharedActorCritic` (one conv trunk) and
   `SeparateActorCritic` (two conv bodies). Rows `pixels shared` / `pixels separate`, plus the CPU
   seconds per env step of each run (column `cpu_s`).

Every run is greedy-evaluated (`cs285lab.envs.evaluate`) ten times over its budget.
Environment variables: BENCH_ARCH_SEEDS ("0,1,2,3,4"), BENCH_ARCH_PARTS ("critic,pixels").
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from benchmarks.harness import Result, learning_curve_figure
from cs285lab.algos.actor_critic import A2CConfig, make_actor_critic, train_a2c
from cs285lab.budgets import budget
from cs285lab.envs.pixels import PIXEL_CATCH

DESCRIPTION = "notebook 01's ablations: critic_steps 0 vs 8 on CartPole, shared vs separate conv trunk on pixels"
CARTPOLE = "CartPole-v1"
CRITIC = dict(num_envs=8, total_steps=100_000, n_steps=16, lr=7e-4, gamma=0.99, gae_lambda=0.95, entropy_coef=0.01,
              eval_episodes=10)
PIXELS = budget("nb01", "full").pixels  # notebook 01 Part 5's run


def _rows(impl: str, env: str, seed: int, history: list[dict], **extra) -> list[dict]:
    return [{"impl": impl, "env": env, "seed": seed, "step": r["step"], "eval_return": r["eval_return"],
             "wall_s": round(r["train_s"], 2), **extra} for r in history]


def critic_rows(seeds: list[int]) -> list[dict]:
    """A2C on CartPole with critic_steps 0 and 8 (bench_a2c's settings)."""
    rows = []
    for seed in seeds:
        for critic_steps in (0, 8):
            config = A2CConfig(critic_steps=critic_steps, eval_every=CRITIC["total_steps"] // 10, **CRITIC)
            _, history = train_a2c(CARTPOLE, config, seed=seed)
            rows += _rows(f"A2C critic_steps={critic_steps}", CARTPOLE, seed, history)
            print(f"  critic_steps={critic_steps} seed {seed}: final {history[-1]['eval_return']:.0f}", flush=True)
    return rows


def pixel_rows(seeds: list[int]) -> list[dict]:
    """Shared vs separate conv nets on PixelCatch, notebook 01 Part 5's settings."""
    env = gym.make(PIXEL_CATCH)
    rows = []
    for seed in seeds:
        for shared in (True, False):
            torch.manual_seed(seed)
            model = make_actor_critic(env.observation_space, env.action_space, shared=shared)
            cpu = time.process_time()
            config = replace(PIXELS, eval_every=PIXELS.total_steps // 10)
            _, history = train_a2c(PIXEL_CATCH, config, seed=seed, model=model)
            cpu = (time.process_time() - cpu) / PIXELS.total_steps
            name = "pixels shared" if shared else "pixels separate"
            rows += _rows(name, "PixelCatch", seed, history, cpu_s=cpu,
                          params=sum(p.numel() for p in model.parameters()))
            print(f"  {name} seed {seed}: final {history[-1]['eval_return']:+.2f}", flush=True)
    return rows


def last_fifth(frame: pd.DataFrame, impl: str) -> float:
    """Mean eval return of `impl` over the evaluations in the last 20% of its env steps, all seeds."""
    rows = frame[frame["impl"] == impl]
    return float(rows[rows["step"] >= 0.8 * rows["step"].max()]["eval_return"].mean())


def run() -> Result:
    """Both ablations; one summary table."""
    seeds = [int(s) for s in os.environ.get("BENCH_ARCH_SEEDS", "0,1,2,3,4").split(",") if s.strip()]
    parts = os.environ.get("BENCH_ARCH_PARTS", "critic,pixels").split(",")
    rows: list[dict] = []
    if "critic" in parts:
        rows += critic_rows(seeds)
    if "pixels" in parts:
        rows += pixel_rows(seeds)
    frame = pd.DataFrame(rows)
    lines = [f"Seeds {seeds}; greedy evaluation ten times per run; 'last 20%' = mean over seeds of the evaluations "
             "in the last fifth of the env steps.", "",
             "| impl | env | env steps | mean return, last 20% | final mean (min) |", "| --- | --- | --- | --- | --- |"]
    for impl in dict.fromkeys(frame["impl"]):
        sel = frame[frame["impl"] == impl]
        finals = sel[sel["step"] == sel["step"].max()]["eval_return"]
        lines.append(f"| {impl} | {sel['env'].iloc[0]} | {sel['env_steps'].max()} | {last_fifth(frame, impl):.2f} | "
                     f"{finals.mean():.2f} ({finals.min():.2f}) |")
    if "pixels" in parts:
        for impl in ("pixels shared", "pixels separate"):
            sel = frame[frame["impl"] == impl]
            lines.append(f"- {impl}: {int(sel['params'].iloc[0])} parameters, "
                         f"{1e3 * sel.groupby('seed')['cpu_s'].first().mean():.2f} ms CPU per env step (training incl. evaluation)")
    figures = {}
    for part, env in (("critic", CARTPOLE), ("pixels", "PixelCatch")):
        sel = [r for r in rows if r["env"] == env and (part != "critic" or r["impl"].startswith("A2C"))]
        if sel:
            figures[part] = learning_curve_figure(sel, f"notebook 01: {part}")
    extra = ("cpu_s", "params") if "pixels" in parts else ()
    return Result(rows=rows, summary="\n".join(lines), extra_columns=extra, figures=figures or {})


if __name__ == "__main__":  # a quick look without writing results
    np.set_printoptions(precision=2)
    print(run().summary)
