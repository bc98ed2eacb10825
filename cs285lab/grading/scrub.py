"""Keep the grader's hidden tests inside the grader: remove any quote of them from what students read.

A student's cell can read the merged notebook while it exists, or print a check cell's source in an
exception message; either would carry a `### BEGIN HIDDEN TESTS` region into the feedback. Every
message line that quotes a hidden-test line (compared on letters and digits only, so JSON or repr
escaping does not hide a quote) is replaced before a row is stored.
"""

from __future__ import annotations

import re

from cs285lab.authoring.student import HIDDEN_BEGIN, HIDDEN_END, cell_meta

REMOVED = "[a line quoting the grader's hidden tests was removed]"
MIN_FRAGMENT = 12  # letters and digits: shorter hidden lines ("x = 1") are too common to match on
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def hidden_fragments(solution) -> list[str]:
    """The normalized hidden-test lines of a reference notebook, plus the region markers."""
    fragments = {_key(HIDDEN_BEGIN), _key(HIDDEN_END)}
    for cell in solution.cells:
        meta = cell_meta(cell)
        if not meta or meta.get("kind") != "check":
            continue
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif inside and len(key := _key(line)) >= MIN_FRAGMENT:
                fragments.add(key)
    return sorted(fragments)


def scrub(text: str, fragments: list[str]) -> str:
    """`text` with every line that quotes one of `fragments` replaced by a notice."""
    if not text or not fragments:
        return text
    lines = text.split("\n")
    out = [REMOVED if any(f in _key(line) for f in fragments) else line for line in lines]
    return "\n".join(out)
