"""The `cs285lab` command: make-student, refresh-outputs, release, grade, hand-grade, unpack, references."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _make_student(args: argparse.Namespace) -> int:
    from cs285lab.authoring.student import check_students, make_students
    from cs285lab.notebook_format import AuthoringError

    try:
        if args.check:
            drift = check_students(Path(args.solutions), Path(args.out))
            if drift:
                print("notebooks/ is out of sync with solutions/:", file=sys.stderr)
                for line in drift:
                    print(f"  - {line}", file=sys.stderr)
                print("run: cs285lab make-student   (or: make student)", file=sys.stderr)
                return 1
            print(f"student notebooks in {args.out}/ match {args.solutions}/")
            return 0
        notes: list[str] = []
        registry = Path(args.solutions).resolve().parent / "cs285lab" / "data" / "previous_cells.json"
        written = make_students(Path(args.solutions), Path(args.out), force=args.force, notes=notes,
                                previous=registry if registry.parent.is_dir() else None)
    except AuthoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"student notebooks in {args.out}/ already up to date")
    return 0


def _refresh_outputs(args: argparse.Namespace) -> int:
    from cs285lab.authoring.outputs import refresh_outputs
    from cs285lab.notebook_format import AuthoringError

    try:
        for path in args.notebooks:
            refresh_outputs(Path(path))
            print(f"refreshed checked outputs of {path}")
    except AuthoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _release(args: argparse.Namespace) -> int:
    from cs285lab.authoring.release import build_release
    from cs285lab.notebook_format import AuthoringError

    try:
        release = build_release(Path(args.root), int(args.through), Path(args.out))
    except AuthoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}/: notebooks {', '.join(release.notebooks)}")
    for entry in release.stubbed:
        print(f"  stubbed {entry.module}.{entry.qualname} ({entry.exercise})")
    for entry, why in release.kept:
        print(f"  kept    {entry.module}.{entry.qualname} ({entry.exercise}): {why}; the grader flags a "
              "solution cell that only imports it")
    return 0


def _through(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a notebook number such as 01, got {text!r}")
    return int(text)


def _grade(argv: list[str]) -> int:
    try:
        from cs285lab.grading.cli import main as grade_main
    except ImportError as exc:  # pragma: no cover - only while the grader is not installed
        print(f"error: the grader is not available ({exc})", file=sys.stderr)
        return 2
    return grade_main(argv)


def _hand_grade(argv: list[str]) -> int:
    from cs285lab.grading.handgrade import main as hand_grade_main

    return hand_grade_main(argv)


def _unpack(argv: list[str]) -> int:
    from cs285lab.grading.unpack import main as unpack_main

    return unpack_main(argv)


def _references(argv: list[str]) -> int:
    from cs285lab.references.cli import run

    return run(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cs285lab` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # before nbformat is imported: jsonschema's grammar compile for a format check nbformat never uses
    # (cs285lab.grading.run.SKIP_SLOW_IMPORTS) is ~1.2 s of every command that reads a notebook
    sys.modules.setdefault("rfc3987_syntax", None)
    if argv[:1] == ["grade"]:
        return _grade(argv[1:])
    if argv[:1] == ["hand-grade"]:
        return _hand_grade(argv[1:])
    if argv[:1] == ["unpack"]:
        return _unpack(argv[1:])
    if argv[:1] == ["references"]:
        return _references(argv[1:])
    parser = argparse.ArgumentParser(prog="cs285lab", description="cs285lab course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    ms = sub.add_parser("make-student", help="generate notebooks/ from solutions/")
    ms.add_argument("--solutions", default="solutions", help="reference notebooks (default: solutions)")
    ms.add_argument("--out", default="notebooks", help="student notebooks (default: notebooks)")
    ms.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    ms.add_argument("--force", action="store_true",
                    help="overwrite student notebooks that hold someone's work (a backup is kept)")
    ms.set_defaults(run=_make_student)
    ro = sub.add_parser("refresh-outputs", help="re-run solution notebooks (ci budget) and store the outputs "
                        "of cells tagged nbval-check-output; all other outputs are cleared")
    ro.add_argument("notebooks", nargs="+")
    ro.set_defaults(run=_refresh_outputs)
    rel = sub.add_parser("release", help="write a student handout of notebooks 00..NN; the package's reference "
                         "code of exercises in notebook NN and later is replaced by stubs")
    rel.add_argument("--through", required=True, type=_through, metavar="NN", help="last notebook handed out, e.g. 03")
    rel.add_argument("--out", required=True, help="a new (or empty) folder for the handout")
    rel.add_argument("--root", default=".", help="the course repository (default: the current folder)")
    rel.set_defaults(run=_release)
    sub.add_parser("grade", help="grade submissions (see: cs285lab grade --help)")
    sub.add_parser("hand-grade", help="grade written answers in the browser (see: cs285lab hand-grade --help)")
    sub.add_parser("unpack", help="unpack the handout's submission zips into a class folder "
                   "(see: cs285lab unpack --help)")
    sub.add_parser("references", help="build, regenerate or list reference bands (see: cs285lab references --help; "
                   "the same as python -m cs285lab.references)")
    args = parser.parse_args(argv)
    return args.run(args)
