"""Claims: a number in a notebook's prose is asserted where the notebook measures it, or cites a benchmark.

In the markdown, a sentence that states a measured number or comparison ends with a marker
(invisible when rendered):

    MBPO reaches -200 in fewer env steps than SAC. <!-- claim: nb05-mbpo-faster -->

and the code cell that measures it asserts it:

    claim("nb05-mbpo-faster", mbpo_steps < sac_steps, observed=f"MBPO {mbpo_steps}, SAC {sac_steps}")

A claim that only the full budget supports says so in its paragraph ("at the full budget") and is
asserted with `profiles=("full",)`; `make bench ONLY=notebooks` runs every notebook at the full budget and
records each claim's verdict (the environment variable CS285LAB_CLAIMS_LOG names a file that every claim
asserted at the active budget appends one JSON line to). A claim
backed by a benchmark table cites `make bench ONLY=<name>` next to its marker and is registered in
`benchmarks/claims.py`. `tests/test_claims.py` ties markers, assertions and bench tables together.
"""

from __future__ import annotations

import json
import os
import re

from cs285lab.budgets import PROFILES, profile

CLAIM_ID = re.compile(r"^nb\d\d-[a-z0-9]+(?:-[a-z0-9]+)*$")
MARKER = re.compile(r"<!--\s*claim:\s*(\S+?)\s*-->")
CLAIMS_LOG = "CS285LAB_CLAIMS_LOG"  # a file path: claim() appends its verdict there (bench_notebooks sets it)


class ClaimFailed(AssertionError):
    """The notebook's text states something this run did not measure."""


def claim(claim_id: str, holds: bool, observed: str, *, profiles: tuple[str, ...] = PROFILES) -> None:
    """Assert the prose claim `claim_id` on this run's measurement (at the budget `profiles` it is made for).

    Returns None, so a cell that ends with a claim shows nothing when the claim holds.
    """
    if not CLAIM_ID.match(claim_id):
        raise ValueError(f"claim id {claim_id!r} must look like 'nb05-mbpo-faster' (notebook prefix, lowercase, dashes)")
    unknown = set(profiles) - set(PROFILES)
    if not profiles or unknown:
        raise ValueError(f"claim {claim_id!r}: profiles must be a non-empty subset of {PROFILES}, got {profiles!r}")
    if profile() not in profiles:
        return
    log = os.environ.get(CLAIMS_LOG)
    if log:  # make bench ONLY=notebooks: every verdict is recorded, the passing ones too
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"claim": claim_id, "profile": profile(), "holds": bool(holds),
                                     "observed": str(observed), "profiles": list(profiles)}) + "\n")
    if not bool(holds):
        raise ClaimFailed(
            f"the text above claims [{claim_id}], but this run at the {profile()} budget measured: {observed}. "
            "If this cell ran your own code, re-check the exercise it uses (its check may have missed something); "
            "if it ran only the course's code, please report it to the course staff.")


# ----- the audit: markers, assertions and bench citations agree ---------------------------------

# Quantitative language that needs a measurement behind it: "about 450", "near -80", "~3x",
# "2.6x faster", "40%", "over 20 seeds". Definitions and settings ("k = 5", "gamma = 0.99") are not
# matched; a paragraph that states a setting with such words can say so with <!-- not-a-claim -->.
_APPROX = re.compile(
    r"(?:\b(?:about|around|roughly|near|nearly|approximately|almost|over|under|below|above|at least|at most|"
    r"within|up to|only|well over|well under)\s+[−–-]?\$?[−–-]?\d)"
    r"|(?:[≈~]\s*\$?[−–-]?\d)"
    r"|(?:\d(?:\.\d+)?\s*(?:x|×)(?!\s*\d)(?=[\s,.;:)]|$))"
    r"|(?:\d\s*%)",
    re.IGNORECASE)
_CODE_OR_MATH = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", re.DOTALL)
NOT_A_CLAIM = "<!-- not-a-claim -->"
FULL_ONLY = re.compile(r"full budget", re.IGNORECASE)


def _paragraphs(markdown: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", markdown) if p.strip()]


def asserted_claims(code: str) -> dict[str, tuple[str, ...]]:
    """Map claim id -> profiles for every `claim("id", ...)` call in a code cell's source."""
    import ast

    found: dict[str, tuple[str, ...]] = {}
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: fall back to a plain search
        return {m: PROFILES for m in re.findall(r"\bclaim\(\s*[\"']([^\"']+)[\"']", code)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "claim"):
            continue
        if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            continue
        profiles = PROFILES
        for keyword in node.keywords:
            if keyword.arg == "profiles":
                try:
                    profiles = tuple(ast.literal_eval(keyword.value))
                except ValueError:
                    profiles = ()
        found[node.args[0].value] = profiles
    return found


def audit(cells: list[dict], notebook: str, bench_claims: dict) -> list[str]:
    """Problems with a notebook's claims (empty when every stated number is backed); `cells` as in nbformat."""
    problems: list[str] = []
    asserted: dict[str, tuple[str, ...]] = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            for claim_id, profiles in asserted_claims(cell["source"]).items():
                if claim_id in asserted:
                    problems.append(f"{notebook}: claim {claim_id!r} is asserted by two cells")
                asserted[claim_id] = profiles
    marked: set[str] = set()
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for paragraph in _paragraphs(cell["source"]):
            ids = MARKER.findall(paragraph)
            prose = _CODE_OR_MATH.sub(" ", re.sub(r"<!--.*?-->", " ", paragraph, flags=re.DOTALL))
            for claim_id in ids:
                marked.add(claim_id)
                if not CLAIM_ID.match(claim_id) or not claim_id.startswith(notebook + "-"):
                    problems.append(f"{notebook}: claim id {claim_id!r} must start with '{notebook}-'")
                if claim_id in bench_claims:
                    bench = bench_claims[claim_id].bench
                    if f"make bench ONLY={bench}" not in paragraph:
                        problems.append(f"{notebook}: claim {claim_id!r} is backed by the {bench!r} benchmark; "
                                        f"its paragraph must cite `make bench ONLY={bench}`")
                elif claim_id not in asserted:
                    problems.append(f"{notebook}: the text marks claim {claim_id!r} but no code cell asserts it "
                                    "with claim(...) and benchmarks/claims.py does not back it")
                elif set(asserted[claim_id]) != set(PROFILES) and not FULL_ONLY.search(prose):
                    problems.append(f"{notebook}: claim {claim_id!r} is asserted only at {asserted[claim_id]}; "
                                    "its paragraph must say that it holds at the full budget")
            if not ids and NOT_A_CLAIM not in paragraph:
                hit = _APPROX.search(prose)
                if hit:
                    start = max(0, hit.start() - 60)
                    problems.append(f"{notebook}: unbacked number in prose: …{prose[start:hit.end() + 40].strip()}… "
                                    "(assert it with claim(...) and mark it, cite a bench claim, or reword)")
    for claim_id in sorted(set(asserted) - marked):
        problems.append(f"{notebook}: claim({claim_id!r}) is asserted but no markdown states it "
                        f"(add <!-- claim: {claim_id} --> after the sentence)")
    return problems
