"""Check cells: one module per notebook (nb00.py, nb01.py, ...), loaded fresh by `load`.

A check cell reads:

    from cs285lab.checks import load
    load("nb00").td_target(td_target)

`load` executes the module's file anew each time, so a student cell that monkeypatches
`cs285lab.checks.nb00` (or puts a fake in sys.modules) does not change what a check cell runs.
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

from cs285lab.checks.core import CheckFailed, Exercise, exercise

_HERE = Path(__file__).resolve().parent

__all__ = ["CheckFailed", "Exercise", "exercise", "load"]


def load(notebook: str) -> types.ModuleType:
    """Return a freshly executed copy of the check module for `notebook` (e.g. "nb00")."""
    if not notebook.isidentifier() or notebook.startswith("_"):
        raise ValueError(f"not a check module name: {notebook!r}")
    path = _HERE / f"{notebook}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no checks for {notebook!r} (looked for {path.name} in cs285lab/checks)")
    spec = importlib.util.spec_from_file_location(f"cs285lab.checks._fresh_{notebook}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
