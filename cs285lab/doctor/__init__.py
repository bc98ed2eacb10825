"""The curve doctor: when a run does not learn, say what is probably wrong, from the run's own statistics.

    from cs285lab.doctor import diagnose
    findings = diagnose(history, algorithm="sac", reference=reference_histories)
    print(findings[0])          # the most likely family, its evidence, a confidence, where the course explains it

`history` is a run's history rows (cs285lab.record: step, eval_return and the statistics cs285lab.algos.probes
adds), `reference` the reference runs' histories or a reference band (cs285lab.plots.reference). Each rule compares
a statistic with a bound the rewards imply (|V| <= r_max / (1 - gamma)) or with what the reference seeds showed at the
same step (cs285lab/doctor/rules.py says why each threshold is where it is). The first finding is the most likely;
"looks healthy" is an answer, and so is "below the reference, no family stands out".

Where it shows: `RunLogger(..., reference=...)` prints one or two lines under the plot when the curve ends below its
band (`RunDoctor`); notebook 03's review can print `second_opinion(...)`; the grader can add `check_feedback(...)`
to a failed learning check's message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cs285lab.doctor.families import ALGORITHMS, ENV_REWARDS, FAMILIES, course_pointer
from cs285lab.doctor.findings import Evidence, Finding, fmt
from cs285lab.doctor.reference import Reference, history_rows
from cs285lab.doctor.rules import RULES, Run

FAIL_MARGIN = 0.05  # how far below the reference band a curve must end to count as failing (evaluation noise)

__all__ = ["ALGORITHMS", "ENV_REWARDS", "FAMILIES", "Evidence", "Finding", "Reference", "RunDoctor", "algorithm_of",
           "check_feedback", "course_pointer", "diagnose", "second_opinion"]


def diagnose(history: Any, algorithm: str, reference: Any = None, *, env: str | None = None, gamma: float | None = None,
             error: BaseException | str | None = None, failing: bool | None = None) -> list[Finding]:
    """The probable causes of a run's curve, most likely first (a single 'looks healthy' finding when none).

    history: the run's history rows (or an object with .rows / .history: AsyncHistory, MBPOResult).
    algorithm: one of ALGORITHMS ("a2c", "async", "sac", "ablation", "dyna", "mbpo", ...).
    reference: the reference runs' histories (one per seed), a reference band or its name, or None.
    env: the env id (for the value bounds; a band names its own); gamma: the run's discount (default: the one its
    reference band's budget names, else 0.99).
    error: the exception (or its message) that stopped the run, if any.
    failing: whether the curve failed; by default, whether its last evaluations end below the reference band
    (True without a reference). Rules other than NaN and value bounds speak only for a failing curve.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    rows = history_rows(_rows_of(history))
    ref = Reference.of(reference, env)
    env = env or (ref.env if ref is not None else None)
    band = ref.final_band([r["step"] for r in rows[-2:]]) if ref is not None and rows else None
    final = sum(float(r["eval_return"]) for r in rows[-2:]) / max(1, len(rows[-2:])) if rows else float("nan")
    if failing is None:  # below the lowest reference seed by more than 5% of the reference's median
        failing = band is None or final < band.low - FAIL_MARGIN * abs(band.median)
    if gamma is None:
        gamma = ref.gamma if ref is not None and ref.gamma is not None else 0.99
    run = Run(rows, algorithm, ref, env, gamma, None if error is None else str(error), failing)
    findings = [f for rule, hard in RULES if (hard or failing) and (f := rule(run)) is not None]
    if findings:
        return findings
    step = int(rows[-1]["step"]) if rows else 0
    ev = Evidence("eval_return", final, step, "the mean of the last evaluations" + (
        f", {'below' if failing else 'within or above'} the reference seeds' [{fmt(band.low)} to {fmt(band.high)}]"
        if band is not None else ""), band)
    family = "unexplained" if failing and band is not None else "healthy"
    return [Finding((family,), (ev,), "low" if family == "unexplained" else "medium", None, "")]


def second_opinion(history: Any, algorithm: str = "sac", reference: Any = None, **options: Any) -> str:
    """Printable text: the doctor's reading of one run, meant after a student's own diagnosis (notebook 03's review)."""
    findings = diagnose(history, algorithm, reference, **options)
    head = "The curve doctor's second opinion (it reads the run's statistics, not your code):"
    if not findings[0].alarm:
        return f"{head}\n{findings[0]}"
    others = [f"  also consistent with: {f.title}" for f in findings[1:3]]
    return "\n".join([head, str(findings[0]), *others])


def check_feedback(history: Any, algorithm: str, reference: Any = None, **options: Any) -> str:
    """Two lines for a failed learning check's message ('' if nothing stands out): the probable family with its first
    evidence, then where the course explains it (the other evidence is in `second_opinion` and RunDoctor's doctor.txt).

    `history` is one run's rows (a list of dicts, or an object with .rows / .history) or a list of several runs' (one
    per seed): the run that ends lowest is read first, and the first one a family stands out in is reported."""
    runs = sorted(history, key=_final_return) if _several_runs(history) else [history]
    for run in runs:
        findings = diagnose(run, algorithm, reference, failing=True, **options)
        if findings[0].alarm:
            break
    else:
        return ""
    first = findings[0]
    evidence = f": {first.evidence[0]}" if first.evidence else ""
    lines = [f"The curve doctor reads your run's statistics: probably {first.title} ({first.confidence} "
             f"confidence){evidence}"]
    if first.course:
        lines.append(f"  Explained in {first.course}.")
    return "\n".join(lines)


def _several_runs(history: Any) -> bool:
    """Whether `history` is a list of runs (each a list of rows, or an object with rows) rather than one run's rows."""
    return isinstance(history, (list, tuple)) and bool(history) and all(
        isinstance(h, (list, tuple)) or hasattr(h, "rows") or hasattr(h, "history") for h in history)


def _final_return(run: Any) -> float:
    """The last evaluation return of a run (inf when it has none: read last; a NaN end is the worst end)."""
    rows = getattr(run, "rows", None) or getattr(run, "history", None) or run
    try:
        value = float([r for r in rows if isinstance(r, Mapping) and "eval_return" in r][-1]["eval_return"])
    except (IndexError, TypeError, ValueError):
        return float("inf")
    return value if value == value else float("-inf")


def algorithm_of(text: str) -> str | None:
    """The doctor's algorithm name for a band's `algorithm` header (e.g. 'cs285lab.algos.sac:train_sac'), or None."""
    for marker, name in (("train_a2c", "a2c"), ("train_online", "online"), ("train_async", "async"),
                         ("train_ablation", "ablation"), ("train_sac", "sac"), ("k=1", "dyna"), ("k=0", "sac"),
                         ("train_mbpo", "mbpo")):
        if marker in text:
            return name
    return None


class RunDoctor:
    """A run-writer sink (cs285lab.runlog) that keeps the run's history rows and, when the run closes with its curve
    below the reference band (or stopped at a NaN), prints one or two lines naming the probable family and writes
    the full reading to doctor.txt in the run's folder."""

    def __init__(self, band: Any, folder: Any = None, algorithm: str | None = None) -> None:
        self.band = band
        self.folder = folder
        meta = getattr(band, "meta", {}) or {}
        self.algorithm = algorithm or algorithm_of(meta.get("algorithm", ""))
        self.rows: list[dict] = []
        self.error: BaseException | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        """Keep an evaluation row."""
        if "eval_return" in row:
            self.rows.append(dict(row))

    def lines(self) -> list[str]:
        """What to print under the plot: nothing for a curve that ends inside its band."""
        if self.algorithm is None or not self.rows:
            return []
        if self.error is not None and not isinstance(self.error, FloatingPointError):
            return []  # interrupted or crashed: the curve is not finished (a NaN stop, NonFiniteError, is diagnosed)
        findings = diagnose(self.rows, self.algorithm, self.band, error=self.error)
        first = findings[0]
        if first.family == "healthy":
            return []
        if not first.alarm:
            return [f"doctor: the curve ends below the reference band; {FAMILIES['unexplained'].what}."]
        out = [f"doctor: probably {first.title} ({first.confidence} confidence): {first.evidence[0]}"]
        if self.folder is not None:
            from pathlib import Path

            path = Path(self.folder) / "doctor.txt"
            path.write_text("\n\n".join(str(f) for f in findings) + "\n", encoding="utf-8")
            out.append(f"doctor: the evidence and where the course explains it: {path}")
        elif first.course:
            out.append(f"doctor: explained in {first.course}")
        return out

    def close(self, status: str = "finished") -> None:
        """Print the lines (after the live plot's last update: it is closed first); none for an interrupted run."""
        if status == "interrupted":
            return
        for line in self.lines():
            print(line)


def _rows_of(history: Any) -> Iterable[Mapping[str, Any]]:
    for attribute in ("rows", "history"):  # AsyncHistory.rows, MBPOResult.history
        if hasattr(history, attribute) and not isinstance(history, (list, tuple)):
            return getattr(history, attribute)
    return history
