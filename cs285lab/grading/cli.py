"""`cs285lab grade SUBMISSION... --out DIR`: grade a folder of notebooks with nbval."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from cs285lab.notebook_format import AuthoringError

EPILOG = """\
Each SUBMISSION is a notebook, one student's folder, or a class folder (one subfolder per student,
or notebooks side by side). Writes DIR/grades.csv (one row per check cell), DIR/summary.csv (one
row per submission and notebook), DIR/feedback/<submission>.md and .html, DIR/report.html,
DIR/gradebook.csv (+ gradebook-canvas.csv), DIR/manual/ (written answers to grade by hand:
cs285lab hand-grade DIR), and caches results in DIR/cache/ (re-running re-grades only what
changed). Exit status 0 when grading completed, whatever the grades. Every notebook runs in a
bubblewrap sandbox (read-only filesystem, no network, nothing outlives the run); where bubblewrap
cannot run, the grader stops unless --no-sandbox is given.
Other forms: cs285lab grade --merge OUT SHARD_OUT...   (combine the outputs of --shard runs)
             cs285lab grade --emit slurm|k8s --shards N SUBMISSION... --out DIR [options]
See docs/grading.md.
"""


def build_parser() -> argparse.ArgumentParser:
    """The grade command's options."""
    p = argparse.ArgumentParser(prog="cs285lab grade", description="Grade submitted notebooks with nbval.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION", help="a notebook or a folder")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where the tables and feedback go")
    p.add_argument("--solutions", default=Path("solutions"), type=Path, metavar="DIR",
                   help="reference notebooks (default: solutions/)")
    p.add_argument("--notebook", action="append", default=[], metavar="NAME",
                   help="grade only this reference notebook (file name or prefix, e.g. 03); repeatable")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="notebooks graded in parallel (default 1)")
    p.add_argument("--profile", choices=("ci", "full", "smoke"), default="ci",
                   help="training budget in the kernel (default: ci, the small one; smoke runs every cell but "
                        "judges no learning: for testing that notebooks still run, never for grades)")
    p.add_argument("--cell-timeout", type=float, default=300.0, metavar="S", help="per-cell limit (default 300 s)")
    p.add_argument("--notebook-timeout", type=float, default=None, metavar="S",
                   help="per-notebook limit (default 900 s with --profile ci, 1800 s with full)")
    p.add_argument("--memory-mb", type=int, default=4096, metavar="MB",
                   help="address-space limit of the notebook's processes (default 4096)")
    p.add_argument("--file-mb", type=int, default=1024, metavar="MB", help="largest file a notebook may write")
    p.add_argument("--layout", choices=("auto", "student", "class"), default="auto",
                   help="how to read a folder: one student's (student), one per subfolder or file (class)")
    p.add_argument("--shard", metavar="I/N", help="grade only shard I of N (split by sorted submission name)")
    p.add_argument("--tampered", choices=("restore", "zero"), default="restore",
                   help="points for a changed check cell: from the restored reference run (default) or zero")
    p.add_argument("--gradescope", type=Path, metavar="PATH",
                   help="also write Gradescope's results.json for the (single) submission to PATH")
    p.add_argument("--regrade", action="store_true",
                   help="ignore cached results (e.g. after changing package code the notebooks import)")
    p.add_argument("--keep-scratch", type=Path, metavar="DIR", help="keep each run's scratch folder (debugging)")
    p.add_argument("--sandbox", choices=("on", "auto", "off"), default=None,
                   help="run each notebook under bubblewrap: on (default; stop if it cannot run), auto (use it "
                        "when it can run, e.g. inside Gradescope's container), off; the CS285LAB_GRADE_SANDBOX "
                        "setting gives the default")
    p.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                   help="same as --sandbox off: run submissions with your user's rights (trusted code, or "
                        "inside a container that is the sandbox)")
    p.add_argument("--roster", type=Path, metavar="CSV",
                   help="expected students (a `student` column; default DIR/roster.csv if it exists)")
    p.add_argument("--late-policy", type=Path, metavar="TOML",
                   help="deadlines and penalties (default DIR/late.toml if it exists)")
    p.add_argument("--overrides", type=Path, metavar="CSV",
                   help="the staff's points with a reason (default DIR/overrides.csv if it exists)")
    p.add_argument("--emit", choices=("slurm", "k8s"),
                   help="print a Slurm job array or a Kubernetes Indexed Job that grades --shards N shards of "
                        "this class, one per task (then merge with --merge); grades nothing")
    p.add_argument("--shards", type=int, metavar="N", help="with --emit: how many shards (array tasks)")
    p.add_argument("--image", default="cs285lab-grader:latest", metavar="IMAGE",
                   help="with --emit k8s: the container image holding the course and the class (default %(default)s)")
    return p


def _terminate(signum: int, _frame: object) -> None:
    # SIGINT, SIGTERM and SIGHUP take the Ctrl-C path: running notebooks are killed, scratch folders removed,
    # finished results kept.
    from cs285lab.grading.batch import STOP

    STOP.signal(signum)


def main(argv: list[str]) -> int:
    """Run the grader; return the process exit status."""
    if argv[:1] == ["--merge"]:
        from cs285lab.grading.merge import main as merge_main

        return merge_main(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = list(argv)
    if args.emit:
        from cs285lab.grading.emit import main as emit_main

        return emit_main(args, argv)
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, _terminate)
    except ValueError:
        previous = {}  # not the main thread: signals stay as they are
    try:
        return _grade(args)
    except GradingFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class GradingFailure(RuntimeError):
    """The grader cannot run; the message says why."""


def _inputs(args: argparse.Namespace):
    """The roster, late policy and overrides: the files named, else those in --out, else none."""
    from cs285lab.grading.gradebook import Roster, RosterError
    from cs285lab.grading.late import PolicyError, load_policy
    from cs285lab.grading.overrides import read_overrides
    from cs285lab.grading.pipeline import Inputs

    def chosen(given: Path | None, default: str) -> Path | None:
        if given is not None:
            if not given.is_file():
                raise GradingFailure(f"{given}: no such file")
            return given
        return args.out / default if (args.out / default).is_file() else None

    inputs = Inputs()
    try:
        if (path := chosen(args.roster, "roster.csv")) is not None:
            inputs.roster = Roster.read(path)
            args.roster = path  # run.json records it: the merge of shards applies it
        if (path := chosen(args.late_policy, "late.toml")) is not None:
            inputs.late = load_policy(path)
    except (RosterError, PolicyError) as exc:
        raise GradingFailure(str(exc)) from None
    if (path := chosen(args.overrides, "overrides.csv")) is not None:
        inputs.overrides = read_overrides(path)
    return inputs


def _grade(args: argparse.Namespace) -> int:
    from cs285lab.grading.batch import Settings
    from cs285lab.grading.course import load_references
    from cs285lab.grading.discover import GradingError, discover, parse_shard, shard
    from cs285lab.grading.gradescope import write_gradescope
    from cs285lab.grading.pipeline import grade
    from cs285lab.grading.run import Limits
    from cs285lab.grading.sandbox import Sandbox, remove_stale_scratch, resolve_mode, unavailable_reason

    start = time.monotonic()
    if args.notebook_timeout is None:
        args.notebook_timeout = 1800.0 if args.profile == "full" else 900.0
    if args.jobs < 1:
        raise GradingFailure("-j must be at least 1")
    for name in ("cell_timeout", "notebook_timeout", "memory_mb", "file_mb"):
        if getattr(args, name) <= 0:
            raise GradingFailure(f"--{name.replace('_', '-')} must be positive")
    if not args.solutions.is_dir():
        raise GradingFailure(f"--solutions {args.solutions}: no such folder (the reference notebooks)")
    try:
        refs = load_references(args.solutions)
    except AuthoringError as exc:
        raise GradingFailure(f"a reference notebook is malformed: {exc}") from None
    if not refs:
        raise GradingFailure(f"--solutions {args.solutions}: holds no .ipynb reference notebooks")
    if args.notebook:
        chosen = {name: ref for name, ref in refs.items() if any(name.startswith(p) for p in args.notebook)}
        if not chosen:
            raise GradingFailure(f"--notebook {' '.join(args.notebook)}: matches none of {', '.join(refs)}")
        refs = chosen
    layout = "student" if args.gradescope and args.layout == "auto" else args.layout
    try:
        everyone = discover(args.submissions, set(refs), layout)
        submissions = shard(everyone, *parse_shard(args.shard)) if args.shard else everyone
    except GradingError as exc:
        raise GradingFailure(str(exc)) from None
    if args.gradescope and len(submissions) != 1:
        raise GradingFailure(f"--gradescope writes one student's results, but {len(submissions)} submissions "
                             "were found; pass one student's folder")
    if args.out.exists() and not args.out.is_dir():
        raise GradingFailure(f"--out {args.out}: exists and is not a folder")
    inputs = _inputs(args)

    try:
        mode = resolve_mode(args.sandbox)
    except ValueError as exc:
        raise GradingFailure(str(exc)) from None
    sandbox = None
    if mode != "off":
        reason = unavailable_reason()
        if reason is None:
            args.out.mkdir(parents=True, exist_ok=True)  # hidden from the runs: it must exist to be covered
            sandbox = Sandbox.for_run([args.solutions, args.out, *args.submissions])
        elif mode == "on":
            raise GradingFailure(
                f"cannot sandbox the submissions: {reason}. Install bubblewrap (Debian/Ubuntu: "
                "apt-get install bubblewrap) or allow user namespaces. To grade without a sandbox (trusted "
                "submissions, or inside a container such as Gradescope's), pass --no-sandbox or set "
                "CS285LAB_GRADE_SANDBOX=off; see docs/grading.md")
        else:
            print(f"note: no sandbox ({reason}); --sandbox auto runs submissions with your user's rights",
                  file=sys.stderr)
    stale = remove_stale_scratch()
    if stale:
        print(f"removed {len(stale)} scratch folder(s) left by a grader that was killed", file=sys.stderr)

    limits = Limits(args.profile, args.cell_timeout, args.notebook_timeout, args.memory_mb, args.file_mb)
    settings = Settings(limits, args.tampered, args.jobs, args.keep_scratch, args.regrade, sandbox)
    print(f"grading {len(submissions)} submission(s), {len(refs)} notebook(s) each, profile {args.profile}, "
          f"-j {args.jobs}, {'sandboxed (bubblewrap)' if sandbox else 'NOT sandboxed'}", file=sys.stderr)
    record = _record(args, refs, everyone, submissions)
    try:
        outcome = grade(submissions, refs, args.out, settings, inputs, whole_class=not args.shard,
                        stream=sys.stderr, warn=_warn)
    except KeyboardInterrupt:
        print(f"\ninterrupted after {_duration(time.monotonic() - start)}: finished notebooks are kept in "
              f"{args.out}/ (re-run the same command to grade the rest)", file=sys.stderr)
        return 130
    from cs285lab.files import write_atomic

    write_atomic(args.out / "run.json", json.dumps({**record, "seconds": round(time.monotonic() - start, 1)},
                                                   indent=1, ensure_ascii=False) + "\n")
    elapsed = time.monotonic() - start
    results = outcome.results
    cached = sum(r.cached for r in results.values())
    broken = [r.internal_error for r in results.values() if r.internal_error]
    if args.gradescope:
        order = sorted(results, key=lambda i: outcome.jobs[i].notebook)
        titles = {k: v for i in order if outcome.jobs[i].ref for k, v in outcome.jobs[i].ref.titles.items()}
        rows = [row for i in order for row in results[i].rows]
        penalty = sum(float(results[i].late.get("late_penalty", 0.0)) for i in order)
        write_gradescope(args.gradescope, rows, elapsed, titles, penalty)
    print(f"graded {len(outcome.jobs)} notebook(s) of {len(submissions)} submission(s) in {_duration(elapsed)} "
          f"({cached} from cache); tables in {args.out}/", file=sys.stderr)
    if outcome.pending:
        print(f"{outcome.pending} written answer(s) wait for hand grading: cs285lab hand-grade {args.out}",
              file=sys.stderr)
    if broken:
        print(f"error: the grader failed on {len(broken)} notebook(s) (rows say 'internal grader error'): "
              f"{broken[0]}", file=sys.stderr)
        return 1
    return 0


def _warn(jobs: list) -> None:
    """Say duplicates and empty folders once each, before the long run starts."""
    warnings = []
    for job in jobs:
        warnings += [n if n.startswith("the same student") else f"{job.submission}: {n}" for n in job.notices]
        if job.path is None and job.note.startswith("no notebook found"):
            warnings.append(f"{job.submission}: {job.note}")
    for warning in dict.fromkeys(warnings):
        print(f"warning: {warning}", file=sys.stderr)


def _record(args: argparse.Namespace, refs: dict, everyone: list, submissions: list) -> dict:
    """What run.json says about this run: the merge checks shards against it."""
    import hashlib

    return {
        "version": 1,
        "shard": args.shard or "",
        "class_size": len(everyone),
        "submissions": [s.name for s in submissions],
        "references": {name: hashlib.sha256(ref.path.read_bytes()).hexdigest()[:16] for name, ref in refs.items()},
        "profile": args.profile, "tampered": args.tampered,
        "roster": str(args.roster.resolve()) if args.roster else "",
        "solutions": str(args.solutions.resolve()),
        "command": ["cs285lab", "grade", *args.argv],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"
