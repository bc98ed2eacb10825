"""Claims in notebook prose agree with what the notebooks assert and what the bench tables show."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from benchmarks.claims import BENCH_CLAIMS, RESULTS, BenchClaim, evaluate, final_mean, table
from cs285lab.claims import ClaimFailed, audit, claim

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return nbformat.read(path, as_version=4).cells


def _prefix(path: Path) -> str:
    return "nb" + path.name[:2]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_stated_number_is_asserted_or_cites_a_bench(solution):
    problems = audit(_cells(solution), _prefix(solution), BENCH_CLAIMS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("claim_id", sorted(BENCH_CLAIMS))
def test_committed_bench_tables_still_support_their_claims(claim_id):
    holds, observed = evaluate(claim_id)
    assert holds, f"{claim_id}: the committed `make bench ONLY={BENCH_CLAIMS[claim_id].bench}` table no longer " \
                  f"supports the notebook's text (measured {observed})"


def test_bench_claims_are_all_cited_by_some_notebook():
    marked = set()
    for solution in SOLUTIONS:
        for cell in _cells(solution):
            if cell.cell_type == "markdown":
                marked.update(__import__("re").findall(r"<!--\s*claim:\s*(\S+?)\s*-->", cell.source))
    assert not set(BENCH_CLAIMS) - marked, f"bench claims no notebook states: {sorted(set(BENCH_CLAIMS) - marked)}"


# ----- the mechanism catches drift ---------------------------------------------------------------

def _md(text: str) -> dict:
    return nbformat.v4.new_markdown_cell(text)


def _code(text: str) -> dict:
    return nbformat.v4.new_code_cell(text)


def test_claim_raises_with_what_was_measured(monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    assert claim("nb05-mbpo-faster", True, observed="300 < 2900") is None  # a cell ending in a claim shows nothing
    with pytest.raises(ClaimFailed, match=r"nb05-mbpo-faster.*ci budget measured: 3000 < 2900"):
        claim("nb05-mbpo-faster", False, observed="3000 < 2900")
    # A full-budget claim is not asserted at the ci budget; at the full budget it is.
    claim("nb05-plateau", False, observed="x", profiles=("full",))
    monkeypatch.setenv("CS285LAB_PROFILE", "full")
    with pytest.raises(ClaimFailed, match="nb05-plateau"):
        claim("nb05-plateau", False, observed="x", profiles=("full",))
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    with pytest.raises(ValueError, match="notebook prefix"):
        claim("MBPO faster", True, observed="")
    with pytest.raises(ValueError, match="profiles"):
        claim("nb05-x", True, observed="", profiles=("fast",))


def test_audit_flags_unbacked_numbers_and_orphans():
    backed = [_md("MBPO is about 3x faster. <!-- claim: nb05-fast -->"),
              _code('claim("nb05-fast", ratio > 2, observed=f"{ratio}")')]
    assert audit(backed, "nb05", {}) == []
    assert audit([_md("A 6 × 9 grid, gamma = 0.99, k = 5 steps.")], "nb04", {}) == []
    # A number stated with no measurement behind it.
    unbacked = audit([_md("All three learners end near -80.")], "nb04", {})
    assert len(unbacked) == 1 and "unbacked number" in unbacked[0]
    assert audit([_md("20% of the data is held out. <!-- not-a-claim -->")], "nb05", {}) == []
    # A marker whose assertion was deleted, and an assertion whose sentence was deleted.
    assert "no code cell asserts it" in audit([backed[0]], "nb05", {})[0]
    assert "no markdown states it" in audit([backed[1]], "nb05", {})[0]
    # A claim asserted only at the full budget must say so in its paragraph.
    full_only = _code('claim("nb05-fast", ok, observed="", profiles=("full",))')
    assert "full budget" in audit([backed[0], full_only], "nb05", {})[0]
    assert audit([_md("At the full budget MBPO is about 3x faster. <!-- claim: nb05-fast -->"), full_only],
                 "nb05", {}) == []
    # The wrong notebook prefix.
    assert "must start with 'nb04-'" in " ".join(audit(backed, "nb04", {}))


def test_bench_claim_must_cite_its_command_and_fails_when_the_table_changes(tmp_path):
    bench_claims = {"nb05-sac-slow": BenchClaim("sac", lambda frame: (True, "ok"))}
    cited = _md("SAC reaches it at about 2900 steps (`make bench ONLY=sac`). <!-- claim: nb05-sac-slow -->")
    assert audit([cited], "nb05", bench_claims) == []
    uncited = _md("SAC reaches it at about 2900 steps. <!-- claim: nb05-sac-slow -->")
    assert "make bench ONLY=sac" in audit([uncited], "nb05", bench_claims)[0]

    # A real table: a claim that held on the committed results fails once the results change.
    shutil.copy(RESULTS / "sac.csv", tmp_path / "sac.csv")
    frame = table("sac", tmp_path)
    impl = frame["impl"].iloc[0]
    env = frame["env"].iloc[0]
    level = final_mean(frame, impl, env)
    probe = BenchClaim("sac", lambda f: (final_mean(f, impl, env) >= level - 1, f"{final_mean(f, impl, env):.0f}"))
    BENCH_CLAIMS["nb05-probe"] = probe
    try:
        assert evaluate("nb05-probe", tmp_path)[0]
        frame.loc[(frame["impl"] == impl) & (frame["env"] == env), "eval_return"] -= 100
        frame.to_csv(tmp_path / "sac.csv", index=False)
        assert not evaluate("nb05-probe", tmp_path)[0]
    finally:
        del BENCH_CLAIMS["nb05-probe"]
    with pytest.raises(FileNotFoundError, match="make bench ONLY=nope"):
        table("nope", tmp_path)


# ---- full-budget-only claims: `make bench ONLY=notebooks` must have seen each one hold -------------------

def _full_only_claims(cells: list[dict]) -> set[str]:
    from cs285lab.claims import asserted_claims

    return {claim_id for cell in cells if cell["cell_type"] == "code"
            for claim_id, profiles in asserted_claims(cell["source"]).items() if "ci" not in profiles}


def _unseen_full_only(cells: list[dict], notebook: str, recorded: list[dict]) -> list[str]:
    """Full-only claims of `notebook` with no passing row in the notebooks bench table."""
    passed = {row["claim"] for row in recorded if row["impl"] == notebook and str(row["holds"]) == "True"}
    return sorted(_full_only_claims(cells) - passed)


def _notebooks_table() -> list[dict]:
    import csv

    path = RESULTS / "notebooks.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_full_budget_only_claim_was_seen_holding(solution):
    unseen = _unseen_full_only(_cells(solution), solution.stem, _notebooks_table())
    assert not unseen, (f"{solution.name}: the full-budget-only claims {unseen} have no passing row in "
                        "benchmarks/results/notebooks.csv; run `make bench ONLY=notebooks` "
                        f"(BENCH_NOTEBOOKS={solution.stem}) and commit the table")


def test_a_full_only_claim_without_a_recorded_pass_is_reported():
    cells = [_code('claim("nb09-x", True, observed="1", profiles=("full",))\nclaim("nb09-y", True, observed="2")')]
    assert _unseen_full_only(cells, "09_x", []) == ["nb09-x"]
    failing = [{"impl": "09_x", "claim": "nb09-x", "holds": "False"}]
    assert _unseen_full_only(cells, "09_x", failing) == ["nb09-x"]
    assert _unseen_full_only(cells, "09_x", [{"impl": "09_x", "claim": "nb09-x", "holds": "True"}]) == []
