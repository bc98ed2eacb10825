"""Claims in notebook prose that a committed benchmark table backs (see cs285lab/claims.py).

Each entry names the benchmark whose table backs it (`make bench ONLY=<bench>` re-measures it) and a
function of that table (benchmarks/results/<bench>.csv, as a pandas DataFrame) that returns
(holds, what was measured). tests/test_claims.py evaluates every entry against the committed tables
and checks that the notebook paragraph carrying the marker cites `make bench ONLY=<bench>`.
The claims live by notebook in claims_actor_critic.py, claims_nb03.py and claims_nb05.py (on top of
claims_tables.py); this module registers them.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.claims_actor_critic import NB01_NB02_CLAIMS
from benchmarks.claims_nb03 import NB03_CLAIMS
from benchmarks.claims_nb05 import NB05_CLAIMS
from benchmarks.claims_tables import RESULTS, BenchClaim, final_mean, table

__all__ = ["BENCH_CLAIMS", "RESULTS", "BenchClaim", "evaluate", "final_mean", "table"]

# id -> claim. Keep entries short: one comparison each, so a failing one says exactly what changed.
BENCH_CLAIMS: dict[str, BenchClaim] = {**NB01_NB02_CLAIMS, **NB03_CLAIMS, **NB05_CLAIMS}


def evaluate(claim_id: str, results: Path = RESULTS) -> tuple[bool, str]:
    """Evaluate one registered bench claim against the tables in `results`."""
    entry = BENCH_CLAIMS[claim_id]
    holds, observed = entry.check(table(entry.bench, results))
    return bool(holds), observed
