"""Written answers, graded by hand, file-based: one sheet per question, merged into every grade table.

A reference notebook marks an answer cell with metadata
    {"id": "nb01-shared-answer", "kind": "written", "points": 2, "rubric": ["...", "..."],
     "refers_to": ["nb01-...", ...]}   (optional: the cells whose outputs the answer discusses)
(a markdown cell with a <!-- BEGIN SOLUTION --> region: the reference answer).

- `manual/<notebook>-<cell>.csv` lists the answers, one row per submission (columns `submission`,
  `points`, `comment`, `max_points`, `answer_id`, `answer`). The instructor fills in `points`
  (and optionally `comment`), in a spreadsheet or in the hand-grading page (`cs285lab hand-grade`);
  the grader itself never rewrites a sheet that exists. Answers that no sheet lists yet (a new
  submission, a changed answer) go into a new sheet `<notebook>-<cell>.2.csv`, `.3.csv`, ...
- One row per submission and written cell joins grades.csv, summary.csv, the feedback pages and
  Gradescope's results: status `graded` with the instructor's points, `pending` until scored,
  `missing` for a blank answer. A score counts only for the answer it was given to (`answer_id`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cs285lab.files import write_atomic
from cs285lab.grading.course import Question
from cs285lab.grading.verdict import Row
from cs285lab.notebook_format import MD_STUB, cell_id

if TYPE_CHECKING:
    import nbformat

    from cs285lab.grading.jobs import Job

SHEET_COLUMNS = ["submission", "points", "comment", "max_points", "answer_id", "answer"]
SHEET_NAME = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d+))?\.csv$")


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


def answer_id(text: str) -> str:
    """A short hash of an answer (whitespace-insensitive): a score belongs to the answer it was given to."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:12]


def student_answer(nb: nbformat.NotebookNode, question: Question) -> str:
    """The student's answer text ("" when blank, untouched or absent)."""
    for cell in nb.cells:
        if cell_id(cell) == question.id:
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
                score = Score(None, _uncell((row.get("comment") or "").strip()), f"{path.name} row {line}")
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


def save_score(folder: Path, question: Question, submission: str, text: str, points: float | None,
               comment: str) -> Path:
    """Write one score into the sheets, as a person editing them would; return the sheet written.

    The last sheet that lists this answer gets the points and comment in its row (its other rows and
    columns stay as they are); an answer no sheet lists yet goes into a new sheet, as the grader would
    have put it there.
    """
    if points is not None and not 0 <= points <= question.points:
        raise ValueError(f"points must be from 0 to {question.points:g}")
    key = (submission, answer_id(text))
    value = "" if points is None else f"{points:g}"
    for path in reversed(read_sheets(folder, question).paths):
        raw = path.read_text(encoding="utf-8-sig")
        bom = path.read_bytes().startswith(b"\xef\xbb\xbf")
        reader = csv.DictReader(io.StringIO(raw, newline=""))
        rows, columns = list(reader), list(reader.fieldnames or [])
        hits = [r for r in rows if (_uncell(r.get("submission") or ""), r.get("answer_id") or "") == key]
        if not hits:
            continue
        for column in ("points", "comment"):
            if column not in columns:
                columns.append(column)
        for row in hits:
            row["points"], row["comment"] = value, _cell(comment.strip())
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, ("\ufeff" if bom else "") + buffer.getvalue())
        return path
    path = _next_sheet(folder, question, read_sheets(folder, question))
    sheet = _sheet_text(question, [(submission, text)])
    reader = csv.DictReader(io.StringIO(sheet, newline=""))
    rows = list(reader)
    rows[0]["points"], rows[0]["comment"] = value, _cell(comment.strip())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue())
    return path


class WrittenAnswers:
    """Every question's sheets, read once before a batch; rows per job; new sheets for answers no sheet lists."""

    def __init__(self, folder: Path, questions: list[Question], stream: TextIO | None = None) -> None:
        self.folder, self.stream = folder, stream if stream is not None else sys.stderr
        self.questions = questions
        self.sheets = {q.stem: read_sheets(folder, q) for q in questions}
        self.unlisted: dict[str, list[tuple[str, str]]] = {q.stem: [] for q in questions}
        self.warned: set[str] = set()

    def rows(self, job: Job) -> list[Row]:
        """One row per written question of the job's notebook: graded, pending, missing or error."""
        if job.ref is None:
            return []
        rows = []
        for question in (q for q in self.questions if q.notebook == job.ref.name):
            sheets = self.sheets[question.stem]
            if job.path is not None and job.nb is None:
                rows.append(Row(job.submission, question.notebook, question.id, 0.0, question.points, "error",
                                "the notebook could not be read, so neither could this written answer", "written"))
                continue
            text = "" if job.nb is None else student_answer(job.nb, question)
            if not text:
                rows.append(Row(job.submission, question.notebook, question.id, 0.0, question.points, "missing",
                                "no written answer (the cell is blank or unchanged)", "written"))
                continue
            key = (job.submission, answer_id(text))
            score = sheets.scores.get(key)
            if key not in sheets.listed:
                self.unlisted[question.stem].append((job.submission, text))
            if score is not None and score.error:
                if score.error not in self.warned:
                    self.warned.add(score.error)
                    print(f"warning: {score.error}", file=self.stream)
                row = Row(job.submission, question.notebook, question.id, 0.0, question.points, "pending",
                          f"written answer: pending (the score in manual/{score.where} is not valid)", "written")
            elif score is not None and score.points is not None:
                row = Row(job.submission, question.notebook, question.id, score.points, question.points, "graded",
                          score.comment or "graded by hand", "written")
            else:
                row = Row(job.submission, question.notebook, question.id, 0.0, question.points, "pending",
                          "written answer: waiting for hand grading", "written")
            rows.append(row)
        return rows

    def write_new_sheets(self) -> list[Path]:
        """Write one new sheet per question with answers that no sheet lists yet; return their paths."""
        written = []
        for question in self.questions:
            entries = self.unlisted[question.stem]
            if not entries:
                continue
            sheets = self.sheets[question.stem]
            path = _next_sheet(self.folder, question, sheets)
            write_atomic(path, _sheet_text(question, sorted(entries)))
            sheets.paths.append(path)
            for submission, text in entries:
                sheets.listed.add((submission, answer_id(text)))
            self.unlisted[question.stem] = []
            written.append(path)
            print(f"{len(entries)} written answer(s) to grade by hand: {path} (or: cs285lab hand-grade "
                  f"{self.folder.parent})", file=self.stream)
        return written
