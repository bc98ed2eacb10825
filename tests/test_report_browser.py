"""report.html and a hand-grading page in headless Chromium: they render offline, every figure loads, no console errors.

Needs Debian's `chromium` (driven by Python Playwright). Without it the test skips, except under
CI (CI=true), where a missing browser is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser_support import launched

from test_classreport import _synthetic
from cs285lab.grading.classreport import write_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium() -> str:
    path = shutil.which("chromium")
    missing = "Debian's chromium is not installed" if path is None else ""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "python playwright is not installed: pip install -e '.[test]'"
    if missing:
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{missing} (CI is set: the browser test must run)")
        pytest.skip(missing)
    return path


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's tests (each opens its pages in a context of its own)."""
    with launched(_chromium()) as browser:
        yield browser


@pytest.fixture
def page(browser):
    """A page in a fresh context (no cookies, storage or cache from another test)."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def _open(page, path: Path) -> dict:
    """Load `path` from file:// with the network blocked; return what the page showed and logged."""
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({complete: e.complete, width: e.naturalWidth, height: e.naturalHeight}))")
    text = page.inner_text("body")
    shot = page.screenshot(full_page=True)
    return {"errors": errors, "images": images, "text": text, "requests": requests, "screenshot": shot}


def test_report_renders_offline_with_its_figures(tmp_path, page):
    path = write_report(tmp_path, _synthetic())
    seen = _open(page, path)
    assert not seen["errors"], seen["errors"]
    assert seen["images"] and all(i["complete"] and i["width"] > 100 and i["height"] > 100 for i in seen["images"])
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), "the page must work offline"
    assert "your target used the action stored in the buffer" in seen["text"]
    assert "Mistakes, most common first" in seen["text"] and "Slowest cells" in seen["text"]
    (tmp_path / "report.png").write_bytes(seen["screenshot"])


PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu7N9hAAAAAElFTkSuQmCC")


def _graded_copy(tmp_path_factory, where: Path) -> Path:
    import tinyclass

    return tinyclass.copy_of(tinyclass.graded(tmp_path_factory), where)


def _with_outputs(notebook: Path, cell: str, text: str) -> None:
    """Give one code cell saved outputs (what the student saw), as Jupyter would store them."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    target = next(c for c in nb.cells if (c.metadata.get("cs285lab") or {}).get("id") == cell)
    target.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text),
                      nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    nbformat.write(nb, notebook)


def test_hand_grading_three_students_in_the_browser_fills_the_gradebook(tmp_path_factory, tmp_path, page):
    import csv

    import tinyclass
    from cs285lab.grading import cli
    from cs285lab.grading.handgrade import HandGrading, serve

    root = _graded_copy(tmp_path_factory, tmp_path / "class")
    _with_outputs(root / "class" / "alice" / tinyclass.NOTEBOOK, "nb04-epsilon-greedy", "alice's run: 42 steps\n")
    regrade = [str(root / "class"), "--out", str(root / "out"), "--solutions", str(root / "solutions"),
               "--layout", "class", "--sandbox", "auto"]
    assert cli.main(regrade) == 0, "saved outputs change no grade: nothing re-runs, the tables now name this copy"
    server, address = serve(HandGrading(root / "out", root / "solutions"))
    typed = {"alice": ("2", "names both reasons"), "bob": ("0.5", "vague"), "dave": ("0", "no reason given")}
    seen, errors = [], []
    try:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(address)
        page.click(f"text={tinyclass.NOTEBOOK}")
        for _ in range(3):
            student = page.inner_text("#position")
            seen.append(student)
            assert page.inner_text("#answer").strip() == tinyclass.CLASS[student][2]
            if student == "alice":  # her own outputs of the cells the question is about
                assert "alice's run: 42 steps" in page.inner_text("body")
                assert page.eval_on_selector(".out img", "e => e.complete && e.naturalWidth") == 8
            assert "names the all-zero start" in page.inner_text("body"), "the rubric"
            assert "argmax always picks the first action" in page.inner_text("body"), "the reference answer"
            page.fill("#points", typed[student][0])
            page.fill("#comment", typed[student][1])
            page.click("#save-next")
        assert page.inner_text("#pending") == "0"
        page.fill("#points", "5")  # more than the question's 2 points: the form refuses to send it
        assert page.eval_on_selector("#points", "e => e.validity.rangeOverflow")
    finally:
        server.shutdown()
    assert seen == ["alice", "bob", "dave"], "the queue walks the answers that need grading, carol's is blank"
    assert not errors, errors
    assert cli.main(regrade) == 0, "merging the scores re-runs no notebook"
    with open(root / "out" / "gradebook.csv", newline="", encoding="utf-8") as handle:
        book = {r["student"]: r for r in csv.DictReader(handle)}
    for student, (points, comment) in typed.items():
        assert book[student]["written"] == points and book[student]["comments"] == f"{tinyclass.QUESTION}: {comment}"
        assert book[student]["status"] == "complete"
    assert book["alice"]["total"] == "6"


def test_blind_hand_grading_shows_no_names(tmp_path_factory, tmp_path, page):
    import re

    import tinyclass
    from cs285lab.grading.handgrade import HandGrading, serve

    root = _graded_copy(tmp_path_factory, tmp_path / "class")
    server, address = serve(HandGrading(root / "out", root / "solutions", blind=True))
    shown = []
    try:
        page.goto(address)
        shown.append((page.url, page.title(), page.content()))
        page.click(f"text={tinyclass.NOTEBOOK}")
        while True:
            shown.append((page.url, page.title(), page.content()))
            assert re.fullmatch(r"Answer \d", page.inner_text("#position"))
            if not page.query_selector("a[rel=next]"):
                break
            page.click("a[rel=next]")
    finally:
        server.shutdown()
    assert len(shown) == 4, "the question list and three answers"
    for student in tinyclass.CLASS:
        for url, title, html in shown:
            assert not re.search(rf"\b{student}\b", f"{url} {title} {html}", re.IGNORECASE), (student, url)


def test_report_roster_links_open_each_students_feedback(tmp_path_factory, page):
    import tinyclass

    out = tinyclass.graded(tmp_path_factory) / "out"
    page.goto((out / "report.html").as_uri())
    links = page.eval_on_selector_all("table.roster a", "els => els.map(e => e.textContent)")
    assert links == sorted(tinyclass.CLASS)
    for student in links:
        page.goto((out / "report.html").as_uri())
        page.click(f"table.roster a:text-is('{student}')")
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/feedback/{student}.html")
        assert page.inner_text("h1") == f"Feedback for {student}"
        assert "A tiny course notebook" in page.inner_text("body"), "exercises named as the notebook names them"
    page.screenshot(path=str(out.parent / "feedback.png"), full_page=True)
