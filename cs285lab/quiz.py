"""A small multiple-choice quiz widget: pick the options you think apply, get an explanation per choice.

    quiz = Quiz("Which steps are wrong?", {1: "take a ~ pi(a|s) ...", 2: "..."},
                correct={3, 5}, explanations={1: "...", 2: "...", ...})
    quiz            # the last expression of a cell: shows check boxes and a "Check my answer" button

`quiz.feedback(selection)` returns the same text without widgets (used by tests and in plain Python).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cs285lab.plots.static_copy import StaticCopy


@dataclass
class Quiz:
    """Multiple answers allowed; feedback names, for every option, whether it is right and why."""

    question: str
    options: Mapping[Hashable, str]
    correct: Collection[Hashable]
    explanations: Mapping[Hashable, str] = field(default_factory=dict)
    either: Collection[Hashable] = ()  # options that count as right whether picked or not

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("Quiz needs at least one option")
        unknown = (set(self.correct) | set(self.either) | set(self.explanations)) - set(self.options)
        if unknown:
            raise ValueError(f"Quiz: {sorted(map(str, unknown))} are not among the options")
        self._widget: Any = None
        # shown where the widget cannot render (a reopened notebook): the question, then the last feedback
        self._copy = StaticCopy("a saved copy: run the cell again to answer")

    def score(self, selection: Collection[Hashable]) -> tuple[int, int]:
        """(number of options judged right, number of options) for a selection."""
        chosen = set(selection)
        right = sum(1 for key in self.options
                    if key in self.either or (key in chosen) == (key in set(self.correct)))
        return right, len(self.options)

    def feedback(self, selection: Collection[Hashable]) -> str:
        """Plain-text feedback: one line per option (picked or not, right or not, and why)."""
        chosen, correct = set(selection), set(self.correct)
        unknown = chosen - set(self.options)
        if unknown:
            raise ValueError(f"not an option: {sorted(map(str, unknown))}")
        lines = []
        for key, text in self.options.items():
            picked = key in chosen
            if key in self.either:
                verdict = "either answer is fine"
            elif picked == (key in correct):
                verdict = "right" + (": this step is wrong" if picked else ": this step is fine")
            else:
                verdict = "not quite" + (": this step is fine" if picked else ": you missed this one, it is wrong")
            mark = "[x]" if picked else "[ ]"
            why = self.explanations.get(key, "")
            lines.append(f"{mark} {key}. {text}\n      {verdict}. {why}".rstrip())
        right, total = self.score(chosen)
        return f"{right} of {total} judged right.\n\n" + "\n".join(lines)

    def widget(self) -> Any:
        """The ipywidgets form (built once)."""
        if self._widget is None:
            import ipywidgets as w

            boxes = {key: w.Checkbox(value=False, description=f"{key}. {text}", indent=False,
                                     layout=w.Layout(width="auto")) for key, text in self.options.items()}
            button = w.Button(description="Check my answer", button_style="primary")
            out = w.Output()

            def on_click(_: Any) -> None:
                text = self.feedback([key for key, box in boxes.items() if box.value])
                out.clear_output()
                with out:
                    print(text)
                self._copy.update(self._copy_html(text), self._text())

            button.on_click(on_click)
            self._widget = w.VBox([w.HTML(f"<b>{_escape(self.question)}</b>"), *boxes.values(), button, out])
        return self._widget

    def _text(self) -> str:
        return f"Quiz({self.question!r}, {len(self.options)} options)"

    def _copy_html(self, feedback: str | None = None) -> str:
        """The quiz as static HTML: the question and its options, or the feedback to the last answer checked."""
        shown = feedback if feedback is not None else "\n".join(f"[ ] {k}. {t}" for k, t in self.options.items())
        return f"<b>{_escape(self.question)}</b><pre style='white-space:pre-wrap'>{_escape(shown)}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget()._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self._text()
        return bundle

    def _ipython_display_(self) -> None:
        # the widget, then its static copy (cs285lab.plots.static_copy): a saved notebook shows the quiz as text
        self._copy.show(self._repr_mimebundle_(), self._copy_html(), self._text())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
