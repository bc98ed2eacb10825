"""`python -m cs285lab.references ...` (see cs285lab.references.cli)."""

from cs285lab.references.cli import run

raise SystemExit(run())
