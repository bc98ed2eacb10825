"""What every bench claim is made of: a committed results table and a function of it (see benchmarks/claims.py).

The claim modules (claims_actor_critic.py, claims_nb03.py, claims_nb05.py) import this; benchmarks/claims.py
imports them and registers their claims. Nothing here imports a claim module.
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


def final_mean(frame: pd.DataFrame, impl: str, env: str, last_fraction: float = 0.2) -> float:
    """Mean evaluation return of `impl` on `env` over the last `last_fraction` of its env steps, all seeds."""
    rows = frame[(frame["impl"] == impl) & (frame["env"] == env)]
    if rows.empty:
        raise KeyError(f"no rows for impl={impl!r}, env={env!r}; have {sorted(set(frame['impl']))}")
    cutoff = rows["step"].max() * (1 - last_fraction)
    return float(rows[rows["step"] >= cutoff]["eval_return"].mean())
