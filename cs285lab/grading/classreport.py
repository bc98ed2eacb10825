"""report.html: who needs attention and what the class got wrong, for deciding what to re-teach.

A static page next to grades.csv, built from the tables alone (grades.csv, summary.csv, timings.csv),
so that one run and a merge of shards render alike. Figures are embedded SVG data URIs, drawn here
(no plotting library: the grader stays quick to start); no
scripts, no server. It holds:
- the roster: every student (and every roster name without a submission), their points, pending
  written answers, errors, timeouts, tampered cells, flags and lateness, linked to their feedback;
- per notebook, the distribution of graded points (pending written answers are left out, not
  counted as 0) and each check's pass rate;
- per check, the named mistakes ranked by how many students made them (up to three anonymized
  example messages each), and apart from them the checks students did not attempt;
- the grader's run time per notebook and the slowest cells.
"""

from __future__ import annotations

import base64
import html
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cs285lab.files import write_atomic
from cs285lab.grading.tables import Tables, feedback_page, number, to_float

EXAMPLES = 3
SLOWEST_CELLS = 5
# Measured numbers (0.731, 1.2e-3, 300) vary between students; single digits are usually part of a
# formula ("(1 - terminated)") and stay.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d{2,})(?![\w.])")
PREFIX = re.compile(r"^(?:CheckFailed|AssertionError|NotImplementedYet):\s*")
EXERCISE = re.compile(r"^[A-Za-z_][\w.]*:\s+")
EARLIER = re.compile(r"\s*\(earlier, .*\)\s*$", re.DOTALL)
NOT_ATTEMPTED = "not attempted: the exercise still raises NotImplementedError (the stub)"
ATTENTION = ("error", "timeout", "tampered", "flagged")  # what the roster counts per student


def mistake(status: str, message: str) -> str:
    """The named mistake of a row that did not pass: its message's first line, numbers masked."""
    text = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    if status in ("missing", "timeout", "tampered", "error", "pending"):
        return f"{status}: {NUMBER.sub('#', EARLIER.sub('', text))[:160]}".rstrip(": ")
    if "NotImplementedError" in text or "not implemented yet" in text:
        return NOT_ATTEMPTED
    text = PREFIX.sub("", text)
    text = EXERCISE.sub("", text, count=1)  # "td_target: you bootstrap ..." -> "you bootstrap ..."
    text = EARLIER.sub("", text)
    return NUMBER.sub("#", text)[:200] or status


def anonymize(message: str, names: list[str]) -> str:
    """The message with every submission name replaced by 'student'."""
    for name in sorted(names, key=len, reverse=True):
        if name:  # whole words only: a student called "ab" must not turn "table" into "tstudentle"
            message = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "student", message)
    return message


@dataclass
class CheckStats:
    """One check (or written question) across the class."""

    exercise: str
    max_points: float
    title: str = ""
    statuses: Counter = field(default_factory=Counter)
    mistakes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    not_attempted: set[str] = field(default_factory=set)

    @property
    def graded(self) -> int:
        """Rows with a verdict on the student's work (not pending hand grading)."""
        return sum(n for status, n in self.statuses.items() if status != "pending")

    @property
    def pass_rate(self) -> float | None:
        """Share of graded rows that passed (or were scored in full by hand); None before any verdict."""
        return self.statuses["passed"] / self.graded if self.graded else None


@dataclass
class NotebookStats:
    """One notebook across the class."""

    name: str
    totals: dict[str, float] = field(default_factory=dict)  # graded points per student (pending left out)
    max_points: float = 0.0
    pending: dict[str, float] = field(default_factory=dict)  # points still to be graded by hand, per student
    checks: dict[str, CheckStats] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    cells: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def collect(tables: Tables) -> dict[str, NotebookStats]:
    """Aggregate the tables per notebook and check."""
    names = tables.submissions()
    notebooks: dict[str, NotebookStats] = {}
    graded_notebooks = {row["notebook"] for row in tables.grades if row.get("kind") != "file"}
    for row in tables.summary:
        if row["notebook"] not in graded_notebooks:
            continue
        stats = notebooks.setdefault(row["notebook"], NotebookStats(row["notebook"]))
        stats.max_points = max(stats.max_points, to_float(row["max_points"]))
        if to_float(row["seconds"]) > 0:  # a notebook that ran (missing and unreadable ones take no time)
            stats.seconds.append(to_float(row["seconds"]))
    for row in tables.timings:
        if row["notebook"] in notebooks:
            notebooks[row["notebook"]].cells[row["cell"]].append(to_float(row["seconds"]))
    for row in tables.grades:
        if row["notebook"] not in notebooks:
            continue
        stats = notebooks[row["notebook"]]
        student, status = row["submission"], row["status"]
        points, most = to_float(row["points"]), to_float(row["max_points"])
        if status == "pending":
            stats.pending[student] = stats.pending.get(student, 0.0) + most
        else:
            stats.totals[student] = stats.totals.get(student, 0.0) + points
        if not row["exercise"] or most <= 0:
            continue  # a whole-notebook error row, an edited locked cell, a flag (no points)
        check = stats.checks.setdefault(row["exercise"], CheckStats(row["exercise"], most, row.get("title", "")))
        status = "passed" if status in ("graded", "overridden") and points >= most else status
        check.statuses[status] += 1
        if status in ("passed", "graded", "pending", "overridden"):
            continue  # no mistake to name (yet)
        key = mistake(status, row["message"])
        if key == NOT_ATTEMPTED:
            check.not_attempted.add(student)
            continue
        check.mistakes[key].add(student)
        example = anonymize(row["message"].strip(), names)
        if example and example not in check.examples[key] and len(check.examples[key]) < EXAMPLES:
            check.examples[key].append(example)
    for stats in notebooks.values():
        for student in stats.pending:
            stats.totals.setdefault(student, 0.0)
    return notebooks


def submitted(stats: NotebookStats) -> bool:
    """Whether any student handed this notebook in: it ran for someone, or some row is more than "missing"
    (a course notebook nobody submitted has only the "missing" rows of each student's folder)."""
    return bool(stats.seconds) or any(status != "missing" for check in stats.checks.values()
                                      for status in check.statuses)


def _ticks(top: float, most: int = 8) -> list[float]:
    """Round tick values from 0 to `top` (at most `most` + 1 of them): steps of 1, 2, 2.5 or 5 times a power of 10."""
    if top <= 0:
        return [0.0]
    step = 10.0 ** math.floor(math.log10(top / most))
    step = next(step * k for k in (1, 2, 2.5, 5, 10) if top / (step * k) <= most)
    return [round(k * step, 10) for k in range(int(top / step + 1e-9) + 1)]


def histogram(values: list[float], bins: int, top: float) -> list[int]:
    """Counts of `values` in `bins` equal bins over [0, top], the last one closed (numpy.histogram's rule)."""
    counts = [0] * bins
    for value in values:
        if 0 <= value <= top:
            counts[min(bins - 1, int(value / top * bins))] += 1
    return counts


def _svg_text(x: float, y: float, text: str, size: float = 11, anchor: str = "middle", **extra: str) -> str:
    attributes = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in extra.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}"{attributes}>'
            f"{html.escape(text)}</text>")


def figure_svg(stats: NotebookStats) -> str:
    """Score histogram and pass rates of one notebook, as an SVG document (drawn here: no plotting library)."""
    width, height, top_y, bottom_y = 810, 288, 34, 240
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" fill="#222">',
             f'<rect width="{width}" height="{height}" fill="white"/>']

    # left: how many students got how many graded points
    totals = list(stats.totals.values())
    top = max(stats.max_points, max(totals, default=0.0), 1.0)
    bins = min(20, int(top) + 1)
    counts = histogram(totals, bins, top)
    x0, x1 = 55.0, 350.0
    y_ticks = [t for t in _ticks(max(counts, default=0) or 1, 5) if t == int(t)]
    y_top = max(max(counts, default=0), y_ticks[-1], 1)

    def x_of(value: float) -> float:
        return x0 + (x1 - x0) * value / top

    def y_of(value: float) -> float:
        return bottom_y - (bottom_y - top_y) * value / y_top

    for tick in y_ticks:
        parts.append(f'<line x1="{x0 - 4}" x2="{x0}" y1="{y_of(tick):.1f}" y2="{y_of(tick):.1f}" stroke="#222"/>')
        parts.append(_svg_text(x0 - 7, y_of(tick) + 4, f"{tick:g}", anchor="end"))
    for index, count in enumerate(counts):
        if count:
            left, right = x_of(index * top / bins), x_of((index + 1) * top / bins)
            parts.append(f'<rect class="bin" data-count="{count}" x="{left:.1f}" y="{y_of(count):.1f}" '
                         f'width="{right - left:.1f}" height="{bottom_y - y_of(count):.1f}" fill="#4a7ebb" '
                         'stroke="white"/>')
    for tick in _ticks(top):
        parts.append(f'<line x1="{x_of(tick):.1f}" x2="{x_of(tick):.1f}" y1="{bottom_y}" y2="{bottom_y + 4}" '
                     'stroke="#222"/>')
        parts.append(_svg_text(x_of(tick), bottom_y + 17, f"{tick:g}"))
    parts.append(f'<path d="M{x0},{top_y}V{bottom_y}H{x1}" fill="none" stroke="#222"/>')
    title = f"graded points (max {stats.max_points:g})" + (", pending left out" if stats.pending else "")
    parts.append(_svg_text((x0 + x1) / 2, top_y - 12, title, 12))
    parts.append(_svg_text((x0 + x1) / 2, bottom_y + 36, "points"))
    middle_y = (top_y + bottom_y) / 2
    parts.append(_svg_text(16, middle_y, "students", transform=f"rotate(-90 16 {middle_y})"))

    # right: the share of graded rows that passed, per check
    checks = [c for c in stats.checks.values() if c.pass_rate is not None]
    labels = [c.exercise if len(c.exercise) <= 34 else c.exercise[:33] + "…" for c in checks]
    b0 = 410.0 + 5.2 * max((len(label) for label in labels), default=0)  # room for the longest label
    b1 = width - 30.0
    slot = (bottom_y - top_y) / max(len(checks), 1)
    bar = min(22.0, 0.8 * slot)
    for row, (check, label) in enumerate(zip(checks, labels)):
        middle = top_y + slot * (row + 0.5)
        rate = 100 * check.pass_rate
        parts.append(f'<rect class="rate" data-check="{html.escape(check.exercise)}" data-rate="{rate:.0f}" '
                     f'x="{b0}" y="{middle - bar / 2:.1f}" width="{(b1 - b0) * rate / 100:.1f}" height="{bar:.1f}" '
                     f'fill="#5a5"><title>{html.escape(check.exercise)}: {rate:.0f}% passed</title></rect>')
        parts.append(_svg_text(b0 - 6, middle + 3.5, label, 9.5, "end"))
        parts.append(_svg_text(b0 + 4 + (b1 - b0) * rate / 100, middle + 3.5, f"{rate:.0f}%", 9.5, "start"))
    for tick in range(0, 101, 20):
        x = b0 + (b1 - b0) * tick / 100
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom_y}" y2="{bottom_y + 4}" stroke="#222"/>')
        parts.append(_svg_text(x, bottom_y + 17, str(tick)))
    parts.append(f'<path d="M{b0},{top_y}V{bottom_y}H{b1}" fill="none" stroke="#222"/>')
    parts.append(_svg_text((b0 + b1) / 2, top_y - 12, "pass rate per check (graded rows)", 12))
    parts.append(_svg_text((b0 + b1) / 2, bottom_y + 36, "% passed"))
    parts.append("</svg>")
    return "".join(parts)


def _figure(stats: NotebookStats) -> str:
    """figure_svg as a data URI for an <img> (the page's policy allows data: images, nothing else)."""
    return "data:image/svg+xml;base64," + base64.b64encode(figure_svg(stats).encode()).decode()


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f2f2f2}.num{text-align:right}.ex{font-size:.85em;color:#444;white-space:pre-wrap}
img{max-width:100%}h2{border-top:2px solid #ddd;padding-top:.6em}.warn{color:#b00;font-weight:600}
.muted{color:#777}
"""


def roster_rows(tables: Tables, roster: list[str] | None = None) -> list[dict]:
    """One entry per student: points, pending, the rows that need the staff's attention, lateness."""
    students: dict[str, dict] = {}
    for row in tables.summary:
        entry = students.setdefault(row["submission"], {"student": row["submission"], "points": 0.0, "max": 0.0,
                                                        "pending": 0, "late": 0.0, "missing": 0,
                                                        **{k: 0 for k in ATTENTION}})
        entry["points"] += to_float(row["points"]) - to_float(row.get("late_penalty"))
        entry["max"] += to_float(row["max_points"])
        entry["pending"] += int(to_float(row.get("pending")))
        entry["late"] += to_float(row.get("late_penalty"))
        entry["missing"] += int(to_float(row.get("missing")))
        for key in ATTENTION:
            entry[key] += int(to_float(row.get(key)))
    for name in roster or []:
        students.setdefault(name, {"student": name, "absent": True})
    return [students[name] for name in sorted(students)]


def _roster(tables: Tables, roster: list[str] | None) -> list[str]:
    esc = html.escape
    rows = roster_rows(tables, roster)
    parts = ["<h2 id=roster>Roster</h2><table class=roster><tr><th>student</th><th>points</th><th>pending</th>"
             "<th>errors</th><th>timeouts</th><th>tampered</th><th>flagged</th><th>missing</th>"
             "<th>late penalty</th></tr>"]
    for entry in rows:
        if entry.get("absent"):
            parts.append(f"<tr class=absent><td>{esc(entry['student'])}</td><td colspan=8 class=warn>on the roster, "
                         "no submission found</td></tr>")
            continue
        cells = [f"{number(round(entry['points'], 2))} / {number(entry['max'])}", str(entry["pending"] or ""),
                 *(str(entry[k] or "") for k in ATTENTION), str(entry["missing"] or ""),
                 number(round(entry["late"], 2)) if entry["late"] else ""]
        link = feedback_page(entry["student"])
        parts.append(f"<tr><td><a href=\"{esc(link)}\">{esc(entry['student'])}</a></td>"
                     + "".join(f"<td class=num>{esc(c)}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return parts


def render(tables: Tables, roster: list[str] | None = None) -> str:
    """The report page."""
    esc = html.escape
    notebooks = collect(tables)
    class_size = len(tables.submissions())
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>cs285lab class report</title>"
             "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; img-src data:; "
             f"style-src 'unsafe-inline'\"><style>{CSS}</style></head><body><h1>Class report</h1>"
             f"<p>{class_size} submission(s), {len(notebooks)} notebook(s). <a href=\"#roster\">Roster</a> · "
             "<a href=\"gradebook.csv\">gradebook.csv</a>. Mistakes are the checks' own messages, numbers masked, "
             "ranked by how many students made them; examples are anonymized. Written answers not graded yet are "
             "pending: left out of the points below, not counted as 0.</p>"]
    parts += _roster(tables, roster)
    for name, stats in sorted(notebooks.items()):
        totals = list(stats.totals.values())
        mean = statistics.fmean(totals) if totals else 0.0
        pending = sum(stats.pending.values())
        parts.append(f"<h2 id=\"{esc(Path(name).stem)}\">{esc(name)}</h2>"
                     f"<p>{len(totals)} student(s), mean {mean:.1f} graded points of {stats.max_points:g}")
        if pending:
            parts.append(f" (written answers worth {pending:g} points pending for {len(stats.pending)} student(s), "
                         "not counted)")
        if stats.seconds:
            parts.append(f"; grader run time median {statistics.median(stats.seconds):.1f} s, "
                         f"max {max(stats.seconds):.1f} s")
        if not submitted(stats):
            parts.append(".</p><p class=muted>Nobody submitted this notebook: no figure.</p>")
        else:
            parts.append(f'.</p><img alt="score distribution and pass rates of {esc(name)}" src="{_figure(stats)}">')
        parts.append("<table class=checks><tr><th>check</th><th>points</th><th>passed</th><th>statuses</th>"
                     "<th>not attempted</th></tr>")
        for check in stats.checks.values():
            statuses = ", ".join(f"{s} {n}" for s, n in sorted(check.statuses.items()))
            rate = "pending" if check.pass_rate is None else f"{100 * check.pass_rate:.0f}%"
            parts.append(f"<tr><td><code>{esc(check.exercise)}</code></td><td class=num>{check.max_points:g}</td>"
                         f"<td class=num>{rate}</td><td>{esc(statuses)}</td>"
                         f"<td class=num>{len(check.not_attempted) or ''}</td></tr>")
        parts.append("</table>")
        ranked = [(len(students), check.exercise, key, check.examples[key])
                  for check in stats.checks.values() for key, students in check.mistakes.items()]
        ranked.sort(key=lambda item: (-item[0], item[1], item[2]))
        if ranked:
            parts.append("<h3>Mistakes, most common first</h3><table class=mistakes><tr><th>students</th>"
                         "<th>check</th><th>mistake</th><th>examples</th></tr>")
            for count, exercise, key, examples in ranked:
                shown = "".join(f"<div class=ex>{esc(e[:600])}</div>" for e in examples)
                parts.append(f"<tr><td class=\"num count\">{count}</td><td><code>{esc(exercise)}</code></td>"
                             f"<td class=mistake>{esc(key)}</td><td>{shown}</td></tr>")
            parts.append("</table>")
        untried = [(len(c.not_attempted), c.exercise) for c in stats.checks.values() if c.not_attempted]
        if untried:
            parts.append("<h3>Not attempted (the stub was left as handed out)</h3><table class=untried>"
                         "<tr><th>students</th><th>check</th></tr>")
            parts += [f"<tr><td class=num>{n}</td><td><code>{esc(e)}</code></td></tr>" for n, e in sorted(untried)]
            parts.append("</table>")
        if stats.cells:
            slow = sorted(((statistics.median(v), max(v), label) for label, v in stats.cells.items()), reverse=True)
            parts.append("<h3>Slowest cells (grader run)</h3><table class=slow><tr><th>cell</th><th>median s</th>"
                         "<th>max s</th></tr>")
            for median, worst, label in slow[:SLOWEST_CELLS]:
                parts.append(f"<tr><td>{esc(label)}</td><td class=num>{median:.1f}</td>"
                             f"<td class=num>{worst:.1f}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_report(out: Path, tables: Tables, roster: list[str] | None = None) -> Path:
    """Write out/report.html from the tables; return its path."""
    path = out / "report.html"
    write_atomic(path, render(tables, roster))
    return path
