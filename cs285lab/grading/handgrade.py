"""`cs285lab hand-grade DIR`: grade written answers in the browser, one question at a time across students.

A small local web server (127.0.0.1, a random token in every address, no database): for each
answer it shows the question, the answer rendered (Markdown, LaTeX), that student's own outputs of
the cells the question refers to, the rubric and the reference answer, and a score and comment
form; next/previous, a "needs grading" queue, and `--blind` (no names anywhere on the page).
Saving writes the same sheets (DIR/manual/*.csv) that `cs285lab grade` merges: the files stay the
source of truth. Re-run the grade command (cached: no notebook runs again) to merge the scores into
grades.csv, the feedback pages and the gradebook.
"""

from __future__ import annotations

import argparse
import csv
import json
import secrets
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cs285lab.grading.course import Question, SubmissionError, load_references, read_submission
from cs285lab.grading.handpages import CSP, Entry, grading_page, index_page
from cs285lab.grading.manual import _uncell, answer_id, read_sheets, save_score, student_answer
from cs285lab.grading.tables import Tables
from cs285lab.notebook_format import AuthoringError


class HandGrading:
    """The answers of every written question of a graded folder, read from its files on every request."""

    def __init__(self, out: Path, solutions: Path, blind: bool = False) -> None:
        self.out, self.blind = out, blind
        refs = load_references(solutions)
        self.questions = {q.stem: q for ref in refs.values() for q in ref.questions}
        self.lock = threading.Lock()
        self._notebooks: dict[Path, tuple[float, object]] = {}
        record = out / "run.json"
        command = json.loads(record.read_text()).get("command") if record.is_file() else None
        self.merge = ("then run " + (" ".join(command) if command else "the same cs285lab grade command") +
                      " again to merge them into the tables, feedback and gradebook (nothing is re-run)")

    def _notebook(self, path: Path):
        """The submitted notebook with its outputs (cached while the file is unchanged)."""
        stamp = path.stat().st_mtime
        cached = self._notebooks.get(path)
        if cached is None or cached[0] != stamp:
            if len(self._notebooks) > 32:
                self._notebooks.clear()
            self._notebooks[path] = cached = (stamp, read_submission(path, keep_outputs=True))
        return cached[1]

    def entries(self, question: Question) -> list[Entry]:
        """Every non-blank answer to `question`, in name order (blind: in answer-id order, labelled Answer k)."""
        sheets = read_sheets(self.out / "manual", question)
        latest: dict[str, str] = {}  # submission -> the answer the last sheet listing it holds
        for path in sheets.paths:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                for row in csv.DictReader(handle):
                    latest[_uncell(row.get("submission") or "")] = _uncell(row.get("answer") or "")
        tables = Tables.read(self.out)
        found: list[Entry] = []
        for row in tables.grades:
            if row["notebook"] != question.notebook or row["exercise"] != question.id:
                continue
            if row["status"] not in ("graded", "pending", "overridden"):
                continue  # blank, missing or unreadable: nothing to grade
            student, nb, problem = row["submission"], None, ""
            text = latest.get(student, "")
            path = Path(row["path"]) if row.get("path") else None
            if path is not None and path.is_file():
                try:
                    nb = self._notebook(path)
                    text = student_answer(nb, question) or text
                except (SubmissionError, OSError) as exc:
                    problem = f"The notebook could not be read ({exc})."
            else:
                problem = "The submitted notebook is no longer where it was graded; its outputs cannot be shown."
            if not text:
                continue
            score = sheets.scores.get((student, answer_id(text)))
            points = score.points if score is not None and not score.error else None
            found.append(Entry(student, student, text, answer_id(text), points, score.comment if score else "",
                               nb, problem))
        if self.blind:
            found.sort(key=lambda e: e.answer_id)
            for number, entry in enumerate(found, start=1):
                entry.label = f"Answer {number}"
        else:
            found.sort(key=lambda e: e.student)
        return found

    def save(self, question: Question, entry: Entry, points: float | None, comment: str) -> Path:
        """Write one score into the sheets (one save at a time)."""
        with self.lock:
            return save_score(self.out / "manual", question, entry.student, entry.text, points, comment)


class Handler(BaseHTTPRequestHandler):
    """Routes: / (questions), /q/<stem>/<k> (one answer; POST saves), /q/<stem>/next-pending?after=k."""

    desk: HandGrading
    token: str

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # the terminal shows the address once, not every request

    def _send(self, status: HTTPStatus, body: str = "", location: str = "") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP + "; frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[list[str], dict[str, list[str]]] | None:
        parts = urlsplit(self.path)
        pieces = [unquote(p) for p in parts.path.split("/") if p]
        if not pieces or not secrets.compare_digest(pieces[0], self.token):
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return None
        return pieces[1:], parse_qs(parts.query)

    @property
    def base(self) -> str:
        """The address prefix of every page."""
        return f"/{self.token}"

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        """Show the question list or one answer."""
        routed = self._route()
        if routed is None:
            return
        pieces, query = routed
        desk = self.desk
        if not pieces:
            rows = []
            for question in desk.questions.values():
                entries = desk.entries(question)
                rows.append((question, len(entries), sum(e.points is None for e in entries)))
            self._send(HTTPStatus.OK, index_page(rows, self.base, desk.blind, desk.merge))
            return
        if len(pieces) != 3 or pieces[0] != "q" or pieces[1] not in desk.questions:
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return
        question = desk.questions[pieces[1]]
        entries = desk.entries(question)
        if pieces[2] == "next-pending":
            given = (query.get("after") or ["-1"])[0]
            after = int(given) if given.lstrip("-").isdigit() else -1
            order = list(range(after + 1, len(entries))) + list(range(0, after + 1))
            target = next((i for i in order if entries[i].points is None), max(0, min(after, len(entries) - 1)))
            self._send(HTTPStatus.SEE_OTHER, location=f"{self.base}/q/{pieces[1]}/{target}")
            return
        if not entries or not pieces[2].isdigit() or int(pieces[2]) >= len(entries):
            self._send(HTTPStatus.NOT_FOUND, "no such answer")
            return
        message = "saved" if "saved" in query else ""
        self._send(HTTPStatus.OK, grading_page(question, entries, int(pieces[2]), self.base, desk.blind, message,
                                               merge=desk.merge))

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        """Save a score, then show the same answer or the next one needing grading."""
        routed = self._route()
        if routed is None:
            return
        pieces, _ = routed
        desk = self.desk
        if len(pieces) != 3 or pieces[0] != "q" or pieces[1] not in desk.questions or not pieces[2].isdigit():
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return
        length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
        form = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"), keep_blank_values=True)
        question, k = desk.questions[pieces[1]], int(pieces[2])
        entries = desk.entries(question)
        if k >= len(entries) or (form.get("answer_id") or [""])[0] != entries[k].answer_id:
            self._send(HTTPStatus.CONFLICT, "the answers changed since this page was shown; go back and reload it")
            return
        text = (form.get("points") or [""])[0].strip()
        comment = (form.get("comment") or [""])[0]
        try:
            points = float(text) if text else None
            desk.save(question, entries[k], points, comment)
        except ValueError as exc:
            self._send(HTTPStatus.BAD_REQUEST, grading_page(question, entries, k, self.base, desk.blind,
                                                            error=f"not saved: {exc} (got {text!r})", merge=desk.merge))
            return
        then = (form.get("then") or ["stay"])[0]
        where = (f"{self.base}/q/{pieces[1]}/next-pending?after={k}" if then == "next-pending"
                 else f"{self.base}/q/{pieces[1]}/{k}?saved=1")
        self._send(HTTPStatus.SEE_OTHER, location=where)


def serve(desk: HandGrading, port: int = 0, token: str | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Start serving `desk` on 127.0.0.1 in a thread; return the server and the page's address."""
    handler = type("BoundHandler", (Handler,), {"desk": desk, "token": token or secrets.token_urlsafe(16)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/{handler.token}/"


def main(argv: list[str]) -> int:
    """`cs285lab hand-grade DIR [--blind] [--port N] [--solutions DIR]`."""
    p = argparse.ArgumentParser(prog="cs285lab hand-grade", description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, metavar="DIR", help="the folder `cs285lab grade --out DIR` wrote")
    p.add_argument("--solutions", type=Path, metavar="DIR",
                   help="the reference notebooks (default: those the grading run used, else solutions/)")
    p.add_argument("--blind", action="store_true", help="show no student names (answers are numbered instead)")
    p.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: any free one)")
    args = p.parse_args(argv)
    if not (args.out / "grades.csv").is_file():
        print(f"error: {args.out}/grades.csv not found: grade the class first (cs285lab grade ... --out {args.out})",
              file=sys.stderr)
        return 2
    solutions = args.solutions
    if solutions is None:
        record = args.out / "run.json"
        recorded = json.loads(record.read_text()).get("solutions") if record.is_file() else None
        solutions = Path(recorded) if recorded else Path("solutions")
    try:
        desk = HandGrading(args.out, solutions, args.blind)
    except AuthoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not desk.questions:
        print(f"error: the notebooks in {solutions} have no written questions", file=sys.stderr)
        return 2
    server, address = serve(desk, args.port)
    print(f"hand grading{' (blind)' if args.blind else ''}: open {address}\n(Ctrl-C to stop; scores are saved "
          f"to {args.out}/manual/ as you go; {desk.merge})", file=sys.stderr)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0
