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
    cutoff = rows["env_steps"].max() * (1 - last_fraction)
    return float(rows[rows["env_steps"] >= cutoff]["eval_return"].mean())


# id -> claim. Keep entries short: one comparison each, so a failing one says exactly what changed.
BENCH_CLAIMS: dict[str, BenchClaim] = {}

from benchmarks.claims_actor_critic import NB01_NB02_CLAIMS  # noqa: E402 - notebooks 01 and 02; needs the names above

BENCH_CLAIMS.update(NB01_NB02_CLAIMS)
