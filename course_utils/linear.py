"""Linear models: ridge regression and (later in the course) Bayesian linear regression
(lecture eqs. 9-14).

Shapes: design matrix ``X`` [N, D], targets ``y`` [N], weights ``w`` [D].
"""
from __future__ import annotations

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
