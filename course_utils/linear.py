"""Linear models: ridge regression and (later in the course) Bayesian linear regression
(lecture eqs. 9-14).

Shapes: design matrix ``X`` [N, D], targets ``y`` [N], weights ``w`` [D].
"""
from __future__ import annotations

import math

import torch

from course_utils._checks import check_int, check_positive, check_same_rows, check_tensor


def polynomial_features(x: torch.Tensor, degree: int) -> torch.Tensor:
    """The design matrix [1, x, x², …, x^degree] of a 1-D input.  ``x``: [N] or [N, 1] → [N, degree+1].

    Inputs are used as they are; rescale x to about [-1, 1] for high degrees to keep the
    matrix well conditioned.
    """
    check_tensor("x", x, ndim=(1, 2))
    if x.ndim == 2 and x.shape[1] != 1:
        raise ValueError(f"x must be [N] or [N, 1], got shape {tuple(x.shape)}")
    check_int("degree", degree, minimum=0)
    powers = torch.arange(degree + 1, device=x.device, dtype=x.dtype)
    return x.reshape(-1, 1) ** powers


def ridge(X: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    r"""Ridge regression, the minimiser of :math:`\|y - X\omega\|^2 + \lambda\|\omega\|^2` (eq. 14):

    .. math:: \hat\omega = (X^\top X + \lambda I)^{-1} X^\top y,

    computed with a Cholesky solve (no explicit inverse).  With λ = σ²_ε/τ² this is the MAP
    estimate of Bayesian linear regression.  ``lam = 0`` gives least squares (via ``lstsq``).

    Args:
        X: [N, D] design matrix.   y: [N] targets.   lam: λ ≥ 0.
    Returns:
        w: [D] on X's device and dtype.
    """
    check_tensor("X", X, ndim=2)
    check_tensor("y", y, ndim=1)
    check_same_rows("X", X, "y", y)
    check_positive("lam", lam, allow_zero=True)
    if lam == 0:
        return torch.linalg.lstsq(X, y.unsqueeze(-1)).solution.squeeze(-1)
    A = X.T @ X + lam * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    L = torch.linalg.cholesky(A)
    return torch.cholesky_solve((X.T @ y).unsqueeze(-1), L).squeeze(-1)


def _check_blr_inputs(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float) -> None:
    check_tensor("X", X, ndim=(2, 3))
    check_tensor("y", y, ndim=(1, 2))
    if y.shape != X.shape[:-1]:
        raise ValueError(f"y must have shape {tuple(X.shape[:-1])} (X's shape without its last dimension), "
                         f"got {tuple(y.shape)}")
    check_positive("noise_var", noise_var)
    check_positive("prior_var", prior_var)


def _posterior_precision_cholesky(X: torch.Tensor, noise_var: float, prior_var: float) -> torch.Tensor:
    """Cholesky factor of the posterior precision A = XᵀX/σ²_ε + I/τ² ([..., D, D])."""
    D = X.shape[-1]
    eye = torch.eye(D, dtype=X.dtype, device=X.device)
    A = X.mT @ X / noise_var + eye / prior_var
    return torch.linalg.cholesky(A)


def blr_posterior(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The exact posterior p(ω|X, y) = N(m, Σ) of Bayesian linear regression (eqs. 9-11),

    with likelihood :math:`y_i\sim\mathcal N(x_i^\top\omega,\sigma^2_\epsilon)` and prior
    :math:`\omega\sim\mathcal N(0,\tau^2 I)`:

    .. math:: \Sigma = \Big(\frac{X^\top X}{\sigma^2_\epsilon} + \frac{I}{\tau^2}\Big)^{-1},\qquad
              m = \Sigma\,\frac{X^\top y}{\sigma^2_\epsilon}.

    m equals ridge(X, y, λ = σ²_ε/τ²), the MAP estimate of eq. (14).  Cholesky solves, no
    explicit inverse.

    Args:
        X: [N, D] or batched [B, N, D].   y: [N] or [B, N].
        noise_var: σ²_ε > 0.   prior_var: τ² > 0.
    Returns:
        mean [D] (or [B, D]) and cov [D, D] (or [B, D, D]), on X's device and dtype.
    """
    _check_blr_inputs(X, y, noise_var, prior_var)
    L = _posterior_precision_cholesky(X, noise_var, prior_var)
    cov = torch.cholesky_inverse(L)
    mean = torch.cholesky_solve((X.mT @ y.unsqueeze(-1)) / noise_var, L).squeeze(-1)
    return mean, cov


def blr_predictive(X_new: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, noise_var: float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The posterior predictive p(y*|x*, X, y) of eq. (6) in closed form (a Gaussian):

    .. math:: \mathbb E[y^*] = x^{*\top} m,\qquad
              \mathrm{Var}[y^*] = \underbrace{\sigma^2_\epsilon}_{\text{aleatoric}}
              + \underbrace{x^{*\top}\Sigma\,x^*}_{\text{epistemic}}.

    Args:
        X_new: [M, D] (or [B, M, D]).   mean: [D] (or [B, D]).   cov: [D, D] (or [B, D, D]).
        noise_var: σ²_ε > 0 (use :func:`blr_epistemic_var` for the epistemic part alone).
    Returns:
        predictive mean [M] and variance [M] (or [B, M]).
    """
    check_tensor("X_new", X_new, ndim=(2, 3))
    check_tensor("mean", mean, ndim=(1, 2))
    check_tensor("cov", cov, ndim=(2, 3))
    check_positive("noise_var", noise_var)
    D = X_new.shape[-1]
    if mean.shape[-1] != D or cov.shape[-2:] != (D, D):
        raise ValueError(f"mean must be [.., {D}] and cov [.., {D}, {D}] to match X_new [.., M, {D}], "
                         f"got mean {tuple(mean.shape)} and cov {tuple(cov.shape)}")
    return (X_new @ mean.unsqueeze(-1)).squeeze(-1), noise_var + blr_epistemic_var(X_new, cov)


def blr_epistemic_var(X_new: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    r"""The epistemic part :math:`x^{*\top}\Sigma x^*` of the predictive variance, for each row of
    ``X_new`` [M, D] (or [B, M, D]) and a covariance [D, D] (or [B, D, D]).  Returns [M] (or [B, M])."""
    check_tensor("X_new", X_new, ndim=(2, 3))
    check_tensor("cov", cov, ndim=(2, 3))
    return ((X_new @ cov) * X_new).sum(-1)


def blr_log_evidence(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float) -> torch.Tensor:
    r"""The log evidence (marginal likelihood) :math:`\log p(y|X) = \log\int p(y|X,\omega)p(\omega)d\omega`
    of Bayesian linear regression, the denominator of eq. (9):

    .. math:: \log p(y|X) = \log\mathcal N(y;\,0,\;\sigma^2_\epsilon I + \tau^2 X X^\top).

    Computed in D dimensions (matrix determinant lemma and Woodbury), so it costs O(N D²):

    .. math:: \log p(y|X) = -\tfrac12\Big(\frac{y^\top y}{\sigma^2_\epsilon} - b^\top A^{-1} b\Big)
              - \tfrac12\log|A| - \tfrac D2\log\tau^2 - \tfrac N2\log(2\pi\sigma^2_\epsilon),

    with :math:`A = X^\top X/\sigma^2_\epsilon + I/\tau^2` and :math:`b = X^\top y/\sigma^2_\epsilon`.

    Args:
        X: [N, D] or [B, N, D].   y: [N] or [B, N].   noise_var: σ²_ε > 0.   prior_var: τ² > 0.
    Returns:
        a scalar tensor (or [B]).
    """
    _check_blr_inputs(X, y, noise_var, prior_var)
    N, D = X.shape[-2], X.shape[-1]
    L = _posterior_precision_cholesky(X, noise_var, prior_var)
    b = (X.mT @ y.unsqueeze(-1)) / noise_var
    half_quad = torch.linalg.solve_triangular(L, b, upper=False).squeeze(-1)  # L⁻¹b, so bᵀA⁻¹b = |L⁻¹b|²
    logdet_A = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    return (-0.5 * ((y * y).sum(-1) / noise_var - (half_quad**2).sum(-1)) - 0.5 * logdet_A
            - 0.5 * D * math.log(float(prior_var)) - 0.5 * N * math.log(2 * math.pi * float(noise_var)))


def blr_grid_posterior_1d(x: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float,
                          omega_grid: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""Bayes' theorem (eq. 5) by brute force for the one-weight model :math:`y_i = \omega x_i + \epsilon_i`.

    Evaluates on a grid of ω the prior :math:`p(\omega)=\mathcal N(0,\tau^2)`, the likelihood
    :math:`p(y|X,\omega)=\prod_i\mathcal N(y_i;\omega x_i,\sigma^2_\epsilon)` (eq. 11), the evidence
    :math:`p(y|X)=\int p(y|X,\omega)p(\omega)d\omega` by the trapezoidal rule, and the posterior
    prior × likelihood / evidence.  A teaching and testing tool: it needs no algebra.

    Args:
        x: [N] or [N, 1] inputs.  y: [N].  omega_grid: [G] increasing grid covering the posterior.
    Returns:
        dict with ``prior``, ``likelihood``, ``posterior`` ([G] each) and ``evidence`` (scalar).
    """
    check_tensor("x", x, ndim=(1, 2))
    check_tensor("y", y, ndim=1)
    check_tensor("omega_grid", omega_grid, ndim=1)
    x = x.reshape(-1)
    check_same_rows("x", x, "y", y)
    check_positive("noise_var", noise_var)
    check_positive("prior_var", prior_var)
    if omega_grid.numel() < 3 or not bool((omega_grid.diff() > 0).all()):
        raise ValueError("omega_grid must be increasing with at least 3 points")
    prior = torch.distributions.Normal(torch.zeros((), dtype=x.dtype, device=x.device), math.sqrt(prior_var))
    log_lik = torch.distributions.Normal(omega_grid[:, None] * x, math.sqrt(noise_var)).log_prob(y).sum(-1)
    joint = (prior.log_prob(omega_grid) + log_lik).exp()
    evidence = torch.trapezoid(joint, omega_grid)
    return {"prior": prior.log_prob(omega_grid).exp(), "likelihood": log_lik.exp(),
            "evidence": evidence, "posterior": joint / evidence}
