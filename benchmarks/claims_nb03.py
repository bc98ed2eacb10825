"""Bench claims of notebook 03 (registered in benchmarks/claims.py): `make bench ONLY=sac` and `ONLY=findbugs`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.claims import BenchClaim


def _sac_no_collapse(frame: pd.DataFrame) -> tuple[bool, str]:
    """Over 10 seeds, no evaluation of cs285lab SAC from half the budget on falls below -200."""
    rows = frame[frame["impl"].str.startswith("cs285lab SAC")]
    late = rows[rows["env_steps"] >= rows["env_steps"].max() / 2]
    low = int((late["eval_return"] < -200).sum())
    seeds = rows["seed"].nunique()
    return seeds >= 10 and low == 0, f"{low} of {len(late)} late evaluations below -200 over {seeds} seeds"


def finals(frame: pd.DataFrame, impl: str) -> list[float]:
    """Per seed, the mean evaluation return over the last 20% of a findbugs run's evaluations."""
    out = []
    for _, rows in frame[frame["impl"] == impl].groupby("seed"):
        rows = rows.sort_values("env_steps")
        out.append(float(rows["eval_return"].tail(max(1, len(rows) // 5)).mean()))
    if not out:
        raise KeyError(f"no findbugs rows for {impl!r}")
    return out


NB03_CLAIMS: dict[str, BenchClaim] = {
    "nb03-layernorm-no-collapse": BenchClaim("sac", _sac_no_collapse),
}

__all__ = ["NB03_CLAIMS", "finals", "np"]
