"""Input validation shared by every module: one place for the common checks.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names the argument and what
was expected, so that a student sees at once which input is wrong.
"""
from __future__ import annotations

from typing import Any

import torch


def as_tensor(name: str, x: Any, *, like: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``x`` as a floating tensor (on ``like``'s device/dtype when ``x`` is not a tensor)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(
                x,
                dtype=like.dtype if like is not None else torch.get_default_dtype(),
                device=like.device if like is not None else None,
            )
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or array-like of numbers, got {type(x).__name__}") from err
    if not (t.is_floating_point() or t.is_complex()):
        t = t.to(like.dtype if like is not None else torch.get_default_dtype())
    return t


def check_tensor(name: str, x: Any, *, ndim: int | tuple[int, ...] | None = None, finite: bool = True) -> torch.Tensor:
    """Check that ``x`` is a floating tensor with the given number of dimensions and finite values."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {tuple(x.shape)}")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return x


def check_positive(name: str, x: Any, *, allow_zero: bool = False) -> Any:
    """Check that a scalar or every element of a tensor is > 0 (or >= 0)."""
    if isinstance(x, torch.Tensor):
        bad = (x < 0) if allow_zero else (x <= 0)
        if not bool(torch.isfinite(x).all()) or bool(bad.any()):
            raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite")
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    if not (x >= 0 if allow_zero else x > 0) or x != x or x in (float("inf"),):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite, got {x}")
    return x


def check_int(name: str, x: Any, *, minimum: int = 1) -> int:
    """Check that ``x`` is an integer >= ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name} must be an int, got {type(x).__name__}")
    if x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    return x


def check_same_rows(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Check that two tensors have the same leading dimension (number of data points)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of rows, got {a.shape[0]} and {b.shape[0]}"
        )


def check_regression_data(x: torch.Tensor, y: torch.Tensor) -> None:
    """Check a regression data set: inputs ``x`` [N, D] and targets ``y`` [N], finite, same N."""
    check_tensor("x", x, ndim=2)
    check_tensor("y", y, ndim=1)
    check_same_rows("x", x, "y", y)
