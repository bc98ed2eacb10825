"""`cs285lab grade --merge OUT SHARD_OUT...`: the outputs of `--shard I/N` runs combined into one folder.

Each shard's run.json says which shard it is, how big the class was and which submissions it
graded. The merge refuses shards that overlap (the same shard twice, or a submission in two
shards), leave a shard out, or were graded with other references or options; then it writes the
tables, feedback pages, hand-grading sheets, report.html and the gradebook of the whole class into
OUT, and copies the shards' caches, so that a later unsharded `cs285lab grade CLASS --out OUT`
(to merge hand-graded scores, say) re-runs no notebook.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
from pathlib import Path

from cs285lab.files import write_atomic
from cs285lab.grading.classreport import write_report
from cs285lab.grading.gradebook import Roster, RosterError, write_gradebook
from cs285lab.grading.manual import SHEET_COLUMNS, SHEET_NAME, _cell, _uncell
from cs285lab.grading.tables import Tables

SAME = ("references", "profile", "tampered")  # what every shard must share


class MergeError(ValueError):
    """The shards cannot be merged; the message says which and why."""


def _records(shards: list[Path]) -> list[dict]:
    records = []
    for folder in shards:
        path = folder / "run.json"
        if not path.is_file():
            raise MergeError(f"{folder}: no run.json (not the output of `cs285lab grade --shard I/N`, or it did "
                             "not finish)")
        record = json.loads(path.read_text(encoding="utf-8"))
        if not record.get("shard"):
            raise MergeError(f"{folder}: graded without --shard; nothing to merge")
        index, count = (int(x) for x in record["shard"].split("/"))
        records.append({**record, "index": index, "count": count, "folder": folder})
    return records


def check(records: list[dict]) -> None:
    """Refuse shards of different splits or settings, duplicated or missing shards, and overlapping submissions."""
    counts = {r["count"] for r in records}
    if len(counts) > 1:
        raise MergeError("the shards come from different splits: " + ", ".join(f"{r['folder']} is {r['shard']}"
                                                                                for r in records))
    count = counts.pop()
    for key in SAME:
        values = {json.dumps(r.get(key), sort_keys=True) for r in records}
        if len(values) > 1:
            raise MergeError(f"the shards were graded with different {key}: "
                             + ", ".join(f"{r['folder']}: {r.get(key)}" for r in records))
    seen: dict[int, Path] = {}
    for record in records:
        if record["index"] in seen:
            raise MergeError(f"shard {record['index']}/{count} is given twice: {seen[record['index']]} and "
                             f"{record['folder']}")
        seen[record["index"]] = record["folder"]
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise MergeError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing: grade them "
                         f"(--shard I/{count}) and pass their output folders too")
    owner: dict[str, Path] = {}
    for record in records:
        for name in record["submissions"]:
            if name in owner:
                raise MergeError(f"submission {name!r} is in two shards: {owner[name]} and {record['folder']}")
            owner[name] = record["folder"]
    sizes = {r["class_size"] for r in records}
    if len(sizes) > 1 or len(owner) != sizes.pop():
        raise MergeError("the shards were cut from different classes (their class sizes disagree, or their "
                         "submissions do not add up to the class): grade every shard from the same folder")


def _sheet_rows(folder: Path) -> dict[str, list[dict]]:
    """Question stem -> the rows of every sheet in `folder`, sheet order."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in folder.glob("*.csv") if folder.is_dir() else []:
        match = SHEET_NAME.match(path.name)
        if match:
            found.setdefault(match.group("base"), []).append((int(match.group("n") or 1), path))
    rows: dict[str, list[dict]] = {}
    for stem, paths in found.items():
        for _, path in sorted(paths):
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows.setdefault(stem, []).extend(csv.DictReader(handle))
    return rows


def merge_sheets(out: Path, shards: list[Path]) -> list[Path]:
    """Add every shard's sheet rows that OUT's sheets do not list yet into a new sheet per question."""
    have = _sheet_rows(out / "manual")
    written = []
    incoming: dict[str, dict[tuple[str, str], dict]] = {}
    for shard in shards:
        for stem, rows in _sheet_rows(shard / "manual").items():
            for row in rows:  # a later sheet's row for the same answer wins, as when the grader reads them
                incoming.setdefault(stem, {})[(_uncell(row.get("submission") or ""), row.get("answer_id") or "")] = row
    for stem, rows in sorted(incoming.items()):
        listed = {(_uncell(r.get("submission") or ""), r.get("answer_id") or "") for r in have.get(stem, [])}
        new = [row for key, row in sorted(rows.items()) if key not in listed]
        if not new:
            continue
        numbers = [int(m.group("n") or 1) for p in (out / "manual").glob(f"{stem}*.csv")
                   if (m := SHEET_NAME.match(p.name)) and m.group("base") == stem]
        number = max(numbers, default=0) + 1
        path = out / "manual" / (f"{stem}.csv" if number == 1 else f"{stem}.{number}.csv")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=SHEET_COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "submission": _cell(_uncell(row.get("submission") or ""))} for row in new)
        write_atomic(path, buffer.getvalue())
        written.append(path)
    return written


def merge(out: Path, shards: list[Path], roster: Roster | None = None, stream=None) -> Tables:
    """Merge `shards` into `out` (MergeError when they do not make one whole class); return the merged tables."""
    stream = stream if stream is not None else sys.stderr
    resolved = {s.resolve() for s in shards}
    if out.resolve() in resolved:
        raise MergeError(f"{out}: is one of the shards; merge into a new folder")
    records = _records(shards)
    check(records)
    if out.exists() and any(out.iterdir()) and not (out / "run.json").is_file():
        raise MergeError(f"{out}: exists and holds files that no merge wrote; merge into a new or empty folder")
    if (out / "run.json").is_file() and not json.loads((out / "run.json").read_text()).get("merged_from"):
        raise MergeError(f"{out}: holds the output of a grading run, not of a merge; merge into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    parts = [Tables.read(s) for s in shards]
    tables = Tables(*(sorted((row for t in parts for row in getattr(t, name)), key=lambda r: (r["submission"],
                                                                                              r["notebook"]))
                      for name in ("grades", "summary", "timings")))
    for shard in shards:
        for folder in ("feedback", "cache"):
            if (shard / folder).is_dir():
                shutil.copytree(shard / folder, out / folder, dirs_exist_ok=True)
    merge_sheets(out, shards)
    tables.write(out)
    if roster is None:
        recorded = next((r["roster"] for r in records if r.get("roster")), "")
        if recorded and Path(recorded).is_file():
            roster = Roster.read(Path(recorded))
    write_report(out, tables, list(roster.students) if roster else None)
    write_gradebook(out, tables, roster, stream)
    first = records[0]
    command = [arg for arg in first.get("command", []) if arg]
    if "--shard" in command:
        at = command.index("--shard")
        del command[at:at + 2]
    if "--out" in command:
        command[command.index("--out") + 1] = str(out)
    write_atomic(out / "run.json", json.dumps({
        **{key: first.get(key) for key in (*SAME, "solutions", "class_size")}, "version": 1, "shard": "",
        "submissions": sorted(n for r in records for n in r["submissions"]), "roster": first.get("roster", ""),
        "merged_from": [str(s.resolve()) for s in shards], "command": command}, indent=1, ensure_ascii=False) + "\n")
    return tables


def main(argv: list[str]) -> int:
    """`cs285lab grade --merge OUT SHARD_OUT... [--roster CSV]`."""
    p = argparse.ArgumentParser(prog="cs285lab grade --merge", description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, metavar="OUT", help="the folder for the whole class (new, or a previous merge)")
    p.add_argument("shards", type=Path, nargs="+", metavar="SHARD_OUT", help="the --out folders of the shards")
    p.add_argument("--roster", type=Path, metavar="CSV", help="expected students (default: the shards' roster)")
    args = p.parse_args(argv)
    try:
        roster = Roster.read(args.roster) if args.roster else None
        tables = merge(args.out, args.shards, roster)
    except (MergeError, RosterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {len(args.shards)} shard(s), {len(tables.submissions())} submission(s), into {args.out}/",
          file=sys.stderr)
    return 0
