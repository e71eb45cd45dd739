import hashlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import plotting


def test_save_figure_is_byte_for_byte_deterministic(tmp_path):
    digests = []
    for _ in range(2):
        with plotting.course_style():
            fig, ax = plt.subplots()
            x = torch.linspace(-1, 1, 50)
            plotting.predictive_band(ax, x, x**2, 0.1 + 0 * x, x_data=x[::5], y_data=x[::5] ** 2)
            path = plotting.save_figure(fig, "band", tmp_path)
            plt.close(fig)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predictive_band_draws_mean_band_and_data():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 20)
    plotting.predictive_band(ax, x, np.sin(x), np.full(20, 0.5), x_data=x[:3], y_data=x[:3], n_std=2)
    mean_line = [l for l in ax.get_lines() if l.get_label() == "predictive mean"][0]
    np.testing.assert_allclose(mean_line.get_ydata(), np.sin(x))
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(np.sin(x).max() + 1.0)
    assert any(l.get_label() == "data" for l in ax.get_lines())
    plt.close(fig)


def test_density_curves_one_labelled_curve_per_density():
    fig, ax = plt.subplots()
    x = torch.linspace(-3, 3, 30)
    plotting.density_curves(ax, x, {"p": torch.exp(-x**2), "q": torch.exp(-(x - 1) ** 2)})
    assert [l.get_label() for l in ax.get_lines()] == ["p", "q"]
    plt.close(fig)


def test_save_figure_rejects_paths_as_names(tmp_path):
    fig = plt.figure()
    with pytest.raises(ValueError, match="name"):
        plotting.save_figure(fig, "sub/dir", tmp_path)
    plt.close(fig)


def test_course_style_is_readable_when_projected():
    assert plotting.COURSE_STYLE["font.size"] >= 14
    assert plotting.COURSE_STYLE["lines.linewidth"] >= 2
