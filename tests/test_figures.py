import hashlib

import pytest

from course_utils import figures


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_registered_figure_is_regenerated_deterministically(tmp_path):
    first = figures.build(out_dir=tmp_path / "a")
    second = figures.build(out_dir=tmp_path / "b")
    assert [p.name for p in first] == [f"{n}.png" for n in figures.FIGURES]
    assert len(first) >= 2
    for a, b in zip(first, second):
        assert _digest(a) == _digest(b), f"{a.name} differs between two runs"


def test_each_notebook_registers_its_lecture_figures():
    figures._load_all()
    assert {"01_under_good_over_fitting", "01_l2_regularisation"} <= set(figures.FIGURES)


def test_unknown_figure_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        figures.build(["no_such_figure"], tmp_path)


def test_command_line_lists_the_figures(capsys):
    figures.main(["--list"])
    assert "01_under_good_over_fitting" in capsys.readouterr().out
