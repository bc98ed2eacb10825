"""Claims in notebook prose that a committed benchmark table backs (see cs285lab/claims.py).

Each entry names the benchmark whose table backs it (`make bench ONLY=<bench>` re-measures it) and a
function of that table (benchmarks/results/<bench>.csv, as a pandas DataFrame) that returns
(holds, what was measured). tests/test_claims.py evaluates every entry against the committed tables
and checks that the notebook paragraph carrying the marker cites `make bench ONLY=<bench>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cs285lab.record import HistoryRow

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchClaim:
    """A prose claim backed by the table of one benchmark."""

    bench: str
    check: Callable[[pd.DataFrame], tuple[bool, str]]


def table(bench: str, results: Path = RESULTS) -> pd.DataFrame:
    """The committed results table of `bench` (benchmarks/results/<bench>.csv)."""
    path = results / f"{bench}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no results table {path.name}: run `make bench ONLY={bench}`")
    return pd.read_csv(path)


def evaluate(claim_id: str, results: Path = RESULTS) -> tuple[bool, str]:
    """Evaluate one registered bench claim against the tables in `results`."""
    entry = BENCH_CLAIMS[claim_id]
    holds, observed = entry.check(table(entry.bench, results))
    return bool(holds), observed


def final_mean(frame: pd.DataFrame, impl: str, env: str, last_fraction: float = 0.2) -> float:
    """Mean evaluation return of `impl` on `env` over the last `last_fraction` of its env steps, all seeds."""
    rows = frame[(frame["impl"] == impl) & (frame["env"] == env)]
    if rows.empty:
        raise KeyError(f"no rows for impl={impl!r}, env={env!r}; have {sorted(set(frame['impl']))}")
    cutoff = rows["step"].max() * (1 - last_fraction)
    return float(rows[rows["step"] >= cutoff]["eval_return"].mean())


# ----- notebook 05 (MBPO), `make bench ONLY=mbpo` ----------------------------------------------

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


# id -> claim. Keep entries short: one comparison each, so a failing one says exactly what changed.
BENCH_CLAIMS: dict[str, BenchClaim] = {
    "nb05-bench-steps-ratio": BenchClaim("mbpo", _nb05_steps_ratio),
    "nb05-bench-k0-as-early": BenchClaim("mbpo", _nb05_k0_as_early),
    "nb05-bench-k0-fragile": BenchClaim("mbpo", _nb05_k0_fragile),
    "nb05-bench-plateau": BenchClaim("mbpo", _nb05_plateau),
}

from benchmarks.claims_actor_critic import NB01_NB02_CLAIMS  # noqa: E402 - notebooks 01 and 02; needs the names above

BENCH_CLAIMS.update(NB01_NB02_CLAIMS)

from benchmarks.claims_nb03 import NB03_CLAIMS  # noqa: E402 - notebook 03; needs the names above

BENCH_CLAIMS.update(NB03_CLAIMS)
