import hashlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_utils import figures, plotting  # noqa: E402

REPO_FIGURES = plotting.FIGURES_DIR


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_registered_figure_builds_and_the_quick_ones_are_byte_identical_twice(tmp_path):
    figures._load_all()
    first, seconds = {}, {}
    for name in figures.FIGURES:
        t0 = time.perf_counter()
        first[name] = figures.build([name], tmp_path / "a")[0]
        seconds[name] = time.perf_counter() - t0
    assert sorted(p.name for p in first.values()) == sorted(f"{n}.png" for n in figures.FIGURES)
    # Rebuilding every figure doubles the slow ones (those that train a model); their determinism
    # rests on the same seeding, so the second build is limited to the quick ones.
    quick = [n for n, s in seconds.items() if s < 3.0]
    assert len(quick) >= len(figures.FIGURES) // 2
    for name, path in zip(quick, figures.build(quick, tmp_path / "b")):
        assert _digest(first[name]) == _digest(path), f"{name} differs between two builds"


def test_every_registered_figure_is_committed_in_figures_folder():
    figures._load_all()
    missing = [n for n in figures.FIGURES if not (REPO_FIGURES / f"{n}.png").exists()]
    assert not missing, f"run `python -m course_utils.figures {' '.join(missing)}`"


def test_each_notebook_registers_its_lecture_figures():
    figures._load_all()
    prefixes = {name[:2] for name in figures.FIGURES}
    assert {"01", "02", "03"} <= prefixes


def test_unknown_figure_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        figures.build(["no_such_figure"], tmp_path)


def test_command_line_lists_the_figures(capsys):
    figures.main(["--list"])
    assert "01_under_good_over_fitting" in capsys.readouterr().out


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        figures.register("01_under_good_over_fitting")(lambda: plt.figure())
