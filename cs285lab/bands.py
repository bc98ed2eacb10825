"""The band over seeds, computed one way everywhere: notebooks, benchmarks, reference bands and live plots.

Each seed contributes one curve (x values, y values). On the union of every seed's x values the band
is the median and a spread (min-max by default) of the seeds that have a value there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SPREADS", "SPREAD_LABELS", "Band", "band_over_seeds", "history_band"]

SPREADS = {"minmax": (0.0, 1.0), "iqr": (0.25, 0.75), "80": (0.1, 0.9)}
SPREAD_LABELS = {"minmax": "min–max", "iqr": "25–75%", "80": "10–90%"}


@dataclass(frozen=True)
class Band:
    """Median and spread over seeds at each x: arrays of one length (n_seeds: seeds with a value there)."""

    x: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def band_over_seeds(curves: Sequence[tuple[Sequence[float], Sequence[float]]], spread: str = "minmax",
                    min_seeds: int = 1) -> Band:
    """The band of `curves` (one (x, y) pair per seed) on the union of their x; points with fewer than
    `min_seeds` seeds are left out. NaN values count as missing."""
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {sorted(SPREADS)}, got {spread!r}")
    if not curves:
        raise ValueError("band_over_seeds needs at least one curve")
    pairs = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in curves]
    for i, (x, y) in enumerate(pairs):
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"curve {i}: x and y must be 1-D of one length, got {x.shape} and {y.shape}")
    grid = np.unique(np.concatenate([x for x, _ in pairs]))
    sums, counts_xy = np.zeros((len(grid), len(pairs))), np.zeros((len(grid), len(pairs)))
    for column, (x, y) in enumerate(pairs):
        finite = np.isfinite(y)  # a repeated x gets the mean of its values, as a pivot table would
        np.add.at(sums[:, column], np.searchsorted(grid, x[finite]), y[finite])
        np.add.at(counts_xy[:, column], np.searchsorted(grid, x[finite]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts_xy > 0, sums / np.maximum(counts_xy, 1), np.nan)
    lo_q, hi_q = SPREADS[spread]
    counts = np.isfinite(values).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows where no seed has a value
        median = np.nanmedian(values, axis=1)
        low = np.nanquantile(values, lo_q, axis=1)
        high = np.nanquantile(values, hi_q, axis=1)
    keep = counts >= max(1, min_seeds)
    return Band(grid[keep], median[keep], low[keep], high[keep], counts[keep])


def history_band(histories: Sequence[Sequence[Mapping[str, float]]], key: str = "eval_return", x: str = "step",
                 spread: str = "minmax") -> Band:
    """The band of `key` against `x` over the histories of several seeds (rows without `key` are skipped)."""
    curves = []
    for i, history in enumerate(histories):
        rows = [row for row in history if key in row]
        if not rows:
            names = sorted({k for row in history for k in row})
            raise KeyError(f"history {i} has no {key!r} column; it has {', '.join(names)}")
        curves.append(([row[x] for row in rows], [row[key] for row in rows]))
    return band_over_seeds(curves, spread)
