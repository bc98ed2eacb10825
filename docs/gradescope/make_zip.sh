#!/usr/bin/env bash
# Build the Gradescope autograder zip from the course repository: run from the repository root.
#   bash docs/gradescope/make_zip.sh                       -> every notebook in solutions/
#   bash docs/gradescope/make_zip.sh 03_off_policy_actor_critic.ipynb   -> one assignment
# Writes gradescope-autograder.zip. Upload it under "Configure Autograder" (Ubuntu base image,
# 2+ CPUs and 4+ GB of memory).
set -euo pipefail
root="$(pwd)"
[ -f "$root/pyproject.toml" ] && [ -d "$root/solutions" ] || { echo "run from the repository root" >&2; exit 2; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp docs/gradescope/setup.sh docs/gradescope/run_autograder "$stage/"
cp pyproject.toml README.md "$stage/"
cp -r cs285lab "$stage/"
mkdir "$stage/solutions"
if [ "$#" -gt 0 ]; then
    for name in "$@"; do cp "solutions/$(basename "$name")" "$stage/solutions/"; done
else
    cp solutions/*.ipynb "$stage/solutions/"
fi
find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
rm -f "$root/gradescope-autograder.zip"
(cd "$stage" && zip -qr "$root/gradescope-autograder.zip" .)
echo "wrote gradescope-autograder.zip ($(ls "$stage/solutions" | wc -l) notebook(s))"
