"""Training budgets: one file per notebook (`budgets/nbNN.toml`), two profiles (full for students, ci for tests).

A third, `smoke`, is for tests of compatibility only (does a notebook saved from the previous release, or
a student copy, still run against today's package?): the [ci] budget with the file's [smoke] table on top,
runs a few hundred steps long and learning thresholds that accept anything. It measures nothing: claims
are not asserted there (`claims.claim` asserts at `PROFILES` only), learning is judged at ci and full.

    B = cs285lab.budget("nb02")
    B.sync                  # an A2CConfig: the notebook's synchronous run, built from the [full.sync] table
    B.sync_workers          # a plain size: [1, 2, 4, 8, 16]
    thresholds("nb02")      # the checks' pass thresholds

A budget file has a [full] and a [ci] table; keys missing from [ci] fall back to [full], so the two cannot
silently diverge in shape. Inside them:

- plain keys: sizes the notebook uses itself (how many seeds, which worker counts, ...);
- a config table, e.g. [full.sync] with `config = "A2CConfig"`: the fields of one run's config that differ
  from the config class's defaults ([ci.sync] goes on top and may set fields [full.sync] leaves at the
  default). `B.sync` is that config, built once here: the one way a notebook, a check, a reference recipe
  or a benchmark turns a budget into a config. A variant of it is `dataclasses.replace(B.sync, num_envs=n)`;
- [full.shared]: fields every config table of the notebook takes unless it sets them itself (e.g. how each
  run is evaluated);
- [full.thresholds]: the checks' pass thresholds (`thresholds`).

Each number is stated once: a table never repeats the value it would get anyway, and the names that
notebooks saved from the previous release read (`B.check_steps`, `B.sync_steps`, ...) are derived from the
tables through LEGACY_KEYS, not stated again (tests/test_config.py fails on a repeated number).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from importlib import resources
from types import SimpleNamespace
from typing import Any

__all__ = ["CONFIG_KEY", "LEGACY_KEYS", "PROFILES", "PROFILE_VAR", "SMOKE", "SPECIAL_TABLES", "Budget", "budget", "budget_file",
           "config_classes", "profile", "raw_budget", "thresholds"]

PROFILES = ("full", "ci")  # the profiles that measure: claims, references and the budget audit cover these
SMOKE = "smoke"            # runs every cell, measures nothing (tests of compatibility; see above)
PROFILE_VAR = "CS285LAB_PROFILE"
CONFIG_KEY = "config"      # in a config table: the name of the config class it builds
SPECIAL_TABLES = ("shared", "thresholds")

# The budget keys notebooks saved from the previous release read, derived from today's tables (notebook ->
# old name -> "table.field"). Removed in the 2027-spring release (docs/ARCHITECTURE.md).
LEGACY_KEYS: dict[str, dict[str, str]] = {
    "nb01": {"check_envs": "batched.num_envs", "check_n_steps": "batched.n_steps", "check_lr": "batched.lr",
             "check_steps": "batched.total_steps", "check_eval_episodes": "batched.eval_episodes",
             "pixel_envs": "pixels.num_envs", "pixel_n_steps": "pixels.n_steps", "pixel_lr": "pixels.lr",
             "pixel_steps": "pixels.total_steps", "pixel_eval_episodes": "pixels.eval_episodes",
             "online_lr": "online.lr", "online_steps": "online.total_steps"},
    "nb02": {"sync_steps": "sync.total_steps", "sync_eval_every": "sync.eval_every", "eval_episodes": "sync.eval_episodes",
             "async_workers": "async_learner.num_workers", "async_steps": "async_learner.total_steps",
             "async_eval_every": "async_learner.eval_every", "batch_size": "async_learner.batch_size",
             "learned_return": "thresholds.async_learned_return"},
    "nb03": {"ablation_steps": "ablation.total_steps", "review_steps": "review.total_steps",
             "eval_every": "sac.eval_every", "eval_episodes": "sac.eval_episodes",
             "learning_starts": "sac.learning_starts"},
    "nb04": {"dyna_steps": "dyna.total_steps", "dyna_updates_per_step": "dyna.updates_per_step",
             "dyna_learning_starts": "dyna.learning_starts", "dyna_model_train_freq": "dyna.model_train_freq",
             "dyna_model_epochs": "dyna.model_max_epochs"},
    "nb05": {"total_steps": "mbpo.total_steps", "eval_every": "mbpo.eval_every", "eval_episodes": "mbpo.eval_episodes",
             "real_ratio": "mbpo.real_ratio", "model_hidden": "mbpo.model_hidden",
             "model_max_epochs": "mbpo.model_max_epochs"},
}


def profile() -> str:
    """Return the active budget profile: `full` (default), `ci` or `smoke` (set CS285LAB_PROFILE=ci)."""
    raw = os.environ.get(PROFILE_VAR)
    if raw is None:
        return "full"
    name = raw.strip().lower()
    if not name:  # e.g. `CS285LAB_PROFILE= make ...`: say so rather than silently run the long budget
        raise ValueError(f"{PROFILE_VAR} is set but empty; unset it for the full budget or set it to one of {PROFILES}")
    if name not in (*PROFILES, SMOKE):
        raise ValueError(f"{PROFILE_VAR}={name!r} is not a known profile; use one of {(*PROFILES, SMOKE)}")
    return name


def config_classes() -> dict[str, type]:
    """The config classes a budget table can build, by the name its `config` key gives."""
    from cs285lab.algos.actor_critic import A2CConfig, OnlineConfig
    from cs285lab.algos.mbpo import MBPOConfig
    from cs285lab.algos.offpolicy_fixes import AblationConfig
    from cs285lab.algos.parallel import AsyncConfig
    from cs285lab.algos.sac import SACConfig

    return {cls.__name__: cls for cls in (A2CConfig, OnlineConfig, AsyncConfig, SACConfig, AblationConfig, MBPOConfig)}


class Budget(SimpleNamespace):
    """A notebook's budget at one profile: plain sizes, built configs, thresholds (and the older names, derived)."""

    def __getattr__(self, name: str) -> Any:
        # only names that are not keys of the budget get here: the older names saved notebooks read
        path = LEGACY_KEYS.get(self.__dict__.get("notebook", ""), {}).get(name)
        if path is None:
            keys = ", ".join(k for k in self.__dict__ if k != "notebook")
            raise AttributeError(f"budget {self.__dict__.get('notebook')!r} has no {name!r}; its keys are {keys}")
        table, field = path.split(".")
        value = getattr(self, table)
        return value[field] if isinstance(value, Mapping) else getattr(value, field)


def budget_file(notebook: str) -> dict[str, Any]:
    """The parsed budget file of `notebook` (cs285lab/budgets/<notebook>.toml): its [full] and [ci] tables."""
    if not isinstance(notebook, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", notebook):
        raise ValueError(f"budget: notebook must be a plain name such as 'nb01', got {notebook!r}")
    folder = resources.files("cs285lab") / "budgets"
    source = folder / f"{notebook}.toml"
    if not source.is_file():
        known = sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
        raise KeyError(f"no budget for {notebook!r}; known: {', '.join(known)}")
    tables = tomllib.loads(source.read_text())
    if "full" not in tables:
        raise ValueError(f"budgets/{notebook}.toml has no [full] table")
    return tables


def raw_budget(notebook: str, profile_name: str, tables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The budget file's [full] table with [ci]'s values on top (for `ci`; and [smoke]'s on those for
    `smoke`), tables unbuilt: what the file states.

    `tables` replaces the file's contents (what the budget audit uses to try a file without one of its lines)."""
    if profile_name not in (*PROFILES, SMOKE):
        raise ValueError(f"unknown profile {profile_name!r}; use one of {(*PROFILES, SMOKE)}")
    tables = budget_file(notebook) if tables is None else tables
    where = f"budgets/{notebook}.toml"
    ci = _overlay(tables["full"], tables.get("ci", {}), where)  # the same shape check in every profile
    if profile_name == SMOKE:
        return _overlay(ci, tables.get(SMOKE, {}), where, profile=SMOKE)
    return ci if profile_name == "ci" else dict(tables["full"])


def budget(notebook: str, profile_name: str | None = None, tables: dict[str, Any] | None = None) -> Budget:
    """Return the training budget of `notebook` (e.g. "nb01") for the active profile, its config tables built.

    `tables`: as in `raw_budget`."""
    name = profile() if profile_name is None else profile_name
    values = raw_budget(notebook, name, tables)
    where = f"budgets/{notebook}.toml"
    shared = values.get("shared", {})
    classes = None
    for key, table in values.items():
        if isinstance(table, dict) and key not in SPECIAL_TABLES:
            classes = classes or config_classes()
            values[key] = _build(table, shared, classes, f"{where} [{key}]")
    if shared:
        _check_shared(shared, values, where)
    return Budget(profile=name, notebook=notebook, **values)


def thresholds(notebook: str, profile_name: str | None = None) -> dict:
    """The pass thresholds of `notebook`'s checks at the active profile: its budget's [full.thresholds] table
    with [ci.thresholds] on top. Checks read their thresholds here, never from an argument or a constant."""
    name = profile() if profile_name is None else profile_name
    table = raw_budget(notebook, name).get("thresholds")
    if not isinstance(table, dict):
        raise KeyError(f"budgets/{notebook}.toml has no [full.thresholds] table")
    return dict(table)


def _build(table: dict[str, Any], shared: dict[str, Any], classes: dict[str, type], where: str) -> Any:
    """The config a table describes: its class's defaults, the [shared] fields the class has, the table's own."""
    name = table.get(CONFIG_KEY)
    if name not in classes:
        raise ValueError(f"{where}: a table needs `{CONFIG_KEY} = \"<class>\"`, one of {', '.join(classes)}; "
                         f"got {name!r}")
    cls = classes[name]
    known = [f.name for f in fields(cls) if f.init]
    own = {k: v for k, v in table.items() if k != CONFIG_KEY}
    unknown = sorted(set(own) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown {name} field(s) {unknown}; its fields are {', '.join(known)}")
    return cls(**{**{k: v for k, v in shared.items() if k in known}, **own})


def _check_shared(shared: dict[str, Any], values: dict[str, Any], where: str) -> None:
    built = [v for k, v in values.items() if k not in SPECIAL_TABLES and hasattr(v, "__dataclass_fields__")]
    unused = sorted(k for k in shared if not any(k in type(c).__dataclass_fields__ for c in built))
    if unused:
        raise ValueError(f"{where} [shared]: {unused} is a field of none of the notebook's configs")


def _overlay(full: dict, ci: dict, where: str, path: str = "", profile: str = "ci") -> dict:
    """`full` with `ci`'s values on top, table by table; a ci key that [full] lacks is an error (same shape)."""
    unknown = sorted(set(ci) - set(full))
    # Config tables (and [shared]) hold config fields: ci may change a field that full leaves at its default.
    if unknown and path in ("", ".thresholds"):
        raise ValueError(f"{where}: [{profile}{path}] keys {unknown} are missing from [full{path}]")
    merged = dict(full)
    for key, value in ci.items():
        base = full.get(key, {} if isinstance(value, dict) else None)
        if key in full and isinstance(base, dict) != isinstance(value, dict):
            raise ValueError(f"{where}: {key!r} is a table in one profile and a value in the other")
        merged[key] = _overlay(base, value, where, f"{path}.{key}", profile) if isinstance(value, dict) else value
    return merged
