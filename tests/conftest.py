"""Test collection and scheduling (docs/ARCHITECTURE.md, "The test suite").

Notebooks under tests/fixtures are inputs of tests (e.g. graded by the grader), not tests.

`make test` runs on two xdist workers with `--dist loadfile`: a work unit is a test file, so a notebook's
nbval cells share one kernel and a module's fixtures are built once per unit. Two refinements, for the
wall time on two cores (the suite is bounded by the worker that holds the most work):

- Slowest units first. xdist's default hands out the files with the most tests first, which put the
  slowest files (a few tests each, minutes of notebooks) last, on one worker, after everything else.
  Here units go out in the order of SECONDS (measured with `--durations=0`, see the docs); a unit not
  listed is assumed fast.
- A few files are cut into finer units (SPLIT): the previous release is graded one notebook per unit.
  Tests that share a module fixture stay in one unit (they share its parameter).
"""

from __future__ import annotations

import re
from collections import OrderedDict

import pytest

collect_ignore_glob = ["fixtures/*"]

# Files whose tests form one unit per value of a parameter (the bracketed id, up to its first "-"),
# instead of one unit per file: their module fixture is parametrized by that value.
SPLIT = ("tests/test_previous_version.py", "tests/test_student_notebooks.py")

# Seconds of a unit under `make test` (per-test durations summed per unit, module fixture setup included),
# measured 2026-12-07 on an idle 2-core machine (572 worker-s, 294 s wall). Only the order matters: re-measure when
# a unit grows.
SECONDS: dict[str, float] = {
    "solutions/05_mbpo.ipynb": 74,
    "solutions/03_off_policy_actor_critic.ipynb": 62,
    "tests/test_browser.py": 45,
    "solutions/02_parallel_actor_critic.ipynb": 31,
    "solutions/01_actor_critic_architectures.ipynb": 27,
    "solutions/04_dyna.ipynb": 27,
    "tests/test_grading.py": 25,
    "tests/test_grading_sandbox.py": 24,
    "tests/test_previous_version.py[04_dyna]": 16,
    "tests/test_doctor_feedback.py": 15,
    "tests/test_previous_version.py[03_off_policy_actor_critic]": 14,
    "tests/test_checks_nb01.py": 13,
    "tests/test_doctor_browser.py": 12,
    "tests/test_previous_version.py[02_parallel_actor_critic]": 11,
    "tests/test_parallel.py": 11,
    "tests/test_classreport.py": 11,
    "tests/test_dyna.py": 11,
    "tests/test_previous_version.py[01_actor_critic_architectures]": 9,
    "tests/test_report_browser.py": 9,
    "tests/test_student_notebooks.py[03_off_policy_actor_critic]": 8,
    "tests/test_plots.py": 8,
    "tests/test_previous_version.py[05_mbpo]": 8,
    "tests/test_sac.py": 8,
    "tests/test_grading_gradescope.py": 7,
    "tests/test_lab.py": 7,
    "tests/test_checks_nb04.py": 7,
    "tests/test_wheel.py": 6,
    "tests/test_student_notebooks.py[01_actor_critic_architectures]": 6,
    "tests/test_runs.py": 5,
    "tests/test_release.py": 5,
    "tests/test_bench_rows.py": 10,
    "tests/test_student_notebooks.py[05_mbpo]": 5,
}


def unit_of(nodeid: str) -> str:
    """The work unit of a test: its file, or for a SPLIT file, its file and parameter."""
    path, _, rest = nodeid.partition("::")
    if path in SPLIT:
        match = re.search(r"\[([^\]-]+)", rest)
        if match:
            return f"{path}[{match.group(1)}]"
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler.loadscope import LoadScopeScheduling

    class SlowestFirst(LoadScopeScheduling):
        """--dist loadfile with SPLIT units, handed out slowest first, one unit at a time."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.config.option.loadscopereorder = False  # not "most tests first": ordered below
            self.ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:  # the queue is complete by the first assignment; stable for equal times
                self.workqueue = OrderedDict(sorted(self.workqueue.items(), key=lambda unit: -SECONDS.get(unit[0], 0.0)))
                self.ordered = True
            super()._assign_work_unit(node)

        def _reschedule(self, node) -> None:
            # The base class tops a worker up while it has <= 2 tests pending, which commits a second unit to
            # a worker still busy with a slow one; a worker needs the next unit only once it holds its last test.
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return SlowestFirst(config, log)
