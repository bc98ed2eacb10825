"""SAC on Pendulum-v1: cs285lab SAC vs the naive off-policy actor-critic vs stable-baselines3 SAC.

Same env steps, same seeds, same evaluation episodes (cs285lab.envs.evaluate, deterministic policy).
Cost is CPU time per env step of the training process (time.process_time, evaluation excluded), one torch
thread each: on a shared machine CPU time is far steadier than wall-clock. SB3 trains in a parallel worker
process while ours run, so both see the same machine load.
SB3 runs with the rl-zoo Pendulum-v1 settings (learning_rate 1e-3, everything else default:
[256, 256] nets, batch 256, buffer 1e6, learning_starts 100, train_freq 1, tau 0.005, ent_coef auto).

Stability is reported too: the worst single evaluation of any seed once learning should be done
(from half the budget on), since a mean at the last step can hide a seed that collapsed and recovered.

Environment variables: BENCH_SAC_SEEDS (default 10), BENCH_SAC_PEER_SEEDS (SB3 seeds, default 5),
BENCH_SAC_STEPS (default 10000), BENCH_SAC_NOTEBOOK ("1"; "0" skips timing the full-budget notebook 03).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import Result, learning_curve_figure, notebook_timing
from cs285lab.algos.naive_offpolicy import NaiveOffPolicyAC
from cs285lab.algos.off_policy import run_off_policy
from cs285lab.algos.offpolicy_fixes import AblationConfig
from cs285lab.algos.sac import SACConfig, train_sac
from cs285lab.envs import EVAL_SEED, evaluate
from cs285lab.envs.continuous import make_env
from cs285lab.record import HistoryRow
from cs285lab.seeding import seed_run

DESCRIPTION = "SAC on Pendulum-v1 vs the naive off-policy actor-critic vs stable-baselines3 SAC (rl-zoo settings)"
ENV = "Pendulum-v1"
EVAL_EVERY, EVAL_EPISODES = 1000, 10
OURS, NAIVE, SB3 = "cs285lab SAC (64x64)", "naive off-policy AC", "SB3 SAC (rl-zoo, 256x256)"
SAME_SIZE_STEPS = 500  # the identical-network timing runs (after learning starts)
PARTIAL = Path(__file__).resolve().parent / "results" / "sac.partial.json"  # progress, in case a run is cut short


def train_naive(env_id: str, config: AblationConfig, *, seed: int) -> tuple[NaiveOffPolicyAC, list[HistoryRow]]:
    """The naive off-policy actor-critic (the lecture's first attempt, as notebook 03 prints it) through the loop."""
    seed_run(seed)
    env = make_env(env_id, who="the naive off-policy actor-critic")
    agent = NaiveOffPolicyAC(env.observation_space.shape[0], env.action_space.shape[0], env.action_space.low,
                             env.action_space.high, config)
    return agent, run_off_policy(agent, env, env_id, config, seed=seed)


def _rows(impl: str, seed: int, history: list[dict]) -> list[dict]:
    return [{"impl": impl, "env": ENV, "seed": seed, "step": r["step"], "eval_return": r["eval_return"],
             "wall_s": r["train_s"], "train_cpu_s": r["train_cpu_s"]} for r in history]


def _sb3(seed: int, steps: int, eval_every: int, **overrides) -> list[dict]:
    """Train SB3 SAC; evaluate with the same function and episodes as ours; return history rows."""
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.callbacks import BaseCallback

    history: list[dict] = []

    class Evaluate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start, self.eval_s = time.perf_counter(), 0.0
            self.cpu_start, self.eval_cpu = time.process_time(), 0.0

        def _on_step(self) -> bool:
            step = self.num_timesteps
            if step % eval_every == 0 or step == steps:
                t, c = time.perf_counter(), time.process_time()
                ret = evaluate(lambda o: self.model.predict(o, deterministic=True)[0], ENV, EVAL_EPISODES, seed=EVAL_SEED)
                self.eval_s += time.perf_counter() - t
                self.eval_cpu += time.process_time() - c
                wall = time.perf_counter() - self.start
                history.append({"step": step, "eval_return": ret, "wall_s": wall, "train_s": wall - self.eval_s,
                                "train_cpu_s": time.process_time() - self.cpu_start - self.eval_cpu})
            return True

    torch.set_num_threads(1)
    settings = dict(learning_rate=1e-3, seed=seed, device="cpu", verbose=0)
    settings.update(overrides)
    model = SB3SAC("MlpPolicy", ENV, **settings)
    model.learn(total_timesteps=steps, callback=Evaluate())
    return history


def _per_step_ms(history: list[dict], skip_steps: int) -> float:
    """Training CPU milliseconds per env step, measured after `skip_steps` (learning has started)."""
    first = next(r for r in history if r["step"] >= skip_steps)
    last = history[-1]
    return 1e3 * (last["train_cpu_s"] - first["train_cpu_s"]) / max(1, last["step"] - first["step"])


def _sb3_runs(seeds: list[int], steps: int, same_size_steps: int) -> tuple[dict[int, list[dict]], list[dict]]:
    """All SB3 runs of the benchmark (run in a worker process): per-seed histories, identical-size history."""
    same = _sb3(0, same_size_steps, 500)
    histories = {}
    for seed in seeds:
        histories[seed] = _sb3(seed, steps, EVAL_EVERY)
        PARTIAL.with_name("sac.partial_sb3.json").write_text(json.dumps({"same": same, "histories": histories}))
    PARTIAL.with_name("sac.partial_sb3.json").unlink(missing_ok=True)
    return histories, same


def run() -> Result:
    """Our SAC and the naive algorithm in this process, SB3 in a parallel worker; same seeds and steps."""
    import multiprocessing

    torch.set_num_threads(1)
    seeds = list(range(int(os.environ.get("BENCH_SAC_SEEDS", 10))))
    peer_seeds = list(range(int(os.environ.get("BENCH_SAC_PEER_SEEDS", min(5, len(seeds))))))
    steps = int(os.environ.get("BENCH_SAC_STEPS", 10_000))
    n_same = SAME_SIZE_STEPS + 500
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        peer = pool.apply_async(_sb3_runs, (peer_seeds, steps, n_same))
        rows: list[dict] = []
        speed: dict[str, list[float]] = {OURS: [], SB3: [], NAIVE: []}
        # identical networks (256x256, batch 256, lr 1e-3, learning_starts 100): the cost of the code, not the size
        same = SACConfig(hidden=(256, 256), batch_size=256, lr=1e-3, learning_starts=100, total_steps=n_same,
                         eval_every=500, eval_episodes=1)
        _, ours_256 = train_sac(ENV, same, seed=0)
        same_ours = _per_step_ms(ours_256, 500)
        for seed in seeds:
            run = dict(total_steps=steps, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES)
            _, ours = train_sac(ENV, SACConfig(**run), seed=seed)
            _, naive = train_naive(ENV, AblationConfig(**run), seed=seed)
            for impl, history in ((OURS, ours), (NAIVE, naive)):
                rows += _rows(impl, seed, history)
                speed[impl].append(_per_step_ms(history, EVAL_EVERY))
            print(f"seed {seed}: ours {ours[-1]['eval_return']:.0f} ({speed[OURS][-1]:.2f} ms/step), "
                  f"naive {naive[-1]['eval_return']:.0f}", flush=True)
            PARTIAL.parent.mkdir(exist_ok=True)
            PARTIAL.write_text(json.dumps({"rows": rows, "speed": speed, "same_size_ours_ms": same_ours}))
        peer_histories, sb3_256 = peer.get()
    for seed, history in peer_histories.items():
        rows += _rows(SB3, seed, history)
        speed[SB3].append(_per_step_ms(history, EVAL_EVERY))
    same_sb3 = _per_step_ms(sb3_256, 500)
    PARTIAL.unlink(missing_ok=True)
    summary = _summary(rows, speed, steps, seeds, peer_seeds, same_ours, same_sb3)
    summary += f"\n{notebook_timing('03_off_policy_actor_critic', 'BENCH_SAC_NOTEBOOK')}."
    return Result(rows=rows, summary=summary,
                  extra_columns=("train_cpu_s",),
                  figures={"": learning_curve_figure(rows, f"{ENV}: eval return, median and min-max over seeds")})


def _summary(rows: list[dict], speed: dict[str, list[float]], steps: int, seeds: list[int], peer_seeds: list[int],
             same_ours: float, same_sb3: float) -> str:
    lines = [f"{len(seeds)} seeds (SB3: {len(peer_seeds)}) x {steps} env steps, {EVAL_EPISODES} evaluation episodes "
             f"every {EVAL_EVERY} steps. Cost: CPU ms per env step of the training process (evaluation excluded), "
             "after learning starts, one torch thread each; SB3 ran in a parallel process during the same time.",
             "", "| implementation | final eval return (mean ± sd) | return at half budget | worst evaluation from "
             "half budget on (seed, step) | ms / env step | time vs SB3 |", "| --- | --- | --- | --- | --- | --- |"]
    sb3_ms = float(np.mean(speed[SB3]))
    for impl in (OURS, NAIVE, SB3):
        final = [r["eval_return"] for r in rows if r["impl"] == impl and r["step"] == steps]
        if not final:
            continue
        half = [r["eval_return"] for r in rows if r["impl"] == impl and r["step"] == steps // 2] or [np.nan]
        ms = float(np.mean(speed[impl]))
        worst = min((r for r in rows if r["impl"] == impl and r["step"] >= steps // 2), key=lambda r: r["eval_return"])
        lines.append(f"| {impl} | {np.mean(final):.0f} ± {np.std(final):.0f} | {np.mean(half):.0f} | "
                     f"{worst['eval_return']:.0f} ({worst['seed']}, {worst['step']}) | {ms:.2f} | {ms / sb3_ms:.2f}x |")
    ours_final = np.mean([r["eval_return"] for r in rows if r["impl"] == OURS and r["step"] == steps])
    ours_on_peer = np.mean([r["eval_return"] for r in rows if r["impl"] == OURS and r["step"] == steps
                            and r["seed"] in peer_seeds])
    sb3_final = np.mean([r["eval_return"] for r in rows if r["impl"] == SB3 and r["step"] == steps])
    late = [r["eval_return"] for r in rows if r["impl"] == OURS and r["step"] >= steps // 2]
    lines += ["", f"Stability: {sum(x < -200 for x in late)} of {len(late)} evaluations of cs285lab SAC from step "
              f"{steps // 2} on (all seeds) fall below -200."]
    lines += ["", f"On SB3's seeds {peer_seeds}: cs285lab SAC {ours_on_peer:.0f}, SB3 {sb3_final:.0f} "
              f"({'same or better' if ours_on_peer >= sb3_final else 'within 10 of SB3, slightly lower' if ours_on_peer >= sb3_final - 10 else 'WORSE'}).",
              f"Target: cs285lab SAC mean eval return >= -200 at {steps} steps: "
              f"{'met' if ours_final >= -200 else 'NOT met'} ({ours_final:.0f}).",
              f"Target: at most 1/4 of SB3's cost per env step: "
              f"{'met' if np.mean(speed[OURS]) <= sb3_ms / 4 else 'NOT met'} ({np.mean(speed[OURS]) / sb3_ms:.2f}x).",
              f"Identical networks (256x256, batch 256, lr 1e-3; seed 0, {SAME_SIZE_STEPS} steps after learning "
              f"starts): cs285lab {same_ours:.2f} CPU ms/step, SB3 {same_sb3:.2f}, ratio {same_ours / same_sb3:.2f}x."]
    return "\n".join(lines)
