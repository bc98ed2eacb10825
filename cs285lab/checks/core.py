"""The check toolkit: call the student's code safely, compare with the reference, name the mistake."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch


class CheckFailed(AssertionError):
    """A check found a specific mistake; the message says what it is and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a long traceback: the student needs the message, not our stack.
        return [f"\x1b[31mCheckFailed\x1b[0m: {self}"]


class Exercise:
    """One exercise's checks: counts what passed and raises CheckFailed with a named mistake."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.passed = 0

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
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as exc:
            raise NotImplementedError(
                f"{self.name}: not implemented yet: replace the `raise NotImplementedError` in your cell ({exc})"
            ) from None
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any student error becomes a named failure
            self.fail(f"your code raised {type(exc).__name__}: {exc}")

    def expect(self, condition: bool, message: str) -> None:
        """Fail with `message` unless `condition` holds."""
        if not condition:
            self.fail(message)
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
                 atol: float = 1e-5, rtol: float = 1e-4) -> None:
        """Pass if `got` matches `expected`; else name the first mistake whose output `got` matches."""
        got_t, expected_t = _as_tensor(got), _as_tensor(expected)
        if got_t.shape == expected_t.shape and torch.allclose(got_t, expected_t, atol=atol, rtol=rtol):
            self.ok()
            return
        for message, wrong in mistakes.items():
            wrong_t = _as_tensor(wrong)
            if got_t.shape == wrong_t.shape and torch.allclose(got_t, wrong_t, atol=atol, rtol=rtol):
                self.fail(message)
        diff = (got_t.float() - expected_t.float()).abs().max().item() if got_t.shape == expected_t.shape else None
        detail = f"largest difference {diff:.3g}" if diff is not None else f"shape {tuple(got_t.shape)}"
        self.fail(f"{what} is wrong ({detail}); it matches none of the usual mistakes, re-read the formula")

    def done(self) -> None:
        """Print the stable one-line pass message."""
        print(f"\u2713 {self.name}: all {self.passed} checks passed")


@contextlib.contextmanager
def exercise(name: str) -> Iterator[Exercise]:
    """Run an exercise's checks; prints one stable line when all of them pass."""
    ex = Exercise(name)
    yield ex
    ex.done()


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
