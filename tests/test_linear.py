"""Bayesian linear regression (eqs. 5-14) against independent truth: brute-force grids, SciPy,
Monte Carlo over posterior samples."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from course_utils import linear
from course_utils.data import toy_regression


def _problem(device, n=25, d=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(d, generator=g, dtype=dtype)
    y = X @ w + 0.5 * torch.randn(n, generator=g, dtype=dtype)
    return X.to(device), y.to(device)


def test_ridge_equals_map_and_posterior_mean_when_lambda_is_noise_over_prior(device):
    X, y = _problem(device)
    noise_var, prior_var = 0.25, 2.0
    mean, _ = linear.blr_posterior(X, y, noise_var, prior_var)
    w_ridge = linear.ridge(X, y, noise_var / prior_var)
    # MAP: the minimiser of eq. (14) -- its gradient vanishes there
    w = w_ridge.clone().requires_grad_()
    obj = ((y - X @ w) ** 2).sum() + noise_var / prior_var * (w**2).sum()
    (grad,) = torch.autograd.grad(obj, w)
    assert mean.device.type == device.type
    torch.testing.assert_close(mean, w_ridge, rtol=1e-10, atol=1e-12)  # float64 round-off
    assert float(grad.abs().max()) < 1e-10


def test_ridge_with_zero_lambda_is_least_squares(device):
    X, y = _problem(device)
    w_ls = np.linalg.lstsq(X.cpu().numpy(), y.cpu().numpy(), rcond=None)[0]
    np.testing.assert_allclose(linear.ridge(X, y, 0.0).cpu().numpy(), w_ls, rtol=1e-10)


def test_posterior_equals_brute_force_normalisation_on_a_grid():
    """1-D ω: prior × likelihood normalised numerically on a fine grid gives the same mean and variance."""
    x, y = toy_regression(8, "linear", generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    X = x  # the model y = ω x, D = 1
    noise_var, prior_var = 0.2**2, 1.0
    grid = torch.linspace(-3, 3, 200_001, dtype=torch.float64)
    log_post = (stats.norm(0, math.sqrt(prior_var)).logpdf(grid.numpy())
                + stats.norm((grid[:, None] * X[:, 0]).numpy(), math.sqrt(noise_var)).logpdf(y.numpy()).sum(1))
    dens = np.exp(log_post - log_post.max())
    dens /= np.trapezoid(dens, grid.numpy())
    m_grid = np.trapezoid(grid.numpy() * dens, grid.numpy())
    v_grid = np.trapezoid((grid.numpy() - m_grid) ** 2 * dens, grid.numpy())
    mean, cov = linear.blr_posterior(X, y, noise_var, prior_var)
    assert float(mean[0]) == pytest.approx(m_grid, abs=1e-8)  # quadrature error of a 3e-5 grid
    assert float(cov[0, 0]) == pytest.approx(v_grid, rel=1e-6)


def test_posterior_equals_brute_force_on_a_2d_grid():
    X, y = _problem("cpu", n=6, d=2, seed=5)
    noise_var, prior_var = 0.5, 1.5
    g1 = torch.linspace(-4, 4, 801, dtype=torch.float64)
    W = torch.stack(torch.meshgrid(g1, g1, indexing="ij"), -1).reshape(-1, 2)  # [M, 2]
    log_post = (-0.5 * (W**2).sum(1) / prior_var
                - 0.5 * ((y[None, :] - W @ X.T) ** 2).sum(1) / noise_var)
    p = torch.softmax(log_post, 0)  # normalised weights on the grid
    m = (p[:, None] * W).sum(0)
    C = ((W - m).T * p) @ (W - m)
    mean, cov = linear.blr_posterior(X, y, noise_var, prior_var)
    torch.testing.assert_close(mean, m, atol=1e-6, rtol=0)
    torch.testing.assert_close(cov, C, atol=1e-6, rtol=0)


def test_log_evidence_equals_scipy_marginal_gaussian(device):
    X, y = _problem(device, n=40, d=4)
    noise_var, prior_var = 0.3, 0.8
    cov_y = noise_var * np.eye(40) + prior_var * (X @ X.T).cpu().numpy()
    expected = stats.multivariate_normal(np.zeros(40), cov_y).logpdf(y.cpu().numpy())
    assert float(linear.blr_log_evidence(X, y, noise_var, prior_var)) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_log_evidence_is_bayes_theorem_at_any_omega(device):
    """Eq. (9) rearranged: log p(y|X) = log p(ω) + log p(y|X,ω) − log p(ω|X,y) for every ω."""
    X, y = _problem(device)
    noise_var, prior_var = 0.4, 1.3
    mean, cov = linear.blr_posterior(X, y, noise_var, prior_var)
    omega = torch.randn(5, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64).to(device)
    prior = torch.distributions.Normal(torch.zeros(3, dtype=X.dtype, device=device), math.sqrt(prior_var))
    lik = torch.distributions.Normal(omega @ X.T, math.sqrt(noise_var)).log_prob(y).sum(-1)
    post = torch.distributions.MultivariateNormal(mean, cov).log_prob(omega)
    rhs = prior.log_prob(omega).sum(-1) + lik - post
    torch.testing.assert_close(rhs, linear.blr_log_evidence(X, y, noise_var, prior_var).expand(5), rtol=1e-10, atol=1e-9)


def test_predictive_equals_monte_carlo_over_posterior_samples_eqs_7_8():
    """E and Var of y* under ω_j ~ p(ω|X,y), y* ~ N(x*ᵀω_j, σ²): the MC estimates agree with the closed
    form within 4 standard errors (J = 200 000 samples, fixed seed)."""
    X, y = _problem("cpu")
    noise_var, prior_var = 0.25, 2.0
    mean, cov = linear.blr_posterior(X, y, noise_var, prior_var)
    X_new = torch.tensor([[0.5, -1.0, 2.0], [3.0, 3.0, -3.0]], dtype=torch.float64)
    m_pred, v_pred = linear.blr_predictive(X_new, mean, cov, noise_var)
    g = torch.Generator().manual_seed(11)
    J = 200_000
    L = torch.linalg.cholesky(cov)
    omega = mean + torch.randn(J, 3, generator=g, dtype=torch.float64) @ L.T
    y_star = omega @ X_new.T + math.sqrt(noise_var) * torch.randn(J, 2, generator=g, dtype=torch.float64)
    se_mean = (v_pred / J).sqrt()
    se_var = v_pred * math.sqrt(2 / (J - 1))  # standard error of a normal sample variance
    assert bool(((y_star.mean(0) - m_pred).abs() < 4 * se_mean).all())
    assert bool(((y_star.var(0) - v_pred).abs() < 4 * se_var).all())
    # eq. (8): the MC average of the likelihood p(y*|x*, ω_j) is the predictive density
    y0 = m_pred + 0.3
    mc_density = torch.distributions.Normal(omega @ X_new.T, math.sqrt(noise_var)).log_prob(y0).exp()
    exact = torch.distributions.Normal(m_pred, v_pred.sqrt()).log_prob(y0).exp()
    assert bool(((mc_density.mean(0) - exact).abs() < 4 * mc_density.std(0) / math.sqrt(J)).all())


def test_predictive_variance_is_noise_plus_epistemic(device):
    X, y = _problem(device)
    mean, cov = linear.blr_posterior(X, y, 0.25, 2.0)
    X_new = X[:7] * 3
    _, var = linear.blr_predictive(X_new, mean, cov, 0.25)
    epi = linear.blr_epistemic_var(X_new, cov)
    torch.testing.assert_close(var, 0.25 + epi)
    torch.testing.assert_close(epi, torch.einsum("md,de,me->m", X_new, cov, X_new))
    assert bool((epi > 0).all())


def test_batched_calls_equal_one_call_per_problem(device):
    Xs, ys = zip(*[_problem(device, seed=s) for s in range(3)])
    X, y = torch.stack(Xs), torch.stack(ys)
    mean, cov = linear.blr_posterior(X, y, 0.3, 1.0)
    ev = linear.blr_log_evidence(X, y, 0.3, 1.0)
    for b in range(3):
        m_b, c_b = linear.blr_posterior(Xs[b], ys[b], 0.3, 1.0)
        torch.testing.assert_close(mean[b], m_b)
        torch.testing.assert_close(cov[b], c_b)
        torch.testing.assert_close(ev[b], linear.blr_log_evidence(Xs[b], ys[b], 0.3, 1.0))


def test_float32_inputs_give_float32_results_close_to_float64(device):
    X, y = _problem(device)
    m64, _ = linear.blr_posterior(X, y, 0.25, 2.0)
    m32, c32 = linear.blr_posterior(X.float(), y.float(), 0.25, 2.0)
    assert m32.dtype == torch.float32 and c32.dtype == torch.float32
    torch.testing.assert_close(m32.double(), m64, rtol=1e-4, atol=1e-5)


def test_polynomial_features_are_powers_of_x():
    x = torch.tensor([2.0, -1.0])
    torch.testing.assert_close(linear.polynomial_features(x, 3), torch.tensor([[1.0, 2, 4, 8], [1, -1, 1, -1]]))


@pytest.mark.parametrize("call,match", [
    (lambda X, y: linear.ridge(X, y, -1.0), "lam"),
    (lambda X, y: linear.ridge(X, y[:-1], 1.0), "same number of rows"),
    (lambda X, y: linear.blr_posterior(X, y, 0.0, 1.0), "noise_var"),
    (lambda X, y: linear.blr_posterior(X, y, 1.0, -2.0), "prior_var"),
    (lambda X, y: linear.blr_posterior(X, y[:-1], 1.0, 1.0), "y must have shape"),
    (lambda X, y: linear.blr_log_evidence(X, y * float("nan"), 1.0, 1.0), "y must contain only finite"),
    (lambda X, y: linear.blr_log_evidence(X[:, 0], y, 1.0, 1.0), "X must have"),
    (lambda X, y: linear.blr_predictive(X, torch.zeros(2, dtype=X.dtype), torch.eye(3, dtype=X.dtype), 1.0), "mean must be"),
    (lambda X, y: linear.blr_predictive(X, torch.zeros(3, dtype=X.dtype), torch.eye(3, dtype=X.dtype), 0.0), "noise_var"),
    (lambda X, y: linear.polynomial_features(X, 2), "x must be"),
    (lambda X, y: linear.polynomial_features(y, -1), "degree"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    X, y = _problem("cpu")
    with pytest.raises((TypeError, ValueError), match=match):
        call(X, y)


def test_grid_bayes_theorem_matches_closed_form_posterior_and_evidence(device):
    x, y = toy_regression(12, "linear", generator=torch.Generator().manual_seed(2), dtype=torch.float64, device=device)
    grid = torch.linspace(-3, 3, 60_001, dtype=torch.float64, device=device)
    parts = linear.blr_grid_posterior_1d(x, y, 0.04, 1.0, grid)
    mean, cov = linear.blr_posterior(x, y, 0.04, 1.0)
    assert float(torch.trapezoid(parts["posterior"], grid)) == pytest.approx(1.0, abs=1e-10)
    assert float(torch.trapezoid(grid * parts["posterior"], grid)) == pytest.approx(float(mean[0]), abs=1e-8)
    assert math.log(float(parts["evidence"])) == pytest.approx(float(linear.blr_log_evidence(x, y, 0.04, 1.0)), abs=1e-7)
    with pytest.raises(ValueError, match="omega_grid"):
        linear.blr_grid_posterior_1d(x, y, 0.04, 1.0, grid.flip(0))
