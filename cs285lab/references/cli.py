"""`python -m cs285lab.references build|generate|list`: make, regenerate or list reference bands.

    python -m cs285lab.references build nb04/reference --out cs285lab/data/reference/nb04-x.csv \\
        --meta algorithm="..." --meta env=... --meta profile=ci
    python -m cs285lab.references generate nb03-sac-pendulum --profile full
    python -m cs285lab.references list
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cs285lab.plots.reference import available_references, load_reference, make_reference
from cs285lab.references.recipe import generate, known_recipes
from cs285lab.runlog import load_runs

__all__ = ["main", "parser", "run"]


def _parse_meta(items: Sequence[str]) -> dict[str, str]:
    meta = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--meta expects key=value, got {item!r}")
        meta[key.strip()] = value.strip()
    return meta


def parser() -> argparse.ArgumentParser:
    """The command's argument parser: build, generate and list."""
    command = argparse.ArgumentParser(prog="python -m cs285lab.references", description=__doc__.split("\n")[0])
    sub = command.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="make a band CSV from runs logged with RunLogger")
    build.add_argument("experiment", nargs="+", help="experiment name(s) under --root")
    build.add_argument("--root", default="runs")
    build.add_argument("--out", required=True, help="band CSV to write, e.g. cs285lab/data/reference/nb01-x.csv")
    build.add_argument("--metrics", default=None, help="comma-separated metric names (default: all)")
    build.add_argument("--points", type=int, default=None,
                       help="grid bins (default: the logged steps when all runs share them, else 100)")
    build.add_argument("--meta", action="append", default=[], help="key=value for the header (repeat)")
    gen = sub.add_parser("generate", help="retrain a registered reference algorithm and rewrite its shipped band")
    gen.add_argument("exercise", choices=sorted(known_recipes()))
    gen.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    gen.add_argument("--profile", choices=("ci", "full"), default="ci", help="budget profile (default ci)")
    gen.add_argument("--out", default=None, help="default: the shipped file cs285lab/data/reference/<exercise>.csv")
    gen.add_argument("--root", default=None, help="keep the runs under this directory (default: a temp dir)")
    sub.add_parser("list", help="list the shipped bands")
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build a band from logged runs (`build`), regenerate a shipped one (`generate`), or `list` them."""
    args = parser().parse_args(argv)
    if args.command == "generate":
        from cs285lab.seeding import seed_everything

        seed_everything(0)  # one torch thread
        path = generate(args.exercise, args.seeds, args.profile, args.root, args.out)
        print(f"wrote {path}: {load_reference(path).label()}")
        return 0
    if args.command == "list":
        for name in available_references():
            band = load_reference(name)
            print(f"{name}: {', '.join(band.metrics)}; {band.label()}")
        return 0
    metrics = args.metrics.split(",") if args.metrics else None
    runs = load_runs(args.experiment, root=args.root, metrics=metrics)
    how = "python -m cs285lab.references " + " ".join(sys.argv[1:] if argv is None else argv)
    path = make_reference(runs, args.out, metrics, args.points, **{"how": how, **_parse_meta(args.meta)})
    print(f"wrote {path}: {load_reference(path).label()}")
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """`main`, with a bad name or file reported in one line (exit status 2) instead of a traceback."""
    try:
        return main(argv)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
