"""The late policy: a deadline per notebook, extensions or a different penalty per student, from a small TOML file.

    # late.toml
    grace_minutes = 15          # a submission this close after the deadline is on time
    penalty_per_day = 0.1       # share of the notebook's points lost per started day late
    max_penalty = 1.0           # the most a notebook can lose (1.0: all of its points)
    timezone = "America/Los_Angeles"   # for deadlines written without an offset

    [deadlines]                 # notebook file name, or a prefix of it
    "00" = 2026-09-10T23:59:00-07:00
    "01" = "2026-09-24 23:59"   # a string works too (then `timezone` applies)

    [students.alice]
    extension_days = 2          # every deadline moves two days later

    [students.bob]
    penalty_per_day = 0         # e.g. an accommodation
    deadlines = { "01" = 2026-09-30T23:59:00-07:00 }   # a new deadline for one notebook

A submission's time is the time written in `.submitted` in the student's folder (`cs285lab unpack`
writes it from the zip it unpacked), else the notebook file's modification time. The penalty
(points) never takes a notebook below zero.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SUBMITTED_FILE = ".submitted"
KEYS = {"grace_minutes", "penalty_per_day", "max_penalty", "timezone", "deadlines", "students"}
STUDENT_KEYS = {"extension_days", "penalty_per_day", "deadlines"}


class PolicyError(ValueError):
    """The late policy file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Lateness:
    """How late one notebook of one student was, and what it costs as a share of the notebook's points."""

    submitted: datetime | None
    deadline: datetime | None
    days_late: int
    share: float  # of the notebook's maximum points

    def penalty(self, points: float, max_points: float) -> float:
        """Points lost: the share of the notebook's maximum, never more than the points earned."""
        return round(min(max(points, 0.0), self.share * max_points), 4)


@dataclass
class LatePolicy:
    """Deadlines per notebook and what a late day costs; per-student exceptions."""

    deadlines: dict[str, datetime] = field(default_factory=dict)
    penalty_per_day: float = 0.0
    max_penalty: float = 1.0
    grace: timedelta = timedelta(0)
    students: dict[str, dict] = field(default_factory=dict)
    source: str = ""

    def deadline(self, student: str, notebook: str) -> datetime | None:
        """The student's deadline for a notebook (extensions included), or None when it has none."""
        own = self.students.get(student, {})
        found = _by_prefix(own.get("deadlines", {}), notebook) or _by_prefix(self.deadlines, notebook)
        if found is None:
            return None
        return found + timedelta(days=float(own.get("extension_days", 0)))

    def lateness(self, student: str, notebook: str, submitted: datetime | None) -> Lateness:
        """How late `submitted` is for this student's notebook."""
        deadline = self.deadline(student, notebook)
        if deadline is None or submitted is None or submitted <= deadline + self.grace:
            return Lateness(submitted, deadline, 0, 0.0)
        days = math.ceil((submitted - deadline - self.grace) / timedelta(days=1))
        per_day = float(self.students.get(student, {}).get("penalty_per_day", self.penalty_per_day))
        return Lateness(submitted, deadline, days, min(self.max_penalty, per_day * days))


def _by_prefix(table: dict[str, datetime], notebook: str) -> datetime | None:
    matches = [key for key in table if notebook == key or notebook.startswith(key)]
    return table[max(matches, key=len)] if matches else None


def _moment(value: object, zone: timezone | ZoneInfo, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PolicyError(f"{where}: {value!r} is not a date and time such as 2026-09-24T23:59:00-07:00") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(23, 59, 59))  # a bare date: the end of that day
    if not isinstance(value, datetime):
        raise PolicyError(f"{where}: {value!r} is not a date and time")
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _number(table: dict, key: str, default: float, where: str, low: float = 0.0) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise PolicyError(f"{where}: {key} must be a number >= {low:g}, got {value!r}")
    return float(value)


def load_policy(path: Path) -> LatePolicy:
    """Read a late policy file (PolicyError with the file and key when it is malformed)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - KEYS
    if unknown:
        raise PolicyError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    try:
        zone = ZoneInfo(data["timezone"]) if "timezone" in data else datetime.now().astimezone().tzinfo
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"{path}: timezone {data['timezone']!r} is not a time zone name such as "
                          "Europe/Paris") from None
    deadlines = {str(k): _moment(v, zone, f"{path}: deadlines.{k}") for k, v in (data.get("deadlines") or {}).items()}
    students = {}
    for name, own in (data.get("students") or {}).items():
        where = f"{path}: students.{name}"
        if not isinstance(own, dict) or set(own) - STUDENT_KEYS:
            raise PolicyError(f"{where}: use only {', '.join(sorted(STUDENT_KEYS))}")
        entry: dict = {"deadlines": {str(k): _moment(v, zone, f"{where}.deadlines.{k}")
                                     for k, v in (own.get("deadlines") or {}).items()}}
        if "extension_days" in own:
            entry["extension_days"] = _number(own, "extension_days", 0, where)
        if "penalty_per_day" in own:
            entry["penalty_per_day"] = _number(own, "penalty_per_day", 0, where)
        students[str(name)] = entry
    return LatePolicy(deadlines, _number(data, "penalty_per_day", 0.0, str(path)),
                      _number(data, "max_penalty", 1.0, str(path)),
                      timedelta(minutes=_number(data, "grace_minutes", 0.0, str(path))), students, str(path))


def submitted_at(notebook: Path | None, folder: Path | None) -> datetime | None:
    """When a notebook was handed in: the student folder's `.submitted` time, else the file's modification time."""
    if folder is not None and folder.is_dir() and (folder / SUBMITTED_FILE).is_file():
        try:
            moment = datetime.fromisoformat((folder / SUBMITTED_FILE).read_text(encoding="utf-8").strip())
            return moment if moment.tzinfo is not None else moment.astimezone()
        except (OSError, ValueError):
            pass
    if notebook is None or not notebook.is_file():
        return None
    return datetime.fromtimestamp(notebook.stat().st_mtime, tz=timezone.utc)
