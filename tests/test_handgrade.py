"""The hand-grading page without a browser: safe rendering of what students wrote, the sheets it writes,
and the server's refusals (no token, a stale page, points out of range)."""

from __future__ import annotations

import csv
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

import tinyclass
from cs285lab.grading.course import Question, strip_claims
from cs285lab.grading.handpages import cells_referred, render_output
from cs285lab.grading.manual import answer_id, read_sheets, save_score
from cs285lab.grading.markup import render_markdown

QUESTION = Question("01_x.ipynb", "nb01-a", 2.0, "Why?", "Because.", ("1 point: a",))


def test_markdown_and_latex_render_and_nothing_a_student_writes_runs():
    html = render_markdown("**Why** $c_V = 1$ and $$\\frac{R}{1-\\gamma}$$ <script>alert(1)</script> "
                           "[x](javascript:alert(1)) $\\text{<img src=x onerror=alert(1)>}$ "
                           "$\\href{javascript:alert(2)}{y}$ $\\frac{1}{$")
    assert "<strong>Why</strong>" in html
    assert "<msub><mi>c</mi><mi>V</mi></msub>" in html and "<mfrac>" in html, "LaTeX as MathML"
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html and "onerror" not in html and "<img" not in html
    assert '<code class="tex">' in html, "broken LaTeX is shown as written"


def test_reference_answers_lose_their_claim_markers():
    assert strip_claims("Five times smaller. <!-- claim: nb01-init-ratio -->\nNext.") == "Five times smaller.\nNext."


def test_outputs_are_shown_safely():
    assert render_output({"output_type": "stream", "text": "\x1b[31mred\x1b[0m <b>"}) == "<pre>red &lt;b&gt;</pre>"
    shown = render_output({"output_type": "display_data", "data": {"text/html": "<script>x()</script>",
                                                                  "text/plain": "<IPython.HTML>"}})
    assert "<script" not in shown and "&lt;IPython.HTML&gt;" in shown, "HTML outputs are shown as their text"
    assert "not valid base64" in render_output({"output_type": "display_data", "data": {"image/png": "\"><script>"}})
    widget = render_output({"output_type": "display_data", "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "HBox()"}})
    assert "widget" in widget and "HBox()" in widget


def test_the_cells_a_question_refers_to():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Part 1"), nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_markdown_cell("## Part 2\n### detail"), nbformat.v4.new_code_cell("b = 2"),
        nbformat.v4.new_markdown_cell("### more"), nbformat.v4.new_code_cell("c = 3", metadata={"cs285lab": {"id": "c"}}),
        nbformat.v4.new_markdown_cell("answer", metadata={"cs285lab": {"id": "nb01-a"}})])
    assert [c.source for c in cells_referred(nb, QUESTION)] == ["b = 2", "c = 3"], "back to the last ## heading"
    named = Question(**{**QUESTION.__dict__, "refers_to": ("c",)})
    assert [c.source for c in cells_referred(nb, named)] == ["c = 3"]


def test_saving_updates_the_row_that_lists_the_answer_and_keeps_the_rest(tmp_path):
    sheet = tmp_path / "01_x-nb01-a.csv"
    sheet.write_bytes("\ufeffsubmission,points,comment,max_points,answer_id,answer,my notes\n"
                      f"ann,,,2,{answer_id('A')},A,keep me\nben,1,ok,2,{answer_id('B')},B,\n".encode())
    assert save_score(tmp_path, QUESTION, "ann", "A", 1.5, "=clear") == sheet
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["points"] == "1.5" and rows[0]["comment"] == "'=clear" and rows[0]["my notes"] == "keep me"
    assert rows[1]["points"] == "1" and rows[1]["comment"] == "ok"
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf"), "a spreadsheet's BOM stays"
    scores = read_sheets(tmp_path, QUESTION).scores
    assert scores[("ann", answer_id("A"))].points == 1.5 and scores[("ann", answer_id("A"))].comment == "=clear"
    new = save_score(tmp_path, QUESTION, "cleo", "C", None, "")
    assert new.name == "01_x-nb01-a.2.csv", "an answer no sheet lists goes into a new sheet"
    with pytest.raises(ValueError, match="from 0 to 2"):
        save_score(tmp_path, QUESTION, "ann", "A", 3, "")


def _get(url: str, data: dict | None = None) -> tuple[int, str, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, data=body, timeout=30) as response:
            return response.status, response.read().decode(), response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Location", "")


@pytest.mark.slow
def test_the_server_needs_its_token_and_refuses_stale_pages_and_bad_points(tmp_path_factory, tmp_path):
    from cs285lab.grading.handgrade import HandGrading, serve

    root = tinyclass.copy_of(tinyclass.graded(tmp_path_factory), tmp_path / "class")
    server, address = serve(HandGrading(root / "out", root / "solutions"))
    try:
        base = address.rstrip("/")
        host = base.rsplit("/", 1)[0]
        assert _get(host + "/")[0] == 404 and _get(host + "/wrong-token/")[0] == 404
        status, page, _ = _get(base + "/")
        assert status == 200 and "Content-Security-Policy" in page and "<script" not in page
        stem = f"{Path(tinyclass.NOTEBOOK).stem}-{tinyclass.QUESTION}"
        status, _, where = _get(f"{base}/q/{stem}/next-pending?after=-1")
        assert status == 303 and where.endswith(f"/q/{stem}/0")
        alice = answer_id(tinyclass.CLASS["alice"][2])
        assert _get(f"{base}/q/{stem}/0", {"points": "1", "comment": "", "answer_id": "stale"})[0] == 409
        status, page, _ = _get(f"{base}/q/{stem}/0", {"points": "-1", "comment": "", "answer_id": alice})
        assert status == 400 and "not saved" in page
        status, _, where = _get(f"{base}/q/{stem}/0", {"points": "2", "comment": "good", "answer_id": alice,
                                                       "then": "next-pending"})
        assert status == 303 and "next-pending?after=0" in where
    finally:
        server.shutdown()
    sheet = root / "out" / "manual" / f"{stem}.csv"
    rows = {r["submission"]: r for r in csv.DictReader(sheet.read_text(encoding="utf-8").splitlines())}
    assert (rows["alice"]["points"], rows["alice"]["comment"]) == ("2", "good") and rows["bob"]["points"] == ""
