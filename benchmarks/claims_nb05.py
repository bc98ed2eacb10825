"""Bench claims of notebook 05 (registered in benchmarks/claims.py): `make bench ONLY=mbpo`."""

from __future__ import annotations

import pandas as pd

from benchmarks.claims_tables import BenchClaim, final_mean
from cs285lab.record import HistoryRow


def _mbpo_rows(frame: pd.DataFrame) -> list[dict]:
    # rows of the one schema; HistoryRow still reads the older name env_steps, for helpers that use it
    return [HistoryRow(row) for row in frame.to_dict("records")]


def _nb05_steps_ratio(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import steps_to_threshold

    mbpo, sac = steps_to_threshold(_mbpo_rows(frame), "mbpo"), steps_to_threshold(_mbpo_rows(frame), "sac_nb03")
    return bool(mbpo and sac and sac >= 3 * mbpo), f"MBPO reaches -200 at {mbpo} env steps, SAC (nb03) at {sac}"


def _nb05_k0_as_early(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import steps_to_threshold

    k0, mbpo = (steps_to_threshold(_mbpo_rows(frame), impl) for impl in ("sac_same_updates_k0", "mbpo"))
    return bool(k0 and mbpo and k0 <= mbpo), f"k=0 control reaches -200 at {k0} env steps, MBPO at {mbpo}"


def _nb05_k0_fragile(frame: pd.DataFrame) -> tuple[bool, str]:
    from benchmarks.bench_mbpo import _worst_after

    k0, mbpo = _worst_after(_mbpo_rows(frame), "sac_same_updates_k0"), _worst_after(_mbpo_rows(frame), "mbpo")
    collapsed = sum(1 for w in k0 if w is not None and w < -1000)
    held = all(w is not None and w > -300 for w in mbpo)
    return collapsed >= 2 and held, f"worst eval after the first crossing of -200: k=0 {k0}, MBPO {mbpo}"


def _nb05_plateau(frame: pd.DataFrame) -> tuple[bool, str]:
    env = "Pendulum-v1"
    mbpo, sac, k0 = (final_mean(frame, impl, env) for impl in ("mbpo", "sac_nb03", "sac_same_updates_k0"))
    per_seed = {impl: [final_mean(frame[frame["seed"] == seed], impl, env) for seed in sorted(set(frame["seed"]))]
                for impl in ("mbpo", "sac_nb03")}
    holds = 5 <= sac - mbpo <= 50 and max(per_seed["mbpo"]) < min(per_seed["sac_nb03"]) and k0 >= sac - 10
    return holds, (f"last-20% mean: MBPO {mbpo:.0f} (seeds {[round(v) for v in per_seed['mbpo']]}), SAC "
                   f"{sac:.0f} (seeds {[round(v) for v in per_seed['sac_nb03']]}), k=0 control {k0:.0f}")


NB05_CLAIMS: dict[str, BenchClaim] = {
    "nb05-bench-steps-ratio": BenchClaim("mbpo", _nb05_steps_ratio),
    "nb05-bench-k0-as-early": BenchClaim("mbpo", _nb05_k0_as_early),
    "nb05-bench-k0-fragile": BenchClaim("mbpo", _nb05_k0_fragile),
    "nb05-bench-plateau": BenchClaim("mbpo", _nb05_plateau),
}
