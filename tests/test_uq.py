"""The delta method (Laplace), deep ensembles and the comparison metrics of notebook 10."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn

from course_utils import linear, uq


def _linear_problem(device, n=30, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -2.0], dtype=torch.float64)[:d] + 0.5 + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    return x.to(device), y.to(device)


@pytest.mark.parametrize("hessian", ["ggn", "exact"])
def test_laplace_of_a_linear_model_is_exact_bayesian_linear_regression(device, hessian):
    """For f linear in ω the posterior is Gaussian: Laplace around the MAP must reproduce it."""
    x, y = _linear_problem(device)
    noise_var, prior_var = 0.09, 2.0
    model = nn.Linear(2, 1).double().to(device)
    uq.fit_map(model, x, y, noise_var, prior_var, steps=200, lr=0.05, progress=False)
    lap = uq.LaplaceRegression(model, x, y, noise_var, prior_var, hessian=hessian)
    X_aug = torch.cat([x, torch.ones_like(x[:, :1])], 1)  # parameter order: weight (w1, w2), then bias
    mean, cov = linear.blr_posterior(X_aug, y, noise_var, prior_var)
    torch.testing.assert_close(lap.theta, mean, rtol=1e-6, atol=1e-7)  # L-BFGS tolerance
    torch.testing.assert_close(lap.cov, cov, rtol=1e-10, atol=1e-12)   # float64 round-off
    x_new = torch.tensor([[0.5, 3.0], [-4.0, 1.0]], dtype=torch.float64, device=device)
    m, v = lap.predict(x_new)
    x_new_aug = torch.cat([x_new, torch.ones_like(x_new[:, :1])], 1)
    torch.testing.assert_close(v, linear.blr_epistemic_var(x_new_aug, cov), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(m, x_new_aug @ mean, rtol=1e-6, atol=1e-6)


def test_fit_map_reaches_a_stationary_point_of_the_log_joint():
    g = torch.Generator().manual_seed(0)
    x = torch.linspace(-2, 2, 20, dtype=torch.float64)[:, None]
    y = torch.sin(2 * x[:, 0]) + 0.1 * torch.randn(20, generator=g, dtype=torch.float64)
    model = uq.mlp(1, 8, generator=g).double()
    uq.fit_map(model, x, y, 0.01, 1.0, steps=500, progress=False)
    model.zero_grad()
    uq.neg_log_joint(model, x, y, 0.01, 1.0).backward()
    assert max(float(p.grad.abs().max()) for p in model.parameters()) < 1e-4


def test_ggn_and_exact_hessian_agree_when_the_residuals_vanish():
    """H_exact = J^T J/σ² + I/τ² − Σ r_i ∇²f_i/σ²: with y = f(x; ω) the residual term is zero."""
    g = torch.Generator().manual_seed(1)
    model = uq.mlp(1, 5, generator=g).double()
    x = torch.linspace(-1, 1, 15, dtype=torch.float64)[:, None]
    with torch.no_grad():
        y = model(x)[:, 0]
    ggn = uq.LaplaceRegression(model, x, y, 0.5, 1.0, hessian="ggn").H
    exact = uq.LaplaceRegression(model, x, y, 0.5, 1.0, hessian="exact").H
    torch.testing.assert_close(ggn, exact, rtol=1e-9, atol=1e-10)


def test_ensemble_spread_is_zero_for_identical_members_and_positive_otherwise():
    x = torch.linspace(-1, 1, 7)[:, None]
    same = [uq.mlp(1, 4, generator=torch.Generator().manual_seed(0)) for _ in range(3)]
    diff = uq.train_ensemble(lambda s: uq.mlp(1, 4, generator=torch.Generator().manual_seed(s)), lambda m: None, 3,
                             progress=False)
    assert uq.ensemble_predict(same, x).shape == (3, 7)
    assert float(uq.ensemble_predict(same, x).var(0).max()) == 0.0
    assert float(uq.ensemble_predict(diff, x).var(0).min()) > 0.0


def test_interval_coverage_of_a_calibrated_gaussian_is_the_nominal_level():
    g = torch.Generator().manual_seed(3)
    n = 20_000
    mean = torch.randn(n, generator=g, dtype=torch.float64)
    std = 0.5 + torch.rand(n, generator=g, dtype=torch.float64)
    y = mean + std * torch.randn(n, generator=g, dtype=torch.float64)
    se = math.sqrt(0.95 * 0.05 / n)  # binomial standard error
    assert abs(float(uq.interval_coverage(y, mean, std, 0.95)) - 0.95) < 4 * se
    # an over-confident predictive (std halved) covers only P(|Z| < 0.98) ≈ 0.67
    expected = 2 * stats.norm.cdf(stats.norm.ppf(0.975) / 2) - 1
    assert abs(float(uq.interval_coverage(y, mean, std / 2, 0.95)) - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def test_wasserstein2_of_gaussians_equals_the_quantile_integral():
    ma, sa, mb, sb = 0.3, 1.2, -0.5, 0.7
    integrand = lambda u: (stats.norm.ppf(u, ma, sa) - stats.norm.ppf(u, mb, sb)) ** 2
    w2 = math.sqrt(integrate.quad(integrand, 0, 1, limit=200)[0])
    got = uq.wasserstein2_gaussian(*(torch.tensor(v, dtype=torch.float64) for v in (ma, sa, mb, sb)))
    assert float(got) == pytest.approx(w2, rel=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda x, y, m: uq.LaplaceRegression(m, x, y, 0.1, 1.0, hessian="fisher"), "hessian"),
    (lambda x, y, m: uq.LaplaceRegression(m, x, y, -0.1, 1.0), "noise_var"),
    (lambda x, y, m: uq.fit_map(m, x, y[:-1], 0.1, 1.0), "same number of rows"),
    (lambda x, y, m: uq.fit_map(m, x, y, 0.1, 0.0), "prior_var"),
    (lambda x, y, m: uq.ensemble_predict([], x), "members"),
    (lambda x, y, m: uq.interval_coverage(y, y, torch.ones_like(y), 1.5), "level"),
    (lambda x, y, m: uq.interval_coverage(y, y[:-1], torch.ones_like(y), 0.9), "same shape"),
    (lambda x, y, m: uq.interval_coverage(y, y, -torch.ones_like(y), 0.9), "std"),
    (lambda x, y, m: uq.mlp(0, 3), "d_in"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    x, y = _linear_problem("cpu")
    with pytest.raises((TypeError, ValueError), match=match):
        call(x, y, nn.Linear(2, 1).double())
