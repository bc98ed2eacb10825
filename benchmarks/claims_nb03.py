"""Bench claims of notebook 03 (registered in benchmarks/claims.py): `make bench ONLY=sac` and `ONLY=findbugs`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.claims_tables import BenchClaim


def _sac_no_collapse(frame: pd.DataFrame) -> tuple[bool, str]:
    """Over 10 seeds, no evaluation of cs285lab SAC from half the budget on falls below -200."""
    rows = frame[frame["impl"].str.startswith("cs285lab SAC")]
    late = rows[rows["step"] >= rows["step"].max() / 2]
    low = int((late["eval_return"] < -200).sum())
    seeds = rows["seed"].nunique()
    return seeds >= 10 and low == 0, f"{low} of {len(late)} late evaluations below -200 over {seeds} seeds"


def finals(frame: pd.DataFrame, impl: str) -> list[float]:
    """Per seed, the mean evaluation return over the last 20% of a findbugs run's evaluations."""
    out = []
    for _, rows in frame[frame["impl"] == impl].groupby("seed"):
        rows = rows.sort_values("step")
        out.append(float(rows["eval_return"].tail(max(1, len(rows) // 5)).mean()))
    if not out:
        raise KeyError(f"no findbugs rows for {impl!r}")
    return out


def _ablation(frame: pd.DataFrame) -> tuple[bool, str]:
    """The single fixes: the critic's alone stays below -700 like naive; the policy gradient's comes within 200 of both."""
    f = {arm: finals(frame, arm) for arm in ("naive", "critic fixed", "policy gradient fixed", "both fixed", "SAC")}
    holds = (max(f["naive"]) < -700 and max(f["critic fixed"]) < -700
             and np.mean(f["both fixed"]) - np.mean(f["policy gradient fixed"]) < 200
             and min(f["policy gradient fixed"]) > max(f["naive"]) + 300)
    return holds, "; ".join(f"{arm} {[round(v) for v in values]}" for arm, values in f.items())


def _silent_bugs_fail(frame: pd.DataFrame) -> tuple[bool, str]:
    """Every silent-bug variant a student can get (3 families x 2 conventions x 2 places), over at least 2 seeds
    each, ends more than 500 below SAC's worst seed."""
    from cs285lab.algos.silent_bugs import FAMILIES

    sac = min(finals(frame, "SAC"))
    variants = {f"silent {name}/{convention}/{place}" for name, family in FAMILIES.items()
                for convention, placed in family.buggy.items() for place in range(len(placed))}
    present = {impl for impl in set(frame["impl"]) if impl.startswith("silent")}
    seeds = {impl: frame[frame["impl"] == impl]["seed"].nunique() for impl in present}
    bugs = {impl: max(finals(frame, impl)) for impl in sorted(present)}
    missing = sorted(variants - present)
    holds = not missing and min(seeds.values(), default=0) >= 2 and all(v < sac - 500 for v in bugs.values())
    worst = max(bugs, key=bugs.get) if bugs else "none"
    return holds, (f"SAC worst seed {sac:.0f}; {len(present)} of {len(variants)} variants measured"
                   + (f" (missing {missing})" if missing else "") + f", at least {min(seeds.values(), default=0)} "
                   f"seeds each; the best seed of any variant {bugs.get(worst, float('nan')):.0f} ({worst})")


NB03_CLAIMS: dict[str, BenchClaim] = {
    "nb03-layernorm-no-collapse": BenchClaim("sac", _sac_no_collapse),
    "nb03-bench-ablation": BenchClaim("findbugs", _ablation),
    "nb03-bench-silent-bugs-fail": BenchClaim("findbugs", _silent_bugs_fail),
}

__all__ = ["NB03_CLAIMS", "finals"]
