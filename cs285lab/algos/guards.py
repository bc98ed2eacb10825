"""Stop a training run at the first non-finite number, saying where (the env step) and what.

One NaN reward turns every weight into NaN a few updates later, and the run would go on,
finish, and log null metrics. The training loops call these guards: a loss and the update's
statistics after every update, rewards as they arrive, the parameters at every evaluation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["NonFiniteError", "check_loss", "check_params", "check_rewards", "check_stats", "positive_int"]


class NonFiniteError(FloatingPointError):
    """Training met a NaN or an infinity; the message names the env step and the quantity."""


def _stop(step: int, what: str, value: Any, hint: str) -> None:
    raise NonFiniteError(f"training stopped at env step {step}: {what} is {value}; {hint}")


def check_loss(step: int, loss: torch.Tensor | float, name: str = "the loss") -> None:
    """Raise NonFiniteError if the scalar `loss` is NaN or infinite."""
    value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        _stop(step, name, value, "no update was applied with it (look for a NaN reward or observation, a log of 0, "
                                 "a division by a zero count, or a too-large learning rate)")


def check_stats(step: int, stats: Mapping[str, Any]) -> None:
    """Raise NonFiniteError for the first non-finite number among an update's statistics (losses, norms...)."""
    for key, value in stats.items():
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            _stop(step, key, float(value), "the update that produced it has been applied; the run cannot recover")


def check_rewards(step: int, rewards: Any) -> None:
    """Raise NonFiniteError if a reward from the env is NaN or infinite."""
    array = np.asarray(rewards, dtype=np.float64)
    if not np.isfinite(array).all():
        _stop(step, "a reward returned by the env", array.reshape(-1)[~np.isfinite(array.reshape(-1))][0],
              "it would turn every weight into NaN (check the env or a reward wrapper)")


def check_params(step: int, modules: nn.Module | Iterable[nn.Module]) -> None:
    """Raise NonFiniteError naming the first parameter that holds a NaN or an infinity."""
    for index, module in enumerate([modules] if isinstance(modules, nn.Module) else modules):
        for name, param in module.named_parameters():
            if not torch.isfinite(param).all():
                owner = type(module).__name__ if index == 0 else f"{type(module).__name__} #{index}"
                _stop(step, f"parameter {name} of the {owner}", "not finite (NaN or inf)",
                      "an earlier update diverged; lower the learning rate or check the loss")


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """`value` as an int >= `minimum`, else a one-line ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)
