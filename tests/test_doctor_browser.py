"""Real browser: in JupyterLab, the curve doctor's reading appears under a run's plot when the curve ends below its
reference band (#26).

A cell replays a recorded failing run (notebook 03's Polyak bug, from the labelled corpus tests/fixtures/doctor)
through `RunLogger(..., live=..., reference="nb03-sac-pendulum")`, as a training loop logs it; the test sees the
live figure and, below it, the doctor's lines naming the family. A second cell replays a healthy run: no doctor line.

Starts `python -m jupyter lab` on 127.0.0.1 (random port and token) with every config, data and runtime dir inside a
temp dir, as tests/test_browser.py does. Needs Debian's `chromium` (Python Playwright drives it); without it the test
skips, except under CI (CI=true), where it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from browser_support import CHROMIUM_ARGS, JUPYTER_LAB

from benchmarks import doctor_corpus as corpus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPLAY = """\
import json
from cs285lab.runs import RunLogger
rows = json.load(open("{name}.json"))
with RunLogger("doctor", run="{name}", seed=0, live=["eval_return"], reference="nb03-sac-pendulum",
               total_steps=rows[-1]["step"], redraw_every=0.05) as logger:
    for row in rows:  # what train_sac logs at each evaluation
        logger.log(row.pop("step"), **row)
"""
WORDS = "doctor: probably a target that never follows the critic"


def _need(condition: bool, what: str) -> None:
    if not condition:
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{what} (CI is set: the browser test must run)")
        pytest.skip(what)


def _isolated_home(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home / "home"), "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "XDG_CACHE_HOME": str(home / "xdg-cache"), "XDG_DATA_HOME": str(home / "xdg-data")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2.0) as response:  # noqa: S310 - localhost only
        return response.status


def _notebook(work: Path) -> None:
    stored = corpus.load_corpus()
    for name, case, seed in (("broken", "silent/polyak", 0), ("healthy", "sac/reference", 1)):
        (work / f"{name}.json").write_text(json.dumps(stored[case]["runs"][str(seed)]["rows"]))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(REPLAY.format(name=name)) for name in ("broken", "healthy")]
    nbformat.write(nb, work / "doctor.ipynb")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server isolated in tmp_path: yields (base url, token, work dir, home dir)."""
    chromium = shutil.which("chromium")
    _need(chromium is not None, "Debian's chromium is not installed: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _need(False, "python playwright is not installed: pip install -e '.[test]'")
    work, home = tmp_path / "work", tmp_path / "jupyter"
    work.mkdir()
    _notebook(work)
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    (config / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"jupyter_lsp": False, "jupyter_server_terminals": False}}}))
    env = {**_isolated_home(home), "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "MPLCONFIGDIR": str(home / "matplotlib"), "JUPYTER_PLATFORM_DIRS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(
        [*JUPYTER_LAB, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         f"--ServerApp.config_file={config / 'jupyter_server_config.json'}", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}",
         "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 40
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited ({server.returncode}):\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
            try:
                if _status(f"{base}/api/status?token={token}") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start in 40 s:\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield chromium, base, token, work, home
    finally:
        try:  # through the API first: that also stops its kernels
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - localhost only
            server.wait(timeout=15)
        except Exception:  # noqa: BLE001 - fall back to signals
            pass
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


def test_the_doctor_reads_a_failing_run_under_its_plot_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    chromium, base, token, work, home = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
                                    env=_isolated_home(home))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"{base}/lab/tree/doctor.ipynb?token={token}", timeout=45_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=45_000)
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_function(  # both cells ran: each prompt shows its execution count
                "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')]"
                ".every(p => /\\[\\d+\\]/.test(p.innerText))", timeout=60_000)
            broken, healthy = (page.locator(".jp-Notebook .jp-Cell").nth(i) for i in (0, 1))

            text = broken.locator(".jp-OutputArea-output", has_text=WORDS)
            text.wait_for(timeout=10_000)
            assert text.is_visible()
            shown = text.inner_text()
            assert "target_drift = " in shown and "doctor.txt" in shown, shown
            plot = broken.locator(".jp-OutputArea-output img").first
            assert plot.is_visible(), "no live plot in the failing run's cell"
            assert text.bounding_box()["y"] >= plot.bounding_box()["y"] + plot.bounding_box()["height"] - 1, \
                "the doctor's lines are not under the plot"
            assert "Traceback" not in broken.inner_text()

            assert healthy.locator(".jp-OutputArea-output img").count() >= 1
            assert "doctor:" not in healthy.inner_text(), "the doctor spoke under a curve inside its band"
        finally:
            browser.close()
    written = list((work / "runs" / "doctor").rglob("doctor.txt"))  # the full reading, beside the failing run's log
    assert len(written) == 1 and "broken" in str(written[0]) and "never follows the critic" in written[0].read_text()
