"""report.html: what the class got wrong, per notebook and check, for deciding what to re-teach.

A static page next to grades.csv (figures embedded as PNG data URIs, no scripts, no server):
per notebook, the distribution of total scores and each check's pass rate; per check, the named
mistakes ranked by how many students made them, with up to three anonymized example messages;
the grader's run time per notebook and the slowest cells.
"""

from __future__ import annotations

import base64
import html
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cs285lab.authoring.student import write_atomic
from cs285lab.grading.verdict import Row

if TYPE_CHECKING:
    from cs285lab.grading.assemble import Assembled
    from cs285lab.grading.jobs import Job, JobResult
    from cs285lab.grading.run import RunResult

EXAMPLES = 3
SLOWEST_CELLS = 5
# Measured numbers (0.731, 1.2e-3, 300) vary between students; single digits are usually part of a
# formula ("(1 - terminated)") and stay.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d{2,})(?![\w.])")
PREFIX = re.compile(r"^(?:CheckFailed|AssertionError|NotImplementedYet):\s*")
EXERCISE = re.compile(r"^[A-Za-z_][\w.]*:\s+")
EARLIER = re.compile(r"\s*\(earlier, .*\)\s*$", re.DOTALL)
NOT_ATTEMPTED = "not attempted: the exercise still raises NotImplementedError (the stub)"


def mistake(row: Row) -> str:
    """The named mistake of a row that did not pass: its message's first line, numbers masked."""
    text = (row.message or "").strip().splitlines()[0] if (row.message or "").strip() else ""
    if row.status in ("missing", "timeout", "tampered", "error", "pending"):
        return f"{row.status}: {NUMBER.sub('#', EARLIER.sub('', text))[:160]}".rstrip(": ")
    if "NotImplementedError" in text or "not implemented yet" in text:
        return NOT_ATTEMPTED
    text = PREFIX.sub("", text)
    text = EXERCISE.sub("", text, count=1)  # "td_target: you bootstrap ..." -> "you bootstrap ..."
    text = EARLIER.sub("", text)
    return NUMBER.sub("#", text)[:200] or row.status


def anonymize(message: str, names: list[str]) -> str:
    """The message with every submission name replaced by 'student'."""
    for name in sorted(names, key=len, reverse=True):
        if name:  # whole words only: a student called "ab" must not turn "table" into "tstudentle"
            message = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "student", message)
    return message


@dataclass
class CheckStats:
    """One check across the class."""

    exercise: str
    max_points: float
    statuses: Counter = field(default_factory=Counter)
    mistakes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def graded(self) -> int:
        """Rows with a verdict on the student's work (not pending hand grading)."""
        return sum(n for status, n in self.statuses.items() if status != "pending")

    @property
    def pass_rate(self) -> float:
        """Share of graded rows that passed (or were scored in full by hand)."""
        return self.statuses["passed"] / self.graded if self.graded else 0.0


@dataclass
class NotebookStats:
    """One notebook across the class."""

    name: str
    totals: dict[str, float] = field(default_factory=dict)
    max_points: float = 0.0
    checks: dict[str, CheckStats] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    cells: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def collect(jobs: list[Job], results: dict[int, JobResult]) -> dict[str, NotebookStats]:
    """Aggregate the finished jobs per notebook and check."""
    names = sorted({job.submission for job in jobs})
    notebooks: dict[str, NotebookStats] = {}
    for index in sorted(results, key=lambda i: (jobs[i].notebook, jobs[i].submission)):
        job, result = jobs[index], results[index]
        if job.ref is None:
            continue
        stats = notebooks.setdefault(job.notebook, NotebookStats(job.notebook))
        stats.totals[job.submission] = stats.totals.get(job.submission, 0.0) + sum(r.points for r in result.rows)
        stats.max_points = max(stats.max_points, sum(r.max_points for r in result.rows))
        if job.path is not None and result.seconds > 0:
            stats.seconds.append(result.seconds)
        for label, seconds in (getattr(result, "cell_seconds", None) or {}).items():
            stats.cells[label].append(float(seconds))
        for row in result.rows:
            if not row.exercise or row.max_points <= 0:
                continue  # a whole-notebook error row, or an edited locked cell (no points)
            check = stats.checks.setdefault(row.exercise, CheckStats(row.exercise, row.max_points))
            status = "passed" if row.status == "graded" and row.points >= row.max_points else row.status
            check.statuses[status] += 1
            if status in ("passed", "graded", "pending", "flagged"):
                continue  # no mistake to name (yet)
            key = mistake(row)
            check.mistakes[key].add(job.submission)
            example = anonymize(row.message.strip(), names)
            if example and example not in check.examples[key] and len(check.examples[key]) < EXAMPLES:
                check.examples[key].append(example)
    return notebooks


def _figure(stats: NotebookStats) -> str:
    """Score histogram and pass rates of one notebook as a PNG data URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), dpi=90)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    totals = list(stats.totals.values())
    top = max(stats.max_points, max(totals, default=0.0), 1.0)
    bins = min(20, int(top) + 1)
    left.hist(totals, bins=bins, range=(0, top), color="#4a7ebb", edgecolor="white")
    left.set(xlabel="points", ylabel="students", title=f"total score (max {stats.max_points:g})")
    left.yaxis.get_major_locator().set_params(integer=True)
    checks = list(stats.checks.values())
    right.barh([c.exercise for c in checks], [100 * c.pass_rate for c in checks], color="#5a5")
    right.set(xlim=(0, 100), xlabel="% passed", title="pass rate per check")
    right.invert_yaxis()
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:75em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f2f2f2}.num{text-align:right}.ex{font-size:.85em;color:#444;white-space:pre-wrap}
img{max-width:100%}h2{border-top:2px solid #ddd;padding-top:.6em}
"""


def render(notebooks: dict[str, NotebookStats], class_size: int) -> str:
    """The report page."""
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>cs285lab class report</title>"
             f"<style>{CSS}</style></head><body><h1>Class report</h1>"
             f"<p>{class_size} submission(s), {len(notebooks)} notebook(s). Mistakes are the checks' own messages, "
             "numbers masked, ranked by how many students made them; examples are anonymized.</p>"]
    for name, stats in sorted(notebooks.items()):
        totals = list(stats.totals.values())
        mean = statistics.fmean(totals) if totals else 0.0
        parts.append(f"<h2 id=\"{esc(Path(name).stem)}\">{esc(name)}</h2>"
                     f"<p>{len(totals)} student(s), mean {mean:.1f} / {stats.max_points:g} points")
        if stats.seconds:
            parts.append(f"; grader run time median {statistics.median(stats.seconds):.1f} s, "
                         f"max {max(stats.seconds):.1f} s")
        parts.append(f'.</p><img alt="score distribution and pass rates of {esc(name)}" src="{_figure(stats)}">')
        parts.append("<table class=checks><tr><th>check</th><th>points</th><th>passed</th><th>statuses</th></tr>")
        for check in stats.checks.values():
            statuses = ", ".join(f"{s} {n}" for s, n in sorted(check.statuses.items()))
            parts.append(f"<tr><td><code>{esc(check.exercise)}</code></td><td class=num>{check.max_points:g}</td>"
                         f"<td class=num>{100 * check.pass_rate:.0f}%</td><td>{esc(statuses)}</td></tr>")
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


def write_report(out: Path, jobs: list[Job], results: dict[int, JobResult]) -> Path:
    """Write out/report.html from the finished jobs; return its path."""
    path = out / "report.html"
    write_atomic(path, render(collect(jobs, results), len({job.submission for job in jobs})))
    return path


def cell_seconds(assembled: Assembled, result: RunResult) -> dict[str, float]:
    """Seconds per executed code cell of one run, labelled by cell id (or the first line of a student's cell)."""
    timings: dict[str, float] = {}
    code = [cell for cell in assembled.notebook.cells if cell.cell_type == "code"]
    for number, record in result.records.items():
        if not 0 < number < len(assembled.cells) or number >= len(code):
            continue  # the grader's own first cell
        cid = assembled.cells[number].get("id")
        if cid:
            label = cid
        else:
            first = next((line.strip() for line in code[number].source.splitlines() if line.strip()), "")
            label = f"your cell `{first[:50]}`"
        timings[label] = timings.get(label, 0.0) + float(record.get("seconds") or 0.0)
    return timings
