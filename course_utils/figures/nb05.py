"""Notebook 5's experiments and lecture figure: the minibatch estimator of eq. (26), the variance
of the score-function, reparametrization and local-reparametrization gradient estimators, and
the cubic toy regression of Bayes by Backprop in standardised units."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch.distributions import Normal

from course_utils import plotting
from course_utils.bnn import BNN, minibatch_gradients
from course_utils.data import toy_regression
from course_utils.figures import register
from course_utils.vi import blr_kl_to_prior, reparam_grad, score_function_grad, standard_normal

#: The cubic toy is modelled in standardised units x̃ = x / 4, ỹ = y / 30, so that a N(0, 1) prior
#: on every weight is sensible; the noise std 3 becomes 3/30 = 0.1.
X_SCALE, Y_SCALE = 4.0, 30.0
NOISE_STD = 3.0


def cubic_problem(n: int = 20, seed: int = 0, dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None):
    """The 1-D cubic toy of Bayes by Backprop: x ~ U[−4, 4], y = x³ + ε, ε ~ N(0, 3²).

    Returns x [n, 1], y [n] (original units) and xs = x/4, ys = y/30, the noise variance in
    standardised units (0.01)."""
    x, y = toy_regression(n, "cubic", generator=torch.Generator().manual_seed(seed), dtype=dtype, device=device)
    return x, y, x / X_SCALE, y / Y_SCALE, (NOISE_STD / Y_SCALE) ** 2


def blr_minibatch_estimates(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float,
                            q_mean: torch.Tensor, q_cov: torch.Tensor, batch_size: int, n_repeats: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """``n_repeats`` independent values of the eq. (26) estimator for Bayesian linear regression,
    each with a random index set S of size M = ``batch_size`` and one ε: returns [n_repeats]."""
    N = X.shape[0]
    idx = torch.rand(n_repeats, N, generator=generator).argsort(1)[:, :batch_size].to(X.device)
    omega = q_mean + standard_normal((n_repeats, X.shape[1]), q_mean, generator) @ torch.linalg.cholesky(q_cov).mT
    ll = Normal((X[idx] @ omega.unsqueeze(-1))[..., 0], math.sqrt(noise_var)).log_prob(y[idx])     # [R, M]
    return -(N / batch_size) * ll.sum(-1) + blr_kl_to_prior(q_mean, q_cov, prior_var)


def variance_vs_samples(f, mu: torch.Tensor, log_std: torch.Tensor, sample_sizes: list[int], n_repeats: int,
                        generator: torch.Generator | None = None) -> dict[str, list[float]]:
    """Variance of the S-sample gradient estimate (mean over the components of (μ, log σ)) for
    the score-function and reparametrization estimators, for each S in ``sample_sizes``, from
    ``n_repeats`` independent estimates each."""
    out: dict[str, list[float]] = {"score function": [], "reparametrization": []}
    for S in sample_sizes:
        for name, est in (("score function", score_function_grad), ("reparametrization", reparam_grad)):
            g = est(f, mu, log_std, S * n_repeats, generator=generator)
            out[name].append(float(g.reshape(n_repeats, S, -1).mean(1).var(0).mean()))
    return out


def variance_vs_batch_size(model: BNN, x: torch.Tensor, y: torch.Tensor, noise_var: float, batch_sizes: list[int],
                           n_repeats: int, generator: torch.Generator | None = None) -> dict[str, list[float]]:
    """Variance of the eq. (26) gradient (mean over all variational parameters) against the
    minibatch size M, with one weight draw per minibatch (reparametrization) and with the local
    reparametrization trick."""
    out: dict[str, list[float]] = {"reparametrization": [], "local reparametrization": []}
    saved = model.local_reparam
    for M in batch_sizes:
        for name, local in (("reparametrization", False), ("local reparametrization", True)):
            model.local_reparam = local
            g = minibatch_gradients(model, x, y, noise_var, M, n_repeats, generator=generator)
            out[name].append(float(g.var(0).mean()))
    model.local_reparam = saved
    return out


def variance_model_and_data(n: int = 1000, seed: int = 0):
    """The set-up of the minibatch-size experiment: N = 1000 points of the cubic toy (standardised)
    and a BNN with 50 tanh units, q's standard deviations at 0.1 (as early in training)."""
    _, _, xs, ys, noise_var = cubic_problem(n, seed=seed)
    model = BNN(1, 50, 1, init_std=0.1, generator=torch.Generator().manual_seed(seed))
    return model, xs, ys, noise_var


@register("05_gradient_variance")
def gradient_variance() -> plt.Figure:
    """The variance of the three gradient estimators: against the number of samples S (score
    function vs reparametrization, f = the BLR log-likelihood), and against the minibatch size M
    (reparametrization vs local reparametrization, a BNN on the cubic toy)."""
    from course_utils.figures.nb04 import blr_elbo_problem
    _, X, y, s2, _ = blr_elbo_problem()
    log_lik = lambda w: Normal(w @ X.mT, math.sqrt(s2)).log_prob(y).sum(-1)
    g = torch.Generator().manual_seed(0)
    mu = torch.zeros(2, dtype=torch.float64)
    sizes = [1, 4, 16, 64]
    by_s = variance_vs_samples(log_lik, mu, mu + math.log(0.1), sizes, 200, g)
    model, xs, ys, nv = variance_model_and_data()
    batches = [1, 10, 100, 1000]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # small tensors: one thread avoids thread-pool overhead (restored below)
    try:
        by_m = variance_vs_batch_size(model, xs, ys, nv, batches, 50, g)
    finally:
        torch.set_num_threads(threads)
    with plotting.course_style():
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        for name, v in by_s.items():
            axes[0].loglog(sizes, v, "o-", label=name)
        axes[0].set(xlabel="number of samples $S$", ylabel="gradient variance",
                    title=r"$\nabla_\phi \mathbb{E}_q[\log p(\mathbf{Y}|\mathbf{X},\omega)]$, BLR")
        for name, v in by_m.items():
            axes[1].loglog(batches, v, "o-", label=name)
        axes[1].set(xlabel="minibatch size $M$", ylabel="gradient variance", title="eq. (26), BNN on the cubic toy")
        for ax in axes:
            ax.legend()
        fig.tight_layout()
        return fig


def _node(ax, xy, text, *, width=1.6, stochastic=False, color="#FFFFFF"):
    """A node of the computational graph: a circle for a random variable, a box for a deterministic one."""
    from matplotlib.patches import Circle, FancyBboxPatch

    x, y = xy
    if stochastic:
        ax.add_patch(Circle((x, y), 0.45, facecolor="#FCE3D0", edgecolor="#D55E00", lw=2.5))
    else:
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.35), width, 0.7, boxstyle="round,pad=0.06",
                                    facecolor=color, edgecolor="#0072B2", lw=2.5))
    ax.text(x, y, text, ha="center", va="center", fontsize=18)


def _arrow(ax, a, b, *, color="#000000", ls="-", rad=0.0):
    """An arrow between two points (given at the nodes' edges)."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=22, lw=2.2, color=color, ls=ls,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))


@register("05_reparametrization_trick")
def reparametrization_trick_graph() -> plt.Figure:
    """The computational graph before and after the reparametrization trick (lecture, slide
    'The reparametrization trick'): the noise ε is moved out of the path from φ to the loss."""
    with plotting.course_style():
        fig, axes = plt.subplots(1, 2, figsize=(16, 5.8))
        for ax in axes:
            ax.set_xlim(0, 10)
            ax.set_ylim(0, 5.2)
            ax.axis("off")
        ax = axes[0]
        ax.set_title("sampling $\\omega\\sim q_\\phi(\\omega)$:\nno gradient through the random node", fontsize=17)
        _node(ax, (1.4, 2.6), r"$\phi=(\mu,\sigma)$", width=2.2)
        _node(ax, (5.0, 2.6), r"$\omega$", stochastic=True)
        _node(ax, (8.5, 2.6), r"$\hat{\mathcal{L}}(\omega)$")
        _arrow(ax, (2.6, 2.6), (4.5, 2.6))
        ax.text(3.55, 2.85, "sample", ha="center", fontsize=14)
        _arrow(ax, (5.5, 2.6), (7.65, 2.6))
        _arrow(ax, (8.5, 2.15), (5.3, 2.1), color="#D55E00", ls="--", rad=-0.3)
        ax.text(7.0, 1.2, r"$\partial\hat{\mathcal{L}}/\partial\omega$", fontsize=17, color="#D55E00", ha="center")
        ax.text(3.3, 1.4, r"$\partial\omega/\partial\phi$ = ?", fontsize=18, color="#D55E00", ha="center")
        ax = axes[1]
        ax.set_title("reparametrised $\\omega = g(\\phi,\\epsilon) = \\mu + \\sigma\\epsilon$:\nthe noise moved out of the path",
                     fontsize=17)
        _node(ax, (1.4, 3.7), r"$\phi=(\mu,\sigma)$", width=2.2)
        _node(ax, (1.4, 1.3), r"$\epsilon$", stochastic=True)
        ax.text(1.4, 0.45, r"$\epsilon\sim\mathcal{N}(0,1)$", ha="center", fontsize=15)
        _node(ax, (5.2, 2.6), r"$\omega=g(\phi,\epsilon)$", width=2.6, color="#E8F1FA")
        _node(ax, (8.7, 2.6), r"$\hat{\mathcal{L}}(\omega)$")
        _arrow(ax, (2.55, 3.5), (3.9, 2.85))
        _arrow(ax, (1.85, 1.45), (3.9, 2.35))
        _arrow(ax, (6.5, 2.6), (7.85, 2.6))
        _arrow(ax, (8.7, 3.0), (2.0, 4.15), color="#009E73", ls="--", rad=0.2)
        ax.text(5.6, 4.55, r"$\nabla_\phi\hat{\mathcal{L}} = \frac{\partial\hat{\mathcal{L}}}{\partial\omega}\,"
                r"\frac{\partial g}{\partial\phi}$", fontsize=19, color="#009E73", ha="center")
        fig.tight_layout()
        return fig
