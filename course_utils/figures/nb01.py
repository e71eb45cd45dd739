"""Notebook 1's lecture figures: under/good/over-fitting and the L2 regularisation path."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from course_utils import plotting
from course_utils.data import toy_function, toy_regression
from course_utils.figures import register
from course_utils.linear import polynomial_features, ridge


def sine_fitting_data(n_train: int = 10, n_test: int = 200, seed: int = 0):
    """The data of notebook 1's fitting figures: 10 noisy points of sin(2πx) and a test set."""
    g = torch.Generator().manual_seed(seed)
    x, y = toy_regression(n_train, "sine", generator=g, dtype=torch.float64)
    x_test, y_test = toy_regression(n_test, "sine", generator=g, dtype=torch.float64)
    return x, y, x_test, y_test


@register("01_under_good_over_fitting")
def under_good_over_fitting() -> plt.Figure:
    """Polynomials of degree 1, 3 and 9 fitted by least squares to 10 points (lecture, slide 'Regularization')."""
    x, y, _, _ = sine_fitting_data()
    grid = torch.linspace(0, 1, 300, dtype=torch.float64)
    fits = {f"{title} (degree {d})": polynomial_features(grid, d) @ ridge(polynomial_features(x, d), y, 0.0)
            for title, d in [("Underfitted", 1), ("Good fit", 3), ("Overfitted", 9)]}
    with plotting.course_style():
        return plotting.fit_panels(x, y, grid, fits, truth=toy_function(grid, "sine"))


@register("01_l2_regularisation")
def l2_regularisation() -> plt.Figure:
    """Degree-9 polynomial with the L2 penalty of eq. (3): train and test RMSE against λ."""
    x, y, x_test, y_test = sine_fitting_data()
    lams = torch.logspace(-10, 1, 45, dtype=torch.float64)
    P, P_test = polynomial_features(x, 9), polynomial_features(x_test, 9)
    w = [ridge(P, y, float(lam)) for lam in lams]
    rmse_train = [float(((P @ wi - y) ** 2).mean().sqrt()) for wi in w]
    rmse_test = [float(((P_test @ wi - y_test) ** 2).mean().sqrt()) for wi in w]
    with plotting.course_style():
        fig, ax = plt.subplots(figsize=(8, 5))
        ax.semilogx(lams, rmse_train, label="training set")
        ax.semilogx(lams, rmse_test, label="test set")
        ax.set_yscale("log")
        best = int(torch.tensor(rmse_test).argmin())
        ax.axvline(float(lams[best]), color=plotting.COLORS["grey"], ls=":", label=f"best λ = {float(lams[best]):.0e}")
        ax.set_xlabel(r"$\lambda$ (eq. 3)")
        ax.set_ylabel("RMSE")
        ax.set_title("L2 regularisation of a degree-9 polynomial")
        ax.legend()
        fig.tight_layout()
        return fig
