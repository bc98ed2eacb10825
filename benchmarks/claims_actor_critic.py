"""Bench claims of notebooks 01 and 02 (`make bench ONLY=architectures`, `make bench ONLY=parallel`).

Registered in benchmarks/claims.py's BENCH_CLAIMS (this module imports only claims_tables.py); each function reads one committed results table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.claims_tables import BenchClaim, final_mean

CARTPOLE = "CartPole-v1"


def _nb01_critic_steps(frame: pd.DataFrame) -> tuple[bool, str]:
    without, with_fit = (final_mean(frame, f"A2C critic_steps={k}", CARTPOLE) for k in (0, 8))
    seeds = frame[frame["impl"] == "A2C critic_steps=8"]["seed"].nunique()
    return (with_fit >= 475 and with_fit - without >= 20,
            f"last-20% mean over {seeds} seeds: critic_steps=0 {without:.0f}, critic_steps=8 {with_fit:.0f}")


def _nb01_pixels(frame: pd.DataFrame) -> tuple[bool, str]:
    shared, separate = (final_mean(frame, f"pixels {kind}", "PixelCatch") for kind in ("shared", "separate"))
    finals = {kind: frame[frame["impl"] == f"pixels {kind}"].groupby("seed")["eval_return"].last().round(2).tolist()
              for kind in ("shared", "separate")}
    # "the separate nets failed to learn on some seeds, the shared trunk on none" (a failed seed ends below 0)
    holds = shared >= separate and min(finals["shared"]) > 0 and min(finals["separate"]) < 0
    return holds, f"last-20% mean: shared {shared:+.2f}, separate {separate:+.2f}; final per seed {finals}"


def _speed(frame: pd.DataFrame, impl: str) -> float:
    """Median over seeds of env steps per second over a whole run (evaluation included), as the bench reports."""
    last = frame[frame["impl"] == impl].groupby("seed").tail(1)
    return float(np.median(last["step"] / last["wall_s"]))


SYNC, SYNC_ASYNC_VEC, THREADS = ("cs285lab sync A2C, sync vectorization", "cs285lab sync A2C, async vectorization",
                                 "cs285lab async threads")


def _nb02_sync_fastest(frame: pd.DataFrame) -> tuple[bool, str]:
    speeds = [_speed(frame, impl) for impl in (SYNC, SYNC_ASYNC_VEC, THREADS)]
    return speeds[0] > speeds[1] > speeds[2], ("env steps/s: sync vectorization {:,.0f}, async vectorization {:,.0f}, "
                                               "threads {:,.0f}").format(*speeds)


def _nb02_async_close(frame: pd.DataFrame) -> tuple[bool, str]:
    sync, threads = final_mean(frame, SYNC, CARTPOLE), final_mean(frame, THREADS, CARTPOLE)
    return threads >= 0.8 * sync, f"last-20% mean: threads {threads:.0f}, synchronous {sync:.0f}"


NB01_NB02_CLAIMS: dict[str, BenchClaim] = {
    "nb01-bench-critic-steps": BenchClaim("architectures", _nb01_critic_steps),
    "nb01-bench-pixels": BenchClaim("architectures", _nb01_pixels),
    "nb02-sync-fastest": BenchClaim("parallel", _nb02_sync_fastest),
    "nb02-async-close-per-step": BenchClaim("parallel", _nb02_async_close),
}
