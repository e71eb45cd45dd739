"""Notebook 3's lecture figures: forward vs reverse KL on a bimodal target (slides "Forward KL
divergence" and "Reverse KL divergence") and the mean-field fits of a correlated 2-D Gaussian."""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Ellipse

from course_utils import divergences as dv
from course_utils import plotting
from course_utils.figures import register

#: The bimodal target of notebook 3: weights, means and widths of its two components.
BIMODAL = {"weights": (0.45, 0.55), "means": (-2.0, 2.0), "stds": (0.6, 0.8)}
#: The correlated 2-D Gaussian target of notebook 3.
CORRELATED = {"mean": (0.0, 0.0), "cov": ((1.0, 0.9), (0.9, 1.0))}


def bimodal_target(dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"):
    """Notebook 3's bimodal mixture p(ω) as a ``torch.distributions`` object."""
    return dv.gaussian_mixture(*(torch.tensor(BIMODAL[k], dtype=dtype, device=device) for k in ("weights", "means", "stds")))


def correlated_target(dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"):
    """Notebook 3's correlated 2-D Gaussian: (mean [2], cov [2, 2])."""
    return (torch.tensor(CORRELATED["mean"], dtype=dtype, device=device),
            torch.tensor(CORRELATED["cov"], dtype=dtype, device=device))


def plot_gaussian_fits(ax: plt.Axes, x: torch.Tensor, p: torch.Tensor,
                       fits: Mapping[str, tuple[float, float]], *, title: str = "") -> plt.Axes:
    """Draw a target density p on the grid x and Gaussian fits {label: (μ, σ)} over it."""
    xs, ps = plotting.to_numpy(x), plotting.to_numpy(p)
    ax.fill_between(xs, 0, ps, color=plotting.COLORS["grey"], alpha=0.3)
    ax.plot(xs, ps, color=plotting.COLORS["data"], label=r"target $p(\omega)$")
    styles = ["-", "--", "-.", ":"]
    colors = [plotting.COLORS["truth"], plotting.COLORS["alt"], plotting.COLORS["mean"], plotting.COLORS["alt2"]]
    top = float(ps.max())
    for (label, (mu, std)), ls, c in zip(fits.items(), styles, colors):
        q = np.exp(-0.5 * ((xs - float(mu)) / float(std)) ** 2) / (float(std) * np.sqrt(2 * np.pi))
        ax.plot(xs, q, ls=ls, color=c, label=label)
        top = max(top, float(q.max()))
    ax.set(xlabel=r"$\omega$", ylabel="density", title=title, ylim=(0, 1.6 * top))  # room for the legend
    ax.legend(loc="upper left", fontsize=11)
    return ax


def gaussian_ellipse(ax: plt.Axes, mean, cov, *, n_std: float = 2.0, **kwargs) -> Ellipse:
    """Add the n_std-σ contour of N(mean, cov) (2-D) to ax."""
    cov = plotting.to_numpy(cov)
    vals, vecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    e = Ellipse(tuple(plotting.to_numpy(mean)), 2 * n_std * np.sqrt(vals[1]), 2 * n_std * np.sqrt(vals[0]),
                angle=angle, fill=False, **kwargs)
    ax.add_patch(e)
    return e


def plot_mean_field(ax: plt.Axes, mean_p, cov_p, mean_q, std_q, *, title: str, label: str) -> plt.Axes:
    """A correlated 2-D Gaussian p and a mean-field fit q (their 2σ contours)."""
    gaussian_ellipse(ax, mean_p, cov_p, color=plotting.COLORS["data"], lw=2.5, label=r"target $p(\omega)$, 2σ")
    gaussian_ellipse(ax, mean_q, torch.diag(torch.as_tensor(std_q) ** 2), color=plotting.COLORS["alt"], lw=2.5, ls="--",
                     label=label)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xlabel=r"$\omega_1$", ylabel=r"$\omega_2$", title=title)
    ax.legend(loc="upper left", fontsize=11)
    return ax


@register("03_forward_vs_reverse_kl")
def forward_vs_reverse_kl() -> plt.Figure:
    """Forward KL fit (mass covering) vs two reverse KL fits (mode seeking) of a bimodal target."""
    p = bimodal_target()
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    fits = {r"forward: $\arg\min KL[p\|q]$": dv.fit_gaussian(p.log_prob, "forward"),
            r"reverse from $(\mu_0,\sigma_0)=(-1, 0.5)$": dv.fit_gaussian(p.log_prob, "reverse", init=(-1.0, 0.5)),
            r"reverse from $(\mu_0,\sigma_0)=(+1, 0.5)$": dv.fit_gaussian(p.log_prob, "reverse", init=(1.0, 0.5))}
    with plotting.course_style():
        fig, ax = plt.subplots(figsize=(9, 5))
        plot_gaussian_fits(ax, x, p.log_prob(x).exp(), fits, title="Forward KL covers, reverse KL seeks a mode")
        fig.tight_layout()
        return fig


@register("03_mean_field_2d")
def mean_field_2d() -> plt.Figure:
    """A correlated 2-D Gaussian fitted by a mean-field Gaussian under each KL direction."""
    mean, cov = correlated_target()
    with plotting.course_style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
        for ax, direction, kl_name in zip(axes, ("forward", "reverse"), (r"$KL[p\|q]$", r"$KL[q\|p]$")):
            m, s = dv.fit_mean_field_gaussian(mean, cov, direction)
            plot_mean_field(ax, mean, cov, m, s, title=f"{direction}: min {kl_name}", label=r"mean-field $q$, 2σ")
        fig.tight_layout()
        return fig
