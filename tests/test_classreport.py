"""report.html counts the class's named mistakes correctly, ranks them, anonymizes examples, embeds figures."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import tinyclass
from cs285lab.grading.jobs import Job, JobResult
from cs285lab.grading.classreport import NOT_ATTEMPTED, collect, mistake, render
from cs285lab.grading.verdict import Row


class Tables(HTMLParser):
    """Rows of every <table class=...> on a page, as lists of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("class") or f"table{len(self.tables)}"
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


def _row(student: str, exercise: str, status: str, message: str, points: float = 0.0) -> Row:
    return Row(student, "03_x.ipynb", exercise, points, 2.0, status, message)


def _synthetic() -> tuple[list[Job], dict[int, JobResult]]:
    ref = object()  # the report only needs to know that the job had a reference notebook
    rows = {
        "ann": [_row("ann", "nb03-check-q", "passed", "✓ q_target: all 6 checks passed", 2.0),
                _row("ann", "nb03-check-buffer", "failed", "CheckFailed: replay_buffer: sample() draws from empty "
                     "slots: use rng.integers(0, self.size) (largest difference 0.731)")],
        "ben": [_row("ben", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                     "the buffer; sample a' ~ pi(s') fresh"),
                _row("ben", "nb03-check-buffer", "failed", "CheckFailed: replay_buffer: sample() draws from empty "
                     "slots: use rng.integers(0, self.size) (largest difference 1.25)")],
        "cleo": [_row("cleo", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                      "the buffer; sample a' ~ pi(s') fresh (earlier, cell nb03-buffer raised ValueError: cleo's bug)"),
                 _row("cleo", "nb03-check-buffer", "failed", "NotImplementedError: replay_buffer: not implemented yet")],
        "dan": [_row("dan", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                     "the buffer; sample a' ~ pi(s') fresh"),
                _row("dan", "nb03-check-buffer", "timeout", "ran longer than the per-cell limit of 300 s")],
    }
    jobs = [Job(student, "03_x.ipynb", Path(f"{student}.ipynb"), ref) for student in rows]
    results = {i: JobResult(rows[job.submission], seconds=10.0 + i, cell_seconds={"nb03-check-q": 1.0 + i,
                                                                                 "nb03-setup": 0.5})
               for i, job in enumerate(jobs)}
    return jobs, results


def test_mistakes_are_counted_per_student_and_ranked():
    jobs, results = _synthetic()
    stats = collect(jobs, results)["03_x.ipynb"]
    q, buffer = stats.checks["nb03-check-q"], stats.checks["nb03-check-buffer"]
    assert q.pass_rate == 0.25 and buffer.pass_rate == 0.0
    action = "your target used the action stored in the buffer; sample a' ~ pi(s') fresh"
    assert q.mistakes[action] == {"ben", "cleo", "dan"}, "the '(earlier, ...)' context does not split a mistake"
    empty = "sample() draws from empty slots: use rng.integers(0, self.size) (largest difference #)"
    assert buffer.mistakes[empty] == {"ann", "ben"}, "numbers are masked so one mistake is one group"
    assert buffer.mistakes[NOT_ATTEMPTED] == {"cleo"}
    page = parse(render({"03_x.ipynb": stats}, 4))
    ranked = page.tables["mistakes"][1:]
    assert [(r[0], r[1], r[2]) for r in ranked[:2]] == [("3", "nb03-check-q", action), ("2", "nb03-check-buffer", empty)]
    examples = ranked[0][3]
    assert "cleo" not in examples and "student's bug" in examples, "examples are anonymized"
    assert stats.seconds == [10.0, 11.0, 12.0, 13.0]
    slow = page.tables["slow"]
    assert slow[1][0] == "nb03-check-q" and slow[1][2] == "4.0", "slowest cell first, with its max"


def test_mistake_key():
    assert mistake(_row("x", "e", "failed", "CheckFailed: td_target: you bootstrap past terminal states")) \
        == "you bootstrap past terminal states"
    assert mistake(_row("x", "e", "timeout", "ran longer than the per-cell limit of 300 s")) \
        == "timeout: ran longer than the per-cell limit of # s"
    assert mistake(_row("x", "e", "failed", "NotImplementedError: f: not implemented yet")) == NOT_ATTEMPTED


@pytest.mark.slow
def test_report_of_a_graded_class(tmp_path):
    solutions, klass = tinyclass.build(tmp_path)
    out = tmp_path / "out"
    result = tinyclass.grade(solutions, klass, out)
    assert result.returncode == 0, result.stderr
    text = (out / "report.html").read_text()
    page = parse(text)
    ranked = {(r[1], r[2]): int(r[0]) for r in page.tables["mistakes"][1:]}
    ties = next(key for key in ranked if key[0] == "nb04-check-epsilon-greedy" and tinyclass.TIE_MISTAKE in key[1])
    assert ranked[ties] == 2, "bob and carol pick the first of tied actions"
    mask = next(key for key in ranked if tinyclass.NO_TERMINAL_MISTAKE in key[1])
    assert ranked[mask] == 1 and mask[0] == "nb04-check-q-update"
    assert ranked[("nb04-check-q-update", NOT_ATTEMPTED)] == 1, "dave left the stub"
    assert ranked[(tinyclass.QUESTION, "missing: no written answer (the cell is blank or unchanged)")] == 1
    assert len(ranked) == 4, ranked
    checks = {r[0]: r[2] for r in page.tables["checks"][1:]}
    assert checks["nb04-check-epsilon-greedy"] == "50%" and checks["nb04-check-q-update"] == "50%"
    assert checks[tinyclass.QUESTION] == "0%"  # carol's blank answer is the only verdict so far
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
    for student in tinyclass.CLASS:
        assert not re.search(rf"\b{student}\b", text), f"{student} is named in the report"
    assert "Slowest cells" in text and "nb04-check-epsilon-greedy" in text


def test_anonymize_replaces_whole_names_only():
    from cs285lab.grading.classreport import anonymize

    assert anonymize("ab's table: cell of ab-2 and Zoë", ["ab", "Zoë", "ab-2"]) == \
        "student's table: cell of student and student"
