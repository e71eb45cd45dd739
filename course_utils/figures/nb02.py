"""Notebook 2's lecture figures: Bayes' theorem in four parts, sequential updating, the
aleatoric/epistemic split of the predictive variance, and the evidence for model selection."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from course_utils import plotting
from course_utils.data import toy_function, toy_regression
from course_utils.figures import register
from course_utils.linear import blr_epistemic_var, blr_grid_posterior_1d, blr_log_evidence, blr_posterior, polynomial_features
from course_utils.plotting import COLORS, to_numpy

#: The settings of notebook 2's examples.
NOISE_VAR = 0.2**2   # σ²_ε of the "linear" toy
PRIOR_VAR = 1.0      # τ²


def line_data(n: int = 20, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of y = −0.3 + 0.5x + N(0, 0.2²), x ∈ [−1, 1] (Bishop's sequential-updating example)."""
    return toy_regression(n, "linear", generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def slope_data(n: int = 5, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of y = 0.5x + N(0, 0.2²), x ∈ [−1, 1]: a line through the origin, so that the
    one-weight model y = ωx of the Bayes' theorem example is the true model."""
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 1
    return x, 0.5 * x[:, 0] + 0.2 * torch.randn(n, generator=g, dtype=torch.float64)


def plot_bayes_theorem(omega_grid: torch.Tensor, parts: dict[str, torch.Tensor]) -> plt.Figure:
    """Prior, likelihood, evidence and posterior of a one-weight model, side by side (eq. 5)."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    g = to_numpy(omega_grid)
    panels = [("prior $p(\\omega)$", parts["prior"], COLORS["truth"]),
              ("likelihood $p(Y|X,\\omega)$", parts["likelihood"], COLORS["alt"]),
              ("prior × likelihood", parts["prior"] * parts["likelihood"], COLORS["alt2"]),
              ("posterior $p(\\omega|X,Y)$", parts["posterior"], COLORS["mean"])]
    for ax, (title, dens, color) in zip(axes, panels):
        ax.plot(g, to_numpy(dens), color=color)
        ax.fill_between(g, 0, to_numpy(dens), color=color, alpha=0.15)
        ax.set(title=title, xlabel=r"$\omega$")
    axes[2].text(0.03, 0.9, f"area = evidence\n$p(Y|X)$ = {float(parts['evidence']):.3g}", transform=axes[2].transAxes,
                 fontsize=12, va="top")
    fig.suptitle("Bayes' theorem, eq. (5): posterior = prior × likelihood / evidence", y=1.03)
    fig.tight_layout()
    return fig


def plot_sequential_updating(x: torch.Tensor, y: torch.Tensor, ns: tuple[int, ...], noise_var: float,
                             prior_var: float, seed: int = 0) -> plt.Figure:
    """Top: the posterior over (ω₀, ω₁) after N points; bottom: lines drawn from it, with the data."""
    fig, axes = plt.subplots(2, len(ns), figsize=(4.2 * len(ns), 8))
    w = torch.linspace(-1.5, 1.5, 151, dtype=torch.float64)
    W0, W1 = torch.meshgrid(w, w, indexing="xy")
    Wflat = torch.stack([W0.reshape(-1), W1.reshape(-1)], 1)
    xs = torch.linspace(-1, 1, 50, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    for j, n in enumerate(ns):
        X = polynomial_features(x[:n, 0], 1)
        if n == 0:
            mean, cov = torch.zeros(2, dtype=torch.float64), prior_var * torch.eye(2, dtype=torch.float64)
        else:
            mean, cov = blr_posterior(X, y[:n], noise_var, prior_var)
        dens = torch.distributions.MultivariateNormal(mean, cov).log_prob(Wflat).exp().reshape(W0.shape)
        axes[0, j].contourf(to_numpy(W0), to_numpy(W1), to_numpy(dens), levels=12, cmap="Blues")
        axes[0, j].plot([-0.3], [0.5], "+", color=COLORS["alt"], ms=16, mew=3)
        axes[0, j].set(title=f"N = {n}", xlabel=r"$\omega_0$ (intercept)", ylabel=r"$\omega_1$ (slope)" if j == 0 else None)
        samples = mean + torch.randn(6, 2, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
        for s in samples:
            axes[1, j].plot(to_numpy(xs), to_numpy(s[0] + s[1] * xs), color=COLORS["alt2"], lw=1.5)
        axes[1, j].plot(to_numpy(x[:n, 0]), to_numpy(y[:n]), "o", color=COLORS["data"])
        axes[1, j].set(ylim=(-1.5, 1.5), xlabel="$x$", ylabel="$y$" if j == 0 else None)
    axes[0, 0].plot([], [], "+", color=COLORS["alt"], ms=12, mew=3, label="true ω")
    axes[0, 0].legend(loc="lower left", fontsize=10)
    fig.suptitle("Sequential updating: today's posterior is tomorrow's prior", y=1.0)
    fig.tight_layout()
    return fig


def gap_data() -> tuple[torch.Tensor, torch.Tensor]:
    """20 points of sin(2πx) + N(0, 0.3²) with a gap in x ∈ (0.35, 0.75): epistemic uncertainty grows there."""
    x, y = toy_regression(40, "sine", generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    keep = ((x[:, 0] < 0.35) | (x[:, 0] > 0.75)).nonzero().reshape(-1)[:20]
    return x[keep], y[keep]


def plot_predictive_parts(grid: torch.Tensor, mean: torch.Tensor, aleatoric: torch.Tensor, epistemic: torch.Tensor,
                          x: torch.Tensor, y: torch.Tensor) -> plt.Figure:
    """Left: the predictive band with its two parts; right: the two variances against x."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.8))
    g = to_numpy(grid)
    total = (aleatoric + epistemic).sqrt()
    ax = axes[0]
    ax.fill_between(g, to_numpy(mean - 2 * total), to_numpy(mean + 2 * total), color=COLORS["band"], alpha=0.35,
                    label="±2 std, total")
    ax.fill_between(g, to_numpy(mean - 2 * epistemic.sqrt()), to_numpy(mean + 2 * epistemic.sqrt()),
                    color=COLORS["alt"], alpha=0.35, label="±2 std, epistemic only")
    ax.plot(g, to_numpy(mean), color=COLORS["mean"], label="predictive mean")
    ax.plot(to_numpy(x), to_numpy(y), "o", color=COLORS["data"], label="data")
    ax.plot(g, to_numpy(toy_function(grid, "sine")), "--", color=COLORS["truth"], lw=1.5, label="truth")
    ax.set(ylim=(-2.5, 2.5), xlabel="$x$", ylabel="$y$", title="posterior predictive, eq. (6)")
    ax.legend(loc="lower left", fontsize=10)
    ax = axes[1]
    ax.plot(g, to_numpy(aleatoric), label=r"aleatoric $\sigma^2_\epsilon$")
    ax.plot(g, to_numpy(epistemic), label=r"epistemic $\phi(x)^\top\Sigma\,\phi(x)$")
    ax.set(yscale="log", xlabel="$x$", ylabel="variance", title="the two parts of Var[y*]")
    ax.legend(fontsize=11)
    fig.tight_layout()
    return fig


def plot_evidence(prior_vars: torch.Tensor, ev_prior: torch.Tensor, degrees: torch.Tensor, ev_degree: torch.Tensor,
                  train_rmse: torch.Tensor, prior_var: float = 10.0) -> plt.Figure:
    """Log evidence against τ² and against the degree (Occam's razor), with the maxima marked."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.8))
    ax = axes[0]
    ax.semilogx(to_numpy(prior_vars), to_numpy(ev_prior))
    i = int(ev_prior.argmax())
    ax.plot([float(prior_vars[i])], [float(ev_prior[i])], "*", ms=18, color=COLORS["alt"], label=f"max at τ² = {float(prior_vars[i]):.2g}")
    ax.set(xlabel=r"prior variance $\tau^2$", ylabel=r"$\log p(y|X)$", title="evidence against the prior (degree 3)")
    ax.legend()
    ax = axes[1]
    ax.plot(to_numpy(degrees), to_numpy(ev_degree), "o-", label=r"$\log p(y|X)$")
    k = int(ev_degree.argmax())
    ax.plot([int(degrees[k])], [float(ev_degree[k])], "*", ms=18, color=COLORS["alt"], label=f"max at degree {int(degrees[k])}")
    ax.set(xlabel="polynomial degree", ylabel=r"$\log p(y|X)$", title=f"evidence against the degree (τ² = {prior_var:g})")
    ax2 = ax.twinx()
    ax2.plot(to_numpy(degrees), to_numpy(train_rmse), "s--", color=COLORS["grey"], label="training RMSE")
    ax2.set_ylabel("training RMSE")
    ax2.grid(False)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right", fontsize=11)
    fig.tight_layout()
    return fig


def evidence_curves(x: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float, degree: int = 3,
                    max_degree: int = 9) -> dict[str, torch.Tensor]:
    """Log evidence against τ² (at ``degree``) and against the degree (at ``prior_var``), and the
    least-squares training RMSE against the degree; features of t = 2x − 1.  Returns the
    keyword arguments of :func:`plot_evidence`."""
    t = 2 * x[:, 0] - 1
    prior_vars = torch.logspace(-3, 3, 61, dtype=torch.float64)
    degrees = torch.arange(max_degree + 1)
    Xd = polynomial_features(t, degree)
    ev_prior = torch.stack([blr_log_evidence(Xd, y, noise_var, float(p)) for p in prior_vars])
    ev_degree = torch.stack([blr_log_evidence(polynomial_features(t, int(d)), y, noise_var, prior_var) for d in degrees])
    rmse = []
    for d in degrees:
        P = polynomial_features(t, int(d))
        w = torch.linalg.lstsq(P, y.unsqueeze(-1)).solution.squeeze(-1)
        rmse.append(((P @ w - y) ** 2).mean().sqrt())
    return {"prior_vars": prior_vars, "ev_prior": ev_prior, "degrees": degrees, "ev_degree": ev_degree,
            "train_rmse": torch.stack(rmse), "prior_var": prior_var}


def evidence_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The 15 points of sin(2πx) + N(0, 0.3²) used for model selection."""
    return toy_regression(15, "sine", generator=torch.Generator().manual_seed(3), dtype=torch.float64)


@register("02_bayes_theorem")
def bayes_theorem() -> plt.Figure:
    x, y = slope_data(5)
    grid = torch.linspace(-1.5, 2.0, 2001, dtype=torch.float64)
    with plotting.course_style():
        return plot_bayes_theorem(grid, blr_grid_posterior_1d(x, y, NOISE_VAR, PRIOR_VAR, grid))


@register("02_sequential_updating")
def sequential_updating() -> plt.Figure:
    x, y = line_data(20)
    with plotting.course_style():
        return plot_sequential_updating(x, y, (0, 1, 2, 5, 20), NOISE_VAR, PRIOR_VAR)


@register("02_aleatoric_epistemic")
def aleatoric_epistemic() -> plt.Figure:
    x, y = gap_data()
    grid = torch.linspace(-0.1, 1.1, 300, dtype=torch.float64)
    noise_var, prior_var, degree = 0.09, 10.0, 7
    mean, cov = blr_posterior(polynomial_features(2 * x[:, 0] - 1, degree), y, noise_var, prior_var)
    G = polynomial_features(2 * grid - 1, degree)
    with plotting.course_style():
        return plot_predictive_parts(grid, G @ mean, torch.full_like(grid, noise_var), blr_epistemic_var(G, cov), x[:, 0], y)


@register("02_evidence_model_selection")
def evidence_model_selection() -> plt.Figure:
    x, y = evidence_data()
    with plotting.course_style():
        return plot_evidence(**evidence_curves(x, y, 0.09, 10.0))
