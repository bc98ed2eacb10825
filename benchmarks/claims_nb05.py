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


def _nb05_k0_as_early(frame: pd.DataFrame) -> tuple[bool, str]:
    """Per seed, not on the mean curve (there the two were within a few points of -200 at the deciding step)."""
    from benchmarks.bench_mbpo import _per_seed

    k0, mbpo = (_per_seed(_mbpo_rows(frame), impl) for impl in ("sac_same_updates_k0", "mbpo"))
    no_later = sum(1 for a, b in zip(k0, mbpo) if a is not None and (b is None or a <= b))
    return (len(k0) == len(mbpo) >= 3 and no_later >= 2,
            f"first evaluation at -200 or above, per seed: k=0 control {k0}, MBPO {mbpo}")


def _nb05_k0_fragile(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import _worst_after

    k0, mbpo = _worst_after(_mbpo_rows(frame), "sac_same_updates_k0"), _worst_after(_mbpo_rows(frame), "mbpo")
    collapsed = sum(1 for w in k0 if w is not None and w < -1000)
    held = all(w is not None and w > -300 for w in mbpo)
    return collapsed >= 2 and held, f"worst eval after the first crossing of -200: k=0 {k0}, MBPO {mbpo}"


def _window_means(frame: pd.DataFrame, impl: str, first: int, last: int) -> list[float]:
    """Per seed, the mean eval return of `impl` over the evaluations at env steps first..last (inclusive)."""
    rows = frame[(frame["impl"] == impl) & (frame["step"] >= first) & (frame["step"] <= last)]
    if rows.empty:
        raise KeyError(f"no rows for impl={impl!r} in steps {first}-{last}")
    return [float(rows[rows["seed"] == seed]["eval_return"].mean()) for seed in sorted(set(rows["seed"]))]


def _nb05_plateau(frame: pd.DataFrame) -> tuple[bool, str]:
    """MBPO reaches SAC's final level (its steps 500-1500 vs SAC's last 20%, 12000-15000), then drifts down
    (its steps 2400-3000 below its own 500-1500, by 5 to 25, on every seed), so that at the end of each run (last
    20% of each) MBPO is 10 to 30 below SAC on every seed."""
    reached, late = _window_means(frame, "mbpo", 500, 1500), _window_means(frame, "mbpo", 2400, 3000)
    sac = _window_means(frame, "sac_nb03", 12000, 15000)
    holds = (len(reached) == len(late) == len(sac) >= 3
             and all(abs(m - s) <= 10 for m, s in zip(reached, sac))
             and all(5 <= m - d <= 25 for m, d in zip(reached, late))
             and all(10 <= s - d <= 30 for s, d in zip(sac, late)))
    return holds, (f"per seed, MBPO steps 500-1500 {[round(v) for v in reached]}, SAC steps 12000-15000 "
                   f"{[round(v) for v in sac]}, MBPO steps 2400-3000 {[round(v) for v in late]}")


NB05_CLAIMS: dict[str, BenchClaim] = {
    "nb05-bench-steps-ratio": BenchClaim("mbpo", _nb05_steps_ratio),
    "nb05-bench-k0-as-early": BenchClaim("mbpo", _nb05_k0_as_early),
    "nb05-bench-k0-fragile": BenchClaim("mbpo", _nb05_k0_fragile),
    "nb05-bench-plateau": BenchClaim("mbpo", _nb05_plateau),
}
