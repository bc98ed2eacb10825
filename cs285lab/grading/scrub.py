"""Keep the grader's hidden tests inside the grader: remove any quote of them from what students read.

A student's cell can read the merged notebook while it exists, or print a check cell's source in an
exception message; either would carry a `### BEGIN HIDDEN TESTS` region into the feedback. Every
message line that quotes a hidden-test line (compared on letters and digits only, so JSON or repr
escaping does not hide a quote), or any run of 16 of its letters and digits (a message capped
mid-line), is replaced before a row is stored.
"""

from __future__ import annotations

import re

from cs285lab.notebook_format import HIDDEN_BEGIN, HIDDEN_END, cell_meta

REMOVED = "[a line quoting the grader's hidden tests was removed]"
MIN_FRAGMENT = 12  # letters and digits: shorter hidden lines ("x = 1") are too common to match on
WINDOW = 16  # a message cut off (capped) mid-line still quotes any 16 letters and digits in a row
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


def _windows(fragments: list[str]) -> set[str]:
    pieces = set()
    for fragment in fragments:
        if len(fragment) <= WINDOW:
            pieces.add(fragment)
        else:
            pieces.update(fragment[i:i + WINDOW] for i in range(len(fragment) - WINDOW + 1))
    return pieces


def scrub(text: str, fragments: list[str]) -> str:
    """`text` with every line that quotes one of `fragments` (or a long enough piece of one) replaced."""
    if not text or not fragments:
        return text
    pieces = _windows(fragments)

    def quotes(line: str) -> bool:
        key = _key(line)
        return any(key[i:i + WINDOW] in pieces for i in range(max(1, len(key) - WINDOW + 1))) or \
            any(f in key for f in fragments if len(f) < WINDOW)

    return "\n".join(REMOVED if quotes(line) else line for line in text.split("\n"))
