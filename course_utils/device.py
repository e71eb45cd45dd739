"""Where to compute, and how to make a run repeatable.

The notebooks call ``get_device()`` once in their set-up cell and move data and models there;
every function in ``course_utils`` then computes on the device of its inputs.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

ENV_VAR = "COURSE_DEVICE"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: CUDA, then Apple MPS, then CPU.

    The choice can be overridden by the argument ``prefer`` or by the environment variable
    ``COURSE_DEVICE`` (e.g. ``COURSE_DEVICE=cpu`` to force the CPU on a GPU machine).

    Raises:
        ValueError: if the requested device is unknown or not available on this machine.
    """
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR, "").strip() or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"prefer/{ENV_VAR} must name a torch device such as 'cpu' or 'cuda', got {choice!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"prefer/{ENV_VAR} asks for {choice!r} but CUDA is not available on this machine")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"prefer/{ENV_VAR} asks for {choice!r} but MPS is not available on this machine")
    if dev.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"prefer/{ENV_VAR} must be 'cpu', 'cuda' or 'mps', got {choice!r}")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators.

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that takes an explicit
    generator (the preferred style in ``course_utils``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too
    return torch.Generator().manual_seed(seed)


def describe(device: torch.device) -> str:
    """One line with the device and library versions, for the set-up cell of each notebook."""
    import matplotlib

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return f"device: {name} | torch {torch.__version__} | numpy {np.__version__} | matplotlib {matplotlib.__version__}"
