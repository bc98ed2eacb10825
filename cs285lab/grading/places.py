"""Name a cell of the grader's run the way its reader finds it: by the heading it sits under, not by In[n].

The grader runs a merged notebook (a loader cell first, the reference's check cells), so IPython's
`Cell In[7]` counts that run, not the student's notebook. A student reads "your solution cell under
“Exercise 2 · A batched TD target”"; the class report reads "Part 5 · Training › code cell 3".
"""

from __future__ import annotations

import re

from cs285lab.grading.assemble import Assembled
from cs285lab.notebook_format import headings

IN_CELL = re.compile(r"\bCell In\[\d+\], line (\d+)(?:: ([^\n]*))?")
WHO = {"check": "the check cell", "locked": "the read-only cell", "solution": "your solution cell",
       "student": "your own cell", "grader": "the grader's first cell"}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _first_line(source: str, width: int = 40) -> str:
    line = next((text.strip() for text in source.splitlines() if text.strip()), "")
    return line if len(line) <= width else line[:width - 3] + "..."


def sections(assembled: Assembled) -> list[tuple[str, int, int]]:
    """Per code cell number: (the heading above it, its number among the code cells of that section, of them all)."""
    found, heading, counts = [], "", {}
    for cell in assembled.notebook.cells:
        if cell.cell_type == "markdown":
            for _, text in headings(cell.source):
                heading = text
        elif cell.cell_type == "code":
            counts[heading] = counts.get(heading, 0) + 1
            found.append((heading, counts[heading]))
    return [(heading, k, counts[heading]) for heading, k in found]


def student_label(assembled: Assembled, number: int) -> str:
    """Where code cell `number` of the run is, for the student: who wrote it and the heading it is under."""
    entry = assembled.cells[number]
    where_is = sections(assembled)
    heading = where_is[number][0]
    same = [n for n, e in enumerate(assembled.cells) if e["kind"] == entry["kind"] and where_is[n][0] == heading]
    who = WHO.get(entry["kind"], "a cell")
    if len(same) > 1:
        who = who.replace("the ", f"the {_ordinal(same.index(number) + 1)} ", 1).replace(
            "your ", f"your {_ordinal(same.index(number) + 1)} ", 1)
    where = f"{who} under “{heading}”" if heading else f"{who} before the first heading"
    if entry["kind"] == "student":
        code = [c for c in assembled.notebook.cells if c.cell_type == "code"]
        where += f" (`{_first_line(code[number].source)}`)"
    return where


def report_label(assembled: Assembled, number: int) -> str:
    """Where code cell `number` is, for the class report: its id, else its section and place (alike for everyone)."""
    entry = assembled.cells[number]
    if entry.get("id"):
        return entry["id"]
    heading, k, _ = sections(assembled)[number]
    code = [c for c in assembled.notebook.cells if c.cell_type == "code"]
    return f"{heading or 'top of the notebook'} › code cell {k} (`{_first_line(code[number].source, 30)}`)"


def relabel(text: str, assembled: Assembled) -> str:
    """`text` with each `Cell In[n], line L: <source>` of the grader's run named by where that cell is.

    nbval runs cells without storing history, so every cell is In[1]: the cell is found by its quoted
    source line instead (a student's own or solution cell first), and left unnamed when that is ambiguous.
    """
    if "Cell In[" not in text:
        return text
    code = [c for c in assembled.notebook.cells if c.cell_type == "code"]

    def name(match: re.Match) -> str:
        line, quoted = int(match.group(1)), (match.group(2) or "").strip()
        found = [n for n, cell in enumerate(code) if quoted and n > 0
                 and line <= len(lines := cell.source.splitlines()) and lines[line - 1].strip() == quoted]
        own = [n for n in found if assembled.cells[n]["kind"] in ("solution", "student")]
        chosen = own if own else found
        where = student_label(assembled, chosen[0]) if len(chosen) == 1 else "your code"
        return f"{where}, line {line}" + (f": {quoted}" if quoted else "")

    return IN_CELL.sub(name, text)
