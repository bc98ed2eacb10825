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
    A nested table (e.g. [full.mbpo] / [ci.mbpo]) holds overrides of a config's fields: [ci.mbpo]
    goes on top of [full.mbpo] and may name fields [full.mbpo] leaves at the config's default.
    [full.thresholds] / [ci.thresholds] are the checks' pass thresholds (see `thresholds`).
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
    values = _overlay(tables["full"], tables.get("ci", {}) if name == "ci" else {}, f"budgets/{notebook}.toml")
    if name != "ci":
        _overlay(tables["full"], tables.get("ci", {}), f"budgets/{notebook}.toml")  # same shape check either way
    return SimpleNamespace(profile=name, **values)


def thresholds(notebook: str, profile_name: str | None = None) -> dict:
    """The pass thresholds of `notebook`'s checks at the active profile: its budget's [full.thresholds] table
    with [ci.thresholds] on top. Checks read their thresholds here, never from an argument or a constant."""
    table = getattr(budget(notebook, profile_name), "thresholds", None)
    if not isinstance(table, dict):
        raise KeyError(f"budgets/{notebook}.toml has no [full.thresholds] table")
    return dict(table)


def _overlay(full: dict, ci: dict, where: str, path: str = "") -> dict:
    """`full` with `ci`'s values on top, table by table; a ci key that [full] lacks is an error (same shape)."""
    unknown = sorted(set(ci) - set(full))
    # Other nested tables hold config overrides: ci may change a field that full leaves at its default.
    if unknown and path in ("", ".thresholds"):
        raise ValueError(f"{where}: [ci{path}] keys {unknown} are missing from [full{path}]")
    merged = dict(full)
    for key, value in ci.items():
        base = full.get(key, {} if isinstance(value, dict) else None)
        if key in full and isinstance(base, dict) != isinstance(value, dict):
            raise ValueError(f"{where}: {key!r} is a table in one profile and a value in the other")
        merged[key] = _overlay(base, value, where, f"{path}.{key}") if isinstance(value, dict) else value
    return merged
