"""A widget that a saved notebook still shows: the live widget, and a static copy for when it cannot render.

A widget's output in a notebook is a reference to a model that lives in the kernel. Reopen the
notebook the next day (or a TA opens the submission) and that kernel is gone: JupyterLab prints
"Error displaying widget: model not found" where the widget was. So a widget here is displayed as
two outputs: the widget itself, then a static copy (HTML: the last figure, or the quiz's text)
that the widget updates whenever it redraws. A style rule in the copy shows exactly one of them:

- the widget renders (a live kernel): the copy is hidden;
- the widget cannot render (no kernel model behind it): its error line is hidden, the copy shows;
- an untrusted notebook (styles and widgets off): the widget's short text, then the copy.

Outside JupyterLab (nbconvert, nbviewer, the grader's pages) the copy is plain HTML and shows.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["COPY_CLASS", "StaticCopy", "png_html"]

COPY_CLASS = "cs285lab-static-copy"

# JupyterLab's output area: each output is a .jp-OutputArea-child holding one .jp-OutputArea-output.
# A rendered widget puts .jupyter-widgets elements inside that output; a widget that cannot render
# turns the output itself into a line of text with the class jupyter-widgets (ipywidgets' renderer).
_STYLE = (
    "<style>"
    f".jp-OutputArea-child:has(> .jp-OutputArea-output > .jupyter-widgets)"
    f" + .jp-OutputArea-child:has(.{COPY_CLASS}) {{display: none;}}"
    f".jp-OutputArea-child:has(> .jp-OutputArea-output.jupyter-widgets)"
    f":has(+ .jp-OutputArea-child .{COPY_CLASS}) {{display: none;}}"
    "</style>")


class StaticCopy:
    """Display a widget followed by its static copy; `update` replaces the copy (in every place it was shown)."""

    def __init__(self, note: str) -> None:
        self.note = note          # one line under the copy, e.g. "a saved copy: run the cell for the controls"
        self._handles: list[Any] = []
        self._body, self._text = "", ""

    def show(self, widget_bundle: dict[str, Any], body_html: str, text: str) -> None:
        """Display `widget_bundle` (the widget's mimebundle), then the copy (`body_html`, `text` for plain text)."""
        from IPython.display import display

        self._body, self._text = body_html, text
        display(widget_bundle, raw=True)
        self._handles.append(display(self._bundle(), raw=True, display_id=True))

    def update(self, body_html: str, text: str) -> None:
        """Replace the copy with the widget's new state."""
        self._body, self._text = body_html, text
        for handle in self._handles:
            handle.update(self._bundle(), raw=True)

    def _bundle(self) -> dict[str, str]:
        note = f'<div style="font-size:11px;color:#666">{html.escape(self.note)}</div>' if self.note else ""
        return {"text/html": f'{_STYLE}<div class="{COPY_CLASS}">{self._body}{note}</div>',
                "text/plain": self._text}


def png_html(png: bytes, max_width: str) -> str:
    """An <img> of PNG bytes, embedded, at most `max_width` wide (e.g. "960px")."""
    import base64

    data = base64.b64encode(bytes(png)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:{max_width};width:100%" alt="figure">'
