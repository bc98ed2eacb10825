#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image).
# The autograder zip (see make_zip.sh) unpacks to /autograder/source: this script, run_autograder,
# and the course (pyproject.toml, README.md, cs285lab/, solutions/).
#
# Simulation (tests/test_grading_gradescope.py): CS285LAB_AUTOGRADER_ROOT replaces /autograder, and
# CS285LAB_AUTOGRADER_VENV names an existing environment with the course installed, which is linked
# as $root/venv instead of installing packages (no apt-get, no pip).
set -euo pipefail
root="${CS285LAB_AUTOGRADER_ROOT:-/autograder}"

if [ -n "${CS285LAB_AUTOGRADER_VENV:-}" ]; then
    ln -sfn "$CS285LAB_AUTOGRADER_VENV" "$root/venv"
else
    # The course needs Python 3.11+; Gradescope's Ubuntu 22.04 image ships 3.10. bubblewrap gives each
    # notebook its own sandbox inside the container where the container allows it.
    apt-get update
    apt-get install -y --no-install-recommends software-properties-common bubblewrap
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv

    python3.11 -m venv "$root/venv"
    "$root/venv/bin/python" -m pip install --upgrade pip
    # The CPU build of torch first (PyPI's Linux wheel pulls CUDA, gigabytes the grader never uses),
    # then the course package with its exact pins.
    "$root/venv/bin/python" -m pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
    "$root/venv/bin/python" -m pip install "$root/source"
fi

# Smoke test at build time: the reference notebooks must get full marks here, or the image is wrong.
selfcheck="$(mktemp -d)"
trap 'rm -rf "$selfcheck"' EXIT
mkdir "$selfcheck/submission"
cp "$root/source/solutions/"*.ipynb "$selfcheck/submission/"
"$root/venv/bin/cs285lab" grade "$selfcheck/submission" --layout student --sandbox auto \
    --solutions "$root/source/solutions" --out "$selfcheck/out"
"$root/venv/bin/python" - "$selfcheck/out/grades.csv" <<'PY'
import csv
import sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
bad = [r for r in rows if r["status"] not in ("passed", "pending")]  # pending: written answers, graded by hand
assert rows and not bad, f"reference notebooks do not pass on this image: {bad[:3] or 'no rows'}"
print(f"self-check: {len(rows)} checks passed")
PY
