"""Every place in the course a doctor's finding points to exists: the notebook, the part and the heading (#26)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from cs285lab.doctor import ALGORITHMS, FAMILIES, course_pointer

ROOT = Path(__file__).resolve().parents[1]
LECTURE = re.compile(r"\s*\(Lecture \d+, part \d+\)\s*$")  # a heading's lecture pointer is not part of its title


def sections(notebook: str) -> dict[str, list[str]]:
    """The headings of solutions/<notebook>_*.ipynb by part: 'Part 3' -> [its title, its subheadings' titles];
    '' -> every heading's title."""
    [path] = sorted((ROOT / "solutions").glob(f"{notebook}_*.ipynb"))
    found: dict[str, list[str]] = {"": []}
    part = None
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = re.match(r"(#+)\s+(.*)", line)
            if not heading:
                continue
            level, title = len(heading.group(1)), LECTURE.sub("", heading.group(2)).strip()
            numbered = re.match(r"(Part \d+) · (.*)", title)
            if level <= 2:
                part = numbered.group(1) if numbered else None
                title = numbered.group(2) if numbered else title
                if part:
                    found[part] = []
            if part:
                found[part].append(title)
            found[""].append(title)
    return found


def _names(text: str, title: str) -> bool:
    """Whether `text` is `title`, or `title` followed by a parenthesis saying what to look at there."""
    return text == title or text.startswith(title + " (") or text.startswith(title + ".")


POINTERS = sorted({(notebook, where) for family in FAMILIES.values() for notebook, where in family.where.items()})


def missing(notebook: str, where: str) -> str | None:
    """Why `where` (a pointer into notebook `notebook`, or into the docs) names no heading; None when it does."""
    if not notebook:  # a pointer into the docs: 'docs/x.md, 'Heading' (...)'
        doc, heading = re.match(r"(\S+\.md), '([^']+)'", where).groups()
        lines = (ROOT / doc).read_text(encoding="utf-8").splitlines() if (ROOT / doc).is_file() else []
        found = any(line.lstrip("#").strip() == heading for line in lines if line.startswith("#"))
        return None if found else f"{doc} has no heading {heading!r}"
    headings = sections(notebook)
    numbered = re.match(r"(Part \d+) · (.*)", where)
    part, text = (numbered.group(1), numbered.group(2)) if numbered else ("", where)
    if part not in headings:
        return f"notebook {notebook} has no {part}: {sorted(headings)}"
    if not any(_names(text, title) for title in headings[part]):
        return f"notebook {notebook}, {part or 'anywhere'}: no heading starts {text!r}; headings: {headings[part]}"
    return None


@pytest.mark.parametrize("notebook, where", POINTERS)
def test_every_course_pointer_names_a_heading_of_its_notebook(notebook, where):
    assert missing(notebook, where) is None, missing(notebook, where)


@pytest.mark.parametrize("notebook, where", [
    ("03", "Part 4 · Silent bugs: a code review (the Polyak step)"),       # the heading is in Part 5
    ("01", "Part 1 · Which transitions and targets"),                     # not the heading's words
    ("05", "Part 3 · Experiment 9 · Model exploitation, like for like"),  # no such experiment
    ("04", "Dyna-style with a neural model"),
    ("", "docs/student-feedback.md, 'Never silent' (what the guards check)"),
])
def test_a_pointer_to_no_heading_is_caught(notebook, where):
    assert missing(notebook, where) is not None


def test_the_pointer_of_every_family_and_algorithm_is_one_of_those():
    shown = {course_pointer(f, a) for f in FAMILIES if f not in ("healthy", "unexplained") for a in ALGORITHMS}
    listed = {f"notebook {n}, {w}" if n else w for n, w in POINTERS}
    assert shown <= listed, shown - listed
