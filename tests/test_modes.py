"""Lecture mode (slides) and student mode (solutions removed) for every course notebook."""
import nbformat
import pytest
from nbclient import NotebookClient

from course_utils import modes

NOTEBOOKS = modes.course_notebooks()
IDS = [p.stem[:2] for p in NOTEBOOKS]


def _read(path):
    return nbformat.read(path, as_version=4)


def test_the_course_has_its_notebooks():
    assert len(NOTEBOOKS) >= 2 and NOTEBOOKS[0].name == "01_deep_learning_as_likelihood.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_carries_slide_metadata(path):
    nb = _read(path)
    assert modes.has_slide_metadata(nb), f"run `python -m course_utils.modes slides` for {path.name}"
    types = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert types[0] == "slide" and types.count("slide") >= 4


def test_slides_build_for_every_notebook(tmp_path):
    paths = modes.build_slides(tmp_path, NOTEBOOKS)
    for nb_path, html_path in zip(NOTEBOOKS, paths):
        html = html_path.read_text(encoding="utf-8")
        n_sections = sum(c.source.lstrip().startswith("## ") for c in _read(nb_path).cells if c.cell_type == "markdown")
        assert "reveal" in html and html.count("<section") >= n_sections + 1, html_path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_a_worked_solution(path):
    found = modes.exercises(_read(path))
    assert 2 <= len(found) <= 5, f"{path.name} has {len(found)} exercises"
    assert all(sol is not None for _, sol in found), f"{path.name}: an exercise without a solution cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_version_has_no_solutions_and_keeps_everything_else(path):
    nb = _read(path)
    student = modes.student_version(nb)
    solutions = {c.source for c in nb.cells if modes.is_solution(c)}
    assert len(student.cells) == len(nb.cells)
    assert not any(modes.is_solution(c) for c in student.cells)
    assert not solutions & {c.source for c in student.cells}
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    # every cell up to the exercises is the tested original, so it runs as nbval shows it does
    first_exercise = modes.exercises(nb)[0][0]
    assert [c.source for c in student.cells[:first_exercise]] == [c.source for c in nb.cells[:first_exercise]]
    assert sum(c.source == modes.STUB for c in student.cells) == len(solutions)


def test_student_versions_are_written_to_their_own_folder(tmp_path):
    paths = modes.write_students(tmp_path / "student", NOTEBOOKS)
    assert [p.name for p in paths] == [p.name for p in NOTEBOOKS]
    assert all(p.parent == tmp_path / "student" for p in paths)


@pytest.mark.timeout(300)
def test_student_version_of_notebook_1_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    nb = modes.student_version(_read(NOTEBOOKS[0]))
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_tidy_removes_stale_progress_bars_but_not_from_checked_cells():
    bar = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": "SGD:   0%|          | 0/20 [00:00<?, ?it/s]"})
    text = nbformat.v4.new_output("stream", name="stdout", text="42\n")
    free = nbformat.v4.new_code_cell("train()", outputs=[bar, text])
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\ntrain()", outputs=[bar, text])
    nb = nbformat.v4.new_notebook(cells=[free, checked])
    assert modes.strip_progress_outputs(nb) == 1
    assert nb.cells[0].outputs == [text] and len(nb.cells[1].outputs) == 2
