"""Keep solutions/ small and reviewable: store only the outputs nbval compares."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cs285lab.authoring.student import read_notebook, render
from cs285lab.files import write_atomic
from cs285lab.notebook_format import AuthoringError

CHECKED_TAG = "nbval-check-output"


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for cells whose stored output nbval compares (tag nbval-check-output)."""
    return CHECKED_TAG in cell.get("metadata", {}).get("tags", [])


def strip_unchecked_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Clear outputs and execution counts of every cell except those nbval compares."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if not is_checked(cell):
            cell.outputs, cell.execution_count = [], None
        # nbval compares a checked cell only if it records having run (an execution count).
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb: nbformat.NotebookNode, profile: str, timeout: int = 900) -> None:
    """Run `nb` in place in a fresh kernel at the given budget profile, in a scratch directory."""
    previous = os.environ.get("CS285LAB_PROFILE")
    os.environ["CS285LAB_PROFILE"] = profile  # the kernel inherits the environment
    try:
        with tempfile.TemporaryDirectory() as scratch:  # run logs and files the notebook writes go here
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": scratch}}).execute()
    finally:
        if previous is None:
            os.environ.pop("CS285LAB_PROFILE", None)
        else:
            os.environ["CS285LAB_PROFILE"] = previous


def refresh_outputs(path: Path, timeout: int = 900) -> None:
    """Execute a solution notebook at the ci budget and store only its checked outputs."""
    nb = read_notebook(path)
    metadata = nbformat.from_dict(dict(nb.metadata))  # execution adds machine-specific versions
    try:
        execute(nb, "ci", timeout)  # outputs must match what CI sees
    except CellExecutionError as exc:
        raise AuthoringError(f"{path}: a cell failed while refreshing outputs:\n{exc}") from None
    nb.metadata = metadata
    write_atomic(path, render(strip_unchecked_outputs(nb)))
