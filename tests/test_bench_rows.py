"""The committed learning-benchmark rows (mbpo, sac, findbugs) are what today's code measures: the claims they back
are not of older code.

A benchmark takes minutes, so `make test` cannot rerun one. It reruns the first evaluations of seed 0 with the
benchmark's own settings instead: a seeded run's first evaluations do not depend on how long it goes on, so they must
equal the committed rows exactly (on the machine that made them; the rows of benchmarks/results were made on this
project's 2-core CI-like machine). A change to an algorithm's numbers fails here: re-run `make bench ONLY=<name>` and
re-read the claims its rows back (benchmarks/claims*.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _committed(bench: str, impl: str, evaluations: int) -> list[tuple[int, float]]:
    """Seed 0's first `evaluations` (step, eval_return) rows of `impl` in benchmarks/results/<bench>.csv."""
    frame = pd.read_csv(RESULTS / f"{bench}.csv")
    rows = frame[(frame["impl"] == impl) & (frame["seed"] == 0)].sort_values("step").head(evaluations)
    assert len(rows) == evaluations, f"benchmarks/results/{bench}.csv has no {evaluations} rows of {impl!r}, seed 0"
    return [(int(step), float(value)) for step, value in zip(rows["step"], rows["eval_return"])]


def _stale(bench: str, fresh: list[tuple[int, float]], committed: list[tuple[int, float]]) -> str:
    return (f"benchmarks/results/{bench}.csv was not made by today's code: seed 0's first evaluations are now "
            f"{fresh}, the committed rows say {committed}. Re-run `make bench ONLY={bench}`, then check the claims "
            "its rows back (tests/test_claims.py) and the text that states them. (Or this machine's floating point "
            "is not the bench machine's, a different CPU: then the rows cannot be compared here)")


def test_the_mbpo_bench_rows_are_todays_code():
    from benchmarks.bench_mbpo import ENV, EVAL_EPISODES, EVAL_EVERY
    from cs285lab import seed_everything
    from cs285lab.algos.mbpo import MBPOConfig, train_mbpo

    # two evaluations: the second comes after the first model fit, rollouts and SAC updates (~4 CPU s)
    config = MBPOConfig(total_steps=2 * EVAL_EVERY, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES)
    seed_everything(0)
    fresh = [(row["step"], row["eval_return"]) for row in train_mbpo(ENV, config, seed=0).history]
    committed = _committed("mbpo", "mbpo", 2)
    assert fresh == committed, _stale("mbpo", fresh, committed)


def test_the_sac_bench_rows_are_todays_code():
    from benchmarks.bench_sac import ENV, EVAL_EPISODES, EVAL_EVERY, OURS
    from cs285lab import seed_everything
    from cs285lab.algos.sac import SACConfig, train_sac

    # one evaluation, after the first 500 SAC updates (~2 CPU s)
    seed_everything(0)
    _, history = train_sac(ENV, SACConfig(total_steps=EVAL_EVERY, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES),
                           seed=0)
    fresh = [(row["step"], row["eval_return"]) for row in history]
    committed = _committed("sac", OURS, 1)
    assert fresh == committed, _stale("sac", fresh, committed)


def test_the_findbugs_bench_rows_are_todays_code():
    from dataclasses import replace

    from benchmarks.bench_findbugs import ENV, EVAL_EPISODES
    from cs285lab import budget, seed_everything
    from cs285lab.algos.offpolicy_fixes import ARMS, train_ablation

    # notebook 03's fixed arm, as the benchmark trains it: one evaluation, after its first 1000 env steps (~1.5 CPU s)
    frame = pd.read_csv(RESULTS / "findbugs.csv")
    first = int(frame[(frame["impl"] == "both fixed") & (frame["seed"] == 0)]["step"].min())
    fix_critic, fix_actor = ARMS["both fixed"]
    config = replace(budget("nb03", "full").ablation, fix_critic=fix_critic, fix_actor=fix_actor, total_steps=first,
                     eval_every=first, eval_episodes=EVAL_EPISODES)
    seed_everything(0)
    fresh = [(row["step"], row["eval_return"]) for row in train_ablation(ENV, config, seed=0)[1]]
    committed = _committed("findbugs", "both fixed", 1)
    assert fresh == committed, _stale("findbugs", fresh, committed)
