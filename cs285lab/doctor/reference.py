"""What the reference runs show at each step: per statistic, the values of every reference seed.

A `Reference` comes from the reference runs' history rows (`Reference.of([history_seed0, history_seed1, ...])`),
from a reference band (`cs285lab.plots.reference.ReferenceBand`, or its name), from the name of reference statistics
shipped without a band (cs285lab/data/doctor/nb03-ablation.csv: notebook 03's fixed arm, eval_return included), or is
None (the doctor then uses only
the bounds a run implies by itself). A band carries eval_return; the statistics of the same reference runs ship beside
it, in cs285lab/data/doctor/<band>.csv (the band's format: metric, step, seed, value), written from the full-budget
corpus by `python -m benchmarks.doctor_corpus --export-references`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Point", "Reference", "history_rows", "statistics_dir", "statistics_of"]


@dataclass(frozen=True)
class Point:
    """The reference seeds' values of one statistic at one step: median, smallest, largest, how many seeds."""

    step: float
    median: float
    low: float
    high: float
    seeds: int


@dataclass
class Reference:
    """Per statistic, per step, the reference seeds' values (`values[stat][step] = [v_seed0, v_seed1, ...]`)."""

    values: dict[str, dict[float, list[float]]] = field(default_factory=dict)
    env: str | None = None
    name: str = "the reference"
    gamma: float | None = None   # the reference runs' discount, when their band's budget line names it

    @classmethod
    def of(cls, reference: Any, env: str | None = None) -> Reference | None:
        """A Reference from histories, a band (object or name), a Reference, or None."""
        if reference is None or isinstance(reference, Reference):
            return reference
        if isinstance(reference, str):
            from cs285lab.plots.reference import available_references, load_reference

            if reference not in available_references() and statistics_of(reference):  # reference runs with no band
                return cls(statistics_of(reference), env, f"the reference runs {reference}")
            reference = load_reference(reference)
        if hasattr(reference, "curves"):  # a ReferenceBand: columns metric, step, seed, value
            values: dict[str, dict[float, list[float]]] = {}
            for metric, step, value in zip(reference.curves["metric"], reference.curves["step"],
                                           reference.curves["value"]):
                if _finite(value):
                    values.setdefault(str(metric), {}).setdefault(float(step), []).append(float(value))
            meta = getattr(reference, "meta", {}) or {}
            name = str(getattr(reference, "name", ""))
            for metric, grid in statistics_of(name).items():
                values.setdefault(metric, grid)
            discount = re.search(r"\bgamma=([0-9.]+)", str(meta.get("budget", "")))
            return cls(values, env or meta.get("env"), f"the reference band {name}".strip(),
                       float(discount.group(1)) if discount else None)
        histories = [history_rows(h) for h in reference]
        if not histories or not all(histories):
            raise ValueError("a reference is a list of histories (one per seed), each a list of history rows")
        values = {}
        for rows in histories:
            for row in rows:
                for key, value in row.items():
                    if key != "step" and _finite(value):
                        values.setdefault(key, {}).setdefault(float(row["step"]), []).append(float(value))
        return cls(values, env, f"the reference runs ({len(histories)} seeds)")

    def has(self, stat: str) -> bool:
        """Whether the reference recorded `stat`."""
        return bool(self.values.get(stat))

    def at(self, stat: str, step: float) -> Point | None:
        """The reference's `stat` at the grid step nearest `step` (None if it has none within half a grid spacing)."""
        grid = self.values.get(stat)
        if not grid:
            return None
        steps = np.array(sorted(grid))
        nearest = float(steps[np.argmin(np.abs(steps - step))])
        spacing = float(np.median(np.diff(steps))) if len(steps) > 1 else max(abs(step), 1.0)
        if abs(nearest - step) > spacing / 2:
            return None
        v = np.array(grid[nearest])
        return Point(nearest, float(np.median(v)), float(v.min()), float(v.max()), len(v))

    def final_band(self, steps: Sequence[float]) -> Point | None:
        """The band of the reference seeds' mean eval_return over the grid steps nearest `steps` (the run's last
        rows): each seed's mean, then their median, smallest and largest."""
        grid = self.values.get("eval_return")
        if not grid:
            return None
        points = [self.at("eval_return", s) for s in steps]
        if any(p is None for p in points):
            return None
        per_step = [grid[p.step] for p in points]
        seeds = min(len(v) for v in per_step)
        means = np.mean([v[:seeds] for v in per_step], axis=0)
        return Point(points[-1].step, float(np.median(means)), float(means.min()), float(means.max()), seeds)


def statistics_dir() -> Path:
    """The folder of the reference runs' statistics shipped beside the bands (cs285lab/data/doctor)."""
    return Path(str(resources.files("cs285lab") / "data" / "doctor"))


def statistics_of(band: str) -> dict[str, dict[float, list[float]]]:
    """The shipped statistics of band `band`'s reference runs (metric -> step -> values over seeds), or {}."""
    path = statistics_dir() / f"{band}.csv"
    if not band or not path.is_file():
        return {}
    values: dict[str, dict[float, list[float]]] = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for line in lines[1:]:  # metric,step,seed,value
        metric, step, _, value = line.split(",")
        if _finite(float(value)):
            values.setdefault(metric, {}).setdefault(float(step), []).append(float(value))
    return values


def history_rows(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation rows of a history (rows with a step and an eval_return), in step order."""
    rows = [dict(r) for r in history if isinstance(r, Mapping) and "step" in r and "eval_return" in r]
    return sorted(rows, key=lambda r: r["step"])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
