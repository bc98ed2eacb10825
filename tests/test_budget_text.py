"""The README's and notebook 00's sentences about what the ci and full budgets check stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat


ROOT = Path(__file__).resolve().parent.parent


def _profile_dependent_checks() -> set[str]:
    """Check modules that read the active profile (a threshold or size that differs between budgets)."""
    found = set()
    for path in sorted((ROOT / "cs285lab" / "checks").glob("nb*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "profile":
                found.add(path.stem)
    return found


def test_readme_states_which_learning_checks_differ_between_budgets():
    readme = (ROOT / "README.md").read_text()
    assert "The budgets do not check the same things" in readme
    from cs285lab.budgets import thresholds

    # "notebook 01's graded learning check trains the same way in both": it reads the [full] table's run in both
    # profiles (tests/test_checks_nb01.py, test_the_learning_check_trains_the_full_budget_at_ci_and_full_...) and
    # asks the same threshold
    assert thresholds("nb01", "ci")["batched_ac_learns"] == thresholds("nb01", "full")["batched_ac_learns"], \
        "README says nb01's learning check trains the same way at both budgets; its threshold now differs"
    # "notebook 03's SAC threshold ... lower at the ci budget" and no other check module reads the profile
    assert thresholds("nb03", "ci")["sac_final_return"] < thresholds("nb03", "full")["sac_final_return"], \
        "README says nb03's SAC threshold is lower at ci"
    # nb01 reads it only to shorten the smoke profile, never a grade (tests/test_checks_nb01.py: ci and full alike)
    assert _profile_dependent_checks() <= {"nb01", "nb03"}, \
        f"check modules reading the profile: {sorted(_profile_dependent_checks())}; update the README's budget sentence"
    # "notebook 05's required gain over a random policy ... lower at the ci budget"
    assert thresholds("nb05", "ci")["min_gain"] < thresholds("nb05", "full")["min_gain"]


def test_notebook00_says_checks_are_the_same_and_learning_checks_may_differ():
    nb = nbformat.read(ROOT / "solutions" / "00_getting_started.ipynb", as_version=4)
    text = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "same checks" not in text, "nb00 must not say the ci budget runs the same checks as the full one"
    assert "Exercise checks test\n  your code the same way at both budgets" in text
