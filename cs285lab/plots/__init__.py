"""Plots on top of run logs (live curves, run comparison with reference bands) and episode animations.

    from cs285lab.plots import compare_widget, plot_comparison, load_reference, make_reference

Names load on first use: importing cs285lab.plots does not load matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "CompareWidget": "compare", "compare_widget": "compare", "plot_comparison": "compare",
    "LiveCurves": "live",
    "animate": "episode", "episode_frames": "episode", "render_states": "episode", "show_episode": "episode",
    "ReferenceBand": "reference", "available_references": "reference", "load_reference": "reference",
    "make_reference": "reference",
    "smooth": "smoothing",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'cs285lab.plots' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cs285lab.plots.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
