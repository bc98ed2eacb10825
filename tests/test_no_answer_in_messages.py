"""No check message and no stub hint hands over a solution line, in any notebook (issue #23).

A message names the mistake and the concept ("your target counts V(s') at a terminal state"); it never
prints the line to write. Compared here: every code line of a notebook's solution regions (comments and
hints dropped, whitespace removed, lines under 12 characters such as `return y` left out) against every
string its check module can put in a message (literals, f-strings with their placeholders as {}, '+'-joined
pieces, docstrings) and every stub hint of its student copy.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from test_student_notebooks import solution_lines

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _normalized(line: str) -> str:
    return re.sub(r"\s+", "", line.split("  #")[0].split(" # ")[0])


def _solution_lines(path: Path) -> set[str]:
    regions, _ = solution_lines(nbformat.read(path, as_version=4))  # hints already dropped
    return {_normalized(line) for body in regions for line in body
            if not line.strip().startswith("#") and len(_normalized(line)) >= 12}


def _check_messages(module: Path) -> list[str]:
    def text(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = text(node.left), text(node.right)
            return None if left is None or right is None else left + right
        return None

    return [t for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))) if (t := text(node)) is not None]


def _stub_hints(student: Path) -> list[str]:
    hints = []
    for cell in nbformat.read(student, as_version=4).cells:
        hints += re.findall(r"raise NotImplementedError\((.*)\)", cell.source) if cell.cell_type == "code" else []
    return hints


def _leaks(solution: Path) -> list[tuple[str, str]]:
    lines = _solution_lines(solution)
    texts = _check_messages(ROOT / "cs285lab" / "checks" / f"nb{solution.name[:2]}.py")
    texts += _stub_hints(ROOT / "notebooks" / solution.name)
    return [(line, t) for t in texts for line in lines if line in _normalized(t)]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_message_or_hint_contains_a_solution_line(solution):
    assert _solution_lines(solution), f"{solution.name}: no solution region was read"
    assert _stub_hints(ROOT / "notebooks" / solution.name), f"{solution.name}: no stub hint was read"
    leaks = _leaks(solution)
    assert not leaks, f"{solution.name}: a check message or a stub hint contains a solution line:\n" + "\n".join(
        f"  {line!r} in {t[:160]!r}" for line, t in leaks[:10])


def test_the_comparison_sees_a_leak():
    """Not vacuous: the messages that printed the line to write (nb03's, nb04's before this test) are caught."""
    (nb03,) = (ROOT / "solutions").glob("03_*.ipynb")
    (nb04,) = (ROOT / "solutions").glob("04_*.ipynb")
    old = {nb03: "sample a' fresh: next_actions, next_log_prob = sample_actions(batch.next_obs)",
           nb04: "move it a step alpha towards it: Q[s, a] += alpha * (target - Q[s, a])"}
    for solution, message in old.items():
        assert any(line in _normalized(message) for line in _solution_lines(solution)), solution.name
