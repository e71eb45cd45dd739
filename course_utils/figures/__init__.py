"""The lecture's figures, regenerated deterministically from the package.

    python -m course_utils.figures            # every figure into figures/
    python -m course_utils.figures --list     # the registered names
    python -m course_utils.figures NAME ...   # just these

Each notebook registers the figures that the lecture shows in a module of this package of its
own (``nb01.py``, ``nb02.py``, …, imported automatically); each entry is a function that builds
the figure from seeded data, so that the file is the same on every run.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path
from typing import Callable

import matplotlib
import matplotlib.pyplot as plt
import torch

from course_utils import plotting

FIGURES: dict[str, Callable[[], plt.Figure]] = {}


def register(name: str) -> Callable[[Callable[[], plt.Figure]], Callable[[], plt.Figure]]:
    """Decorator: register a figure builder under ``name`` (the file stem in ``figures/``)."""
    def wrap(fn: Callable[[], plt.Figure]) -> Callable[[], plt.Figure]:
        if name in FIGURES:
            raise ValueError(f"a figure named {name!r} is already registered")
        FIGURES[name] = fn
        return fn
    return wrap


def _load_all() -> None:
    """Import every figure module of this package, so that their ``@register`` calls run."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "__main__":
            importlib.import_module(f"{__name__}.{info.name}")


def build(names: list[str] | None = None, out_dir: str | Path | None = None) -> list[Path]:
    """Build and save the named figures (all by default); returns the paths written."""
    _load_all()
    names = list(FIGURES) if not names else names
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure name(s) {unknown}; registered: {sorted(FIGURES)}")
    paths = []
    for name in names:
        torch.manual_seed(0)
        fig = FIGURES[name]()
        paths.append(plotting.save_figure(fig, name, out_dir))
        plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the course figures into figures/.")
    parser.add_argument("names", nargs="*", help="figure names (default: all)")
    parser.add_argument("--out", default=None, help="output folder (default: the repository's figures/)")
    parser.add_argument("--list", action="store_true", help="list the registered figures and exit")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # files only, no window
    _load_all()
    if args.list:
        print("\n".join(sorted(FIGURES)))
        return
    for path in build(args.names, args.out):
        print(path)
