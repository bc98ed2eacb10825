"""Each number stated once: find the lines of a budget file that state a number it already states elsewhere.

A budget file states a number twice when

- a line of a config table (or of [shared]) sets the value the config would have without it (the class's
  default, the [shared] value, or, in [ci], the [full] value): remove the line and nothing changes;
- a [ci] key (or threshold) repeats its [full] value;
- a plain key is a name LEGACY_KEYS derives from the tables (saved notebooks read it; it must not be
  stated again);
- a plain key holds, at every profile, the value of a config field (or threshold) whose name shares a
  word with it, e.g. `sync_steps = 12000` beside [full.sync] `total_steps = 12000`, or
  `learning_starts = 500`, SACConfig's default: the notebook should read the config.

tests/test_config.py runs `repeated_numbers` on every budget (and on made-up files, so the test can fail).
"""

from __future__ import annotations

import copy
from dataclasses import fields, is_dataclass
from typing import Any

from cs285lab.budgets import LEGACY_KEYS, PROFILES, SPECIAL_TABLES, budget, budget_file

__all__ = ["repeated_numbers"]


def repeated_numbers(notebook: str, tables: dict[str, Any] | None = None) -> list[str]:
    """One line per number `notebook`'s budget file states twice (empty: each number once); `tables` stands in
    for the file's contents."""
    tables = budget_file(notebook) if tables is None else tables
    built = {p: budget(notebook, p, tables) for p in PROFILES}
    found = [f"[{where}] {key} = {value!r}: removing it changes nothing (the value it gets anyway)"
             for where, key, value in _config_lines(tables) if _redundant(notebook, tables, where, key, built)]
    for key, value in tables.get("ci", {}).items():
        full = tables["full"].get(key)
        if key == "thresholds" and isinstance(value, dict):
            found += [f"[ci.thresholds] {k} = {v!r} repeats [full.thresholds]" for k, v in value.items()
                      if _same(v, (full or {}).get(k))]
        elif not isinstance(value, dict) and _same(value, full):
            found.append(f"[ci] {key} = {value!r} repeats [full]")
    for key in tables["full"]:
        if isinstance(tables["full"][key], dict):
            continue
        if key in LEGACY_KEYS.get(notebook, {}):
            found.append(f"[full] {key}: derived from {LEGACY_KEYS[notebook][key]} for saved notebooks; do not state it")
            continue
        twins = set.intersection(*(set(_same_numbers(key, built[p])) for p in PROFILES))
        found += [f"[full] {key} = {tables['full'][key]!r} restates {twin} (read that instead)" for twin in sorted(twins)]
    return found


def _config_lines(tables: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(table path, key, value) of every line inside a config table or [shared], both profiles."""
    lines = []
    for profile in PROFILES:
        for name, table in tables.get(profile, {}).items():
            if isinstance(table, dict) and name != "thresholds":
                lines += [(f"{profile}.{name}", key, value) for key, value in table.items() if key != "config"]
    return lines


def _redundant(notebook: str, tables: dict[str, Any], where: str, key: str, built: dict[str, Any]) -> bool:
    """Whether the budget is the same at every profile without this line."""
    profile, name = where.split(".")
    trimmed = copy.deepcopy(tables)
    del trimmed[profile][name][key]
    try:
        return all(_same(vars(budget(notebook, p, trimmed)), vars(built[p])) for p in PROFILES)
    except (ValueError, TypeError, KeyError):
        return False  # without it the file is not even valid


def _same_numbers(key: str, built: Any) -> list[str]:
    """The config fields and thresholds of a built budget whose value equals plain key `key`'s and whose name
    shares a word with it."""
    value, words = getattr(built, key), set(key.split("_"))
    same = []
    for name, table in vars(built).items():
        if name in SPECIAL_TABLES and name != "thresholds":
            continue
        if is_dataclass(table):
            items = [(f.name, getattr(table, f.name)) for f in fields(table)]
            where = f"{name}.{{}} ({type(table).__name__})"
        elif isinstance(table, dict):
            items, where = list(table.items()), f"{name}.{{}}"
        else:
            continue
        same += [where.format(field) for field, other in items if words & set(field.split("_")) and _same(value, other)]
    for table in {type(t) for t in vars(built).values() if is_dataclass(t)}:  # a default the notebook could read
        default = table()
        same += [f"{table.__name__}'s default {f.name}" for f in fields(default)
                 if words & set(f.name.split("_")) and _same(value, getattr(default, f.name))]
    return same


def _same(a: Any, b: Any) -> bool:
    """Equal as budget values: lists and tuples alike, bools never equal to numbers."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b if not isinstance(a, (int, float)) else (
        isinstance(b, (int, float)) and a == b)
