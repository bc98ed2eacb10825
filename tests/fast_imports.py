"""An early pytest plugin (pyproject's addopts: -p fast_imports): faster test processes, nothing else.

jsonschema, which nbformat imports, compiles ~40 grammars of the optional rfc3987-syntax package at import (~1.3 s
of every process that reads a notebook: pytest and each xdist worker, through nbval) for its "iri" format check,
which notebook validation never uses. Marking the package absent skips that check only, as the grader and the
cs285lab command do (cs285lab.grading.run.SKIP_SLOW_IMPORTS). It must run before the plugins that import nbformat.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
