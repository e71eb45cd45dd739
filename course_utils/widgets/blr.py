"""The Bayesian linear regression explorer (notebook 2).

Sliders for the prior variance τ², the noise variance σ²_ε, the number of data points N and the
polynomial degree redraw the posterior samples, the predictive band (eq. 6) and the evidence
p(y|X) (the denominator of eq. 9) against τ² and against the degree.

Everything the app shows is computed by the pure function :func:`blr_explorer_state`, which the
tests call headless; the app keeps the current log evidence and the best degree in widget values.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

from course_utils._checks import check_int, check_positive
from course_utils.data import toy_function, toy_regression
from course_utils.linear import blr_epistemic_var, blr_log_evidence, blr_posterior, polynomial_features
from course_utils.plotting import COLORS, course_style, figure_png, predictive_band, to_numpy

POOL_SIZE = 50
MAX_DEGREE = 9


def explorer_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed pool of 50 noisy points of sin(2πx) (σ_ε = 0.3) that the explorer reveals in order."""
    return toy_regression(POOL_SIZE, "sine", generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def design(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Polynomial features of t = 2x − 1 ∈ [−1, 1] (well conditioned up to degree 9)."""
    return polynomial_features(2 * x - 1, degree)


@dataclass
class ExplorerState:
    """What the explorer shows for one setting of the sliders (all tensors float64, CPU)."""
    x: torch.Tensor             # [N] data inputs
    y: torch.Tensor             # [N] data targets
    grid: torch.Tensor          # [G] plotting grid on [0, 1]
    pred_mean: torch.Tensor     # [G] predictive mean, eq. (6)
    aleatoric_var: torch.Tensor  # [G] σ²_ε
    epistemic_var: torch.Tensor  # [G] xᵀΣx
    samples: torch.Tensor       # [S, G] functions f(x) = φ(x)ᵀω, ω ~ p(ω|X, y)
    log_evidence: float         # log p(y|X) at the current setting
    prior_vars: torch.Tensor    # [T] τ² values of the evidence curve
    evidence_vs_prior: torch.Tensor   # [T] log p(y|X) against τ²
    degrees: torch.Tensor       # [MAX_DEGREE + 1]
    evidence_vs_degree: torch.Tensor  # log p(y|X) against the degree
    best_degree: int            # argmax of the evidence over the degree


def blr_explorer_state(prior_var: float, noise_var: float, n_points: int, degree: int, *,
                       n_samples: int = 20, n_grid: int = 200, seed: int = 0) -> ExplorerState:
    """Compute everything the explorer draws: the pure function behind the widget.

    Args:
        prior_var: τ² > 0.  noise_var: σ²_ε > 0.  n_points: N in [1, 50] (the first N of the pool).
        degree: polynomial degree in [0, 9].  n_samples: posterior function samples to draw.
    """
    check_positive("prior_var", prior_var)
    check_positive("noise_var", noise_var)
    check_int("n_points", n_points)
    if n_points > POOL_SIZE:
        raise ValueError(f"n_points must be at most {POOL_SIZE}, got {n_points}")
    check_int("degree", degree, minimum=0)
    if degree > MAX_DEGREE:
        raise ValueError(f"degree must be at most {MAX_DEGREE}, got {degree}")
    x_all, y_all = explorer_data(seed)
    x, y = x_all[:n_points, 0], y_all[:n_points]
    X = design(x, degree)
    mean, cov = blr_posterior(X, y, noise_var, prior_var)
    grid = torch.linspace(0, 1, n_grid, dtype=torch.float64)
    G = design(grid, degree)
    L = torch.linalg.cholesky(cov)
    eps = torch.randn(n_samples, degree + 1, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    prior_vars = torch.logspace(-3, 3, 61, dtype=torch.float64)
    degrees = torch.arange(MAX_DEGREE + 1)
    ev_deg = torch.stack([blr_log_evidence(design(x, int(d)), y, noise_var, prior_var) for d in degrees])
    return ExplorerState(
        x=x, y=y, grid=grid, pred_mean=G @ mean,
        aleatoric_var=torch.full_like(grid, float(noise_var)), epistemic_var=blr_epistemic_var(G, cov),
        samples=(mean + eps @ L.T) @ G.T,
        log_evidence=float(blr_log_evidence(X, y, noise_var, prior_var)),
        prior_vars=prior_vars,
        evidence_vs_prior=torch.stack([blr_log_evidence(X, y, noise_var, float(t)) for t in prior_vars]),
        degrees=degrees, evidence_vs_degree=ev_deg, best_degree=int(ev_deg.argmax()),
    )


def plot_explorer_state(state: ExplorerState, prior_var: float, degree: int) -> plt.Figure:
    """Three panels: posterior samples and predictive band; evidence vs τ²; evidence vs degree."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    ax = axes[0]
    for s in state.samples:
        ax.plot(to_numpy(state.grid), to_numpy(s), color=COLORS["alt2"], lw=0.8, alpha=0.5)
    ax.plot([], [], color=COLORS["alt2"], lw=0.8, label=r"samples $\omega\sim p(\omega|X,y)$")
    std = (state.aleatoric_var + state.epistemic_var).sqrt()
    predictive_band(ax, state.grid, state.pred_mean, std, x_data=state.x, y_data=state.y, label="predictive mean")
    ax.plot(to_numpy(state.grid), to_numpy(toy_function(state.grid, "sine")), "--", color=COLORS["truth"], lw=1.5, label="truth")
    ax.set(ylim=(-2.5, 2.5), xlabel="$x$", ylabel="$y$", title=f"posterior predictive, N = {len(state.x)}")
    ax.legend(loc="lower left", fontsize=10)
    ax = axes[1]
    ax.semilogx(to_numpy(state.prior_vars), to_numpy(state.evidence_vs_prior))
    ax.plot([prior_var], [state.log_evidence], "o", color=COLORS["alt"], label="current τ²")
    ax.set(xlabel=r"prior variance $\tau^2$", ylabel=r"$\log p(y|X)$", title="evidence vs prior")
    ax.legend(fontsize=10)
    ax = axes[2]
    ax.plot(to_numpy(state.degrees), to_numpy(state.evidence_vs_degree), "o-")
    ax.plot([degree], [state.log_evidence], "o", color=COLORS["alt"], ms=11, label="current degree")
    ax.set(xlabel="polynomial degree", ylabel=r"$\log p(y|X)$", title="evidence vs degree")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


class BLRExplorer:
    """The ipywidgets app.  ``app.widget`` is the VBox to display; ``app.log_evidence`` and
    ``app.best_degree`` hold the numbers shown, ``app.state`` the last :class:`ExplorerState`."""

    def __init__(self, prior_var: float = 1.0, noise_var: float = 0.09, n_points: int = 10, degree: int = 3) -> None:
        import ipywidgets as w

        style = {"description_width": "170px"}
        layout = w.Layout(width="520px")
        self.prior_var = w.FloatLogSlider(value=prior_var, base=10, min=-3, max=3, step=0.01,
                                          description="prior var τ²", style=style, layout=layout)
        self.noise_var = w.FloatLogSlider(value=noise_var, base=10, min=-3, max=1, step=0.01,
                                          description="noise var σ²_ε", style=style, layout=layout)
        self.n_points = w.IntSlider(value=n_points, min=1, max=POOL_SIZE, description="data points N", style=style, layout=layout)
        self.degree = w.IntSlider(value=degree, min=0, max=MAX_DEGREE, description="polynomial degree", style=style, layout=layout)
        self.log_evidence = w.FloatText(description="log p(y|X)", disabled=True, style=style)
        self.best_degree = w.IntText(description="best degree", disabled=True, style=style)
        self.figure = w.Image(format="png", layout=w.Layout(width="100%"))
        for i, s in enumerate((self.prior_var, self.noise_var, self.n_points, self.degree)):
            s.add_class(f"blr-slider-{i}")
            s.observe(self._update, names="value")
        self.widget = w.VBox([w.HBox([w.VBox([self.prior_var, self.noise_var]), w.VBox([self.n_points, self.degree])]),
                              w.HBox([self.log_evidence, self.best_degree]), self.figure])
        self.state: ExplorerState | None = None
        self._update()

    def _update(self, *_: object) -> None:
        self.state = blr_explorer_state(self.prior_var.value, self.noise_var.value, self.n_points.value, self.degree.value)
        self.log_evidence.value = round(self.state.log_evidence, 4)
        self.best_degree.value = self.state.best_degree
        with course_style():
            self.figure.value = figure_png(plot_explorer_state(self.state, self.prior_var.value, self.degree.value))

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        """Display the app's widget; where widgets cannot render, a sentence instead of a VBox repr."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if "text/plain" in data:
            data["text/plain"] = "BLR explorer (interactive: run this cell in JupyterLab to use it)"
        return bundle
