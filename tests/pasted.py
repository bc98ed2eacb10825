"""A package answer as a student would paste it into a cell: the same code, but the student's own code object.

The checks refuse the package's own answers however they are reached (cs285lab.checks.core.own_code); tests that
need a correct *student* answer use this copy of the package's code instead.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any


def as_written_by_a_student(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`'s source (decorators dropped), compiled as a cell in its module's namespace."""
    source = "\n".join(line for line in textwrap.dedent(inspect.getsource(fn)).splitlines() if not line.startswith("@"))
    namespace = dict(vars(sys.modules[fn.__module__]))
    exec(compile(source, "<student cell>", "exec"), namespace)  # noqa: S102
    return namespace[fn.__name__]
