"""Small network builders shared by every notebook, and sampling from a policy's distribution."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical, Distribution


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.Tanh, out_gain: float | None = None) -> nn.Sequential:
    """A fully connected network in_dim -> hidden... -> out_dim (linear output).

    `out_gain` rescales the last layer's initial weights (e.g. 0.01 for policy logits so the
    first policy is near uniform, 1.0 for values).
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise ValueError(f"mlp needs positive int sizes, got {name}={value!r}")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h <= 0 for h in hidden):
        raise ValueError(f"mlp: hidden must be a sequence of positive ints (layer widths, e.g. (64, 64)), got {hidden!r}")
    layers: list[nn.Module] = []
    sizes = [int(in_dim), *map(int, hidden)]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    last = nn.Linear(sizes[-1], out_dim)
    if out_gain is not None:
        with torch.no_grad():
            last.weight.mul_(out_gain)
            last.bias.zero_()
    layers.append(last)
    return nn.Sequential(*layers)


def sample_actions(dist: Distribution) -> torch.Tensor:
    """a ~ dist; a Categorical is sampled by the Gumbel-max trick (same distribution, a third of the cost)."""
    if isinstance(dist, Categorical):  # argmax(logits + Gumbel noise), Gumbel = -log(Exp(1))
        return (dist.logits - torch.empty_like(dist.logits).exponential_().log_()).argmax(-1)
    return dist.sample()
