"""Bench claims of notebook 05 (registered in benchmarks/claims.py): `make bench ONLY=mbpo`."""

from __future__ import annotations

import pandas as pd

from benchmarks.claims_tables import BenchClaim
from cs285lab.record import HistoryRow


def _mbpo_rows(frame: pd.DataFrame) -> list[dict]:
    # rows of the one schema; HistoryRow still reads the older name env_steps, for helpers that use it
    return [HistoryRow(row) for row in frame.to_dict("records")]


def _nb05_steps_ratio(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import steps_to_threshold

    mbpo, sac = steps_to_threshold(_mbpo_rows(frame), "mbpo"), steps_to_threshold(_mbpo_rows(frame), "sac_nb03")
    return bool(mbpo and sac and sac >= 3 * mbpo), f"MBPO reaches -200 at {mbpo} env steps, SAC (nb03) at {sac}"


def _nb05_k0_close(frame: pd.DataFrame) -> tuple[bool, str]:
    """Per seed (each seed's first evaluation at -200 or above): the k = 0 control never before MBPO and at most 300
    env steps after it, and at least three times sooner than notebook 03's SAC."""
    from benchmarks.bench_mbpo import _per_seed

    k0, mbpo, sac = (_per_seed(_mbpo_rows(frame), impl) for impl in ("sac_same_updates_k0", "mbpo", "sac_nb03"))
    holds = (len(k0) == len(mbpo) == len(sac) >= 3 and None not in (*k0, *mbpo, *sac)
             and all(0 <= k - m <= 300 for k, m in zip(k0, mbpo)) and all(s >= 3 * k for s, k in zip(sac, k0)))
    return holds, f"first evaluation at -200 or above, per seed: k=0 control {k0}, MBPO {mbpo}, SAC (nb03) {sac}"


def _nb05_both_fall_back(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import _worst_after

    k0, mbpo = _worst_after(_mbpo_rows(frame), "sac_same_updates_k0"), _worst_after(_mbpo_rows(frame), "mbpo")
    holds = any(w is not None and w < -300 for w in k0) and any(w is not None and w < -300 for w in mbpo)
    return holds, f"worst eval after the first crossing of -200: k=0 {k0}, MBPO {mbpo}"


def _window_means(frame: pd.DataFrame, impl: str, first: int, last: int) -> list[float]:
    """Per seed, the mean eval return of `impl` over the evaluations at env steps first..last (inclusive)."""
    rows = frame[(frame["impl"] == impl) & (frame["step"] >= first) & (frame["step"] <= last)]
    if rows.empty:
        raise KeyError(f"no rows for impl={impl!r} in steps {first}-{last}")
    return [float(rows[rows["seed"] == seed]["eval_return"].mean()) for seed in sorted(set(rows["seed"]))]


def _nb05_plateau(frame: pd.DataFrame) -> tuple[bool, str]:
    """At the end of each run (the last 20% of each: MBPO's steps 2400-3000, SAC's 12000-15000), MBPO is within 25
    of SAC on every seed and more than 10 below it on at least two."""
    mbpo, sac = _window_means(frame, "mbpo", 2400, 3000), _window_means(frame, "sac_nb03", 12000, 15000)
    holds = (len(mbpo) == len(sac) >= 3 and all(abs(s - m) <= 25 for m, s in zip(mbpo, sac))
             and sum(s - m > 10 for m, s in zip(mbpo, sac)) >= 2)
    return holds, (f"per seed, the last 20% of each run: MBPO (steps 2400-3000) {[round(v) for v in mbpo]}, "
                   f"SAC (steps 12000-15000) {[round(v) for v in sac]}")


NB05_CLAIMS: dict[str, BenchClaim] = {
    "nb05-bench-steps-ratio": BenchClaim("mbpo", _nb05_steps_ratio),
    "nb05-bench-k0-close": BenchClaim("mbpo", _nb05_k0_close),
    "nb05-bench-both-fall-back": BenchClaim("mbpo", _nb05_both_fall_back),
    "nb05-bench-plateau": BenchClaim("mbpo", _nb05_plateau),
}
