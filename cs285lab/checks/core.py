"""The check toolkit: call the student's code safely, compare with the reference, name the mistake."""

from __future__ import annotations

import contextlib
import inspect
import json
import linecache
import os
import re
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import numpy as np
import torch


class CheckFailed(AssertionError):
    """A check found a specific mistake; the message says what it is and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a long traceback: the student needs the message, not our stack.
        return [f"\x1b[31mCheckFailed\x1b[0m: {self}"]


class NotImplementedYet(NotImplementedError):
    """The student's function still raises the stub's NotImplementedError; a short message names it."""

    def _render_traceback_(self) -> list[str]:
        # a stub is not a bug: no traceback through the check code (and its catalogue of mistakes)
        return [f"\x1b[33mNotImplementedError\x1b[0m: {self}"]


# Jupyter reports an error by its class name: keep the one students, graders and tests know
NotImplementedYet.__name__ = NotImplementedYet.__qualname__ = "NotImplementedError"


# Frames in these folders are not the student's: the package, the standard library, installed libraries.
_LIBRARY_DIRS = tuple(sorted({str(Path(p).resolve()) + os.sep for p in (
    Path(__file__).resolve().parent.parent, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
    sysconfig.get_paths()["platlib"]) if p}))


def _is_student_file(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return False  # <frozen ...>, <string>: not a cell the student can open
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, RuntimeError):
        return True
    return not resolved.startswith(_LIBRARY_DIRS)


def _place(filename: str, lineno: int | None) -> str:
    """'Cell In[7], line 9' for a notebook cell (IPython's own label), else 'file.py, line 9'."""
    label = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and hasattr(shell, "compile"):
            named = shell.compile.format_code_name(filename)
            if named:
                label = f"{named[0]} {named[1]}"
    except Exception:  # noqa: BLE001 - a label is a nicety, never a reason to fail
        label = None
    return f"{label or Path(filename).name}, line {lineno}"


def student_line(tb: TracebackType | None) -> str | None:
    """Where the student's code was when it raised: the deepest frame in their own code, with its source line."""
    frames = [f for f in traceback.extract_tb(tb) if _is_student_file(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    source = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return _place(frame.filename, frame.lineno) + (f": {source}" if source else "")


def _name_of(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    name = name.rpartition("<locals>.")[2]  # a function defined inside another: its own name
    return "a lambda" if name == "<lambda>" else name


# The points of each check cell, collected from the notebooks' cell metadata (cs285lab/checks/points.py).
POINTS_FILE = Path(__file__).resolve().parent.parent / "data" / "check_points.json"
_CHECK_MODULE = re.compile(r"(?:^|[._])(nb\d\d)$")  # cs285lab.checks.nb00, ..._fresh_nb00, ..._graded_nb00


def check_points(frame: FrameType | None) -> float | None:
    """The points of the check running in `frame` (a function of a check module, or its caller there); None if unknown."""
    if frame is None:
        return None
    found = _CHECK_MODULE.search(str(frame.f_globals.get("__name__", "")))
    try:
        checks = json.loads(POINTS_FILE.read_text(encoding="utf-8")).get(found.group(1), {}) if found else {}
    except (OSError, ValueError):
        return None  # no table (a source checkout before generation): the pass line just has no points
    module = frame.f_globals
    while frame is not None and frame.f_globals is module:  # helpers of the check function run in its module too
        if frame.f_code.co_name in checks:
            return float(checks[frame.f_code.co_name])
        frame = frame.f_back
    return None


class Exercise:
    """One exercise's checks: counts what passed and raises CheckFailed with a named mistake."""

    def __init__(self, name: str, points: float | None = None) -> None:
        self.name = name
        self.points = points  # what the check cell is worth, shown on the pass line
        self.passed = 0
        self._calls: list[tuple[Any, str]] = []   # (result, "fn(arg=..., ...)") of recent student calls
        self._progress_width = 0
        self._progress_at = 0.0

    def fail(self, message: str) -> None:
        """Stop the check with `message` (prefixed with the exercise name)."""
        raise CheckFailed(f"{self.name}: {message}")

    def ok(self) -> None:
        """Count one passed check."""
        self.passed += 1

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the student's `fn`, turning its exceptions into messages that point at their cell."""
        if not callable(fn):
            self.fail(f"expected a function, got {type(fn).__name__}; pass the function itself, not its result")
        # Give the student fresh copies so their code cannot corrupt our reference inputs.
        args = tuple(_copy(a) for a in args)
        kwargs = {k: _copy(v) for k, v in kwargs.items()}
        shown = _describe_call(fn, args, kwargs)  # before the call: the student's code may change its inputs
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError as exc:
            where = student_line(exc.__traceback__)
            hint = f" ({exc})" if str(exc) else ""
            raise NotImplementedYet(
                f"{self.name}: not implemented yet: replace the `raise NotImplementedError` in the cell that "
                f"defines {_name_of(fn)}{hint}" + (f"\n  at {where}" if where else "")) from None
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any student error becomes a named failure
            where = student_line(exc.__traceback__)
            self.fail(f"your code raised {type(exc).__name__}: {_first_line(exc)}" + (f"\n  at {where}" if where else "")
                      + (f"\n  called as {shown}" if shown else "") + _observed(exc))
        self._calls = [*self._calls[-7:], (result, shown)]
        return result

    def expect(self, condition: bool, message: str) -> None:
        """Fail with `message` unless `condition` holds."""
        if not condition:
            self.fail(message)
        self.ok()

    def expect_learned(self, condition: bool, message: str, history: Any, algorithm: str, reference: Any = None,
                       **options: Any) -> None:
        """expect() for a learning check: when it fails, the message ends with the curve doctor's reading of the run.

        `history`: the run's history rows (or several runs', e.g. one per seed: the worst-ending one is read first);
        `algorithm` and `reference` as cs285lab.doctor.diagnose takes them (the reference band's name).
        """
        if not condition:
            self.fail(message + doctor_feedback(history, algorithm, reference, **options))
        self.ok()

    def expect_tensor(self, value: Any, shape: tuple[int, ...] | None = None,
                      dtype: torch.dtype | None = None, what: str = "the result") -> torch.Tensor:
        """Check `value` is a torch tensor with the given shape and dtype; explain [B,1] vs [B] mix-ups."""
        if isinstance(value, np.ndarray):
            self.fail(f"{what} is a numpy array; return a torch tensor (torch.as_tensor)")
        if not isinstance(value, torch.Tensor):
            self.fail(f"{what} should be a torch.Tensor, got {type(value).__name__}")
        if shape is not None and tuple(value.shape) != tuple(shape):
            got, want = tuple(value.shape), tuple(shape)
            hint = ""
            if got == want + (1,):
                hint = " (a trailing size-1 dimension: squeeze(-1) the network output, or [B,1] and [B] broadcast to [B,B])"
            elif len(got) == 2 and len(want) == 1 and got == (want[0], want[0]):
                hint = " ([B,1] and [B] tensors broadcast to [B,B]; squeeze(-1) the network output first)"
            self.fail(f"{what} has shape {got}, expected {want}{hint}")
        if dtype is not None and value.dtype != dtype:
            self.fail(f"{what} has dtype {value.dtype}, expected {dtype}")
        self.ok()
        return value

    def diagnose(self, got: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray,
                 mistakes: Mapping[str, torch.Tensor | np.ndarray], what: str = "the result",
                 atol: float = 1e-5, rtol: float = 1e-4, inputs: str | None = None) -> None:
        """Pass if `got` matches `expected`; else name the first mistake whose output `got` matches.

        With no named mistake matching, the message is a worked case: the call (`inputs`, or the
        student call that returned `got`), expected, got, and where they first differ.
        """
        got_t, expected_t = _as_tensor(got), _as_tensor(expected)
        if got_t.shape == expected_t.shape and torch.allclose(got_t, expected_t, atol=atol, rtol=rtol):
            self.ok()
            return
        for message, wrong in mistakes.items():
            wrong_t = _as_tensor(wrong)
            if got_t.shape == wrong_t.shape and torch.allclose(got_t, wrong_t, atol=atol, rtol=rtol):
                self.fail(message)
        if inputs is None:
            inputs = next((shown for result, shown in reversed(self._calls) if result is got), None)
        lines = [f"{what} is wrong and matches none of the usual mistakes. A case to reproduce:"]
        if inputs:
            lines.append(f"  call:     {inputs}")
        lines += [f"  expected: {_short(expected_t)}", f"  got:      {_short(got_t)}"]
        if got_t.shape != expected_t.shape:
            lines.append(f"  the shapes differ: got {tuple(got_t.shape)}, expected {tuple(expected_t.shape)}")
        else:
            close = torch.isclose(got_t.double(), expected_t.double(), atol=atol, rtol=rtol)
            first = tuple(int(i) for i in torch.nonzero(~close)[0].tolist()) if got_t.dim() else ()
            index = "".join(f"[{i}]" for i in first) or "the value"
            lines.append(f"  first difference at {index}: expected {float(expected_t[first]):.6g}, "
                         f"got {float(got_t[first]):.6g} ({int((~close).sum())} of {close.numel()} entries differ)")
        self.fail("\n".join(lines))

    def progress(self, message: str, every: float = 0.5) -> None:
        """Show `message` on one line that the next call overwrites (a slow check is not silent); at most every `every` s."""
        now = time.perf_counter()
        if now - self._progress_at < every:
            return
        self._progress_at = now
        text = f"\u23f3 {self.name}: {message}"
        # the carriage return overwrites the line; nbval drops everything before a final \r, so outputs stay stable
        sys.stdout.write("\r" + text.ljust(self._progress_width))
        sys.stdout.flush()
        self._progress_width = max(self._progress_width, len(text))

    def progress_logger(self, what: str, total_steps: int) -> Any:
        """A logger for a training call inside a check: shows "<what>: step k / total" as the training runs."""
        return _ProgressLogger(self, what, total_steps)

    def clear_progress(self) -> None:
        """Erase the progress line, if one is shown."""
        if self._progress_width:
            sys.stdout.write("\r" + " " * self._progress_width + "\r")
            sys.stdout.flush()
            self._progress_width = 0

    def done(self) -> None:
        """Print the stable one-line pass message, with the check cell's points when they are known."""
        self.clear_progress()
        worth = "" if self.points is None else f" ({self.points:g} point{'' if self.points == 1 else 's'})"
        print(f"\u2713 {self.name}: all {self.passed} checks passed{worth}")


def doctor_feedback(history: Any, algorithm: str, reference: Any = None, **options: Any) -> str:
    """The curve doctor's lines for a failed learning check, starting with a newline ('' when no failure family stands
    out, or the doctor cannot read the run: a check's verdict never depends on its doctor). `history` is one run's
    rows or a list of several runs' (cs285lab.doctor.check_feedback reads the lowest-ending run first)."""
    from cs285lab.doctor import check_feedback

    try:
        text = check_feedback(history, algorithm, reference, **options)
    except Exception:  # noqa: BLE001 - a reading is a hint; the check's own message stands without it
        return ""
    return "\n" + text if text else ""


def exercise(name: str) -> contextlib.AbstractContextManager[Exercise]:
    """Run an exercise's checks; prints one stable line (with the check cell's points) when all of them pass."""
    here = inspect.currentframe()
    return _exercise(Exercise(name, check_points(here.f_back if here is not None else None)))


@contextlib.contextmanager
def _exercise(ex: Exercise) -> Iterator[Exercise]:
    try:
        yield ex
    except BaseException:
        ex.clear_progress()
        raise
    ex.done()


class _ProgressLogger:
    """Feeds a check's training progress to Exercise.progress (the Logger protocol of cs285lab.record)."""

    def __init__(self, ex: Exercise, what: str, total_steps: int) -> None:
        self.ex, self.what, self.total = ex, what, int(total_steps)

    def log(self, step: int, **scalars: float) -> None:
        """Show the step count (and the latest return) on the progress line."""
        ret = next((v for k, v in scalars.items() if "return" in k and v is not None), None)
        self.ex.progress(f"{self.what}: step {int(step):,} / {self.total:,}"
                         + (f", return {float(ret):.0f}" if ret is not None else ""))


def _first_line(exc: BaseException) -> str:
    """The exception's message, cut to its first line (torch puts pages of detail after it)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 300 else first[:300] + " ..."


def _observed(exc: BaseException) -> str:
    """What a well-known library error says about the student's values, in their terms."""
    text = str(exc)
    if isinstance(exc, ValueError) and "parameter scale" in text and "GreaterThan" in text:
        return ("\n  observed: the scale (standard deviation) given to a torch distribution has values <= 0; "
                "a standard deviation is positive (from a log-std: std = log_std.exp())")
    return ""


def _short(value: Any, limit: int = 12) -> str:
    """A compact, reproducible text of a value: tensors and arrays in full when small, else shape and head."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        t = _as_tensor(value)
        kind = "tensor" if isinstance(value, torch.Tensor) else "np.array"
        if t.numel() <= limit:
            values = t.tolist() if not t.dtype.is_floating_point else \
                np.round(t.double().numpy(), 4).tolist()
            extra = "" if t.dtype in (torch.float32, torch.int64) else f", dtype={t.dtype}"
            return f"{kind}({values}{extra})"
        head = np.round(t.double().flatten()[:4].numpy(), 4).tolist()
        return f"{kind} of shape {tuple(t.shape)} (first values {head} ...)"
    if isinstance(value, torch.nn.Module):
        return f"a {type(value).__name__} network"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, bool, str, type(None))):
        return repr(value)
    if isinstance(value, (list, tuple)) and len(value) <= limit:
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return f"a {type(value).__name__}"


def _describe_call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The call as text, e.g. "td_target(rewards=tensor([1.0, 0.5]), gamma=0.9)"; None for a bare lambda."""
    name = _name_of(fn)
    if name == "a lambda":
        return None
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        parts = [f"{k}={_short(v)}" for k, v in bound.arguments.items()]
    except (TypeError, ValueError):
        parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _as_tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(np.asarray(value))


# ---- your own code, not the package's: the package holds reference answers (twins, marked answers) ----

def _refused(name: str, origin: str) -> str:
    return (f"{name} runs the package's own code ({origin}), the reference answer this check compares with, not an "
            "implementation of yours. Write your own in the cell above (a wrapper around the package's code, "
            "reached by any import, is refused too)")


def refuse_package_answer(ex: Exercise, exercise: str, fn: object, name: str) -> None:
    """Fail when `fn` itself is a registered answer of `exercise` (the package's function, however imported)."""
    from cs285lab.twins import package_origin  # twins imports the marked modules lazily

    origin = package_origin(fn, exercise)
    if origin is not None:
        ex.fail(_refused(name, origin))


@contextlib.contextmanager
def own_code(ex: Exercise, exercise: str, fn: object, name: str) -> Iterator[None]:
    """Refuse `fn` when its code, or any code it runs inside this block, is a registered answer of `exercise`."""
    from cs285lab.twins import calls_answers  # twins imports the marked modules lazily

    refuse_package_answer(ex, exercise, fn, name)
    with calls_answers(exercise) as found:
        yield
    if found:
        ex.fail(_refused(name, ", ".join(found)))
