"""Plan a batch: one job per (submission, notebook), each submitted notebook read and parsed once, here."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from cs285lab.grading.course import Reference, SubmissionError, match_reference, read_submission
from cs285lab.grading.discover import Submission
from cs285lab.grading.jobs import Job
from cs285lab.notebook_format import cell_id, cell_meta, normalized

DUPLICATE_RULE = ("the copy with the most solution cells changed from the handout is graded; "
                  "a tie goes to the most recently modified file")


def filled_cells(nb: nbformat.NotebookNode | None, ref: Reference) -> int:
    """How many of `ref`'s solution cells `nb` changed from the handout (the stubs)."""
    if nb is None:
        return -1
    stubs = {m["id"]: normalized(c.source) for c in ref.student.cells
             if (m := cell_meta(c)) and m.get("kind") == "solution"}
    done = set()
    for cell in nb.cells:
        cid = cell_id(cell)
        if cid in stubs and cid not in done and normalized(cell.source) != stubs[cid]:
            done.add(cid)
    return len(done)


def _describe(found: list[str]) -> str:
    if not found:
        return "the folder is empty"
    shown = ", ".join(f"`{name}`" for name in found[:8])
    return f"it holds {shown}" + (f" and {len(found) - 8} more file(s)" if len(found) > 8 else "")


def _label(entry: tuple, total: int) -> str:
    filled = "unreadable" if entry[0] < 0 else f"{entry[0]} of {total} solution cells filled in"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry[1]))
    return f"`{entry[3].name}` ({filled}, modified {when})"


def plan(submissions: list[Submission], refs: dict[str, Reference]) -> list[Job]:
    """One job per (submission, notebook); a student folder also lists its missing notebooks.

    Two files answering one notebook: `DUPLICATE_RULE` picks the graded one; the other gets an
    `ignored` row, and both say so.
    """
    jobs = []
    for submission in submissions:
        candidates: dict[str, list[tuple[Path, nbformat.NotebookNode | None, str]]] = {}
        extra = []
        for path in submission.notebooks:
            problem = ""
            try:
                nb = read_submission(path)
            except SubmissionError as exc:
                nb, problem = None, str(exc)
            name = match_reference(path, nb, refs)
            if name is None:
                note = (f"{problem}; its name matches no course notebook either" if problem else
                        "not a course notebook: no reference notebook matches its name or cells")
                extra.append(Job(submission.name, path.name, path, None, note, list(submission.notes),
                                 submission.path))
            else:
                candidates.setdefault(name, []).append((path, nb, problem))
        taken: dict[str, tuple[Path, nbformat.NotebookNode | None, str, str]] = {}
        for name, copies in candidates.items():
            if len(copies) == 1:
                taken[name] = (*copies[0], "")
                continue
            ref = refs[name]
            scored = sorted(((filled_cells(nb, ref), path.stat().st_mtime, path.name, path, nb, problem)
                             for path, nb, problem in copies), key=lambda e: e[:3], reverse=True)
            keep = scored[0]
            total = sum(1 for c in ref.student.cells if (m := cell_meta(c)) and m.get("kind") == "solution")
            summary = (f"{len(copies)} files answer {name}: " + "; ".join(_label(e, total) for e in scored)
                       + f". Rule: {DUPLICATE_RULE}.")
            taken[name] = (keep[3], keep[4], keep[5], f"graded {keep[3].name}. {summary}")
            for entry in scored[1:]:
                extra.append(Job(submission.name, entry[3].name, entry[3], None,
                                 f"ignored: {keep[3].name} was graded for {name} instead. {summary}",
                                 list(submission.notes), submission.path))
        for name, ref in refs.items():
            if name in taken:
                path, nb, problem, notice = taken[name]
                jobs.append(Job(submission.name, name, path, ref, notices=[*submission.notes, *[notice] * bool(notice)],
                                student_path=submission.path, nb=nb, unreadable=problem))
            elif submission.whole_course:
                note = "notebook not submitted"
                if not submission.notebooks:
                    note = (f"no notebook found in {submission.path.name if submission.path else 'the submission'}: "
                            f"{_describe(submission.other_files)}; hand in the .ipynb files Jupyter saves")
                jobs.append(Job(submission.name, name, None, ref, note, list(submission.notes), submission.path))
        jobs += extra
    return jobs
