"""Routes to uncertainty side by side (notebook 10): the lecture's list of UQ methods in deep
learning — the delta method (Laplace), deep ensembles, dropout, Bayesian neural networks — and the
metrics that compare them against a reference posterior.

Dropout lives in :mod:`course_utils.dropout`, Bayes by Backprop and the NUTS reference in
:mod:`course_utils.bnn`; this module adds the delta method and deep ensembles, which need a
point-estimate (MAP) network, and the comparison metrics.

Shapes: inputs ``x`` [N, D], targets ``y`` [N], a network maps [N, D] → [N, 1].
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from course_utils._checks import check_int, check_positive, check_regression_data, check_same_rows, check_tensor


def mlp(d_in: int, d_hidden: int, d_out: int = 1, *, generator: torch.Generator | None = None,
        activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """A one-hidden-layer network f^ω(x) = W₂σ(W₁x + b₁) + b₂ with PyTorch's default initialisation
    drawn from ``generator`` (so that ensemble members differ only by their seed)."""
    check_int("d_in", d_in)
    check_int("d_hidden", d_hidden)
    check_int("d_out", d_out)
    net = nn.Sequential(nn.Linear(d_in, d_hidden), activation(), nn.Linear(d_hidden, d_out))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            bound = 1 / math.sqrt(layer.in_features)
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator) * 2 - 1) * bound)
    return net


def neg_log_joint(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float, *,
                  data_scale: float = 1.0) -> torch.Tensor:
    r""":math:`-\log p(Y|X,\omega) - \log p(\omega)` up to constants: the Gaussian likelihood
    :math:`\mathcal N(y; f^\omega(x), \sigma^2_\epsilon)` and the prior :math:`\mathcal N(0, \tau^2)` on
    every parameter — eq. (3)'s L2 penalty with λ = σ²_ε/τ² after scaling by 1/(2σ²_ε).

    ``data_scale`` multiplies the data term: N/M turns a minibatch of M of the N points into an
    unbiased estimate of the full-data value (the N/M of eq. 26).  Returns a scalar."""
    resid = y - model(x)[:, 0]
    return (data_scale * 0.5 * (resid**2).sum() / noise_var
            + 0.5 * sum((p**2).sum() for p in model.parameters()) / prior_var)


def fit_map(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float, *,
            steps: int = 3000, lr: float = 0.01, batch_size: int | None = None,
            generator: torch.Generator | None = None, polish: bool = True, progress: bool = True,
            desc: str = "MAP") -> list[float]:
    """The MAP estimate: minimise :func:`neg_log_joint` by Adam, then (``polish``) with full-batch
    L-BFGS (the delta method needs a true minimum).  Updates ``model`` in place; returns the loss
    curve (the minibatch estimates while Adam runs, then the full-data value after L-BFGS).

    ``batch_size`` M < N: minibatch Adam on the unbiased estimate with the data term scaled by
    N/M (eq. 26), the minibatches drawn without replacement, epoch by epoch, with ``generator``
    (the lecture's "min-batch optimization" of a deep ensemble's members).  ``None``: full batch.

    Raises:
        ValueError/TypeError naming the argument: bad shapes, non-positive variances, steps,
        lr or batch_size.
    """
    check_regression_data(x, y)
    check_positive("noise_var", noise_var)
    check_positive("prior_var", prior_var)
    check_int("steps", steps)
    check_positive("lr", lr)
    N = x.shape[0]
    if batch_size is not None:
        check_int("batch_size", batch_size)
        batch_size = min(batch_size, N)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    batches: list[torch.Tensor] = []
    for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        if batch_size is None or batch_size == N:
            xb, yb, scale = x, y, 1.0
        else:
            if not batches:
                batches = list(torch.randperm(N, generator=generator).to(x.device).split(batch_size))
            idx = batches.pop(0)
            xb, yb, scale = x[idx], y[idx], N / len(idx)
        opt.zero_grad()
        loss = neg_log_joint(model, xb, yb, noise_var, prior_var, data_scale=scale)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    if not polish:
        return losses
    lbfgs = torch.optim.LBFGS(model.parameters(), max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12,
                              line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        loss = neg_log_joint(model, x, y, noise_var, prior_var)
        loss.backward()
        return loss

    lbfgs.step(closure)
    losses.append(float(neg_log_joint(model, x, y, noise_var, prior_var).detach()))
    return losses


def _functional(model: nn.Module) -> tuple[torch.Tensor, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """The flat parameter vector θ [P] and f(θ, x) → [N] evaluating ``model`` at θ."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(th: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = {n: t.reshape(s) for n, t, s in zip(names, th.split(sizes), shapes)}
        return torch.func.functional_call(model, params, (x,))[:, 0]

    return theta, f


class LaplaceRegression:
    r"""The delta method / Laplace approximation of a MAP network (the lecture's first UQ route).

    Around the MAP :math:`\hat\omega` the posterior is approximated by
    :math:`\mathcal N(\hat\omega, H^{-1})` with H the Hessian of :math:`-\log p(Y|X,\omega)-\log p(\omega)`:
    ``hessian="exact"`` (``torch.func.hessian``) or ``"ggn"``, the generalised Gauss-Newton
    :math:`J^\top J/\sigma^2_\epsilon + I/\tau^2` (J = ∂f/∂ω at the data; always positive definite).
    Predictions linearise f in ω (the delta method):

    .. math:: \mathrm{Var}[f(x^*)] \approx g(x^*)^\top H^{-1} g(x^*),\qquad g = \partial f(x^*)/\partial\omega.

    For a model linear in ω this is exact: it reproduces Bayesian linear regression.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise_var: float, prior_var: float,
                 hessian: str = "ggn") -> None:
        check_tensor("x", x, ndim=2)
        check_tensor("y", y, ndim=1)
        check_same_rows("x", x, "y", y)
        check_positive("noise_var", noise_var)
        check_positive("prior_var", prior_var)
        if hessian not in {"ggn", "exact"}:
            raise ValueError(f"hessian must be 'ggn' or 'exact', got {hessian!r}")
        self.noise_var, self.prior_var, self.hessian = noise_var, prior_var, hessian
        self.theta, self.f = _functional(model)
        P = self.theta.numel()
        eye = torch.eye(P, dtype=self.theta.dtype, device=self.theta.device)
        if hessian == "ggn":
            J = torch.func.jacrev(self.f)(self.theta, x)  # [N, P]
            H = J.T @ J / noise_var + eye / prior_var
        else:
            def nlj(th: torch.Tensor) -> torch.Tensor:
                return 0.5 * ((y - self.f(th, x)) ** 2).sum() / noise_var + 0.5 * (th**2).sum() / prior_var
            H = torch.func.hessian(nlj)(self.theta)
            H = 0.5 * (H + H.T)
        try:
            self.chol = torch.linalg.cholesky(H)
        except RuntimeError as err:  # torch.linalg.LinAlgError subclasses RuntimeError
            raise ValueError("the Hessian is not positive definite at these parameters: fit the MAP first "
                             "(fit_map) or use hessian='ggn'") from err
        self.H = H

    @property
    def cov(self) -> torch.Tensor:
        """The posterior covariance H⁻¹ [P, P]."""
        return torch.cholesky_inverse(self.chol)

    def predict(self, x_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive mean f(x*; ω̂) [M] and epistemic variance gᵀH⁻¹g [M] (add σ²_ε for y*)."""
        check_tensor("x_new", x_new, ndim=2)
        G = torch.func.jacrev(self.f)(self.theta, x_new)  # [M, P]
        V = torch.linalg.solve_triangular(self.chol, G.T, upper=False)  # L⁻¹Gᵀ, so gᵀH⁻¹g = |L⁻¹g|²
        with torch.no_grad():
            mean = self.f(self.theta, x_new)
        return mean, (V**2).sum(0)


def train_ensemble(make_model: Callable[[int], nn.Module], fit: Callable[[nn.Module], object], n_members: int,
                   *, progress: bool = True) -> list[nn.Module]:
    """A deep ensemble: ``n_members`` networks ``make_model(seed)`` (different initialisations),
    each trained by ``fit(model)``.  The spread of their predictions is the epistemic part."""
    check_int("n_members", n_members)
    members = []
    for m in tqdm(range(n_members), desc="ensemble members", disable=not progress, leave=False):
        model = make_model(m)
        fit(model)
        members.append(model)
    return members


@torch.no_grad()
def ensemble_predict(members: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Stack the members' outputs: ``x`` [N, D] → [M, N] (one row per member)."""
    if not members:
        raise ValueError("members must hold at least one model")
    check_tensor("x", x, ndim=2)
    return torch.stack([m(x)[:, 0] for m in members])


def interval_coverage(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, level: float = 0.95) -> torch.Tensor:
    r"""Fraction of targets inside the central ``level`` interval :math:`\mu \pm z\,\sigma` of a
    Gaussian predictive (z the standard normal quantile).  A calibrated predictive covers ``level``
    of the points (within the binomial standard error :math:`\sqrt{\ell(1-\ell)/N}`)."""
    check_tensor("y", y, ndim=1)
    check_tensor("mean", mean, ndim=1)
    check_tensor("std", std, ndim=1)
    if not (y.shape == mean.shape == std.shape):
        raise ValueError(f"y, mean and std must have the same shape, got {tuple(y.shape)}, {tuple(mean.shape)}, {tuple(std.shape)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if bool((std <= 0).any()):
        raise ValueError("std must be positive")
    z = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.5 + level / 2, dtype=mean.dtype)).item()
    return ((y - mean).abs() <= z * std).to(mean.dtype).mean()


def wasserstein2_gaussian(mean_a: torch.Tensor, std_a: torch.Tensor, mean_b: torch.Tensor, std_b: torch.Tensor
                          ) -> torch.Tensor:
    r"""The 2-Wasserstein distance between 1-D Gaussians, :math:`\sqrt{(\mu_a-\mu_b)^2 + (\sigma_a-\sigma_b)^2}`,
    elementwise: how far a method's predictive is from the reference's at each input."""
    for name, t in (("mean_a", mean_a), ("std_a", std_a), ("mean_b", mean_b), ("std_b", std_b)):
        check_tensor(name, t)
    return ((mean_a - mean_b) ** 2 + (std_a - std_b) ** 2).sqrt()


def sample_moments(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean and variance over the first (sample) dimension, the Monte Carlo form of eq. (25):
    :math:`\bar f = \frac1T\sum_t f_t`, :math:`\frac1T\sum_t (f_t-\bar f)^2` (the 1/T of the law of total
    variance).  ``f`` [T, M] → (mean [M], epistemic variance [M])."""
    check_tensor("f", f, ndim=2)
    return f.mean(0), f.var(0, correction=0)


def regression_scores(y_test: torch.Tensor, mean_test: torch.Tensor, var_test: torch.Tensor,
                      mean_grid: torch.Tensor, var_grid: torch.Tensor, ref_mean_grid: torch.Tensor,
                      ref_var_grid: torch.Tensor, far: torch.Tensor, level: float = 0.95) -> dict[str, float]:
    r"""The comparison of notebook 10 for one method with a Gaussian predictive N(mean, var) (var the
    *predictive* variance, epistemic + σ²_ε):

    - ``"NLL"``: mean test negative log-likelihood :math:`-\frac1N\sum\log\mathcal N(y;\mu,\sigma^2)` (nats);
    - ``"coverage"``: fraction of test targets inside the central ``level`` interval;
    - ``"std far"``: mean predictive standard deviation on the grid points where ``far`` is True;
    - ``"W2"``: mean over the grid of the 2-Wasserstein distance to the reference predictive.

    Shapes: test tensors [N], grid tensors [G], ``far`` a boolean mask [G].
    Raises ValueError/TypeError naming the argument (shapes, non-positive variances, empty ``far``).
    """
    from course_utils.uncertainty import gaussian_nll
    for name, t in (("mean_grid", mean_grid), ("var_grid", var_grid), ("ref_mean_grid", ref_mean_grid),
                    ("ref_var_grid", ref_var_grid)):
        check_tensor(name, t, ndim=1)
        if t.shape != mean_grid.shape:
            raise ValueError(f"{name} must have the grid's shape {tuple(mean_grid.shape)}, got {tuple(t.shape)}")
    check_positive("var_grid", var_grid)
    check_positive("ref_var_grid", ref_var_grid)
    check_positive("var_test", check_tensor("var_test", var_test, ndim=1))
    if not isinstance(far, torch.Tensor) or far.dtype != torch.bool or far.shape != mean_grid.shape:
        raise TypeError(f"far must be a boolean mask of the grid's shape {tuple(mean_grid.shape)}")
    if not bool(far.any()):
        raise ValueError("far must select at least one grid point")
    std_test = var_test.sqrt()
    w2 = wasserstein2_gaussian(mean_grid, var_grid.sqrt(), ref_mean_grid, ref_var_grid.sqrt())
    return {"NLL": float(gaussian_nll(y_test, mean_test, var_test)),
            "coverage": float(interval_coverage(y_test, mean_test, std_test, level)),
            "std far": float(var_grid[far].sqrt().mean()),
            "W2": float(w2.mean())}


# ----------------------------------------------------------------------------- classification


def categorical_neg_log_joint(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, prior_var: float, *,
                              data_scale: float = 1.0) -> torch.Tensor:
    r"""Classification's :math:`-\log p(Y|X,\omega) - \log p(\omega)` up to constants: N times the
    cross-entropy of eq. (1) (``data_scale`` times the sum over the given points) plus the
    N(0, τ²) prior on every parameter, :math:`\|\omega\|^2/(2\tau^2)`.  ``x`` [N, D], ``labels`` [N]
    integer classes, ``model`` maps to logits [N, K].  Returns a scalar."""
    check_tensor("x", x, ndim=2)
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32) or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor of class indices")
    check_same_rows("x", x, "labels", labels)
    check_positive("prior_var", prior_var)
    nll = torch.nn.functional.cross_entropy(model(x), labels, reduction="sum")
    return data_scale * nll + 0.5 * sum((p**2).sum() for p in model.parameters()) / prior_var


def classification_scores(probs_test: torch.Tensor, labels: torch.Tensor, probs_far: torch.Tensor,
                          n_bins: int = 10) -> dict[str, float]:
    r"""Accuracy, test NLL, expected calibration error (ECE) of the MC predictive
    :math:`\bar p = \frac1T\sum_t \hat p_t` on a test set, and far from the data the mean predictive
    entropy :math:`\mathcal H[\bar p]` and mutual information :math:`\mathcal I[y^*,\omega]` (epistemic part;
    zero for a single deterministic network, T = 1).

    ``probs_test`` [T, N, K], ``labels`` [N], ``probs_far`` [T, M, K].  Raises ValueError/TypeError
    naming the argument."""
    from course_utils.uncertainty import check_probabilities, entropy_decomposition, expected_calibration_error
    check_probabilities("probs_test", probs_test, ndim=3)
    check_probabilities("probs_far", probs_far, ndim=3)
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.shape[0] != probs_test.shape[1]:
        raise ValueError(f"labels must be a 1-D tensor of {probs_test.shape[1]} class indices")
    p_bar = probs_test.mean(0)
    far = entropy_decomposition(probs_far)
    nll = -torch.log(p_bar.gather(1, labels[:, None]).clamp_min(torch.finfo(p_bar.dtype).tiny)).mean()
    return {"accuracy": float((p_bar.argmax(1) == labels).to(p_bar.dtype).mean()),
            "NLL": float(nll),
            "ECE": float(expected_calibration_error(p_bar, labels, n_bins)),
            "entropy far": float(far.total.mean()),
            "MI far": float(far.epistemic.mean())}
