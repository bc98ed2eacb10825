"""Per-student variants: which silent bugs a student reviews, chosen from their id so no two share one answer key.

A student's variant is a pure function of (term salt, student key):

- **student key**: under `cs285lab grade`, the submission's name, which the grader puts in the kernel's
  environment as CS285LAB_STUDENT (read from the environment the process *started* with, so code in
  the notebook cannot switch to a classmate's variant by changing os.environ); working locally, the
  `STUDENT_ID` the student sets in the notebook. Both are normalized the same way (Unicode NFC,
  surrounding spaces and a trailing ".ipynb" removed, case folded), so "Zoë" and "zoë.ipynb" match.
- **term salt**: CS285LAB_VARIANT_SALT if set, else the one line of cs285lab/data/variant_salt.txt.
  Instructors change it once per term (edit the file in the course's copy of the package, or set the
  variable for students and the grader alike), so last term's answers do not carry over.

See docs/AUTHORING.md, "Variants and silent bugs".
"""

from __future__ import annotations

import hashlib
import itertools
import os
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

STUDENT_VAR = "CS285LAB_STUDENT"
SALT_VAR = "CS285LAB_VARIANT_SALT"
FAMILY_ORDER = ("broadcast", "target", "polyak")  # cs285lab.algos.silent_bugs.FAMILIES
CONVENTIONS = {"broadcast": ("sum", "mean"), "target": ("soft", "plain"), "polyak": ("tau", "polyak")}
PLACES = 2


@dataclass(frozen=True)
class Slot:
    """One review of the series: a bug family, the team's convention, and where the bug sits."""

    family: str
    convention: str
    place: int


@dataclass(frozen=True)
class Variant:
    """A student's silent-bug series: one slot per review, in order."""

    key: str
    slots: tuple[Slot, ...]

    @property
    def answer_key(self) -> tuple[tuple[str, str], ...]:
        """What the fixes depend on: (family, convention) per slot (the place does not change the fix)."""
        return tuple((s.family, s.convention) for s in self.slots)


def normalize_key(student: str) -> str:
    """The canonical form of a student id or submission name (NFC, stripped, no .ipynb, case folded)."""
    if not isinstance(student, str):
        raise TypeError(f"a student id is a string, got {type(student).__name__}")
    key = unicodedata.normalize("NFC", student).strip()
    if key.lower().endswith(".ipynb"):
        key = key[: -len(".ipynb")]
    return key.strip().casefold()


def initial_environ() -> dict[str, str]:
    """The environment this process started with (Linux: /proc/self/environ), else os.environ."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return dict(os.environ)
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def term_salt() -> str:
    """The instructor's per-term salt: CS285LAB_VARIANT_SALT, else cs285lab/data/variant_salt.txt."""
    salt = initial_environ().get(SALT_VAR, "").strip()
    if salt:
        return salt
    return (resources.files("cs285lab") / "data" / "variant_salt.txt").read_text().strip()


def student_key(notebook_id: object = None) -> str:
    """The key a variant is drawn from: the grader's CS285LAB_STUDENT if set, else the notebook's STUDENT_ID."""
    graded = initial_environ().get(STUDENT_VAR, "").strip()
    if graded:
        return normalize_key(graded)
    if notebook_id is None or notebook_id is ... or (isinstance(notebook_id, str) and not notebook_id.strip()):
        raise NotImplementedError("set STUDENT_ID to the name your submission will carry (e.g. your login)")
    if not isinstance(notebook_id, str):
        raise TypeError(f"STUDENT_ID must be a string, got {type(notebook_id).__name__}")
    return normalize_key(notebook_id)


_ORDERS = tuple(itertools.permutations(FAMILY_ORDER))


def variant_for(key: str, salt: str | None = None) -> Variant:
    """The variant of a (normalized) student key under a salt (default: this term's)."""
    salt = term_salt() if salt is None else salt
    digest = hashlib.sha256(f"cs285lab-variant\0{salt}\0{key}".encode()).digest()
    order = _ORDERS[digest[0] % len(_ORDERS)]
    slots = tuple(Slot(family, CONVENTIONS[family][digest[1 + i] % 2], digest[4 + i] % PLACES)
                  for i, family in enumerate(order))
    return Variant(key, slots)


def student_variant(notebook_id: object = None) -> Variant:
    """The variant of this notebook's student (the grader's key wins over STUDENT_ID)."""
    return variant_for(student_key(notebook_id))


__all__ = ["SALT_VAR", "STUDENT_VAR", "Slot", "Variant", "initial_environ", "normalize_key", "student_key",
           "student_variant", "term_salt", "variant_for"]
