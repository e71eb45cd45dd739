r"""The Kullback-Leibler divergence (lecture eq. 15), forward and reverse.

.. math::  KL[q\|p] = \int q(\omega)\,\log\frac{q(\omega)}{p(\omega)}\,d\omega \qquad (15)

The closed forms for normal distributions (:func:`kl_normal`, :func:`kl_mvn`) are written out
because they are the lesson; the tests compare them with ``torch.distributions.kl_divergence``.
:func:`kl_monte_carlo` estimates any KL between ``torch.distributions`` objects from samples of q,
:func:`kl_quadrature` integrates eq. (15) for 1-D densities on a grid, and :func:`fit_gaussian`
fits a Gaussian q to a 1-D target by the forward KL (``KL[p‖q]``, moment matching) or the reverse
KL (``KL[q‖p]``, the VI objective of eq. 16, by optimisation from a given start).

Conventions: ``q`` is the approximation, ``p`` the target; every function returns KL[first‖second]
in nats, on the device and dtype of its inputs.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import distributions as D

from course_utils._checks import as_tensor, check_int, check_positive, check_tensor

LogDensity = Callable[[torch.Tensor], torch.Tensor]

__all__ = [
    "kl_normal", "kl_mvn", "kl_bernoulli", "kl_categorical", "kl_monte_carlo", "kl_integrand",
    "kl_quadrature", "reverse_kl_gaussian", "gaussian_mixture", "mixture_moments", "fit_gaussian", "fit_mean_field_gaussian",
]


# ----------------------------------------------------------------------------- helpers


def _broadcast(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Broadcast tensors against each other, with an error that names the arguments."""
    try:
        return list(torch.broadcast_tensors(*tensors))
    except RuntimeError as err:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, tensors))
        raise ValueError(f"{', '.join(names)} must have broadcastable shapes, got {shapes}") from err


def _as_float_tensors(names: Sequence[str], values: Sequence[object]) -> list[torch.Tensor]:
    """Convert to tensors that share the first tensor argument's device and dtype."""
    like = next((v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()), None)
    if like is None:
        like = torch.zeros((), dtype=torch.get_default_dtype())
    out = []
    for n, v in zip(names, values):
        t = as_tensor(n, v, like=like)
        if t.device != like.device:
            raise ValueError(f"{n} is on {t.device} but the other arguments are on {like.device}")
        out.append(check_tensor(n, t.to(like.dtype)))
    return out


def _check_probabilities(name: str, probs: torch.Tensor, *, dim: int | None) -> None:
    if bool((probs < 0).any()) or bool((probs > 1).any()):
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    if dim is not None:
        tol = 1e-10 if probs.dtype == torch.float64 else 1e-5
        if not bool(torch.allclose(probs.sum(dim), torch.ones((), dtype=probs.dtype, device=probs.device), atol=tol, rtol=0)):
            raise ValueError(f"{name} must sum to one along its last dimension")


def _xlogy_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a·log(a/b) with the conventions 0·log(0/b) = 0 and a·log(a/0) = +inf for a > 0."""
    return torch.xlogy(a, a) - torch.xlogy(a, b)


# ----------------------------------------------------------------------------- closed forms


def kl_normal(mu_q: torch.Tensor | float, std_q: torch.Tensor | float,
              mu_p: torch.Tensor | float, std_p: torch.Tensor | float) -> torch.Tensor:
    r"""Eq. (15) in closed form for two 1-D normals, elementwise:

    .. math::  KL[\mathcal N(\mu_q,\sigma_q^2)\,\|\,\mathcal N(\mu_p,\sigma_p^2)]
               = \log\frac{\sigma_p}{\sigma_q} + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{2\sigma_p^2} - \frac12 .

    Args:
        mu_q, std_q: mean and standard deviation of q (tensors or numbers, broadcastable).
        mu_p, std_p: mean and standard deviation of p.
    Returns:
        tensor of the broadcast shape, KL[q‖p] ≥ 0 in nats (on the first tensor's device/dtype).
    Raises:
        TypeError: for non-numeric input.  ValueError: for a non-positive or non-finite std,
        non-finite means, or shapes that do not broadcast.
    """
    names = ("mu_q", "std_q", "mu_p", "std_p")
    mu_q, std_q, mu_p, std_p = _as_float_tensors(names, (mu_q, std_q, mu_p, std_p))
    check_positive("std_q", std_q)
    check_positive("std_p", std_p)
    mu_q, std_q, mu_p, std_p = _broadcast(names, (mu_q, std_q, mu_p, std_p))
    ratio = (std_q / std_p) ** 2
    return 0.5 * (ratio + ((mu_q - mu_p) / std_p) ** 2 - 1.0 - torch.log(ratio))


def _cholesky(name: str, cov: torch.Tensor) -> torch.Tensor:
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name} must be a square [d, d] matrix (or a batch of them), got shape {tuple(cov.shape)}")
    tol = 1e-10 if cov.dtype == torch.float64 else 1e-5
    c = cov.detach()
    if not bool(torch.allclose(c, c.mT, atol=tol * (1 + float(c.abs().max())), rtol=0)):
        raise ValueError(f"{name} must be symmetric")
    L, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ValueError(f"{name} must be positive definite (its Cholesky factorisation failed)")
    return L


def kl_mvn(mu_q: torch.Tensor, cov_q: torch.Tensor, mu_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    r"""Eq. (15) in closed form for two d-dimensional normals:

    .. math::  KL[\mathcal N(\mu_q,\Sigma_q)\,\|\,\mathcal N(\mu_p,\Sigma_p)] = \tfrac12\Big[
               \mathrm{tr}(\Sigma_p^{-1}\Sigma_q) + (\mu_p-\mu_q)^\top\Sigma_p^{-1}(\mu_p-\mu_q) - d
               + \log\frac{\det\Sigma_p}{\det\Sigma_q}\Big].

    Computed with Cholesky factors (no explicit inverse).

    Args:
        mu_q: [..., d] mean of q.   cov_q: [..., d, d] covariance of q (symmetric positive definite).
        mu_p: [..., d] mean of p.   cov_p: [..., d, d] covariance of p.
        Leading (batch) dimensions broadcast.
    Returns:
        tensor [...] (a scalar for unbatched input), KL[q‖p] in nats.
    Raises:
        TypeError: for non-tensor or non-floating input.  ValueError: for mismatched dimensions,
        a non-square, non-symmetric or non-positive-definite covariance, or non-finite values.
    """
    for n, t in (("mu_q", mu_q), ("cov_q", cov_q), ("mu_p", mu_p), ("cov_p", cov_p)):
        check_tensor(n, t)
    for n, m in (("mu_q", mu_q), ("mu_p", mu_p)):
        if m.ndim < 1:
            raise ValueError(f"{n} must have at least one dimension [d], got a scalar")
    L_q, L_p = _cholesky("cov_q", cov_q), _cholesky("cov_p", cov_p)
    d = mu_q.shape[-1]
    for n, size in (("mu_p", mu_p.shape[-1]), ("cov_q", cov_q.shape[-1]), ("cov_p", cov_p.shape[-1])):
        if size != d:
            raise ValueError(f"{n} must have dimension d = {d} (that of mu_q), got {size}")
    diff = (mu_p - mu_q).unsqueeze(-1)                                      # [..., d, 1]
    batch = torch.broadcast_shapes(L_q.shape[:-2], L_p.shape[:-2], diff.shape[:-2])
    L_p = L_p.expand(*batch, d, d)
    M = torch.linalg.solve_triangular(L_p, L_q.expand(*batch, d, d), upper=False)   # L_p⁻¹ L_q
    z = torch.linalg.solve_triangular(L_p, diff.expand(*batch, d, 1), upper=False)  # L_p⁻¹ (μ_p − μ_q)
    trace = M.pow(2).sum((-2, -1))                                         # tr(Σ_p⁻¹ Σ_q)
    maha = z.pow(2).sum((-2, -1))
    logdet = 2 * (torch.log(torch.diagonal(L_p, dim1=-2, dim2=-1)).sum(-1)
                  - torch.log(torch.diagonal(L_q, dim1=-2, dim2=-1)).sum(-1))
    return 0.5 * (trace + maha - d + logdet)


def kl_bernoulli(p_q: torch.Tensor | float, p_p: torch.Tensor | float) -> torch.Tensor:
    r"""Eq. (15) for two Bernoulli distributions (the integral becomes a sum over z ∈ {0, 1}):

    .. math::  KL[q\|p] = \pi_q\log\frac{\pi_q}{\pi_p} + (1-\pi_q)\log\frac{1-\pi_q}{1-\pi_p}.

    Args:
        p_q, p_p: success probabilities in [0, 1] (tensors or numbers, broadcastable).
    Returns:
        tensor of the broadcast shape; ``inf`` where q puts mass on an outcome that p excludes.
    Raises:
        ValueError: for probabilities outside [0, 1] or shapes that do not broadcast.
    """
    p_q, p_p = _as_float_tensors(("p_q", "p_p"), (p_q, p_p))
    _check_probabilities("p_q", p_q, dim=None)
    _check_probabilities("p_p", p_p, dim=None)
    p_q, p_p = _broadcast(("p_q", "p_p"), (p_q, p_p))
    return _xlogy_ratio(p_q, p_p) + _xlogy_ratio(1 - p_q, 1 - p_p)


def kl_categorical(probs_q: torch.Tensor, probs_p: torch.Tensor) -> torch.Tensor:
    r"""Eq. (15) for categorical distributions: :math:`KL[q\|p] = \sum_z q(z)\log\frac{q(z)}{p(z)}`.

    Terms with q(z) = 0 contribute 0; a term with q(z) > 0 and p(z) = 0 makes the KL infinite
    (the lecture's "blows up where p(z) = 0").

    Args:
        probs_q, probs_p: [..., K] probabilities summing to one along the last dimension.
    Returns:
        tensor [...], KL[q‖p] in nats.
    Raises:
        TypeError: for non-tensor input.  ValueError: for mismatched numbers of categories,
        entries outside [0, 1] or rows that do not sum to one.
    """
    check_tensor("probs_q", probs_q)
    check_tensor("probs_p", probs_p)
    for n, t in (("probs_q", probs_q), ("probs_p", probs_p)):
        if t.ndim < 1:
            raise ValueError(f"{n} must have a last dimension of categories [..., K], got a scalar")
    if probs_q.shape[-1] != probs_p.shape[-1]:
        raise ValueError(f"probs_q and probs_p must have the same number of categories, got {probs_q.shape[-1]} and {probs_p.shape[-1]}")
    _check_probabilities("probs_q", probs_q, dim=-1)
    _check_probabilities("probs_p", probs_p, dim=-1)
    probs_q, probs_p = _broadcast(("probs_q", "probs_p"), (probs_q, probs_p))
    return _xlogy_ratio(probs_q, probs_p).sum(-1)


# ----------------------------------------------------------------------------- estimators


def _check_distribution(name: str, d: object) -> D.Distribution:
    if not isinstance(d, D.Distribution):
        raise TypeError(f"{name} must be a torch.distributions.Distribution, got {type(d).__name__}")
    return d


def kl_monte_carlo(q: D.Distribution, p: D.Distribution, n_samples: int, *,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of eq. (15): :math:`KL[q\|p] \approx \frac1S\sum_s \log q(\omega_s) - \log p(\omega_s)`,
    :math:`\omega_s\sim q`, with its standard error :math:`\hat\sigma/\sqrt S` (σ̂ the sample std of the terms).

    Args:
        q, p: ``torch.distributions`` objects with the same event shape (and the same batch
            shape, or batch shapes that broadcast).
        n_samples: S ≥ 2.
        generator: optional CPU ``torch.Generator``; with one, the draws are reproducible and the
            global random state is left untouched.
    Returns:
        ``(estimate, standard_error)``, tensors of q's batch shape (scalars for unbatched q).
    Raises:
        TypeError: if q or p is not a distribution, or n_samples not an int.  ValueError: for
        n_samples < 2 or different event shapes.
    """
    _check_distribution("q", q)
    _check_distribution("p", p)
    check_int("n_samples", n_samples, minimum=2)
    if q.event_shape != p.event_shape:
        raise ValueError(f"q and p must have the same event shape, got {tuple(q.event_shape)} and {tuple(p.event_shape)}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator is None:
        omega = q.sample((n_samples,))
    else:
        # torch.distributions draws from the global generator: seed it from ours inside fork_rng,
        # which restores the global state afterwards.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            omega = q.sample((n_samples,))
    terms = q.log_prob(omega) - p.log_prob(omega)          # [S, *batch]
    return terms.mean(0), terms.std(0) / math.sqrt(n_samples)


def kl_integrand(log_q: LogDensity, log_p: LogDensity, x: torch.Tensor) -> torch.Tensor:
    r"""The integrand of eq. (15), :math:`q(x)\log\frac{q(x)}{p(x)}`, evaluated at the points ``x``.

    Where q(x) = 0 the integrand is 0; where q(x) > 0 and p(x) = 0 it is +inf.

    Args:
        log_q, log_p: callables mapping a tensor of points [n] to the normalised log densities [n].
        x: [n] points.
    Returns:
        tensor [n] (the integrand may be negative at some points; its integral is not).
    Raises:
        TypeError: if log_q or log_p is not callable.  ValueError: if x is not 1-D or a log
        density returns the wrong shape or NaN.
    """
    for n, f in (("log_q", log_q), ("log_p", log_p)):
        if not callable(f):
            raise TypeError(f"{n} must be a callable returning log densities, got {type(f).__name__}")
    check_tensor("x", x, ndim=1)
    lq, lp = log_q(x), log_p(x)
    for n, v in (("log_q", lq), ("log_p", lp)):
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            raise ValueError(f"{n}(x) must return a tensor of shape {tuple(x.shape)}")
        if bool(torch.isnan(v).any()):
            raise ValueError(f"{n}(x) returned NaN")
    q = torch.exp(lq)
    out = q * (lq - lp)
    out = torch.where(q > 0, out, torch.zeros_like(out))
    return torch.where((q > 0) & torch.isneginf(lp), torch.full_like(out, math.inf), out)


def kl_quadrature(log_q: LogDensity, log_p: LogDensity, grid: torch.Tensor) -> torch.Tensor:
    r"""Eq. (15) for 1-D densities by the trapezoidal rule on ``grid``:
    :math:`KL[q\|p] \approx \int q(x)\log\frac{q(x)}{p(x)}dx`.

    For smooth densities that are negligible at the ends of the grid the trapezoidal rule converges
    very fast (spacing ≲ σ_q/5 gives ~1e-10 for normals).  The grid must cover where q has mass.

    Args:
        log_q, log_p: callables, normalised log densities evaluated on a tensor of points.
        grid: [n] increasing points, n ≥ 3.
    Returns:
        scalar tensor, KL[q‖p] in nats (``inf`` if p vanishes where q does not).
    Raises:
        TypeError: for a non-callable log density.  ValueError: for a grid that is not 1-D,
        not increasing or too short.
    """
    check_tensor("grid", grid, ndim=1)
    if grid.numel() < 3 or not bool((grid[1:] > grid[:-1]).all()):
        raise ValueError("grid must be an increasing 1-D tensor with at least 3 points")
    return torch.trapezoid(kl_integrand(log_q, log_p, grid), grid)


# ----------------------------------------------------------------------------- mixtures


def gaussian_mixture(weights: torch.Tensor | Sequence[float], means: torch.Tensor | Sequence[float],
                     stds: torch.Tensor | Sequence[float]) -> D.MixtureSameFamily:
    r"""The 1-D mixture :math:`p(x) = \sum_k \pi_k\,\mathcal N(x;\mu_k,\sigma_k^2)` as a ``torch.distributions`` object.

    Args:
        weights: [K] mixture weights π_k ≥ 0 summing to one.  means: [K].  stds: [K] > 0.
    Returns:
        a ``MixtureSameFamily`` with ``log_prob``, ``sample``, ``mean`` and ``variance``.
    Raises:
        ValueError: for mismatched lengths, negative weights or weights not summing to one,
        non-positive stds.
    """
    weights, means, stds = _as_float_tensors(("weights", "means", "stds"), (weights, means, stds))
    for n, t in (("weights", weights), ("means", means), ("stds", stds)):
        check_tensor(n, t, ndim=1)
    if not (weights.shape == means.shape == stds.shape):
        raise ValueError(f"weights, means and stds must have the same length, got {weights.numel()}, {means.numel()}, {stds.numel()}")
    _check_probabilities("weights", weights, dim=-1)
    check_positive("stds", stds)
    return D.MixtureSameFamily(D.Categorical(probs=weights), D.Normal(means, stds))


def mixture_moments(weights: torch.Tensor | Sequence[float], means: torch.Tensor | Sequence[float],
                    stds: torch.Tensor | Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean and variance of a 1-D Gaussian mixture, analytically:
    :math:`m = \sum_k\pi_k\mu_k`, :math:`v = \sum_k\pi_k(\sigma_k^2+\mu_k^2) - m^2`.

    These are what the forward-KL fit of a Gaussian must return (moment matching).

    Returns:
        ``(mean, variance)``, scalar tensors.
    Raises:
        as :func:`gaussian_mixture`.
    """
    mix = gaussian_mixture(weights, means, stds)
    w, mu, s = mix.mixture_distribution.probs, mix.component_distribution.loc, mix.component_distribution.scale
    m = (w * mu).sum()
    return m, (w * (s**2 + mu**2)).sum() - m**2


# ----------------------------------------------------------------------------- fitting q


def reverse_kl_gaussian(mu: torch.Tensor, std: torch.Tensor, log_p: LogDensity, grid: torch.Tensor) -> torch.Tensor:
    r"""Reverse KL of a Gaussian q = N(μ, σ²) to a 1-D target, differentiable in (μ, σ):

    .. math::  KL[q\|p] = -\tfrac12\log(2\pi e\sigma^2) - E_q[\log p].

    E_q[log p] is integrated by the trapezoidal rule on the *fixed* ``grid`` (a grid that moved with
    q would add ripples to the objective, and with them spurious local minima); the mass of q
    outside the grid is counted with log p at the nearest end of the grid, which keeps an optimiser
    from pushing q off the grid.  If ``log_p`` is unnormalised (log p + c) the result is shifted by
    −c and the minimiser is unchanged.

    Args:
        mu, std: scalar tensors.  log_p: callable on a tensor of points.  grid: [n] increasing
            points whose spacing resolves q and p.
    Returns:
        scalar tensor.
    """
    lp = log_p(grid)
    if not isinstance(lp, torch.Tensor) or lp.shape != grid.shape:
        raise ValueError(f"log_p(grid) must return a tensor of shape {tuple(grid.shape)}")
    return _reverse_kl_on_grid(mu, std, lp, grid)


def _reverse_kl_on_grid(mu: torch.Tensor, std: torch.Tensor, lp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """:func:`reverse_kl_gaussian` with log p already evaluated on the grid (``lp`` [n])."""
    z = (grid - mu) / std
    q = torch.exp(-0.5 * z**2) / (std * math.sqrt(2 * math.pi))
    inside = torch.trapezoid(q * lp, grid)
    cdf = torch.special.ndtr(torch.stack([(grid[0] - mu) / std, (grid[-1] - mu) / std]))
    outside = cdf[0] * lp[0] + (1 - cdf[1]) * lp[-1]
    return -0.5 * torch.log(2 * math.pi * math.e * std**2) - inside - outside


def fit_gaussian(log_p: LogDensity, direction: str, *, init: tuple[float, float] = (0.0, 1.0),
                 grid: torch.Tensor | None = None, max_iter: int = 200
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fit :math:`q = \mathcal N(\mu,\sigma^2)` to a 1-D target p by minimising a KL divergence.

    * ``direction="forward"``: :math:`\arg\min_q KL[p\|q]` (zero-avoiding, mass-covering).  For a
      Gaussian q the optimum is **moment matching**: μ = E_p[x], σ² = Var_p[x], computed by the
      trapezoidal rule on ``grid`` (``log_p`` may be unnormalised).
    * ``direction="reverse"``: :math:`\arg\min_q KL[q\|p]` (zero-forcing, mode-seeking), the VI
      objective of eq. (16).  Minimised over (μ, log σ) by L-BFGS from ``init``, with
      :func:`reverse_kl_gaussian` on ``grid``; for a multimodal p the start decides which local
      optimum (which mode) is found.

    Args:
        log_p: callable mapping points [n] to log p [n] (float64 recommended).
        direction: ``"forward"`` or ``"reverse"``.
        init: (μ₀, σ₀) start of the reverse fit (ignored by the forward fit, which is closed-form).
        grid: [n] increasing points covering p's mass (and, for the reverse fit, ±5σ₀ around μ₀),
            fine enough to resolve p and q; default ``linspace(-20, 20, 4001)`` in float64.  The
            result has the grid's device and dtype.
        max_iter: L-BFGS iterations of the reverse fit.
    Returns:
        ``(mu, std)``, scalar tensors on the grid's device and dtype.
    Raises:
        TypeError: if log_p is not callable or init not a pair.  ValueError: for an unknown
        direction, a non-positive σ₀, a grid that does not cover p (density at its ends not
        negligible) or the start, a grid too coarse for the fitted σ, or a non-finite fit.
    """
    if not callable(log_p):
        raise TypeError(f"log_p must be a callable returning log densities, got {type(log_p).__name__}")
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' (argmin KL[p||q]) or 'reverse' (argmin KL[q||p]), got {direction!r}")
    if grid is None:
        grid = torch.linspace(-20.0, 20.0, 4001, dtype=torch.float64)
    check_tensor("grid", grid, ndim=1)
    if grid.numel() < 3 or not bool((grid[1:] > grid[:-1]).all()):
        raise ValueError("grid must be an increasing 1-D tensor with at least 3 points")
    if not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise TypeError("init must be a pair (mu0, std0)")
    mu0, std0 = (float(v) for v in init)
    if not math.isfinite(mu0):
        raise ValueError(f"init's mu0 must be finite, got {mu0}")
    check_positive("init's std0", std0)

    lp = log_p(grid)
    if not isinstance(lp, torch.Tensor) or lp.shape != grid.shape:
        raise ValueError(f"log_p(grid) must return a tensor of shape {tuple(grid.shape)}")
    dens = torch.exp(lp - lp.max())
    if float(torch.maximum(dens[0], dens[-1])) > 1e-10:
        raise ValueError("grid must cover the target: p is not negligible at the ends of the grid")
    spacing = float((grid[1:] - grid[:-1]).max())
    if direction == "forward":
        z = torch.trapezoid(dens, grid)
        mu = torch.trapezoid(grid * dens, grid) / z
        std = torch.sqrt(torch.trapezoid((grid - mu) ** 2 * dens, grid) / z)
        return mu, std

    if mu0 - 5 * std0 < float(grid[0]) or mu0 + 5 * std0 > float(grid[-1]):
        raise ValueError(f"grid [{float(grid[0]):g}, {float(grid[-1]):g}] must cover init's start ±5σ₀ = [{mu0 - 5 * std0:g}, {mu0 + 5 * std0:g}]")
    params = torch.tensor([mu0, math.log(std0)], dtype=grid.dtype, device=grid.device, requires_grad=True)
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _reverse_kl_on_grid(params[0], params[1].exp(), lp, grid)
        loss.backward()
        return loss

    opt.step(closure)
    mu, std = params[0].detach(), params[1].detach().exp()
    if not (bool(torch.isfinite(mu)) and bool(torch.isfinite(std))):
        raise ValueError("the reverse-KL fit diverged (non-finite result); try another init")
    if float(std) < 4 * spacing:
        raise ValueError(f"grid too coarse: the fitted std {float(std):.3g} needs a grid spacing below {float(std) / 4:.3g}")
    return mu, std


def fit_mean_field_gaussian(mu_p: torch.Tensor, cov_p: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fit a mean-field (diagonal) Gaussian q to a Gaussian target p = N(μ, Σ), in closed form.

    * ``"forward"`` (argmin KL[p‖q]): q matches the marginals, :math:`\sigma_i^2 = \Sigma_{ii}`.
    * ``"reverse"`` (argmin KL[q‖p]): :math:`\sigma_i^2 = 1/(\Sigma^{-1})_{ii} \le \Sigma_{ii}` — the
      reverse fit **underestimates** the marginal variances, as mean-field VI does.

    Both have mean μ.

    Args:
        mu_p: [d] mean of p.  cov_p: [d, d] covariance of p (symmetric positive definite).
        direction: ``"forward"`` or ``"reverse"``.
    Returns:
        ``(mean [d], std [d])`` of q.
    Raises:
        ValueError: for an unknown direction, mismatched shapes or a non-positive-definite cov_p.
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' (argmin KL[p||q]) or 'reverse' (argmin KL[q||p]), got {direction!r}")
    check_tensor("mu_p", mu_p, ndim=1)
    check_tensor("cov_p", cov_p, ndim=2)
    L = _cholesky("cov_p", cov_p)
    if cov_p.shape[-1] != mu_p.shape[0]:
        raise ValueError(f"cov_p must be [d, d] with d = {mu_p.shape[0]} (that of mu_p), got {tuple(cov_p.shape)}")
    if direction == "forward":
        var = torch.diagonal(cov_p)
    else:
        var = 1.0 / torch.diagonal(torch.cholesky_inverse(L))
    return mu_p.clone(), var.sqrt()
