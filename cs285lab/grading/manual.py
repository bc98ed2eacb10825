"""Written answers, graded by hand, file-based: one sheet per question, merged into every grade table.

A reference notebook marks an answer cell with metadata
    {"id": "nb01-shared-answer", "kind": "written", "points": 2, "rubric": ["...", "..."]}
(a markdown cell with a <!-- BEGIN SOLUTION --> region: the reference answer).

After a batch, `grade_written` collects every submission's answer to each written cell:

- `manual/<notebook>-<cell>.csv` lists them, one row per submission (columns `submission`,
  `points`, `comment`, `max_points`, `answer_id`, `answer`). The instructor fills in `points`
  (and optionally `comment`); the grader never writes to a sheet that exists. Answers that no
  sheet lists yet (a new submission, a changed answer) go into a new sheet `<notebook>-<cell>.2.csv`,
  `.3.csv`, ...
- `manual/<notebook>-<cell>.html` shows all answers side by side with the reference answer and the
  rubric (regenerated on every run; it holds nothing typed by hand).
- One row per submission and written cell joins grades.csv, summary.csv, the feedback pages and
  Gradescope's results: status `graded` with the instructor's points, `pending` until scored,
  `missing` for a blank answer. A score counts only for the answer it was given to (`answer_id`).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cs285lab.authoring.student import MD_BEGIN, MD_END, MD_STUB, cell_meta, find_regions, write_atomic
from cs285lab.grading.assemble import Reference, SubmissionError, read_submission
from cs285lab.grading.verdict import Row

if TYPE_CHECKING:
    from cs285lab.grading.batch import Job, JobResult

SHEET_COLUMNS = ["submission", "points", "comment", "max_points", "answer_id", "answer"]
SHEET_NAME = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d+))?\.csv$")


@dataclass(frozen=True)
class Question:
    """A written answer cell of a reference notebook."""

    notebook: str
    id: str
    points: float
    question: str       # the markdown cell right before the answer cell (the prompt)
    reference: str      # the text of the solution region
    rubric: tuple[str, ...]

    @property
    def stem(self) -> str:
        """The sheet's file name without extension."""
        return f"{Path(self.notebook).stem}-{self.id}"


@dataclass
class Score:
    """What an instructor typed for one answer."""

    points: float | None
    comment: str
    where: str           # file:line, for messages
    error: str = ""


@dataclass
class Sheets:
    """Every sheet of one question, read."""

    paths: list[Path] = field(default_factory=list)
    scores: dict[tuple[str, str], Score] = field(default_factory=dict)  # (submission, answer_id) -> score
    listed: set[tuple[str, str]] = field(default_factory=set)


def questions(ref: Reference) -> list[Question]:
    """The written answer cells of a reference notebook, in notebook order."""
    found = []
    cells = ref.solution.cells
    for index, cell in enumerate(cells):
        meta = cell_meta(cell)
        if not meta or meta.get("kind") != "written":
            continue
        lines = cell.source.splitlines()
        regions = find_regions(lines, MD_BEGIN, MD_END, f"{ref.name} {meta['id']}")
        reference = "\n\n".join("\n".join(lines[r.begin + 1:r.end]).strip() for r in regions)
        prompt = cells[index - 1].source.strip() if index > 0 and cells[index - 1].cell_type == "markdown" else ""
        rubric = meta.get("rubric") or ()
        found.append(Question(ref.name, meta["id"], float(meta["points"]), prompt, reference,
                              tuple(str(item) for item in (rubric if isinstance(rubric, list) else [rubric]))))
    return found


def answer_id(text: str) -> str:
    """A short hash of an answer (whitespace-insensitive): a score belongs to the answer it was given to."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:12]


def student_answer(path: Path | None, question: Question) -> str | None:
    """The student's answer text ("" when blank or untouched), or None when the notebook is unreadable."""
    if path is None:
        return ""
    try:
        nb = read_submission(path)
    except SubmissionError:
        return None
    for cell in nb.cells:
        meta = cell_meta(cell)
        if isinstance(meta, dict) and meta.get("id") == question.id:
            text = cell.source.strip()
            return "" if text in ("", MD_STUB) else text
    return ""


def _sheet_number(path: Path, stem: str) -> int | None:
    match = SHEET_NAME.match(path.name)
    if not match or match.group("base") != stem:
        return None
    return int(match.group("n") or 1)


def read_sheets(folder: Path, question: Question) -> Sheets:
    """Read every sheet of `question` in sheet order (a later sheet's score for the same answer wins)."""
    sheets = Sheets()
    candidates = [(n, p) for p in folder.glob(f"{question.stem}*.csv") if (n := _sheet_number(p, question.stem))]
    for _, path in sorted(candidates):
        sheets.paths.append(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: spreadsheets add a BOM
        except (OSError, UnicodeDecodeError) as exc:
            print(f"warning: {path}: not readable as UTF-8 text ({exc}); sheet ignored (save it as CSV UTF-8)",
                  file=sys.stderr)
            continue
        with io.StringIO(text, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"submission", "points", "answer_id"} - set(reader.fieldnames or [])
            if missing:
                print(f"warning: {path}: no column(s) {', '.join(sorted(missing))}; sheet ignored", file=sys.stderr)
                continue
            for line, row in enumerate(reader, start=2):
                key = (_uncell(row["submission"] or ""), row["answer_id"] or "")
                sheets.listed.add(key)
                text = (row.get("points") or "").strip()
                score = Score(None, (row.get("comment") or "").strip(), f"{path.name} row {line}")
                if text:
                    try:
                        value = float(text)
                    except ValueError:
                        value = None
                    if value is None or not 0 <= value <= question.points:
                        score.error = (f"{score.where}: points {text!r} is not a number from 0 to "
                                       f"{question.points:g}; fix it and re-run cs285lab grade")
                    else:
                        score.points = value
                if score.points is not None or score.error or key not in sheets.scores:
                    sheets.scores[key] = score
    return sheets


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text a spreadsheet shows as text: a leading formula character gets a quote (CSV injection)."""
    return "'" + text if text.startswith(FORMULA) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA) else text


def _sheet_text(question: Question, entries: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for submission, text in entries:
        writer.writerow({"submission": _cell(submission), "points": "", "comment": "",
                         "max_points": f"{question.points:g}", "answer_id": answer_id(text), "answer": _cell(text)})
    return buffer.getvalue()


def _next_sheet(folder: Path, question: Question, sheets: Sheets) -> Path:
    numbers = [_sheet_number(p, question.stem) or 1 for p in sheets.paths]
    number = max(numbers, default=0) + 1
    return folder / (f"{question.stem}.csv" if number == 1 else f"{question.stem}.{number}.csv")


PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(24em,1fr));gap:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.7em;background:#fff}
.ref{border-color:#2a7;background:#f3fbf6}
.answer{white-space:pre-wrap;font-size:.95em}
.meta{color:#555;font-size:.85em;margin-bottom:.4em}
.pending{color:#b60}.graded{color:#161}.error{color:#b00}
"""


def _page(question: Question, answers: list[tuple[str, str, Row]], sheets: list[str]) -> str:
    esc = html.escape
    rubric = "".join(f"<li>{esc(item)}</li>" for item in question.rubric) or "<li>(no rubric in the solution)</li>"
    cards = []
    for submission, text, row in answers:
        state = f"{row.points:g} / {row.max_points:g}" if row.status == "graded" else row.status
        cards.append(f'<div class="card"><div class="meta"><b>{esc(submission)}</b> · answer_id '
                     f'{answer_id(text)} · <span class="{esc(row.status)}">{esc(state)}</span></div>'
                     f'<div class="answer">{esc(text)}</div></div>')
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{esc(question.stem)}</title>"
            f"<style>{PAGE_CSS}</style></head><body>"
            f"<h1>{esc(question.notebook)} · {esc(question.id)} ({question.points:g} points)</h1>"
            f"<p>Type points (and a comment) into {', '.join(f'<code>{esc(s)}</code>' for s in sheets)}, then re-run "
            "<code>cs285lab grade</code>. This page is regenerated on every run.</p>"
            f'<div class="grid"><div class="card ref"><div class="meta"><b>Question</b></div>'
            f'<div class="answer">{esc(question.question)}</div></div>'
            f'<div class="card ref"><div class="meta"><b>Reference answer</b></div>'
            f'<div class="answer">{esc(question.reference)}</div></div>'
            f'<div class="card ref"><div class="meta"><b>Rubric</b></div><ul>{rubric}</ul></div></div>'
            f"<h2>{len(answers)} answer(s)</h2><div class=\"grid\">{''.join(cards)}</div></body></html>\n")


def written_rows(out: Path, jobs: list[Job], results: dict[int, JobResult], stream: TextIO | None = None) -> int:
    """Add (or refresh) the rows of every written answer in `results`; write new sheets and the pages.

    Returns how many answers are still pending.
    """
    stream = stream if stream is not None else sys.stderr
    folder = out / "manual"
    refs = {job.ref.name: job.ref for job in jobs if job.ref is not None}
    pending = 0
    for name in sorted(refs):
        for question in questions(refs[name]):
            folder.mkdir(parents=True, exist_ok=True)
            sheets = read_sheets(folder, question)
            unlisted: list[tuple[str, str]] = []
            shown: list[tuple[str, str, Row]] = []
            for index, job in enumerate(jobs):
                if index not in results or job.ref is None or job.ref.name != name:
                    continue
                text = student_answer(job.path, question)
                if text is None:
                    row = Row(job.submission, name, question.id, 0.0, question.points, "error",
                              "the notebook could not be read, so neither could this written answer")
                elif not text:
                    row = Row(job.submission, name, question.id, 0.0, question.points, "missing",
                              "no written answer (the cell is blank or unchanged)")
                else:
                    key = (job.submission, answer_id(text))
                    score = sheets.scores.get(key)
                    if key not in sheets.listed:
                        unlisted.append((job.submission, text))
                    if score is not None and score.error:
                        print(f"warning: {score.error}", file=stream)
                        row = Row(job.submission, name, question.id, 0.0, question.points, "pending",
                                  f"written answer: pending (the score in manual/{score.where} is not valid)")
                    elif score is not None and score.points is not None:
                        row = Row(job.submission, name, question.id, score.points, question.points, "graded",
                                  score.comment or "graded by hand")
                    else:
                        row = Row(job.submission, name, question.id, 0.0, question.points, "pending",
                                  "written answer: waiting for hand grading")
                    shown.append((job.submission, text, row))
                pending += row.status == "pending"
                result = results[index]
                result.rows = [r for r in result.rows if r.exercise != question.id] + [row]
            if unlisted:
                path = _next_sheet(folder, question, sheets)
                write_atomic(path, _sheet_text(question, unlisted))
                sheets.paths.append(path)
                print(f"{len(unlisted)} written answer(s) to grade by hand: {path}", file=stream)
            if shown or sheets.paths:
                write_atomic(folder / f"{question.stem}.html",
                             _page(question, shown, [p.name for p in sheets.paths]))
    return pending


def after_batch(out: Path, jobs: list[Job], results: dict[int, JobResult], stream: TextIO | None = None) -> int:
    """After a batch: flag reuse of reference code, merge written answers, then rewrite grades.csv,
    summary.csv, every feedback page and report.html. Returns how many written answers are pending."""
    from cs285lab.grading.classreport import write_report
    from cs285lab.grading.report import write_feedback, write_tables
    from cs285lab.grading.reuse import flag_reuse

    flag_reuse(jobs, results)
    pending = written_rows(out, jobs, results, stream)
    write_tables(out, jobs, results)
    by_student: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        by_student.setdefault(job.submission, []).append(index)
    for student, indices in by_student.items():
        write_feedback(out, student, indices, jobs, results)
    try:
        write_report(out, jobs, results)
    except Exception as exc:  # noqa: BLE001 - the grades are written; a report bug must not hide them
        print(f"warning: report.html was not written ({type(exc).__name__}: {exc}); please report it",
              file=stream if stream is not None else sys.stderr)
    return pending
