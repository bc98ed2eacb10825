"""The notebook-format vocabulary that authoring (making student notebooks) and grading both speak.

A solution notebook marks what students write with
    ### BEGIN SOLUTION / ### END SOLUTION          (code cells; `# HINT: ...` lines become the stub's hint)
    <!-- BEGIN SOLUTION --> / <!-- END SOLUTION -->  (markdown cells)
and what only the grader sees with ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS (check cells).
Graded cells carry metadata["cs285lab"] = {"id": ..., "kind": one of KINDS, "points": ... (check and
written cells)}. This module knows the words; it reads no file and imports nothing of the package.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("solution", "check", "locked", "written")  # written: a markdown answer graded by hand
PROTECTED = ("check", "locked")  # cells the grader restores from the reference
CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
MD_STUB = "_Write your answer here._"
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


class AuthoringError(ValueError):
    """A reference notebook breaks the format (unbalanced markers, bad metadata); the message names the place."""


@dataclass(frozen=True)
class Region:
    """A marked region of a cell's source: [begin, end] line indices of the markers."""

    begin: int
    end: int
    indent: str


def cell_meta(cell: Mapping[str, Any]) -> dict | None:
    """The cs285lab metadata of a cell, or None for an ordinary cell (or metadata that is not a dict)."""
    meta = (cell.get("metadata") or {}).get("cs285lab")
    return meta if isinstance(meta, dict) else None


def cell_id(cell: Mapping[str, Any]) -> str | None:
    """The cs285lab id of a cell, or None."""
    cid = (cell_meta(cell) or {}).get("id")
    return cid if isinstance(cid, str) and cid else None


def find_regions(lines: list[str], begin: str, end: str, where: str) -> list[Region]:
    """Find balanced begin/end marker pairs in `lines`; raise on unbalanced or nested markers."""
    regions, open_at = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if open_at is not None:
                raise AuthoringError(f"{where}: '{begin}' on line {i + 1} inside another region "
                                          f"(line {open_at + 1})")
            open_at = i
        elif text == end:
            if open_at is None:
                raise AuthoringError(f"{where}: '{end}' on line {i + 1} without a matching '{begin}'")
            regions.append(Region(open_at, i, lines[open_at][: len(lines[open_at]) - len(lines[open_at].lstrip())]))
            open_at = None
    if open_at is not None:
        raise AuthoringError(f"{where}: '{begin}' on line {open_at + 1} is never closed by '{end}'")
    return regions


def region_text(source: str, begin: str, end: str, where: str) -> str:
    """The text inside every begin/end region of `source`, joined by blank lines."""
    lines = source.splitlines()
    return "\n\n".join("\n".join(lines[r.begin + 1:r.end]).strip() for r in find_regions(lines, begin, end, where))


def has_marker(source: str) -> bool:
    """True when `source` holds any solution or hidden-test marker."""
    return any(m in source for m in (CODE_BEGIN, CODE_END, HIDDEN_BEGIN, HIDDEN_END, MD_BEGIN, MD_END))


def headings(source: str) -> list[tuple[int, str]]:
    """The markdown headings of a cell's source: (level, text) in order."""
    return [(len(m.group(1)), m.group(2)) for line in source.splitlines() if (m := HEADING.match(line))]


def normalized(source: str) -> str:
    """A cell's source without trailing spaces and blank edges: what "changed" compares."""
    return "\n".join(line.rstrip() for line in source.strip("\n").splitlines()).strip()


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def cell_fingerprint(source: str) -> str:
    """A short hash of one cell's normalized source (earlier releases' protected cells are kept by it)."""
    return _digest(normalized(source), 20)


def notebook_fingerprint(cells: list[Mapping[str, Any]]) -> str:
    """A short hash of a notebook's cell types and sources: what a person edits (outputs, UI metadata excluded)."""
    return _digest(json.dumps([(c["cell_type"], c["source"]) for c in cells]), 16)
