"""What the browser tests share: Chromium's flags and a launched headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from cs285lab.grading.run import SKIP_SLOW_IMPORTS

# `jupyter lab`: the same LabApp, started without jsonschema's rfc3987 grammars, as the grader starts its processes
# (~1.3 s of every process that imports nbformat, for a format check JupyterLab never uses)
JUPYTER_LAB = [sys.executable, "-c", SKIP_SLOW_IMPORTS + "from jupyterlab.labapp import main\nsys.exit(main())"]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def launched(executable: str, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A headless Chromium (a Playwright Browser) from `executable`, with `env` if given; closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                                    **({"env": env} if env is not None else {}))
        try:
            yield browser
        finally:
            browser.close()
