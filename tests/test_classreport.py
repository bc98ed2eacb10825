"""report.html counts the class's named mistakes correctly, ranks them, anonymizes examples, embeds figures
(one per notebook someone submitted)."""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import tinyclass
from cs285lab.grading.classreport import NOT_ATTEMPTED, collect, histogram, mistake, render, roster_rows, submitted
from cs285lab.grading.tables import Tables


class PageTables(HTMLParser):
    """Rows of every <table class=...> on a page, as lists of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
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
        elif tag == "a" and attrs.get("href", "").startswith("feedback/"):
            self.links.append(attrs["href"])

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


def parse(page: str) -> PageTables:
    parser = PageTables()
    parser.feed(page)
    return parser


def _row(student: str, exercise: str, status: str, message: str, points: float = 0.0, kind: str = "check") -> dict:
    return {"submission": student, "notebook": "03_x.ipynb", "exercise": exercise, "title": "", "kind": kind,
            "points": f"{points:g}", "max_points": "2", "status": status, "message": message, "path": ""}


def _synthetic() -> Tables:
    """Four students' rows of one notebook, as grades.csv / summary.csv / timings.csv would hold them."""
    rows = {
        "ann": [_row("ann", "nb03-check-q", "passed", "✓ q_target: all 6 checks passed", 2.0),
                _row("ann", "nb03-check-buffer", "failed", "CheckFailed: replay_buffer: sample() draws from empty "
                     "slots: use rng.integers(0, self.size) (largest difference 0.731)"),
                _row("ann", "nb03-answer", "graded", "clear", 1.5, "written")],
        "ben": [_row("ben", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                     "the buffer; sample a' ~ pi(s') fresh"),
                _row("ben", "nb03-check-buffer", "failed", "CheckFailed: replay_buffer: sample() draws from empty "
                     "slots: use rng.integers(0, self.size) (largest difference 1.25)"),
                _row("ben", "nb03-answer", "pending", "written answer: waiting for hand grading", 0.0, "written")],
        "cleo": [_row("cleo", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                      "the buffer; sample a' ~ pi(s') fresh (earlier, cell nb03-buffer raised ValueError: cleo's bug)"),
                 _row("cleo", "nb03-check-buffer", "failed", "NotImplementedError: replay_buffer: not implemented yet"),
                 _row("cleo", "nb03-answer", "pending", "written answer: waiting for hand grading", 0.0, "written")],
        "dan": [_row("dan", "nb03-check-q", "failed", "CheckFailed: q_target: your target used the action stored in "
                     "the buffer; sample a' ~ pi(s') fresh"),
                _row("dan", "nb03-check-buffer", "timeout", "ran longer than the per-cell limit of 300 s"),
                _row("dan", "nb03-answer", "missing", "no written answer (the cell is blank or unchanged)", 0.0,
                     "written")],
    }
    tables = Tables()
    for k, (student, own) in enumerate(rows.items()):
        tables.grades += own
        statuses = {s: sum(r["status"] == s for r in own) for s in ("passed", "failed", "timeout", "pending", "missing")}
        tables.summary.append({"submission": student, "notebook": "03_x.ipynb", "title": "03 · x",
                               "points": f"{sum(float(r['points']) for r in own):g}", "max_points": "6",
                               **{s: str(n) for s, n in statuses.items()}, "late_penalty": "0", "seconds": f"{10 + k}",
                               "feedback": f"feedback/{student}.html"})
        tables.timings += [{"submission": student, "notebook": "03_x.ipynb", "cell": "nb03-check-q", "seconds": f"{1 + k}"},
                           {"submission": student, "notebook": "03_x.ipynb", "cell": "nb03-setup", "seconds": "0.5"}]
    return tables


def test_mistakes_are_counted_per_student_and_ranked():
    tables = _synthetic()
    stats = collect(tables)["03_x.ipynb"]
    q, buffer = stats.checks["nb03-check-q"], stats.checks["nb03-check-buffer"]
    assert q.pass_rate == 0.25 and buffer.pass_rate == 0.0
    action = "your target used the action stored in the buffer; sample a' ~ pi(s') fresh"
    assert q.mistakes[action] == {"ben", "cleo", "dan"}, "the '(earlier, ...)' context does not split a mistake"
    empty = "sample() draws from empty slots: use rng.integers(0, self.size) (largest difference #)"
    assert buffer.mistakes[empty] == {"ann", "ben"}, "numbers are masked so one mistake is one group"
    assert NOT_ATTEMPTED not in buffer.mistakes and buffer.not_attempted == {"cleo"}, "not attempted is no mistake"
    page = parse(render(tables))
    ranked = page.tables["mistakes"][1:]
    assert [(r[0], r[1], r[2]) for r in ranked[:2]] == [("3", "nb03-check-q", action), ("2", "nb03-check-buffer", empty)]
    assert all(NOT_ATTEMPTED not in r[2] for r in ranked)
    assert page.tables["untried"][1:] == [["1", "nb03-check-buffer"]]
    examples = ranked[0][3]
    assert "cleo" not in examples and "student's bug" in examples, "examples are anonymized"
    assert stats.seconds == [10.0, 11.0, 12.0, 13.0]
    slow = page.tables["slow"]
    assert slow[1][0] == "nb03-check-q" and slow[1][2] == "4.0", "slowest cell first, with its max"


def test_pending_written_answers_are_not_counted_as_zero():
    tables = _synthetic()
    stats = collect(tables)["03_x.ipynb"]
    answer = stats.checks["nb03-answer"]
    assert answer.statuses["pending"] == 2 and answer.graded == 2, "ann graded, dan missing; ben and cleo pending"
    assert stats.pending == {"ben": 2.0, "cleo": 2.0}
    assert stats.totals == {"ann": 3.5, "ben": 0.0, "cleo": 0.0, "dan": 0.0}
    text = render(tables)
    assert "written answers worth 4 points pending for 2 student(s), not counted" in text
    only_pending = Tables([r for r in tables.grades if r["exercise"] == "nb03-answer" and r["status"] == "pending"],
                          [s for s in tables.summary if s["submission"] in ("ben", "cleo")])
    checks = {r[0]: r[2] for r in parse(render(only_pending)).tables["checks"][1:]}
    assert checks["nb03-answer"] == "pending", "no verdict yet is not 0% passed"
    roster = {r["student"]: r for r in roster_rows(tables)}
    assert roster["ben"]["pending"] == 1 and roster["dan"]["timeout"] == 1 and roster["ann"]["points"] == 3.5


def test_the_roster_links_every_student_and_names_the_missing_ones():
    tables = _synthetic()
    page = parse(render(tables, roster=["ann", "ben", "cleo", "dan", "eve"]))
    roster = {r[0]: r for r in page.tables["roster"][1:]}
    assert set(roster) == {"ann", "ben", "cleo", "dan", "eve"}
    assert "no submission" in roster["eve"][1]
    assert roster["dan"][4] == "1", "dan's timeout"
    assert page.links[:4] == ["feedback/ann.html", "feedback/ben.html", "feedback/cleo.html", "feedback/dan.html"]


def figure_of(src: str) -> tuple[list[int], dict[str, int]]:
    """An embedded figure's histogram counts (left to right) and pass rates per check."""
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix), src[:60]
    svg = base64.b64decode(src[len(prefix):]).decode()
    ET.fromstring(svg)  # well-formed: a browser shows nothing of a broken SVG
    bins = [(float(x), int(n)) for n, x in re.findall(r'class="bin" data-count="(\d+)" x="([\d.]+)"', svg)]
    rates = {html.unescape(check): int(rate)
             for check, rate in re.findall(r'class="rate" data-check="([^"]+)" data-rate="(\d+)"', svg)}
    return [n for _, n in sorted(bins)], rates


def test_the_figure_draws_the_points_histogram_and_the_pass_rates():
    tables = _synthetic()
    page = parse(render(tables))
    assert len(page.images) == 1
    bins, rates = figure_of(page.images[0])
    assert bins == [3, 1], "ben, cleo and dan at 0 points, ann at 3.5"
    assert rates == {"nb03-check-q": 25, "nb03-check-buffer": 0, "nb03-answer": 0}
    assert histogram([0, 1, 2, 2, 5], 6, 5) == [1, 1, 2, 0, 0, 1], "numpy.histogram's bins (the last one closed)"


def test_a_notebook_nobody_submitted_gets_a_note_instead_of_a_figure():
    tables = _synthetic()
    for student in ("ann", "ben"):  # their folders lack notebook 05: "missing" rows, nothing ran
        tables.grades.append({**_row(student, "nb05-check-x", "missing", "notebook not submitted"),
                              "notebook": "05_y.ipynb"})
        tables.summary.append({"submission": student, "notebook": "05_y.ipynb", "title": "05 · y", "points": "0",
                               "max_points": "2", "missing": "1", "seconds": "0"})
    text = render(tables)
    page = parse(text)
    assert len(page.images) == 1, "a figure for 03_x only"
    assert text.count("Nobody submitted this notebook") == 1
    assert text.index("Nobody submitted") > text.index("<h2 id=\"05_y\">")
    stats = collect(tables)
    assert not submitted(stats["05_y.ipynb"]) and submitted(stats["03_x.ipynb"])
    # dan handed 03 in with every check cell deleted: only "missing" rows, but his notebook ran
    deleted = Tables([{**r, "status": "missing"} for r in tables.grades if r["submission"] == "dan"],
                     [s for s in tables.summary if s["submission"] == "dan"])
    assert submitted(collect(deleted)["03_x.ipynb"])
    deleted.summary = [{**s, "seconds": "0"} for s in deleted.summary]
    assert not submitted(collect(deleted)["03_x.ipynb"])


def test_mistake_key():
    assert mistake("failed", "CheckFailed: td_target: you bootstrap past terminal states") \
        == "you bootstrap past terminal states"
    assert mistake("timeout", "ran longer than the per-cell limit of 300 s") \
        == "timeout: ran longer than the per-cell limit of # s"
    assert mistake("failed", "NotImplementedError: f: not implemented yet") == NOT_ATTEMPTED


@pytest.mark.slow
def test_report_of_a_graded_class(tmp_path_factory):
    out = tinyclass.graded(tmp_path_factory) / "out"
    text = (out / "report.html").read_text()
    page = parse(text)
    ranked = {(r[1], r[2]): int(r[0]) for r in page.tables["mistakes"][1:]}
    ties = next(key for key in ranked if key[0] == "nb04-check-epsilon-greedy" and tinyclass.TIE_MISTAKE in key[1])
    assert ranked[ties] == 2, "bob and carol pick the first of tied actions"
    mask = next(key for key in ranked if tinyclass.NO_TERMINAL_MISTAKE in key[1])
    assert ranked[mask] == 1 and mask[0] == "nb04-check-q-update"
    assert ranked[(tinyclass.QUESTION, "missing: no written answer (the cell is blank or unchanged)")] == 1
    assert len(ranked) == 3, ranked
    assert page.tables["untried"][1:] == [["1", "nb04-check-q-update"]], "dave left the stub"
    checks = {r[0]: r[2] for r in page.tables["checks"][1:]}
    assert checks["nb04-check-epsilon-greedy"] == "50%" and checks["nb04-check-q-update"] == "50%"
    assert checks[tinyclass.QUESTION] == "0%"  # carol's blank answer is the only verdict so far
    assert len(page.images) == 1
    bins, rates = figure_of(page.images[0])
    assert sum(bins) == len(tinyclass.CLASS), bins
    assert rates == {"nb04-check-epsilon-greedy": 50, "nb04-check-q-update": 50, tinyclass.QUESTION: 0}, rates
    mistakes = "".join(str(r) for r in page.tables["mistakes"])
    for student in tinyclass.CLASS:
        assert not re.search(rf"\b{student}\b", mistakes), f"{student} is named in the mistakes"
    assert [r[0] for r in page.tables["roster"][1:]] == sorted(tinyclass.CLASS)
    roster = {r[0]: r for r in page.tables["roster"][1:]}
    assert roster["alice"][1] == "4 / 6" and roster["alice"][2] == "1", "alice: 4 points, her answer pending"
    assert roster["dave"][6] == "1", "dave's reuse flag"
    assert "Slowest cells" in text and "nb04-check-epsilon-greedy" in text
    slow = [r[0] for r in page.tables["slow"][1:]]
    assert not any(label.startswith("your") for label in slow), slow


def test_anonymize_replaces_whole_names_only():
    from cs285lab.grading.classreport import anonymize

    assert anonymize("ab's table: cell of ab-2 and Zoë", ["ab", "Zoë", "ab-2"]) == \
        "student's table: cell of student and student"
