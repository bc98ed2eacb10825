"""A student's feedback, in Markdown (for an LMS comment box) and HTML (to open and read): feedback/<student>.md, .html.

Exercises are named as the notebook names them (section heading and the function checked); a cell
is named by the heading it sits under (grading/places.py), never by the grader's In[n].
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from cs285lab.files import write_atomic
from cs285lab.grading.discover import safe_name
from cs285lab.grading.tables import number
from cs285lab.grading.verdict import Row

ICONS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "tampered": "⚠", "missing": "?",
         "ignored": "·", "graded": "✎", "pending": "…", "flagged": "⚑", "overridden": "★"}
STATUS_HELP = {
    "passed": "the check ran and passed",
    "failed": "your code did not pass the check; the message names the mistake",
    "error": "the notebook crashed before a verdict: kernel death, memory, an unreadable file",
    "timeout": "a time limit stopped it",
    "tampered": "a check or read-only cell was changed or moved; the grader ran the original",
    "missing": "a notebook, check cell or written answer was not in your submission",
    "ignored": "a second copy of a notebook; the notes say which copy was graded and why",
    "graded": "a written answer, scored by the course staff",
    "pending": "a written answer not scored yet (it does not count as 0)",
    "flagged": "the course staff will review this cell",
    "overridden": "the course staff set these points; the message says why",
}


@dataclass
class NotebookPart:
    """One notebook of a student's feedback."""

    name: str
    title: str
    rows: list[Row]
    titles: dict[str, str] = field(default_factory=dict)
    late: dict = field(default_factory=dict)

    @property
    def points(self) -> float:
        """Points earned, before any late penalty."""
        return sum(r.points for r in self.rows)

    @property
    def max_points(self) -> float:
        """Points possible."""
        return sum(r.max_points for r in self.rows)

    @property
    def penalty(self) -> float:
        """Points lost to the late policy."""
        return float(self.late.get("late_penalty", 0.0) or 0.0)


@dataclass
class StudentFeedback:
    """Everything one student's feedback says."""

    student: str
    parts: list[NotebookPart]
    notices: list[str] = field(default_factory=list)
    path: Path | None = None

    def totals(self) -> tuple[float, float, int]:
        """(points after late penalties, points possible, written answers pending)."""
        total = sum(p.points - p.penalty for p in self.parts)
        return total, sum(p.max_points for p in self.parts), sum(r.status == "pending" for p in self.parts
                                                                  for r in p.rows)


def _label(part: NotebookPart, row: Row) -> str:
    if not row.exercise:
        return "(whole notebook)"
    return part.titles.get(row.exercise) or f"`{row.exercise}`"


def _late_line(part: NotebookPart) -> str:
    late = part.late
    if not late.get("days_late"):
        return ""
    return (f"Submitted {late.get('submitted', '?')}, deadline {late.get('deadline', '?')}: "
            f"{late['days_late']} day(s) late, -{number(part.penalty)} points.")


def markdown(feedback: StudentFeedback) -> str:
    """The feedback page in Markdown."""
    total, possible, pending = feedback.totals()
    lines = [f"# Feedback for {feedback.student}", ""]
    if feedback.path is not None:
        lines += [f"Graded from `{feedback.path.name}`.", ""]
    lines += [f"**Total: {number(total)} / {number(possible)} points**"
              + (f" ({pending} written answer(s) not graded yet)" if pending else ""), ""]
    if feedback.notices:
        lines += ["Notes from the grader:", "", *(f"- {n}" for n in feedback.notices), ""]
    for part in feedback.parts:
        lines += [f"## {part.title or part.name}: {number(part.points - part.penalty)} / {number(part.max_points)}", ""]
        if part.title:
            lines += [f"Notebook `{part.name}`.", ""]
        if _late_line(part):
            lines += [_late_line(part), ""]
        for row in part.rows:
            lines.append(f"- {ICONS.get(row.status, '•')} {_label(part, row)}: **{row.status}**, "
                         f"{number(row.points)} / {number(row.max_points)} points")
            message = row.message.strip()
            if message:
                lines += ["", "  ```text", *("  " + line for line in message.splitlines()[:40]), "  ```", ""]
        lines.append("")
    lines += ["---", "", "Statuses: " + "; ".join(f"**{s}** ({text})" for s, text in STATUS_HELP.items()) + ".", ""]
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:60em;color:#222;padding:0 1em}
h1{margin-bottom:.2em}.total{font-size:1.2em}.late{color:#a50}
.row{border-left:4px solid #ccc;padding:.3em .7em;margin:.6em 0;background:#fafafa}
.row.passed,.row.graded{border-color:#3a3}.row.failed,.row.error,.row.timeout{border-color:#c33}
.row.tampered,.row.flagged,.row.pending,.row.missing{border-color:#d90}.row.overridden{border-color:#36c}
.status{font-weight:600}.pts{float:right;color:#444}pre{white-space:pre-wrap;margin:.4em 0 .1em;font-size:.9em}
.legend{color:#555;font-size:.9em}code{background:#f0f0f0;padding:0 .2em}
"""
CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text))


def html_page(feedback: StudentFeedback) -> str:
    """The feedback page in HTML (one file, no scripts, no external resources)."""
    esc = html.escape
    total, possible, pending = feedback.totals()
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Feedback: {esc(feedback.student)}</title>"
             "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
             f"<style>{CSS}</style></head><body><h1>Feedback for {esc(feedback.student)}</h1>"]
    if feedback.path is not None:
        parts.append(f"<p>Graded from <code>{esc(feedback.path.name)}</code>.</p>")
    parts.append(f"<p class=total><b>Total: {number(total)} / {number(possible)} points</b>"
                 + (f" ({pending} written answer(s) not graded yet)" if pending else "") + "</p>")
    if feedback.notices:
        parts.append("<p>Notes from the grader:</p><ul>" + "".join(f"<li>{_inline(n)}</li>" for n in feedback.notices)
                     + "</ul>")
    for part in feedback.parts:
        parts.append(f"<h2>{esc(part.title or part.name)}: {number(part.points - part.penalty)} / "
                     f"{number(part.max_points)}</h2>")
        if part.title:
            parts.append(f"<p class=legend>Notebook <code>{esc(part.name)}</code></p>")
        if _late_line(part):
            parts.append(f"<p class=late>{esc(_late_line(part))}</p>")
        for row in part.rows:
            message = "\n".join(row.message.strip().splitlines()[:40])
            parts.append(f"<div class=\"row {esc(row.status)}\"><span class=pts>{number(row.points)} / "
                         f"{number(row.max_points)}</span>{ICONS.get(row.status, '•')} {_inline(_label(part, row))}: "
                         f"<span class=status>{esc(row.status)}</span>"
                         + (f"<pre>{esc(message)}</pre>" if message else "") + "</div>")
    parts.append("<hr><p class=legend>" + "; ".join(f"<b>{esc(s)}</b>: {esc(t)}" for s, t in STATUS_HELP.items())
                 + ".</p></body></html>\n")
    return "".join(parts)


def write_feedback(out: Path, feedback: StudentFeedback) -> None:
    """Write feedback/<student>.md and .html."""
    folder, stem = out / "feedback", safe_name(feedback.student)
    write_atomic(folder / f"{stem}.md", markdown(feedback))
    write_atomic(folder / f"{stem}.html", html_page(feedback))
