#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image).
# The autograder zip (see make_zip.sh) unpacks to /autograder/source: this script, run_autograder,
# and the course (pyproject.toml, README.md, cs285lab/, solutions/).
set -euo pipefail

# The course needs Python 3.11+; Gradescope's Ubuntu 22.04 image ships 3.10.
apt-get update
apt-get install -y --no-install-recommends software-properties-common
add-apt-repository -y ppa:deadsnakes/ppa
apt-get update
apt-get install -y --no-install-recommends python3.11 python3.11-venv

python3.11 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
# The CPU build of torch first (PyPI's Linux wheel pulls CUDA, gigabytes the grader never uses),
# then the course package with its exact pins.
/autograder/venv/bin/python -m pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
/autograder/venv/bin/python -m pip install /autograder/source

# Smoke test at build time: the reference notebooks must get full marks here, or the image is wrong.
mkdir -p /autograder/selfcheck
cp /autograder/source/solutions/*.ipynb /autograder/selfcheck/
/autograder/venv/bin/cs285lab grade /autograder/selfcheck --layout student \
    --solutions /autograder/source/solutions --out /tmp/cs285lab-selfcheck
python3.11 - <<'PY'
import csv
rows = list(csv.DictReader(open("/tmp/cs285lab-selfcheck/grades.csv")))
bad = [r for r in rows if r["status"] != "passed"]
assert not bad, f"reference notebooks do not pass on this image: {bad[:3]}"
print(f"self-check: {len(rows)} checks passed")
PY
rm -rf /autograder/selfcheck /tmp/cs285lab-selfcheck
