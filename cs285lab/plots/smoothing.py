"""Curve smoothing shared by the live plot, the compare widget and the reference bands."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_smoothing(weight: float) -> float:
    """Return `weight` as a float, or raise a clear error unless 0 <= weight < 1."""
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        raise TypeError(f"smoothing must be a number in [0, 1), got {weight!r}") from None
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing must be in [0, 1) (0 = raw, 0.9 = heavy), got {weight}")
    return weight


def smooth(values: Sequence[float] | np.ndarray, weight: float, x: Sequence[float] | np.ndarray | None = None,
           span: float | None = None) -> np.ndarray:
    """Exponential moving average of `values`, normalised (no pull towards 0 at the start); NaNs are skipped.

    Without `x`, each point decays the past by `weight` (TensorBoard's rule). With `x` (the
    points' env steps), the past decays by `weight` per 1% of `span` (default: the x range), so
    a curve logged every episode and one logged every 500 steps are smoothed alike.
    """
    weight = check_smoothing(weight)
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"smooth expects a 1-D sequence, got shape {values.shape}")
    if weight == 0.0 or len(values) == 0:
        return values.copy()
    if x is None:
        decay = np.full(len(values), weight)
    else:
        x = np.asarray(x, dtype=float)
        if x.shape != values.shape:
            raise ValueError(f"x has shape {x.shape} but values have shape {values.shape}")
        span = float(span) if span else float(np.nanmax(x) - np.nanmin(x)) if len(x) > 1 else 0.0
        gaps = np.clip(np.diff(x, prepend=x[0]), 0.0, None)
        decay = weight ** (gaps / (span / 100.0)) if span > 0 else np.ones(len(values))
    out = np.full(values.shape, np.nan)
    acc = norm = 0.0
    for i, v in enumerate(values):
        acc, norm = decay[i] * acc, decay[i] * norm   # the past fades ...
        if np.isfinite(v):
            acc, norm = acc + v, norm + 1.0           # ... and the new point enters with weight 1
        if norm > 0.0:
            out[i] = acc / norm
    return out
