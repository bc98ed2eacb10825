"""What the algorithms' config dataclasses share: overriding fields by name, and reading the positional
calls the training functions took before they took a config (kept for notebooks saved before then)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

C = TypeVar("C", bound="Overridable")

__all__ = ["Overridable", "positional_call", "with_overrides"]


class Overridable:
    """Mixin for a config dataclass: `Config.of(config, **overrides)`, e.g. `A2CConfig.of(None, **B.batched)`."""

    @classmethod
    def of(cls: type[C], config: C | None = None, **overrides: Any) -> C:
        """`config` (default: the defaults) with `overrides` of its fields; an unknown name is a one-line error.

        A mapping given for a field that holds a config (e.g. MBPOConfig.sac) overrides that config's fields."""
        config = _check_config(cls, config) if config is not None else cls()
        return with_overrides(config, overrides)


def _check_config(cls: type, config: Any) -> Any:
    if not isinstance(config, cls):
        raise TypeError(f"config must be {cls.__name__}(...), got {type(config).__name__}")
    return config


def with_overrides(config: C, overrides: Mapping[str, Any]) -> C:
    """A copy of the config dataclass `config` with `overrides` of its fields (nested configs by mapping)."""
    names = [f.name for f in fields(config)]  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise TypeError(f"unknown {type(config).__name__} field(s) {unknown}; the fields are {', '.join(names)}")
    changes = {}
    for name, value in overrides.items():
        current = getattr(config, name)
        nested = isinstance(value, Mapping) and is_dataclass(current) and not isinstance(current, type)
        changes[name] = with_overrides(current, value) if nested else value
    return replace(config, **changes)


def positional_call(who: str, config_cls: type, config: Any, legacy: tuple, names: tuple[str, ...], seed: int,
                    overrides: dict[str, Any]) -> tuple[Any, int, dict[str, Any]]:
    """(config, seed, overrides) of a call `who(env_id, config)` or, from before the config, `who(env_id, *names)`."""
    if config is None or isinstance(config, config_cls):
        if legacy:
            raise TypeError(f"{who} takes (env_id, config) positionally; pass the other settings by keyword")
        return config, seed, overrides
    if isinstance(config, bool) or not isinstance(config, int):
        raise TypeError(f"{who}: config must be {config_cls.__name__}(...), got {type(config).__name__}")
    given = dict(zip(names, (config, *legacy)))
    if len(legacy) >= len(names) or any(k in overrides for k in given) or ("seed" in given and seed != 0):
        raise TypeError(f"{who} takes (env_id, config) positionally; pass the other settings by keyword")
    seed = given.pop("seed", seed)
    return None, seed, {**given, **overrides}
