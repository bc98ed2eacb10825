"""Parallel actor-critic on CartPole-v1: throughput against the number of workers, and sync vs async learning.

Everything runs in one process, one thing after another, so the ratios compare like with like on
whatever machine (and load) the benchmark meets:

1. acting-only throughput (policy forward + env step) against N for gymnasium's sync and async
   vectorization, next to stable-baselines3's DummyVecEnv and SubprocVecEnv stepping an SB3 policy;
2. learning with 4 workers and 32 transitions per update on the same env-step budget: cs285lab's
   synchronous A2C (sync and async vectorization), cs285lab's asynchronous threaded learner, and
   SB3's A2C (same workers and batch size) as the peer; rows per evaluation point;
3. the notebook itself at the full budget (its wall-clock is what students wait for).

Environment variables: BENCH_PARALLEL_SEEDS ("0,1"), BENCH_PARALLEL_STEPS (30000),
BENCH_PARALLEL_NOTEBOOK ("1"; "0" skips the full-budget notebook run).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from benchmarks.harness import Result, learning_curve_figure, notebook_timing
from cs285lab import seed_everything
from cs285lab.algos.actor_critic import A2CConfig, make_actor_critic, make_vec_env, train_a2c
from cs285lab.algos.parallel import AsyncConfig, collection_throughput, train_async
from cs285lab.envs import evaluate

DESCRIPTION = "parallel actor-critic on CartPole-v1: throughput vs N (sync/async vectorization, SB3 peer), sync vs async learning"
ENV = "CartPole-v1"
WORKERS = [1, 2, 4, 8, 16]
ACT_STEPS = 8000
NUM_WORKERS, BATCH = 4, 32
EVAL_EPISODES = 5
LEARNER = dict(lr=1e-3, gamma=0.99)  # the notebook's learner settings, shared by every cs285lab variant
ROOT = Path(__file__).resolve().parents[1]


def _sb3_acting_throughput(num_envs: int, subprocess: bool, steps: int, seed: int = 0) -> float:
    """Env steps/s of an SB3 A2C policy acting in an SB3 vector env (no learning)."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    venv = sb3_make_vec_env(ENV, n_envs=num_envs, seed=seed, vec_env_cls=SubprocVecEnv if subprocess else DummyVecEnv)
    try:
        model = A2C("MlpPolicy", venv, device="cpu", seed=seed)
        obs = venv.reset()
        rounds, best = max(1, steps // num_envs), math.inf
        for _ in range(3):  # best of 3, as collection_throughput does
            start = time.perf_counter()
            for _ in range(rounds):
                actions, _ = model.predict(obs, deterministic=False)
                obs, _, _, _ = venv.step(actions)
            best = min(best, time.perf_counter() - start)
        return rounds * num_envs / best
    finally:
        venv.close()


def throughput_rows() -> list[dict]:
    """Acting-only env steps per second for each implementation and N."""
    probe = make_vec_env(ENV, 1, 0)
    policy = make_actor_critic(probe.single_observation_space, probe.single_action_space)
    probe.close()
    rows = []
    for n in WORKERS:
        for impl, measure in [
            ("cs285lab sync vectorization", lambda: collection_throughput(ENV, n, "sync", policy, ACT_STEPS)),
            ("cs285lab async vectorization", lambda: collection_throughput(ENV, n, "async", policy, ACT_STEPS)),
            ("sb3 DummyVecEnv", lambda: _sb3_acting_throughput(n, False, ACT_STEPS)),
            ("sb3 SubprocVecEnv", lambda: _sb3_acting_throughput(n, True, ACT_STEPS)),
        ]:
            rows.append({"impl": impl, "num_envs": n, "steps_per_s": measure()})
            print(f"  acting {impl:30s} N={n:2d}: {rows[-1]['steps_per_s']:9,.0f} steps/s", flush=True)
    return rows


def _sb3_eval_callback(every: int, rows: list[dict], seed: int):
    """An SB3 callback that evaluates the greedy policy every `every` env steps, as train_a2c does."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EvalCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.start, self.next_eval = time.perf_counter(), 0

        def _evaluate(self) -> None:
            score = evaluate(lambda o: self.model.predict(o, deterministic=True)[0], ENV, EVAL_EPISODES)
            rows.append({"impl": "sb3 A2C (sync, DummyVecEnv)", "env": ENV, "seed": seed,
                         "step": self.num_timesteps, "eval_return": score,
                         "wall_s": round(time.perf_counter() - self.start, 2)})

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self._evaluate()
                self.next_eval += every
            return True

        def _on_training_end(self) -> None:
            self._evaluate()

    return EvalCallback()


def learning_rows(seeds: list[int], steps: int) -> list[dict]:
    """Eval-return rows of the four learners (4 workers, 32 transitions per update, `steps` env steps)."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    every = max(steps // 10, BATCH)
    rows: list[dict] = []
    for seed in seeds:
        for mode in ("sync", "async"):
            seed_everything(seed)
            config = A2CConfig(num_envs=NUM_WORKERS, total_steps=steps, n_steps=BATCH // NUM_WORKERS, gae_lambda=1.0,
                               anneal_lr=True, normalize_advantages=False, vectorization=mode, eval_every=every,
                               eval_episodes=EVAL_EPISODES, **LEARNER)
            _, history = train_a2c(ENV, config, seed=seed)
            rows += [{"impl": f"cs285lab sync A2C, {mode} vectorization", "env": ENV, "seed": seed,
                      "step": r["step"], "eval_return": r["eval_return"], "wall_s": round(r["wall_s"], 2)}
                     for r in history]
        seed_everything(seed)
        config = AsyncConfig(num_workers=NUM_WORKERS, total_steps=steps, batch_size=BATCH, eval_every=every,
                             eval_episodes=EVAL_EPISODES, **LEARNER)
        _, history = train_async(ENV, config, seed=seed)
        rows += [{"impl": "cs285lab async threads", "env": ENV, "seed": seed, "step": r["step"],
                  "eval_return": r["eval_return"], "wall_s": round(r["wall_s"], 2)} for r in history.rows]
        seed_everything(seed)
        torch.set_num_threads(1)
        venv = sb3_make_vec_env(ENV, n_envs=NUM_WORKERS, seed=seed)
        model = A2C("MlpPolicy", venv, n_steps=BATCH // NUM_WORKERS, device="cpu", seed=seed)
        model.learn(total_timesteps=steps, callback=_sb3_eval_callback(every, rows, seed))
        venv.close()
        for impl in sorted({r["impl"] for r in rows if r["seed"] == seed}):
            last = [r for r in rows if r["seed"] == seed and r["impl"] == impl][-1]
            print(f"  learn {impl:40s} seed {seed}: {last['step']} steps in {last['wall_s']:.1f} s, "
                  f"final eval {last['eval_return']:.0f}", flush=True)
    return rows


def _throughput_figure(rows: list[dict]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for impl in dict.fromkeys(r["impl"] for r in rows):
        sel = [r for r in rows if r["impl"] == impl]
        ax.plot([r["num_envs"] for r in sel], [r["steps_per_s"] for r in sel], marker="o", label=impl)
    ax.set(xscale="log", yscale="log", xlabel="workers N", ylabel="env steps / s (acting only)",
           title="CartPole-v1 acting throughput")
    ax.set_xticks(WORKERS, labels=[str(n) for n in WORKERS])
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _final_speed(rows: list[dict], impl: str) -> float:
    """Median over seeds of env steps per second over a whole training run (evaluation included)."""
    speeds = []
    for seed in {r["seed"] for r in rows if r["impl"] == impl}:
        last = [r for r in rows if r["impl"] == impl and r["seed"] == seed][-1]
        speeds.append(last["step"] / last["wall_s"])
    return float(np.median(speeds))


def run() -> Result:
    """Throughput vs N, learning of the four learners, and the notebook's full-budget time."""
    seeds = [int(s) for s in os.environ.get("BENCH_PARALLEL_SEEDS", "0,1").split(",") if s.strip()]
    steps = int(os.environ.get("BENCH_PARALLEL_STEPS", "30000"))
    seed_everything(0)
    acting = throughput_rows()
    rows = learning_rows(seeds, steps)
    nb_time = notebook_timing("02_parallel_actor_critic", "BENCH_PARALLEL_NOTEBOOK")

    table = ["| impl | " + " | ".join(f"N={n}" for n in WORKERS) + " |", "| --- |" + " --- |" * len(WORKERS)]
    for impl in dict.fromkeys(r["impl"] for r in acting):
        by_n = {r["num_envs"]: r["steps_per_s"] for r in acting if r["impl"] == impl}
        table.append(f"| {impl} | " + " | ".join(f"{by_n[n]:,.0f}" for n in WORKERS) + " |")
    ref = {n: r["steps_per_s"] for r in acting if r["impl"] == "sb3 DummyVecEnv" for n in [r["num_envs"]]}
    ratios = ", ".join(f"N={r['num_envs']}: {r['steps_per_s'] / ref[r['num_envs']]:.2f}x"
                       for r in acting if r["impl"] == "cs285lab sync vectorization")
    sb3 = _final_speed(rows, "sb3 A2C (sync, DummyVecEnv)")
    learn = ["| learner (4 workers, 32 transitions/update) | median final eval return | env steps/s incl. eval | vs SB3 A2C |",
             "| --- | --- | --- | --- |"]
    for impl in dict.fromkeys(r["impl"] for r in rows):
        finals = []
        for seed in seeds:
            sel = [r for r in rows if r["impl"] == impl and r["seed"] == seed]
            finals.append(sel[-1]["eval_return"])
        speed = _final_speed(rows, impl)
        learn.append(f"| {impl} | {np.median(finals):.0f} | {speed:,.0f} | {speed / sb3:.2f}x |")
    summary = "\n".join([
        f"CartPole-v1; seeds {seeds}; {steps} env steps per learning run; acting throughput over {ACT_STEPS} steps.",
        "",
        "## Acting throughput (env steps/s: policy forward + env step)",
        *table,
        "",
        f"cs285lab sync vectorization / SB3 DummyVecEnv, same run: {ratios}.",
        "",
        "## Learning on the same budget",
        *learn,
        "",
        "## Notebook 02 at the full budget",
        nb_time,
    ])
    return Result(rows=rows, summary=summary, figures={
        "": learning_curve_figure(rows, "sync vs async actor-critic (4 workers, batch 32)"),
        "throughput": _throughput_figure(acting),
    })
