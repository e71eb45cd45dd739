"""Variational inference: the ELBO (lecture eqs. 16-24), its Monte Carlo and minibatch
estimators (eq. 26), the score-function and reparametrization gradient estimators, and
Gaussian variational families maximised by gradient ascent (eq. 24).

Notation as in the lecture: ω the weights, q_φ(ω) the variational distribution with parameters
φ, p(ω) the prior, p(ω|X, Y) the posterior, 𝓛_VI(φ) the ELBO.  Shapes: N data points, D weights,
S Monte Carlo samples, M points in a minibatch.

Bayesian linear regression (BLR) is the exact test case: p(y_i|x_i, ω) = N(x_iᵀω, σ²_ε),
p(ω) = N(0, τ²I), so that every term of eqs. (16)-(23) has a closed form.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal, kl_divergence
from tqdm.auto import tqdm

from course_utils._checks import check_int, check_positive, check_tensor
from course_utils.linear import blr_posterior

__all__ = [
    "blr_expected_log_likelihood", "blr_kl_to_prior", "blr_kl_to_posterior", "blr_elbo", "blr_elbo_terms",
    "elbo_monte_carlo", "minibatch_elbo_loss", "score_function_grad", "reparam_grad",
    "MeanFieldGaussian", "FullCovGaussian", "maximise_elbo", "standard_normal",
]


# ----------------------------------------------------------------------------- helpers


def standard_normal(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """ε ~ N(0, I) of ``shape`` on ``like``'s device and dtype.

    With a ``generator`` the draw happens on the generator's device (so a CPU generator gives the
    same numbers on every machine) and is then moved to ``like``'s device.
    """
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    eps = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float64)
    return eps.to(device=like.device, dtype=like.dtype)


def _check_gaussian_q(q_mean: torch.Tensor, q_cov: torch.Tensor, D: int) -> torch.Tensor:
    """Validate q = N(q_mean, q_cov) with D weights; return the Cholesky factor of q_cov."""
    check_tensor("q_mean", q_mean, ndim=(1, 2))
    check_tensor("q_cov", q_cov, ndim=(2, 3))
    if q_mean.shape[-1] != D or q_cov.shape[-2:] != (D, D) or q_cov.shape[:-2] != q_mean.shape[:-1]:
        raise ValueError(f"q_mean must be [.., {D}] and q_cov [.., {D}, {D}] (with the same batch shape) to match "
                         f"X's {D} columns, got q_mean {tuple(q_mean.shape)} and q_cov {tuple(q_cov.shape)}")
    scale = q_cov.abs().amax().clamp_min(1.0)
    tol = (1e-10 if q_cov.dtype == torch.float64 else 1e-5) * scale
    if not bool(((q_cov - q_cov.mT).abs() <= tol).all()):
        raise ValueError("q_cov must be symmetric (a covariance matrix)")
    L, info = torch.linalg.cholesky_ex(q_cov)
    if bool((info != 0).any()):
        raise ValueError("q_cov must be positive definite (its Cholesky factorisation failed)")
    return L


def _check_blr(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float | None = None) -> None:
    check_tensor("X", X, ndim=2)
    check_tensor("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    check_positive("noise_var", noise_var)
    if prior_var is not None:
        check_positive("prior_var", prior_var)


# ----------------------------------------------------------------------------- the exact ELBO of BLR


def blr_expected_log_likelihood(X: torch.Tensor, y: torch.Tensor, noise_var: float, q_mean: torch.Tensor,
                                q_cov: torch.Tensor) -> torch.Tensor:
    r"""The data term of eq. (23) in closed form for Bayesian linear regression,

    .. math:: \mathbb E_{q}[\log p(\mathbf y|\mathbf X,\omega)] = -\frac N2\log(2\pi\sigma^2_\epsilon)
              - \frac{1}{2\sigma^2_\epsilon}\Big(\|\mathbf y-\mathbf X\mathbf m\|^2
              + \mathrm{tr}(\mathbf X\mathbf S\mathbf X^\top)\Big),\qquad q=\mathcal N(\mathbf m,\mathbf S).

    Args:
        X: [N, D].   y: [N].   noise_var: σ²_ε > 0.
        q_mean: [D] or a batch of means [B, D].   q_cov: [D, D] or [B, D, D], positive definite.
    Returns:
        a scalar tensor (or [B]).
    Raises:
        ValueError/TypeError naming the argument: shapes that do not match, a q_cov that is not
        symmetric positive definite, σ²_ε ≤ 0.
    """
    _check_blr(X, y, noise_var)
    _check_gaussian_q(q_mean, q_cov, X.shape[1])
    return _expected_log_likelihood(X, y, noise_var, q_mean, q_cov)


def _expected_log_likelihood(X: torch.Tensor, y: torch.Tensor, noise_var: float, q_mean: torch.Tensor,
                             q_cov: torch.Tensor) -> torch.Tensor:
    N = X.shape[0]
    resid = y - q_mean @ X.mT                                   # [.., N]
    trace = ((X @ q_cov) * X).sum((-2, -1))                     # tr(X S Xᵀ)
    return -0.5 * N * math.log(2 * math.pi * float(noise_var)) - 0.5 * ((resid**2).sum(-1) + trace) / noise_var


def blr_kl_to_prior(q_mean: torch.Tensor, q_cov: torch.Tensor, prior_var: float) -> torch.Tensor:
    r""":math:`KL[q_\phi(\omega)\|p(\omega)]` of eqs. (19)-(23) for q = N(m, S) and p(ω) = N(0, τ²I), with
    ``torch.distributions.kl_divergence``.  ``q_mean`` [D] or [B, D], ``q_cov`` [D, D] or [B, D, D]
    → a scalar (or [B]).  Raises ValueError naming ``q_cov`` if it is not positive definite."""
    check_positive("prior_var", prior_var)
    check_tensor("q_mean", q_mean, ndim=(1, 2))
    L = _check_gaussian_q(q_mean, q_cov, q_mean.shape[-1])
    return _kl_to_prior(q_mean, L, prior_var)


def _kl_to_prior(q_mean: torch.Tensor, L: torch.Tensor, prior_var: float) -> torch.Tensor:
    D = q_mean.shape[-1]
    prior = MultivariateNormal(torch.zeros(D, dtype=q_mean.dtype, device=q_mean.device),
                               scale_tril=math.sqrt(float(prior_var)) * torch.eye(D, dtype=q_mean.dtype, device=q_mean.device),
                               validate_args=False)
    return kl_divergence(MultivariateNormal(q_mean, scale_tril=L, validate_args=False), prior)


def blr_kl_to_posterior(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float,
                        q_mean: torch.Tensor, q_cov: torch.Tensor) -> torch.Tensor:
    r""":math:`KL[q_\phi(\omega)\|p(\omega|\mathbf X,\mathbf y)]` of eq. (15)/(16): the gap of the bound,
    with the exact posterior of :func:`course_utils.linear.blr_posterior` and
    ``torch.distributions.kl_divergence``.  Shapes as in :func:`blr_elbo`."""
    _check_blr(X, y, noise_var, prior_var)
    L = _check_gaussian_q(q_mean, q_cov, X.shape[1])
    post_mean, post_cov = blr_posterior(X, y, noise_var, prior_var)
    return kl_divergence(MultivariateNormal(q_mean, scale_tril=L, validate_args=False),
                         MultivariateNormal(post_mean, post_cov, validate_args=False))


def blr_elbo(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float, q_mean: torch.Tensor,
             q_cov: torch.Tensor) -> torch.Tensor:
    r"""The exact ELBO of eq. (23) for Bayesian linear regression and a Gaussian q = N(m, S):

    .. math:: \mathcal L_{VI}(\phi) = \mathbb E_{q_\phi(\omega)}[\log p(\mathbf y|\mathbf X,\omega)]
              - KL[q_\phi(\omega)\|p(\omega)],

    the first term by :func:`blr_expected_log_likelihood`, the second by :func:`blr_kl_to_prior`.
    By eqs. (21)-(22), ``blr_elbo = log p(y|X) − KL[q‖p(ω|X,y)]``: it equals the log evidence
    exactly when q is the posterior.  Differentiable in ``q_mean`` and ``q_cov``.

    Args:
        X: [N, D].   y: [N].   noise_var: σ²_ε > 0.   prior_var: τ² > 0.
        q_mean: [D] or [B, D].   q_cov: [D, D] or [B, D, D], symmetric positive definite.
    Returns:
        a scalar tensor (or [B] for a batch of q's), on X's device and dtype.
    Raises:
        ValueError/TypeError naming the argument on mismatched shapes, a q_cov that is not
        positive definite, or non-positive variances.
    """
    _check_blr(X, y, noise_var, prior_var)
    L = _check_gaussian_q(q_mean, q_cov, X.shape[1])
    return _expected_log_likelihood(X, y, noise_var, q_mean, q_cov) - _kl_to_prior(q_mean, L, prior_var)


def blr_elbo_terms(X: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float, q_mean: torch.Tensor,
                   q_cov: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""Every term of the derivation of eqs. (16)-(23) for Bayesian linear regression, in closed form.

    Returns a dict of scalars (or [B] for a batch of q's):

    - ``"neg_entropy"``: :math:`\int q\log q\,d\omega = -H[q]` (``MultivariateNormal.entropy``);
    - ``"expected_log_prior"``: :math:`\int q\log p(\omega)\,d\omega = -\frac D2\log(2\pi\tau^2) - \frac{\|\mathbf m\|^2+\mathrm{tr}\,\mathbf S}{2\tau^2}`;
    - ``"expected_log_likelihood"``: :math:`\mathbb E_q[\log p(\mathbf Y|\mathbf X,\omega)]` (:func:`blr_expected_log_likelihood`);
    - ``"log_evidence"``: :math:`\log p(\mathbf Y|\mathbf X)` (:func:`course_utils.linear.blr_log_evidence`);
    - ``"kl_prior"``: :math:`KL[q\|p(\omega)]` and ``"kl_posterior"``: :math:`KL[q\|p(\omega|\mathbf X,\mathbf Y)]`
      (both ``torch.distributions.kl_divergence``);
    - ``"elbo"``: :func:`blr_elbo`.

    The terms are computed independently of one another, so that the lines of the derivation can
    be checked against each other.  Shapes and errors as in :func:`blr_elbo`.
    """
    from course_utils.linear import blr_log_evidence

    _check_blr(X, y, noise_var, prior_var)
    L = _check_gaussian_q(q_mean, q_cov, X.shape[1])
    D = X.shape[1]
    q = MultivariateNormal(q_mean, scale_tril=L, validate_args=False)
    exp_log_prior = (-0.5 * D * math.log(2 * math.pi * float(prior_var))
                     - 0.5 * ((q_mean**2).sum(-1) + q_cov.diagonal(dim1=-2, dim2=-1).sum(-1)) / prior_var)
    return {
        "neg_entropy": -q.entropy(),
        "expected_log_prior": exp_log_prior,
        "expected_log_likelihood": blr_expected_log_likelihood(X, y, noise_var, q_mean, q_cov),
        "log_evidence": blr_log_evidence(X, y, noise_var, prior_var),
        "kl_prior": blr_kl_to_prior(q_mean, q_cov, prior_var),
        "kl_posterior": blr_kl_to_posterior(X, y, noise_var, prior_var, q_mean, q_cov),
        "elbo": blr_elbo(X, y, noise_var, prior_var, q_mean, q_cov),
    }


# ----------------------------------------------------------------------------- Monte Carlo estimators


def _rsample(q: Distribution, n_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    """Reparametrised draws ω = g(φ, ε) from a Gaussian q, with an explicit generator when given."""
    if generator is None:
        return q.rsample((n_samples,))
    base = q.base_dist if isinstance(q, Independent) else q
    if isinstance(base, Normal):
        eps = standard_normal((n_samples, *q.batch_shape, *q.event_shape), base.loc, generator)
        return base.loc + base.scale * eps
    if isinstance(q, MultivariateNormal):
        eps = standard_normal((n_samples, *q.batch_shape, *q.event_shape), q.loc, generator)
        return q.loc + (q.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    raise TypeError(f"q must be a Normal, Independent(Normal) or MultivariateNormal to be sampled with a generator, "
                    f"got {type(q).__name__}")


def elbo_monte_carlo(log_joint: Callable[[torch.Tensor], torch.Tensor], q: Distribution, n_samples: int, *,
                     generator: torch.Generator | None = None, return_std_error: bool = False
                     ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of the ELBO, eq. (23) written as :math:`\mathbb E_q[\log p(\mathbf Y,\omega|\mathbf X)
    - \log q_\phi(\omega)]`:

    .. math:: \hat{\mathcal L}_{VI} = \frac1S\sum_{s=1}^S\big[\log p(\mathbf Y|\mathbf X,\omega_s) + \log p(\omega_s)
              - \log q_\phi(\omega_s)\big],\qquad \omega_s = g(\phi,\epsilon_s)\sim q_\phi,

    with reparametrised draws, so the estimate is differentiable in φ.  Unbiased for 𝓛_VI.

    Args:
        log_joint: ω [S, D] → [S], the values log p(Y|X, ω) + log p(ω).
        q: a ``torch.distributions`` Gaussian (``Normal``, ``Independent(Normal)`` or
            ``MultivariateNormal``; any distribution with ``rsample`` when ``generator`` is None).
        n_samples: S ≥ 1 (≥ 2 for a standard error).
        generator: a seeded ``torch.Generator`` for the ε draws.
        return_std_error: also return the standard error of the estimate (std of the S terms / √S).
    Returns:
        the estimate (a scalar tensor), or (estimate, standard error).
    Raises:
        TypeError if ``log_joint`` is not callable or ``q`` not a distribution; ValueError naming
        ``n_samples`` if it is < 1 (< 2 with ``return_std_error``), or ``log_joint`` if it returns
        the wrong shape.
    """
    if not callable(log_joint):
        raise TypeError(f"log_joint must be a callable ω [S, D] → [S], got {type(log_joint).__name__}")
    if not isinstance(q, Distribution):
        raise TypeError(f"q must be a torch.distributions.Distribution, got {type(q).__name__}")
    check_int("n_samples", n_samples, minimum=2 if return_std_error else 1)
    omega = _rsample(q, n_samples, generator)
    lj = log_joint(omega)
    if not isinstance(lj, torch.Tensor) or lj.shape != (n_samples,):
        raise ValueError(f"log_joint must return one value per sample, shape ({n_samples},), "
                         f"got {tuple(lj.shape) if isinstance(lj, torch.Tensor) else type(lj).__name__}")
    terms = lj - q.log_prob(omega)
    est = terms.mean()
    if return_std_error:
        return est, terms.std() / math.sqrt(n_samples)
    return est


def minibatch_elbo_loss(log_lik: torch.Tensor, n_data: int, kl: torch.Tensor | float, kl_weight: float = 1.0) -> torch.Tensor:
    r"""The minibatch Monte Carlo estimator of eq. (26), a loss to minimise:

    .. math:: \hat{\mathcal L}_{MC}(\phi) = -\frac NM\sum_{i\in S}\log p(\mathbf y^{(i)}|\mathbf f^{g(\phi,\epsilon)}(\mathbf x^{(i)}))
              + KL[q_\phi(\omega)\|p(\omega)],

    whose expectation over the index set S (size M) and ε is :math:`-\mathcal L_{VI}(\phi)` (the slide
    writes 𝓛_VI; with its signs the estimator is the *negative* ELBO).  With several ε draws the
    log-likelihood is averaged over them.  ``kl_weight`` scales the KL term (1 = the lecture's).

    Args:
        log_lik: [M] per-point log-likelihoods of the minibatch, or [S, M] for S draws of ε.
        n_data: N, the size of the whole data set (N ≥ M).
        kl: KL[q‖p(ω)], a scalar (tensor or float).
        kl_weight: ≥ 0.
    Returns:
        a scalar tensor.
    """
    check_tensor("log_lik", log_lik, ndim=(1, 2), finite=False)
    check_int("n_data", n_data)
    M = log_lik.shape[-1]
    if M > n_data:
        raise ValueError(f"n_data must be >= the minibatch size M = {M}, got {n_data}")
    check_positive("kl_weight", kl_weight, allow_zero=True)
    ll = log_lik.mean(0) if log_lik.ndim == 2 else log_lik
    return -(n_data / M) * ll.sum() + kl_weight * kl


# ----------------------------------------------------------------------------- gradient estimators


def _check_mu_log_std(f: Callable, mu: torch.Tensor, log_std: torch.Tensor, n_samples: int) -> None:
    if not callable(f):
        raise TypeError(f"f must be a callable ω [S, ...] → [S], got {type(f).__name__}")
    check_tensor("mu", mu)
    check_tensor("log_std", log_std)
    if mu.shape != log_std.shape:
        raise ValueError(f"mu and log_std must have the same shape, got {tuple(mu.shape)} and {tuple(log_std.shape)}")
    check_int("n_samples", n_samples)


def _eval_f(f: Callable, omega: torch.Tensor, n_samples: int) -> torch.Tensor:
    out = f(omega)
    if not isinstance(out, torch.Tensor) or out.shape != (n_samples,):
        raise ValueError(f"f must return one value per sample, shape ({n_samples},), "
                         f"got {tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    return out


def _pathwise_draws(f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, log_std: torch.Tensor,
                    n_samples: int, generator: torch.Generator | None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The shared start of both gradient estimators: validate, and draw ε ~ N(0, 1) [S, *mu.shape]
    so that ω = μ + σε.  Returns (μ, σ, ε), detached from any graph the caller holds."""
    _check_mu_log_std(f, mu, log_std, n_samples)
    mu = mu.detach()
    return mu, log_std.detach().exp(), standard_normal((n_samples, *mu.shape), mu, generator)


def score_function_grad(f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, log_std: torch.Tensor,
                        n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Per-sample score-function (REINFORCE, likelihood-ratio) estimates of the gradient of
    :math:`\mathbb E_{q_\phi(\omega)}[f(\omega)]`, q = N(μ, σ²) element-wise, φ = (μ, log σ):

    .. math:: \nabla_\phi\,\mathbb E_q[f] = \mathbb E_q\big[f(\omega)\,\nabla_\phi\log q_\phi(\omega)\big],\qquad
              \nabla_\mu\log q = \frac{\epsilon}{\sigma},\quad \nabla_{\log\sigma}\log q = \epsilon^2-1,

    with ω = μ + σε (the estimator of Gal's thesis §3.1.1 that the lecture lists first).  The
    mean of the S rows is the usual S-sample estimate; their variance is the estimator's.

    Args:
        f: ω [S, *mu.shape] → [S], acting row by row (no gradient of f is needed).
        mu, log_std: tensors of the same shape (0-d for a scalar ω, or [D]).
        n_samples: S ≥ 1.
        generator: seeded ``torch.Generator`` for the ε draws.
    Returns:
        [S, 2, *mu.shape]: ``[:, 0]`` the gradients with respect to μ, ``[:, 1]`` to log σ.
    Raises:
        TypeError/ValueError naming ``f``, ``mu``, ``log_std`` or ``n_samples``.
    """
    mu, std, eps = _pathwise_draws(f, mu, log_std, n_samples, generator)
    with torch.no_grad():
        fx = _eval_f(f, mu + std * eps, n_samples).reshape(n_samples, *([1] * mu.ndim))
    return torch.stack([fx * eps / std, fx * (eps**2 - 1)], dim=1)


def reparam_grad(f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, log_std: torch.Tensor,
                 n_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Per-sample reparametrization-trick (pathwise) estimates of the gradient of
    :math:`\mathbb E_{q_\phi(\omega)}[f(\omega)]`, q = N(μ, σ²) element-wise, φ = (μ, log σ):

    .. math:: \omega = g(\phi,\epsilon) = \mu + \sigma\epsilon,\ \epsilon\sim\mathcal N(0, 1):\qquad
              \nabla_\mu = f'(\omega),\quad \nabla_{\log\sigma} = f'(\omega)\,\sigma\epsilon,

    i.e. :math:`\nabla_\phi\mathbb E_{p(\epsilon)}[f(g(\phi,\epsilon))] = \mathbb E_{p(\epsilon)}[\nabla_\phi f(g(\phi,\epsilon))]`,
    the trick behind eq. (26).  f' is computed by autograd.

    Args:
        f: ω [S, *mu.shape] → [S], differentiable, acting row by row (row s of the output
            depends only on row s of ω).
        mu, log_std: tensors of the same shape.   n_samples: S ≥ 1.   generator: for ε.
    Returns:
        [S, 2, *mu.shape]: ``[:, 0]`` gradients with respect to μ, ``[:, 1]`` to log σ.
    Raises:
        TypeError/ValueError naming ``f``, ``mu``, ``log_std`` or ``n_samples``.
    """
    mu, std, eps = _pathwise_draws(f, mu, log_std, n_samples, generator)
    with torch.enable_grad():
        omega = (mu + std * eps).requires_grad_(True)
        (df,) = torch.autograd.grad(_eval_f(f, omega, n_samples).sum(), omega)
    return torch.stack([df, df * std * eps], dim=1)


# ----------------------------------------------------------------------------- Gaussian families


def _initial_mean(dim: int, init_mean: torch.Tensor | None, init_std: float, dtype: torch.dtype,
                  device: torch.device | str | None) -> torch.Tensor:
    """Validate the arguments shared by the Gaussian families and return the initial mean [D]."""
    check_int("dim", dim)
    check_positive("init_std", init_std)
    if init_mean is None:
        return torch.zeros(dim, dtype=dtype, device=device)
    mean = check_tensor("init_mean", init_mean, ndim=1).detach().to(dtype=dtype, device=device).clone()
    if mean.shape != (dim,):
        raise ValueError(f"init_mean must have shape ({dim},), got {tuple(mean.shape)}")
    return mean


class MeanFieldGaussian(nn.Module):
    r"""The mean-field Gaussian family :math:`q_\phi(\omega)=\prod_d\mathcal N(\omega_d;\mu_d,\sigma_d^2)`,
    φ = (μ, log σ) ∈ ℝ^{2D}.

    Args:
        dim: D ≥ 1.   init_mean: [D] (default zeros).   init_std: the initial σ (> 0).
        dtype, device: of the parameters.
    """

    def __init__(self, dim: int, *, init_mean: torch.Tensor | None = None, init_std: float = 1.0,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.mean = nn.Parameter(_initial_mean(dim, init_mean, init_std, dtype, device))
        self.log_std = nn.Parameter(torch.full((dim,), math.log(init_std), dtype=dtype, device=device))

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    def covariance(self) -> torch.Tensor:
        """diag(σ²), [D, D]."""
        return torch.diag_embed(self.std**2)

    def distribution(self) -> Independent:
        """q as ``Independent(Normal(μ, σ), 1)``."""
        return Independent(Normal(self.mean, self.std), 1)

    def rsample(self, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """ω = μ + σ ⊙ ε, [S, D] (reparametrised)."""
        check_int("n_samples", n_samples)
        return self.mean + self.std * standard_normal((n_samples, self.mean.shape[0]), self.mean, generator)


class FullCovGaussian(nn.Module):
    r"""The full-covariance Gaussian family :math:`q_\phi(\omega)=\mathcal N(\omega;\mathbf m,\mathbf L\mathbf L^\top)`,
    φ = (m, L) with L lower triangular and a positive diagonal (stored as its log).

    Args:
        dim: D ≥ 1.   init_mean: [D] (default zeros).   init_std: the initial L = init_std · I.
    """

    def __init__(self, dim: int, *, init_mean: torch.Tensor | None = None, init_std: float = 1.0,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.mean = nn.Parameter(_initial_mean(dim, init_mean, init_std, dtype, device))
        self.off_diag = nn.Parameter(torch.zeros(dim, dim, dtype=dtype, device=device))
        self.log_diag = nn.Parameter(torch.full((dim,), math.log(init_std), dtype=dtype, device=device))

    def scale_tril(self) -> torch.Tensor:
        """L, [D, D] lower triangular with a positive diagonal."""
        return torch.tril(self.off_diag, -1) + torch.diag_embed(self.log_diag.exp())

    def covariance(self) -> torch.Tensor:
        """L Lᵀ, [D, D]."""
        L = self.scale_tril()
        return L @ L.mT

    def distribution(self) -> MultivariateNormal:
        """q as ``MultivariateNormal(m, scale_tril=L)``."""
        return MultivariateNormal(self.mean, scale_tril=self.scale_tril())

    def rsample(self, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """ω = m + L ε, [S, D] (reparametrised)."""
        check_int("n_samples", n_samples)
        eps = standard_normal((n_samples, self.mean.shape[0]), self.mean, generator)
        return self.mean + eps @ self.scale_tril().mT


def maximise_elbo(elbo: Callable[[nn.Module], torch.Tensor], q: nn.Module, *, steps: int, lr: float = 0.05,
                  optimizer: str = "adam", progress: bool = True, desc: str = "maximising the ELBO") -> list[float]:
    r"""Eq. (24), :math:`\phi^* = \arg\max_\phi\mathcal L_{VI}(\phi)`, by gradient ascent on the
    parameters of ``q``.

    Args:
        elbo: q → a scalar tensor differentiable in q's parameters: the exact ELBO (e.g.
            ``lambda q: blr_elbo(X, y, s2, t2, q.mean, q.covariance())``) or an unbiased
            Monte Carlo estimate of it (stochastic gradient ascent).
        q: a family such as :class:`MeanFieldGaussian` or :class:`FullCovGaussian` (updated in place).
        steps: number of steps ≥ 1.   lr: step size > 0.
        optimizer: ``"adam"`` (the default) or ``"sgd"`` (plain gradient ascent, φ ← φ + lr·∇𝓛).
        progress: show a tqdm bar.
    Returns:
        the ELBO value after each step (a list of floats).
    Raises:
        TypeError naming ``elbo`` or ``q``; ValueError naming ``steps``, ``lr`` or ``optimizer``.
    """
    if not callable(elbo):
        raise TypeError(f"elbo must be a callable q → scalar tensor, got {type(elbo).__name__}")
    if not isinstance(q, nn.Module) or not list(q.parameters()):
        raise TypeError("q must be an nn.Module with parameters (a variational family)")
    check_int("steps", steps)
    check_positive("lr", lr)
    if optimizer not in {"adam", "sgd"}:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    params = list(q.parameters())
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = elbo(q)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise ValueError("elbo must return a scalar tensor")
        (-value).backward()
        return -value.detach()

    history: list[float] = []
    for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        history.append(-float(opt.step(closure)))
    return history
