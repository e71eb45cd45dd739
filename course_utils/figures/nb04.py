"""Notebook 4's lecture figures: the ELBO's gap is KL[q‖posterior] (eqs. 21-22), and mean-field
against full-covariance q on Bayesian linear regression (eq. 24)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils import plotting
from course_utils.data import toy_regression
from course_utils.figures import register
from course_utils.linear import blr_posterior, polynomial_features
from course_utils.vi import blr_elbo

NOISE_VAR, PRIOR_VAR = 0.04, 1.0


def blr_elbo_problem(n: int = 25, seed: int = 0):
    """Notebook 4's test bed: the straight-line toy with x in [0, 2] (so that intercept and slope
    are strongly correlated a posteriori), features [1, x], σ²_ε = 0.04, τ² = 1, float64.

    Returns x [n, 1], X [n, 2], y [n], noise_var, prior_var.
    """
    x, y = toy_regression(n, "linear", x_range=(0.0, 2.0), generator=torch.Generator().manual_seed(seed),
                          dtype=torch.float64)
    return x, polynomial_features(x, 1), y, NOISE_VAR, PRIOR_VAR


def q_path(mean: torch.Tensor, cov: torch.Tensor, shifts: torch.Tensor, scales: torch.Tensor):
    """Two families of q's moving through the exact posterior N(m, S): means m + t·δ with the
    covariance S (δ = √λ v, the longest principal semi-axis of S, so that KL = t²/2), and
    covariances s·S with the mean m (KL = (D/2)(s − 1 − log s)).
    Returns ((means [T, D], covs [T, D, D]), (means [K, D], covs [K, D, D]))."""
    evals, evecs = torch.linalg.eigh(cov)
    delta = evals[-1].sqrt() * evecs[:, -1]
    shifted = (mean + shifts[:, None] * delta, cov.expand(len(shifts), -1, -1))
    scaled = (mean.expand(len(scales), -1), scales[:, None, None] * cov)
    return shifted, scaled


@register("04_elbo_gap")
def elbo_gap() -> plt.Figure:
    """ELBO, log evidence and their gap KL[q‖p(ω|X,Y)] while q moves through the posterior."""
    _, X, y, s2, t2 = blr_elbo_problem()
    m, S = blr_posterior(X, y, s2, t2)
    shifts = torch.linspace(-3, 3, 121, dtype=torch.float64)
    scales = torch.logspace(-1, 1, 121, dtype=torch.float64)
    paths = q_path(m, S, shifts, scales)
    from course_utils.linear import blr_log_evidence
    log_ev = float(blr_log_evidence(X, y, s2, t2))
    with plotting.course_style():
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
        for ax, (qm, qc), t, xlabel, scale in zip(
                axes, paths, (shifts, scales),
                (r"shift $t$ of the mean along the main axis of $\mathbf{S}$",
                 r"scale $s$ of the covariance: $s\,\mathbf{S}$"), ("linear", "log")):
            elbo = blr_elbo(X, y, s2, t2, qm, qc)
            ax.axhline(log_ev, color=plotting.COLORS["data"], ls="--", label=r"$\log p(\mathbf{Y}|\mathbf{X})$")
            ax.plot(t, elbo, color=plotting.COLORS["mean"], label=r"ELBO $\mathcal{L}_{VI}(\phi)$")
            ax.fill_between(t.numpy(), elbo.numpy(), log_ev, color=plotting.COLORS["alt"], alpha=0.25,
                            label=r"gap $= KL[q_\phi\|p(\omega|\mathbf{X},\mathbf{Y})]$")
            ax.set_xscale(scale)
            ax.set_xlabel(xlabel)
            ax.set_ylim(log_ev - 7, log_ev + 1.5)
        axes[0].set_ylabel("nats")
        axes[0].set_title("q's mean moves")
        axes[1].set_title("q's covariance is scaled")
        axes[1].legend(loc="lower center")
        fig.suptitle("The ELBO is a lower bound; the gap is exactly the KL to the posterior (eqs. 21–22)")
        fig.tight_layout()
        return fig


def ellipse_points(mean: torch.Tensor, cov: torch.Tensor, n_std: float = 2.0, n: int = 200) -> np.ndarray:
    """Points [n, 2] on the n_std-σ ellipse of a 2-D Gaussian (for plotting)."""
    angle = torch.linspace(0, 2 * math.pi, n, dtype=torch.float64)
    circle = torch.stack([angle.cos(), angle.sin()], 1) * n_std
    L = torch.linalg.cholesky(cov.detach().to("cpu", torch.float64))
    return (mean.detach().to("cpu", torch.float64) + circle @ L.T).numpy()


def plot_gaussians_2d(ax: plt.Axes, gaussians: dict[str, tuple[torch.Tensor, torch.Tensor]], *,
                      n_std: float = 2.0) -> plt.Axes:
    """Draw the n_std-σ ellipse and the mean of each named 2-D Gaussian (name → (mean, cov))."""
    for (name, (mean, cov)), color, ls in zip(gaussians.items(), plotting.CYCLE, ("-", "--", ":", "-.")):
        pts = ellipse_points(mean, cov, n_std)
        ax.plot(pts[:, 0], pts[:, 1], color=color, ls=ls, label=f"{name} ({n_std:g}σ)")
        ax.plot(*mean.detach().cpu().numpy(), "o", color=color)
    ax.set_xlabel(r"intercept $\omega_0$")
    ax.set_ylabel(r"slope $\omega_1$")
    ax.legend(loc="best")
    return ax


@register("04_mean_field_vs_full_covariance")
def mean_field_vs_full_covariance() -> plt.Figure:
    """The exact posterior and the ELBO-optimal mean-field q (closed form: the exact mean and
    precisions diag(S⁻¹)): the mean-field q is too narrow along the correlated direction."""
    _, X, y, s2, t2 = blr_elbo_problem()
    m, S = blr_posterior(X, y, s2, t2)
    mf_cov = torch.diag(1 / torch.linalg.inv(S).diagonal())
    with plotting.course_style():
        fig, ax = plt.subplots(figsize=(7, 6))
        plot_gaussians_2d(ax, {"exact posterior = full-covariance q*": (m, S), "mean-field q*": (m, mf_cov)})
        ax.set_title("Mean-field VI underestimates the posterior variance")
        fig.tight_layout()
        return fig
