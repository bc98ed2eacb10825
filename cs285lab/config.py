"""Training budgets: one table per notebook, two profiles (full for students, ci for tests)."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import resources
from types import SimpleNamespace

PROFILES = ("full", "ci")
PROFILE_VAR = "CS285LAB_PROFILE"


def profile() -> str:
    """Return the active budget profile: `full` (default) or `ci` (set CS285LAB_PROFILE=ci)."""
    raw = os.environ.get(PROFILE_VAR)
    if raw is None:
        return "full"
    name = raw.strip().lower()
    if not name:  # e.g. `CS285LAB_PROFILE= make ...`: say so rather than silently run the long budget
        raise ValueError(f"{PROFILE_VAR} is set but empty; unset it for the full budget or set it to one of {PROFILES}")
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_VAR}={name!r} is not a known profile; use one of {PROFILES}")
    return name


def budget(notebook: str, profile_name: str | None = None) -> SimpleNamespace:
    """Return the training budget of `notebook` (e.g. "nb01") for the active profile.

    Budgets live in cs285lab/budgets/<notebook>.toml with a [full] and a [ci] table;
    keys missing from [ci] fall back to [full], so the two cannot silently diverge in shape.
    """
    name = profile() if profile_name is None else profile_name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {PROFILES}")
    if not isinstance(notebook, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", notebook):
        raise ValueError(f"budget: notebook must be a plain name such as 'nb01', got {notebook!r}")
    source = resources.files("cs285lab") / "budgets" / f"{notebook}.toml"
    if not source.is_file():
        known = sorted(p.name.removesuffix(".toml") for p in (resources.files("cs285lab") / "budgets").iterdir()
                       if p.name.endswith(".toml"))
        raise KeyError(f"no budget for {notebook!r}; known: {', '.join(known)}")
    tables = tomllib.loads(source.read_text())
    if "full" not in tables:
        raise ValueError(f"budgets/{notebook}.toml has no [full] table")
    unknown = set(tables.get("ci", {})) - set(tables["full"])
    if unknown:
        raise ValueError(f"budgets/{notebook}.toml: [ci] keys {sorted(unknown)} are missing from [full]")
    values = dict(tables["full"])
    if name == "ci":
        values.update(tables.get("ci", {}))
    return SimpleNamespace(profile=name, **values)
