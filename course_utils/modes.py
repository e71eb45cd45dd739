"""Lecture mode and student mode for the course notebooks.

Lecture mode: every cell carries RISE / reveal.js slide metadata (``cell.metadata.slideshow``),
so that a lecturer can present a notebook as slides inside JupyterLab (the ``jupyterlab-rise``
extension) or export it with ``jupyter nbconvert --to slides``.  The slide structure follows the
notebooks' headings: the title and each ``##`` section start a slide, ``###`` a sub-slide,
exercises and their solutions a sub-slide each; the set-up cell is skipped.

Student mode: a copy of each notebook with every solution cell (tagged ``solution``) replaced by
a stub that runs, so that the notebook still runs top to bottom.

    python -m course_utils.modes slides            # (re)write the slide metadata in notebooks/
    python -m course_utils.modes slides --check    # fail if any notebook lacks it
    python -m course_utils.modes build-slides      # HTML slides into build/slides/
    python -m course_utils.modes students          # student versions into build/student/
    python -m course_utils.modes tidy [NB...]      # drop stale progress bars from stored outputs
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
BUILD = REPO_ROOT / "build"

SOLUTION_TAG = "solution"
STUB = ("# Exercise: write your solution here, then compare with the solution in the course notebook.\n"
        "...")
_EXERCISE = re.compile(r"^\s*\*\*Exercise\s+\d+", re.MULTILINE)


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course notebooks ``NN_topic.ipynb`` in order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def is_exercise_prompt(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "markdown" and bool(_EXERCISE.search(cell.source))


def exercises(nb: nbformat.NotebookNode) -> list[tuple[int, int | None]]:
    """(index of each exercise prompt, index of its solution cell or None): a solution is the
    first solution-tagged code cell after the prompt and before the next prompt."""
    prompts = [i for i, c in enumerate(nb.cells) if is_exercise_prompt(c)]
    out = []
    for k, i in enumerate(prompts):
        end = prompts[k + 1] if k + 1 < len(prompts) else len(nb.cells)
        sol = next((j for j in range(i + 1, end) if is_solution(nb.cells[j])), None)
        out.append((i, sol))
    return out


def slide_type(cell: nbformat.NotebookNode, index: int) -> str:
    """The reveal.js slide type of a cell, from the notebook's structure."""
    src = cell.source.lstrip()
    if cell.cell_type == "code" and "# Set-up: the same in every notebook." in cell.source:
        return "skip"
    if cell.cell_type == "markdown":
        if index == 0 or src.startswith("# ") or src.startswith("## "):
            return "slide"
        if src.startswith("### ") or is_exercise_prompt(cell):
            return "subslide"
        return "fragment" if len(src) < 400 else "subslide"
    if is_solution(cell):
        return "fragment"
    return "-"


def add_slide_metadata(nb: nbformat.NotebookNode) -> bool:
    """Set ``metadata.slideshow.slide_type`` on every cell; returns whether anything changed."""
    changed = False
    for i, cell in enumerate(nb.cells):
        wanted = {"slide_type": slide_type(cell, i)}
        if cell.metadata.get("slideshow") != wanted:
            cell.metadata["slideshow"] = wanted
            changed = True
    if nb.metadata.get("rise") is None:
        nb.metadata["rise"] = {"scroll": True, "enable_chalkboard": False, "theme": "simple"}
        changed = True
    return changed


def has_slide_metadata(nb: nbformat.NotebookNode) -> bool:
    return all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells)


_PROGRESS = re.compile(r"\d+%\|.*\|\s*\d+/\d+")
_WIDGET = "application/vnd.jupyter.widget-view+json"


def is_progress_output(output: nbformat.NotebookNode) -> bool:
    """A stored tqdm progress-bar widget: in a saved notebook it is only its first frame ('0%|')."""
    data = output.get("data", {})
    return output.get("output_type") == "display_data" and _WIDGET in data and bool(
        _PROGRESS.search(str(data.get("text/plain", ""))))


def strip_progress_outputs(nb: nbformat.NotebookNode) -> int:
    """Remove stored progress bars from cells whose outputs nbval does not compare (those without
    ``# NBVAL_CHECK_OUTPUT``); students still see live bars when they run the cells.  Returns
    the number of outputs removed."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_CHECK_OUTPUT" in cell.source:
            continue
        keep = [o for o in cell.outputs if not is_progress_output(o)]
        removed += len(cell.outputs) - len(keep)
        cell.outputs = keep
    return removed


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with each solution cell replaced by a stub and every output cleared."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if is_solution(cell):
            cell.source = STUB
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG] + ["exercise"]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out.metadata["course_mode"] = "student"
    return out


def write_students(out_dir: Path = BUILD / "student", notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student versions of the notebooks into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in notebooks or course_notebooks():
        target = out_dir / path.name
        nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        paths.append(target)
    return paths


def build_slides(out_dir: Path = BUILD / "slides", notebooks: list[Path] | None = None) -> list[Path]:
    """Export every notebook as reveal.js HTML slides (``nbconvert --to slides``) into ``out_dir``."""
    from nbconvert import SlidesExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = SlidesExporter()
    paths = []
    for path in notebooks or course_notebooks():
        body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        target = out_dir / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        paths.append(target)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("slides", help="write slide metadata into the notebooks")
    p.add_argument("--check", action="store_true", help="only check; exit 1 if a notebook lacks metadata")
    p.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every course notebook)")
    p = sub.add_parser("build-slides", help="export HTML slides")
    p.add_argument("--out", type=Path, default=BUILD / "slides")
    p = sub.add_parser("tidy", help="drop stale progress bars from the stored outputs")
    p.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every course notebook)")
    p = sub.add_parser("students", help="write student versions (solutions removed)")
    p.add_argument("--out", type=Path, default=BUILD / "student")
    args = parser.parse_args(argv)
    if args.command == "slides":
        missing = []
        for path in args.paths or course_notebooks():
            nb = nbformat.read(path, as_version=4)
            if args.check:
                if not has_slide_metadata(nb):
                    missing.append(path.name)
            elif add_slide_metadata(nb):
                nbformat.write(nb, path)
                print(f"slide metadata written: {path.name}")
        if missing:
            print("notebooks without slide metadata: " + ", ".join(missing), file=sys.stderr)
            return 1
        return 0
    if args.command == "tidy":
        for path in args.paths or course_notebooks():
            nb = nbformat.read(path, as_version=4)
            if strip_progress_outputs(nb):
                nbformat.write(nb, path)
                print(f"progress bars removed: {path.name}")
        return 0
    paths = build_slides(args.out) if args.command == "build-slides" else write_students(args.out)
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
