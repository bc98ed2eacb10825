"""What the algorithms' config dataclasses share: overriding fields by name, and reading the positional
calls the training functions took before they took a config (kept for notebooks saved before then)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

C = TypeVar("C", bound="Overridable")

__all__ = ["Overridable", "positional_call"]


class Overridable:
    """Mixin for a config dataclass: `Config.of(config, **overrides)`."""

    @classmethod
    def of(cls: type[C], config: C | None = None, **overrides: Any) -> C:
        """`config` (default: the defaults) with `overrides` of its fields; an unknown name is a one-line error."""
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise TypeError(f"unknown {cls.__name__} field(s) {unknown}; the fields are {', '.join(names)}")
        if config is not None and not isinstance(config, cls):
            raise TypeError(f"config must be {cls.__name__}(...), got {type(config).__name__}")
        base = {name: getattr(config, name) for name in names} if config is not None else {}
        return cls(**{**base, **overrides})


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
