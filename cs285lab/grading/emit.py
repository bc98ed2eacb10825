"""`cs285lab grade --emit slurm|k8s --shards N ...`: the batch script that grades a class on many machines.

One task per shard (`--shard I/N`, each into OUT/shard-I), then `cs285lab grade --merge OUT
OUT/shard-1 ... OUT/shard-N`: a class takes the time of its slowest shard. The grade options given
(limits, profile, sandbox, -j) are passed to every task unchanged; the script is printed, not run.
- slurm: a job array (`#SBATCH --array=1-N`), `SLURM_ARRAY_TASK_ID` picks the shard;
- k8s: an Indexed Job (`completionMode: Indexed`, `completions: N`), `JOB_COMPLETION_INDEX` + 1 picks it.
Paths are used as given, so they must mean the same on every node (a shared filesystem, or the
volume the Kubernetes manifest mounts at their common parent).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from pathlib import Path

DROP = {"--emit": 1, "--shards": 1, "--image": 1, "--out": 1, "--shard": 1}


def _without(argv: list[str]) -> list[str]:
    """The grade arguments without the emit options, --out and --shard (the tasks set those)."""
    kept, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in DROP:
            skip = 0 if "=" in arg else DROP[name]
            continue
        kept.append(arg)
    return kept


def _task_args(argv: list[str], args: argparse.Namespace) -> list[str]:
    """The grade arguments of every task: emit options dropped, submission and solutions paths absolute
    (the tasks run in another folder, on another node)."""
    paths = {Path(p): str(p.resolve()) for p in [*args.submissions, args.solutions]}
    kept = [paths.get(Path(arg), arg) if not arg.startswith("-") else arg for arg in _without(argv)]
    if not any(arg.split("=", 1)[0] == "--solutions" for arg in kept):
        kept += ["--solutions", str(args.solutions.resolve())]
    return kept


def _common(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.resolve()) for p in paths]))


def _hours(args: argparse.Namespace, per_shard: int, notebooks: int) -> str:
    """The longest a shard can run: every notebook at its time limit, -j at a time (then Slurm never cuts it)."""
    seconds = math.ceil(per_shard * notebooks / max(1, args.jobs)) * args.notebook_timeout + 600
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:00"


def slurm(args: argparse.Namespace, argv: list[str], shards: int, notebooks: int, class_size: int) -> str:
    """A Slurm job array script: task I grades shard I/N."""
    out = args.out.resolve()
    grade = shlex.join(["cs285lab", "grade", *_task_args(argv, args)])
    per_shard = math.ceil(class_size / shards)
    memory_gb = math.ceil(args.jobs * args.memory_mb / 1024) + 2
    merge = shlex.join(["cs285lab", "grade", "--merge", str(out)]) + " " + " ".join(
        shlex.quote(str(out / f"shard-{i}")) for i in range(1, shards + 1))
    return f"""#!/bin/bash
# cs285lab grade, {class_size} submission(s) in {shards} shard(s): one Slurm array task per shard, then the merge.
#   jobid=$(sbatch --parsable grade.sbatch)
#   sbatch --dependency=afterok:$jobid --job-name=cs285lab-merge --wrap {shlex.quote(merge)}
#SBATCH --job-name=cs285lab-grade
#SBATCH --array=1-{shards}
#SBATCH --cpus-per-task={args.jobs}
#SBATCH --mem={memory_gb}G
#SBATCH --time={_hours(args, per_shard, notebooks)}
#SBATCH --output={out}/logs/shard-%a.log
set -euo pipefail
I="${{SLURM_ARRAY_TASK_ID:?run this script with sbatch: it is one task of a job array}}"
mkdir -p {shlex.quote(str(out))}/logs
exec {grade} --shard "$I/{shards}" --out {shlex.quote(str(out))}/shard-"$I"
"""


def k8s(args: argparse.Namespace, argv: list[str], shards: int, image: str) -> str:
    """A Kubernetes Indexed Job manifest: pod k grades shard k+1/N into OUT/shard-(k+1)."""
    out = args.out.resolve()
    mount = _common([*args.submissions, args.solutions, args.out])
    grade = shlex.join(["cs285lab", "grade", *_task_args(argv, args)])
    command = (f'I=$((JOB_COMPLETION_INDEX + 1)); exec {grade} --shard "$I/{shards}" '
               f'--out {shlex.quote(str(out))}/shard-"$I"')
    memory_gi = math.ceil(args.jobs * args.memory_mb / 1024) + 2
    q = json.dumps  # a JSON string is a YAML string
    return f"""# cs285lab grade in {shards} shard(s): one pod per shard (an Indexed Job), then the merge:
#   kubectl apply -f grade-job.yaml
#   kubectl wait --for=condition=complete --timeout=24h job/cs285lab-grade
#   then, where the volume is mounted: cs285lab grade --merge {out} {out}/shard-1 ... {out}/shard-{shards}
apiVersion: batch/v1
kind: Job
metadata:
  name: cs285lab-grade
spec:
  completionMode: Indexed
  completions: {shards}
  parallelism: {shards}
  backoffLimitPerIndex: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: grade
          image: {q(image)}
          command: ["/bin/sh", "-c"]
          args: [{q(command)}]
          resources:
            requests: {{cpu: {q(str(args.jobs))}, memory: {q(f"{memory_gi}Gi")}}}
            limits: {{memory: {q(f"{memory_gi}Gi")}}}
          volumeMounts:
            - name: course
              mountPath: {q(str(mount))}
      volumes:
        - name: course
          persistentVolumeClaim:
            claimName: cs285lab-course
"""


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Print the script or manifest for `args` (the grade command's options plus --emit and --shards)."""
    from cs285lab.grading.course import load_references
    from cs285lab.grading.discover import GradingError, discover

    if not args.shards or args.shards < 1:
        print("error: --emit needs --shards N (how many tasks), N >= 1", file=sys.stderr)
        return 2
    if args.shard:
        print("error: --emit writes one task per shard; leave out --shard", file=sys.stderr)
        return 2
    try:
        refs = load_references(args.solutions) if args.solutions.is_dir() else {}
        class_size = len(discover(args.submissions, set(refs), args.layout))
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not refs:
        print(f"error: --solutions {args.solutions}: no reference notebooks", file=sys.stderr)
        return 2
    if args.shards > class_size:
        print(f"error: --shards {args.shards} is more than the {class_size} submission(s)", file=sys.stderr)
        return 2
    if args.notebook_timeout is None:
        args.notebook_timeout = 1800.0 if args.profile == "full" else 900.0
    notebooks = len([n for n in refs if not args.notebook or any(n.startswith(p) for p in args.notebook)])
    text = (slurm(args, argv, args.shards, notebooks, class_size) if args.emit == "slurm"
            else k8s(args, argv, args.shards, args.image))
    sys.stdout.write(text)
    return 0
