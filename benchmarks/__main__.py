"""`python -m benchmarks [--only NAME]`: run benchmarks (all by default)."""

import argparse
import sys

from benchmarks.harness import available, run

parser = argparse.ArgumentParser(prog="make bench")
parser.add_argument("--only", help="run one benchmark: " + ", ".join(available()))
args = parser.parse_args()
names = available()
if args.only:
    if args.only not in names:
        sys.exit(f"unknown benchmark {args.only!r}; choose from: {', '.join(names)}")
    names = [args.only]
if not names:
    sys.exit("no benchmarks found (benchmarks/bench_*.py)")
run(names)
