"""Calls of the training functions written before the one convention, kept for notebooks saved then.

Every training function is `train_x(env_id, config, *, seed, logger=None, ...)`: the config holds the
whole run. Notebooks saved from the previous release call them the older ways, e.g.
`train_a2c("CartPole-v1", 4, 20000, seed=0, n_steps=4, lr=3e-3, ...)` or
`train_sac(ENV, 5000, 0, config, eval_every=1000, eval_episodes=5)`: leading ints are config fields
(or the seed) by position, config fields come as keywords. `accepts_legacy_calls` turns such a call into
the config it meant; a call in the convention goes straight through. Removed in the 2027-spring release
(docs/ARCHITECTURE.md, "Names kept for saved notebooks").
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["accepts_legacy_calls"]


def accepts_legacy_calls(config_cls: type, positional: tuple[str, ...],
                         defaults: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None) -> Callable[[F], F]:
    """Let `train_x(env_id, config, *, seed, ...)` also take the calls saved notebooks make (see the module).

    `positional` names what the leading positional arguments after env_id meant (config fields, "seed",
    "config"); `defaults(keywords)` gives config fields an old call implied (e.g. train_a2c with a loss_fn).
    """

    def wrap(train: F) -> F:
        own = set(inspect.signature(train).parameters) - {"env_id", "config"}
        names = [f.name for f in fields(config_cls)]

        @functools.wraps(train)
        def call(env_id: str, *args: Any, **keywords: Any) -> Any:
            by_name = keywords.pop("config", None)
            config = args[0] if args else by_name
            if (len(args) + (by_name is not None) == 1 and isinstance(config, config_cls) and "seed" in keywords
                    and set(keywords) <= own):
                return train(env_id, config, **keywords)  # the convention
            config, keywords = _meant(train.__name__, config_cls, names, positional, own, args, by_name, keywords,
                                      defaults)
            return train(env_id, config, **keywords)

        return call  # type: ignore[return-value]

    return wrap


def _meant(who: str, config_cls: type, names: list[str], positional: tuple[str, ...], own: set[str],
           args: tuple, by_name: Any, keywords: dict[str, Any],
           defaults: Callable[[Mapping[str, Any]], dict[str, Any]] | None) -> tuple[Any, dict[str, Any]]:
    """(config, the function's own keywords) of an older call."""
    if len(args) > len(positional):
        raise TypeError(f"{who} takes (env_id, config, *, seed=...); got {1 + len(args)} positional arguments")
    given = dict(zip(positional, args))
    config = given.pop("config", None)
    if config is None and args and isinstance(args[0], config_cls):
        config = given.pop(positional[0])
    if by_name is not None:
        if config is not None:
            raise TypeError(f"{who} got a config both by position and by keyword")
        config = by_name
    if config is not None and not isinstance(config, config_cls):
        raise TypeError(f"{who}: config must be {config_cls.__name__}(...), got {type(config).__name__}")
    for name, value in given.items():
        if name != "seed" and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{who}: config must be {config_cls.__name__}(...), got {type(value).__name__}")
    clash = sorted(set(given) & set(keywords))
    if clash:
        raise TypeError(f"{who} got {clash} both by position and by keyword")
    settings = {k: keywords.pop(k) for k in list(keywords) if k in names}
    settings.update({k: v for k, v in given.items() if k != "seed"})
    unknown = sorted(set(keywords) - own)
    if unknown:
        raise TypeError(f"{who} got unknown keyword(s) {unknown}; {config_cls.__name__}'s fields are "
                        f"{', '.join(names)}")
    if config is None and defaults is not None:
        settings = {**defaults(keywords), **settings}
    config = config_cls(**settings) if config is None else replace(config, **settings)
    if "seed" in given:
        keywords["seed"] = given["seed"]
    if "seed" not in keywords:
        raise TypeError(f"{who} needs the run's seed: {who}(env_id, config, seed=0)")
    return config, keywords
