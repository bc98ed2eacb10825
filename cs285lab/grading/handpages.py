"""The hand-grading page's HTML: one answer with the student's own outputs, the rubric, the reference, a score form.

No script anywhere (the Content-Security-Policy forbids them): next, previous and saving are plain
links and forms. Everything a student wrote (answer, outputs) is escaped or rendered by
grading/markup.py; notebook HTML outputs are shown as their text, never as HTML.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

import nbformat

from cs285lab.grading.course import Question
from cs285lab.grading.markup import render_markdown
from cs285lab.notebook_format import cell_id, headings

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TEXT_CAP = 4000
IMAGE_CAP = 3_000_000  # base64 characters of one image
SECTION_CELLS = 12
CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f6f6}
header{background:#234;color:#fff;padding:.6em 1.2em}header a{color:#cde}
nav a,nav button{margin-right:1em}main{display:grid;grid-template-columns:minmax(0,3fr) minmax(20em,2fr);gap:1em;padding:1em}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin-bottom:1em}
h2{font-size:1.05em;margin:.2em 0 .6em;color:#345}.answer{font-size:1.05em}.outputs pre,.out pre{white-space:pre-wrap;
font-size:.85em;background:#f7f7f7;padding:.4em;max-height:30em;overflow:auto}.out img{max-width:100%}
.cellsrc{font-size:.8em;color:#666;border-left:3px solid #ccc;padding-left:.5em;white-space:pre-wrap;max-height:8em;
overflow:auto}.ref{background:#f3fbf6;border-color:#9c9}.queue a{display:inline-block;margin:.15em .3em;padding:.1em .4em;
border-radius:3px;text-decoration:none;border:1px solid #ccc}.queue .pending{background:#fff3d6}
.queue .graded{background:#e3f6e3}.queue .here{outline:2px solid #234}.saved{color:#161}.error{color:#b00;font-weight:600}
.math-display{display:block;text-align:center;margin:.4em 0}label{display:block;margin:.4em 0 .2em;font-weight:600}
input[type=number]{width:6em;font-size:1.1em}textarea{width:100%;min-height:6em}button{font-size:1em;padding:.3em .8em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}.muted{color:#777}
"""


@dataclass
class Entry:
    """One student's answer to one question, as the page shows it."""

    student: str
    label: str            # the student's name, or "Answer k" in blind mode
    text: str
    answer_id: str
    points: float | None
    comment: str
    notebook: nbformat.NotebookNode | None  # the submitted notebook with its outputs (None: not found)
    problem: str = ""     # why the outputs cannot be shown


def page(title: str, body: str) -> str:
    """A whole page: the policy, the style, the body."""
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<meta http-equiv=Content-Security-Policy content=\"{CSP}\"><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def _image(mime: str, data: object) -> str:
    text = "".join(data) if isinstance(data, list) else str(data)
    if mime == "image/svg+xml":
        text = base64.b64encode(text.encode()).decode()
    text = "".join(text.split())
    if len(text) > IMAGE_CAP:
        return "<p class=muted>(an image too large to show here)</p>"
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "<p class=muted>(an image that is not valid base64)</p>"
    return f'<img alt="an output of the student\'s notebook" src="data:{mime};base64,{text}">'


def _text(value: object) -> str:
    text = ANSI.sub("", "".join(value) if isinstance(value, list) else str(value))
    if len(text) > TEXT_CAP:
        text = text[:TEXT_CAP] + f"\n... ({len(text) - TEXT_CAP} more characters)"
    return f"<pre>{html.escape(text)}</pre>"


def render_output(output: dict) -> str:
    """One saved output of a code cell, safely: images as data URIs, HTML and widgets as their text."""
    kind = output.get("output_type")
    if kind == "stream":
        return _text(output.get("text", ""))
    if kind == "error":
        trace = "\n".join(output.get("traceback", []))
        return _text(f"{output.get('ename', '')}: {output.get('evalue', '')}\n{trace}")
    data = output.get("data") or {}
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            return _image(mime, data[mime])
    if "text/markdown" in data:
        return render_markdown("".join(data["text/markdown"]) if isinstance(data["text/markdown"], list)
                               else str(data["text/markdown"]))
    if "text/plain" in data:
        note = "<p class=muted>(an interactive widget; its text:)</p>" if any("widget" in m for m in data) else ""
        return note + _text(data["text/plain"])
    return ""


def cells_referred(nb: nbformat.NotebookNode, question: Question) -> list[nbformat.NotebookNode]:
    """The code cells whose outputs the answer discusses: the question's `refers_to` ids, else the code cells
    of its section (back from the answer to the last `#`/`##` heading, at most SECTION_CELLS)."""
    if question.refers_to:
        return [c for c in nb.cells if cell_id(c) in question.refers_to and c.cell_type == "code"]
    at = next((i for i, c in enumerate(nb.cells) if cell_id(c) == question.id), None)
    if at is None:
        return []
    found = []
    for cell in reversed(nb.cells[:at]):
        if cell.cell_type == "markdown" and any(level <= 2 for level, _ in headings(cell.source)):
            break
        if cell.cell_type == "code":
            found.append(cell)
    return list(reversed(found))[-SECTION_CELLS:]


def outputs_html(entry: Entry, question: Question) -> str:
    """The student's own outputs for this question, each under the first line of its cell."""
    if entry.notebook is None:
        return f"<p class=muted>{html.escape(entry.problem or 'The notebook was not found.')}</p>"
    parts = []
    for cell in cells_referred(entry.notebook, question):
        shown = "".join(render_output(o) for o in cell.get("outputs", []))
        if not shown:
            continue
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        parts.append(f"<div class=out><div class=cellsrc>{html.escape(first[:120])}</div>{shown}</div>")
    return "".join(parts) or "<p class=muted>No saved outputs in the cells this question refers to (the student " \
                             "did not run them, or cleared them before saving).</p>"


def grading_page(question: Question, entries: list[Entry], k: int, base: str, blind: bool, message: str = "",
                 error: str = "", merge: str = "") -> str:
    """The page for answer `k` of `question`."""
    esc = html.escape
    entry = entries[k]
    n, pending = len(entries), sum(e.points is None for e in entries)
    here = f"{base}/q/{quote(question.stem)}"
    nav = [f"<a href=\"{base}/\">all questions</a>"]
    if k > 0:
        nav.append(f"<a href=\"{here}/{k - 1}\" rel=prev>&larr; previous</a>")
    if k + 1 < n:
        nav.append(f"<a href=\"{here}/{k + 1}\" rel=next>next &rarr;</a>")
    if pending:
        nav.append(f"<a href=\"{here}/next-pending?after={k}\">next needing grading</a>")
    queue = "".join(
        f"<a class=\"{'graded' if e.points is not None else 'pending'}{' here' if i == k else ''}\" "
        f"href=\"{here}/{i}\">{esc(e.label)}{'' if e.points is None else f' ({e.points:g})'}</a>"
        for i, e in enumerate(entries))
    rubric = "".join(f"<li>{esc(item)}</li>" for item in question.rubric) or "<li>(no rubric in the solution)</li>"
    value = "" if entry.points is None else f"{entry.points:g}"
    status = ((f"<p class=error>{esc(error)}</p>" if error else "")
              + (f"<p class=saved>{esc(message)}</p>" if message else ""))
    who = "" if blind else f"<p class=muted>Student: <code>{esc(entry.student)}</code></p>"
    body = (f"<header><b>{esc(question.notebook)} · {esc(question.id)}</b> ({question.points:g} points) — "
            f"<span id=position>{esc(entry.label)}</span>: answer {k + 1} of {n}, <span id=pending>{pending}</span> "
            f"need grading<nav>{''.join(nav)}</nav></header><main><div>"
            f"<section><h2>Question</h2>{render_markdown(question.question)}</section>"
            "<section><h2>The answer</h2>"
            f"<div class=answer id=answer>{render_markdown(entry.text)}</div>{who}</section>"
            f"<section class=outputs><h2>The student's outputs this question refers to</h2>"
            f"{outputs_html(entry, question)}</section></div><div>"
            f"<section><h2>Score</h2>{status}<form method=post action=\"{here}/{k}\">"
            f"<label for=points>Points (0 to {question.points:g}; empty: not graded)</label>"
            f"<input type=number id=points name=points min=0 max=\"{question.points:g}\" step=any value=\"{value}\">"
            f"<label for=comment>Comment (the student reads it)</label>"
            f"<textarea id=comment name=comment>{esc(entry.comment)}</textarea>"
            f"<input type=hidden name=answer_id value=\"{esc(entry.answer_id)}\">"
            "<p><button name=then value=stay>Save</button> "
            "<button name=then value=next-pending id=save-next>Save, next needing grading</button></p></form>"
            f"<p class=muted>Saved to the sheets in manual/; {esc(merge)}</p></section>"
            f"<section><h2>Rubric</h2><ul>{rubric}</ul></section>"
            f"<section class=ref><h2>Reference answer</h2>{render_markdown(question.reference)}</section>"
            f"<section class=queue><h2>All answers</h2>{queue}</section></div></main>")
    return page(f"{question.stem}: answer {k + 1}", body)


def index_page(rows: list[tuple[Question, int, int]], base: str, blind: bool, merge: str) -> str:
    """The list of written questions with how many answers each has and how many need grading."""
    esc = html.escape
    lines = "".join(f"<tr><td><a href=\"{base}/q/{quote(q.stem)}/next-pending?after=-1\">{esc(q.notebook)} · "
                    f"{esc(q.id)}</a></td><td>{q.points:g}</td><td>{n}</td><td>{pending}</td></tr>"
                    for q, n, pending in rows)
    body = (f"<header><b>Hand grading</b>{' (blind: no names are shown)' if blind else ''}</header><main><div>"
            "<section><h2>Written questions</h2><table><tr><th>question</th><th>points</th><th>answers</th>"
            f"<th>need grading</th></tr>{lines}</table><p class=muted>{esc(merge)}</p></section></div></main>")
    return page("hand grading", body)
