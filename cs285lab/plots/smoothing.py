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


def smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average with weight `weight` per point, debiased at the start; NaNs are skipped.

    The same rule TensorBoard uses: s_t = weight * s_{t-1} + (1 - weight) * v_t, divided by
    1 - weight^t so the first points are not pulled towards zero. weight 0 returns the values.
    """
    weight = check_smoothing(weight)
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"smooth expects a 1-D sequence, got shape {values.shape}")
    if weight == 0.0:
        return values.copy()
    out = np.full(values.shape, np.nan)
    acc = norm = 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            acc = weight * acc + (1.0 - weight) * v
            norm = weight * norm + (1.0 - weight)
        if norm > 0.0:
            out[i] = acc / norm
    return out
