"""What the doctor reports: findings (a failure family, its evidence, a confidence, where the course explains it)."""

from __future__ import annotations

from dataclasses import dataclass

from cs285lab.doctor.families import FAMILIES
from cs285lab.doctor.reference import Point

__all__ = ["Evidence", "Finding", "fmt"]


def fmt(value: float) -> str:
    """A number as a student reads it: 3 significant digits, no exponent unless it is huge or tiny."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


@dataclass(frozen=True)
class Evidence:
    """One statistic of the run at one step, what it is compared with, and what the reference showed there."""

    statistic: str
    value: float
    step: int
    compared_with: str                 # the bound or the reason, in words
    reference: Point | None = None     # the reference seeds at the same step

    def __str__(self) -> str:
        ref = ""
        if self.reference is not None:
            p = self.reference
            spread = f" [{fmt(p.low)} to {fmt(p.high)}]" if p.seeds > 1 else ""
            ref = f" (reference at that step: {fmt(p.median)}{spread})"
        return f"{self.statistic} = {fmt(self.value)} at step {self.step}{ref}: {self.compared_with}"


@dataclass(frozen=True)
class Finding:
    """A probable cause: one family, or several the statistics cannot tell apart (most likely first)."""

    families: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    confidence: str                    # "high", "medium" or "low"
    onset: int | None                  # the first step where it shows
    course: str                        # where the course explains it

    @property
    def family(self) -> str:
        """The most likely family."""
        return self.families[0]

    @property
    def title(self) -> str:
        """The family's (or families') name for students."""
        return " or ".join(FAMILIES[f].title for f in self.families)

    @property
    def alarm(self) -> bool:
        """Whether this finding names a failure (not 'looks healthy', not 'no family stands out')."""
        return self.family not in ("healthy", "unexplained")

    def summary(self) -> str:
        """One line: the family, its first evidence, the confidence."""
        first = f": {self.evidence[0]}" if self.evidence else ""
        return f"{self.title} ({self.confidence} confidence){first}"

    def __str__(self) -> str:
        lines = [f"{self.title} ({self.confidence} confidence"
                 + (f", from step {self.onset})" if self.onset is not None else ")")]
        lines += [f"  {FAMILIES[f].what}." for f in self.families[:1]]
        lines += [f"  - {e}" for e in self.evidence]
        if self.course:
            lines.append(f"  explained in {self.course}")
        return "\n".join(lines)
