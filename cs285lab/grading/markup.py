"""Markdown and LaTeX as the hand-grading page shows them: rendered, offline, and safe for untrusted text.

Markdown goes through mistune with raw HTML escaped and harmful links dropped; `$...$` and `$$...$$`
become MathML (latex2mathml), which browsers draw without any script or font download. latex2mathml
copies text such as `\\text{<img ...>}` into its output as is, so its MathML is rebuilt from an
allow-list of MathML elements and attributes, every text escaped.
"""

from __future__ import annotations

import html
from functools import lru_cache
from html.parser import HTMLParser

MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
               "msqrt", "mroot", "mstyle", "merror", "mpadded", "mphantom", "mfenced", "menclose", "munder", "mover",
               "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd", "mlabeledtr",
               "semantics", "annotation"}
MATHML_ATTRIBUTES = {"xmlns", "display", "mathvariant", "mathsize", "stretchy", "fence", "separator", "lspace",
                     "rspace", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines",
                     "frame", "framespacing", "displaystyle", "scriptlevel", "linethickness", "accent", "accentunder",
                     "movablelimits", "largeop", "symmetric", "minsize", "maxsize", "width", "height", "depth",
                     "notation", "open", "close", "separators", "align", "bevelled", "form", "encoding"}


class _MathMLCleaner(HTMLParser):
    """Re-emit MathML keeping only allowed elements and attributes; all text escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MATHML_TAGS:
            return
        kept = "".join(f' {name}="{html.escape(value or "", quote=True)}"' for name, value in attrs
                       if name in MATHML_ATTRIBUTES and "javascript" not in (value or "").lower())
        self.out.append(f"<{tag}{kept}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                top = self.open.pop()
                self.out.append(f"</{top}>")
                if top == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data))

    def result(self) -> str:
        """The cleaned markup, every element closed."""
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def clean_mathml(markup: str) -> str:
    """`markup` with anything but MathML (tags, attributes, event handlers, links) removed."""
    cleaner = _MathMLCleaner()
    cleaner.feed(markup)
    cleaner.close()
    return cleaner.result()


def latex(tex: str, display: bool = False) -> str:
    """LaTeX as MathML, or the LaTeX itself (escaped, in a code span) when it does not convert."""
    from latex2mathml.converter import convert

    try:
        return clean_mathml(convert(tex, display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - a student's broken LaTeX is shown as written, never an error page
        return f'<code class="tex">{html.escape(tex)}</code>'


@lru_cache(maxsize=1)
def _markdown():
    import mistune

    md = mistune.create_markdown(escape=True, plugins=["math", "strikethrough", "table"])
    md.renderer.register("inline_math", lambda _renderer, text: latex(text))
    md.renderer.register("block_math", lambda _renderer, text: f'<span class="math-display">{latex(text, True)}</span>')
    return md


def render_markdown(text: str) -> str:
    """Markdown (with LaTeX) as safe HTML: raw HTML in `text` is shown as text, never run."""
    return _markdown()(text)
