"""cs285lab: the plumbing behind the deep RL course notebooks."""

from __future__ import annotations

from typing import Any

from cs285lab.budgets import budget, profile

__version__ = "0.1.0"
__all__ = ["budget", "profile", "seed_everything", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `cs285lab make-student` and `cs285lab grade` never need torch.
    if name == "seed_everything":
        from cs285lab.seeding import seed_everything

        return seed_everything
    raise AttributeError(f"module 'cs285lab' has no attribute {name!r}")
