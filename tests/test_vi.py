"""Eqs. (16)-(26): the ELBO of Bayesian linear regression, its Monte Carlo and minibatch
estimators, the score-function and reparametrization gradient estimators, Gaussian families."""
import math

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from course_utils import vi
from course_utils.data import toy_regression
from course_utils.linear import blr_log_evidence, blr_posterior, polynomial_features

NOISE_VAR, PRIOR_VAR = 0.04, 1.0


def _blr_problem(device, n=25, seed=0):
    x, y = toy_regression(n, "linear", x_range=(0.0, 2.0), generator=torch.Generator().manual_seed(seed),
                          dtype=torch.float64, device=device)
    return polynomial_features(x, 1), y


def _random_q(D, gen, device, batch=()):
    A = torch.randn(*batch, D, D, generator=gen, dtype=torch.float64)
    cov = 0.05 * (A @ A.mT) + 0.01 * torch.eye(D, dtype=torch.float64)
    return torch.randn(*batch, D, generator=gen, dtype=torch.float64).to(device), cov.to(device)


def test_blr_elbo_at_the_exact_posterior_equals_the_log_evidence(device):
    X, y = _blr_problem(device)
    m, S = blr_posterior(X, y, NOISE_VAR, PRIOR_VAR)
    elbo = vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, m, S)
    assert elbo.device.type == device.type
    # float64 round-off of two independent computations (Woodbury vs expected log-lik − KL)
    torch.testing.assert_close(elbo, blr_log_evidence(X, y, NOISE_VAR, PRIOR_VAR), rtol=1e-12, atol=1e-9)


def test_log_evidence_is_elbo_plus_kl_to_the_posterior_for_any_q_eqs_21_22(device, gen):
    X, y = _blr_problem(device)
    q_mean, q_cov = _random_q(2, gen, device, batch=(8,))
    elbo = vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, q_mean, q_cov)
    gap = vi.blr_kl_to_posterior(X, y, NOISE_VAR, PRIOR_VAR, q_mean, q_cov)
    log_ev = blr_log_evidence(X, y, NOISE_VAR, PRIOR_VAR)
    assert elbo.shape == (8,)
    torch.testing.assert_close(elbo + gap, log_ev.expand(8), rtol=1e-11, atol=1e-8)   # float64 round-off
    assert bool((gap > 0).all()) and bool((elbo < log_ev).all())                   # a strict lower bound


def test_expected_log_likelihood_and_kl_terms_match_monte_carlo(device, gen):
    X, y = _blr_problem(device)
    q_mean, q_cov = _random_q(2, gen, device)
    omega = MultivariateNormal(q_mean, q_cov).sample((200_000,))
    ll = Normal(omega @ X.T, math.sqrt(NOISE_VAR)).log_prob(y).sum(-1)
    exact = vi.blr_expected_log_likelihood(X, y, NOISE_VAR, q_mean, q_cov)
    assert abs(float(ll.mean() - exact)) < 4 * float(ll.std()) / math.sqrt(len(ll))    # 4 standard errors
    q = MultivariateNormal(q_mean, q_cov)
    prior = MultivariateNormal(torch.zeros_like(q_mean), PRIOR_VAR * torch.eye(2, dtype=q_mean.dtype, device=device))
    kl_terms = q.log_prob(omega) - prior.log_prob(omega)
    kl = vi.blr_kl_to_prior(q_mean, q_cov, PRIOR_VAR)
    assert abs(float(kl_terms.mean() - kl)) < 4 * float(kl_terms.std()) / math.sqrt(len(kl_terms))


def test_elbo_monte_carlo_agrees_with_blr_elbo_within_its_standard_error(device, gen):
    X, y = _blr_problem(device)
    q_mean, q_cov = _random_q(2, gen, device)

    def log_joint(w):
        prior = Normal(torch.zeros((), dtype=w.dtype, device=w.device), math.sqrt(PRIOR_VAR))
        return Normal(w @ X.T, math.sqrt(NOISE_VAR)).log_prob(y).sum(-1) + prior.log_prob(w).sum(-1)

    est, se = vi.elbo_monte_carlo(log_joint, MultivariateNormal(q_mean, q_cov), 20_000, generator=gen,
                                  return_std_error=True)
    exact = vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, q_mean, q_cov)
    assert abs(float(est - exact)) < 4 * float(se)                 # 4 standard errors of a seeded estimate
    # the same with a mean-field q (Independent Normal), and the estimate is differentiable in φ
    mu = q_mean.clone().requires_grad_(True)
    std = q_cov.diagonal().sqrt()
    est_mf, se_mf = vi.elbo_monte_carlo(log_joint, Independent(Normal(mu, std), 1), 20_000, generator=gen,
                                        return_std_error=True)
    exact_mf = vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, q_mean, torch.diag_embed(std**2))
    assert abs(float(est_mf.detach() - exact_mf)) < 4 * float(se_mf.detach())
    est_mf.backward()
    assert mu.grad is not None and bool(torch.isfinite(mu.grad).all())


def test_minibatch_estimator_eq26_is_unbiased_for_the_negative_elbo(device, gen):
    X, y = _blr_problem(device, n=20)
    q_mean, q_cov = _random_q(2, gen, device)
    L = torch.linalg.cholesky(q_cov)
    kl = vi.blr_kl_to_prior(q_mean, q_cov, PRIOR_VAR)
    R, M = 20_000, 5
    idx = torch.rand(R, 20, generator=gen).argsort(1)[:, :M].to(device)               # R index sets S of size M
    omega = q_mean + (torch.randn(R, 2, generator=gen, dtype=torch.float64).to(device) @ L.mT)   # one ε per estimate
    ll = Normal((X[idx] @ omega.unsqueeze(-1))[..., 0], math.sqrt(NOISE_VAR)).log_prob(y[idx])   # [R, M]
    estimates = torch.stack([vi.minibatch_elbo_loss(ll[r], 20, kl) for r in range(R)])
    exact = -vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, q_mean, q_cov)
    se = float(estimates.std()) / math.sqrt(R)
    assert abs(float(estimates.mean() - exact)) < 4 * se                             # 4 standard errors


def _poly(w):
    """f(ω) = Σ_d (ω_d³ − 2ω_d² + ω_d), acting row by row."""
    return (w**3 - 2 * w**2 + w).sum(-1)


def _poly_expectation(mu, log_std):
    """E[f] in closed form: E ω³ = μ³ + 3μσ², E ω² = μ² + σ²."""
    s2 = (2 * log_std).exp()
    return (mu**3 + 3 * mu * s2 - 2 * (mu**2 + s2) + mu).sum()


@pytest.mark.parametrize("estimator", [vi.score_function_grad, vi.reparam_grad])
def test_gradient_estimators_are_unbiased_for_polynomials(estimator, device, gen):
    mu = torch.tensor([0.3, -0.7, 1.2], dtype=torch.float64, device=device)
    log_std = torch.tensor([-0.5, 0.0, -1.0], dtype=torch.float64, device=device)
    grads = estimator(_poly, mu, log_std, 200_000, generator=gen)
    assert grads.shape == (200_000, 2, 3)
    mu_ = mu.clone().requires_grad_(True)
    ls_ = log_std.clone().requires_grad_(True)
    truth = torch.stack(torch.autograd.grad(_poly_expectation(mu_, ls_), (mu_, ls_)))       # [2, 3]
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert bool(((grads.mean(0) - truth).abs() < 4 * se).all()), (grads.mean(0), truth, se)   # 4 standard errors


def test_reparametrization_has_lower_variance_than_score_function_on_blr_log_likelihood(device, gen):
    X, y = _blr_problem(device)
    m, S = blr_posterior(X, y, NOISE_VAR, PRIOR_VAR)
    log_lik = lambda w: Normal(w @ X.T, math.sqrt(NOISE_VAR)).log_prob(y).sum(-1)
    zeros = torch.zeros(2, dtype=torch.float64, device=device)
    # (q at an initialisation N(0, 0.1²), minimum ratio), (q at the exact posterior's marginals, minimum ratio);
    # the observed ratios with 20 000 samples are ≈ 18-36 and ≈ 3.2-11, far from the bounds in relative SE terms
    for mu, log_std, ratio in [(zeros, zeros + math.log(0.1), 10.0), (m, 0.5 * S.diagonal().log(), 2.0)]:
        var_score = vi.score_function_grad(log_lik, mu, log_std, 20_000, generator=gen).var(0)
        var_rep = vi.reparam_grad(log_lik, mu, log_std, 20_000, generator=gen).var(0)
        assert bool((var_rep * ratio < var_score).all()), (var_score, var_rep)


def test_full_covariance_elbo_ascent_recovers_the_exact_posterior_and_mean_field_underestimates_variance(device):
    X, y = _blr_problem(device)
    m, S = blr_posterior(X, y, NOISE_VAR, PRIOR_VAR)
    objective = lambda q: vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, q.mean, q.covariance())
    # Adam on the exact (noise-free) ELBO converges to the optimum; tolerances 1e-6 relative are
    # far above its final round-off (≈ 1e-14 observed) and far below any approximation error
    # 2 000 steps on 2 × 2 matrices: one CPU thread avoids thread-pool overhead (restored below)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        q_full = vi.FullCovGaussian(2, init_std=0.1, device=device)
        vi.maximise_elbo(objective, q_full, steps=1000, lr=0.02, progress=False)
        q_mf = vi.MeanFieldGaussian(2, init_std=0.1, device=device)
        vi.maximise_elbo(objective, q_mf, steps=1000, lr=0.02, progress=False)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(q_full.mean.detach(), m, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(q_full.covariance().detach(), S, rtol=1e-6, atol=1e-9)
    # the mean-field optimum for a Gaussian target: the exact mean, precisions = diag of the posterior precision
    precision = torch.linalg.inv(S)
    torch.testing.assert_close(q_mf.mean.detach(), m, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(q_mf.std.detach() ** 2, 1 / precision.diagonal(), rtol=1e-6, atol=0)
    assert bool((q_mf.std.detach() ** 2 < S.diagonal()).all())                        # over-confident


def test_gaussian_families_sample_with_their_own_moments(gen):
    q = vi.FullCovGaussian(2)
    with torch.no_grad():
        q.off_diag[1, 0] = 0.8
        q.log_diag.copy_(torch.tensor([0.0, -1.0]))
    w = q.rsample(100_000, generator=gen)
    # covariance of 1e5 samples: standard error ≈ √(2/n) · scale ≈ 0.005
    torch.testing.assert_close(torch.cov(w.T), q.covariance().detach(), rtol=0, atol=0.03)
    torch.testing.assert_close(q.distribution().covariance_matrix, q.covariance())
    mf = vi.MeanFieldGaussian(3, init_std=0.5)
    assert mf.rsample(4, generator=gen).shape == (4, 3)
    torch.testing.assert_close(mf.covariance(), 0.25 * torch.eye(3, dtype=torch.float64))


@pytest.mark.parametrize("call,match", [
    (lambda X, y: vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, torch.zeros(2, dtype=torch.float64),
                              torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)), "q_cov must be positive definite"),
    (lambda X, y: vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, torch.zeros(2, dtype=torch.float64),
                              torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)), "q_cov must be symmetric"),
    (lambda X, y: vi.blr_elbo(X, y, NOISE_VAR, PRIOR_VAR, torch.zeros(3, dtype=torch.float64),
                              torch.eye(3, dtype=torch.float64)), "q_mean"),
    (lambda X, y: vi.blr_elbo(X, y, 0.0, PRIOR_VAR, torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)), "noise_var"),
    (lambda X, y: vi.blr_elbo(X, y, NOISE_VAR, -1.0, torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)), "prior_var"),
    (lambda X, y: vi.blr_elbo(X, y[:-1], NOISE_VAR, PRIOR_VAR, torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)), "X and y"),
    (lambda X, y: vi.blr_kl_to_prior(torch.zeros(2), torch.eye(2), 0.0), "prior_var"),
    (lambda X, y: vi.elbo_monte_carlo(lambda w: w.sum(-1), Normal(0.0, 1.0), 0), "n_samples"),
    (lambda X, y: vi.elbo_monte_carlo(lambda w: w, Normal(torch.zeros(1), 1.0), 4), "log_joint"),
    (lambda X, y: vi.elbo_monte_carlo("not callable", Normal(0.0, 1.0), 4), "log_joint"),
    (lambda X, y: vi.elbo_monte_carlo(lambda w: w, "q", 4), "q must"),
    (lambda X, y: vi.score_function_grad(_poly, torch.zeros(2), torch.zeros(3), 10), "mu and log_std"),
    (lambda X, y: vi.reparam_grad(_poly, torch.zeros(2), torch.zeros(2), 0), "n_samples"),
    (lambda X, y: vi.reparam_grad(lambda w: w, torch.zeros(2), torch.zeros(2), 5), "f must return"),
    (lambda X, y: vi.score_function_grad(_poly, torch.zeros(2, dtype=torch.long), torch.zeros(2), 5), "mu"),
    (lambda X, y: vi.minibatch_elbo_loss(torch.zeros(5), 3, 0.0), "n_data"),
    (lambda X, y: vi.minibatch_elbo_loss(torch.zeros(5), 10, 0.0, kl_weight=-1.0), "kl_weight"),
    (lambda X, y: vi.MeanFieldGaussian(0), "dim"),
    (lambda X, y: vi.FullCovGaussian(2, init_std=0.0), "init_std"),
    (lambda X, y: vi.maximise_elbo(lambda q: q.mean.sum(), vi.MeanFieldGaussian(2), steps=0), "steps"),
    (lambda X, y: vi.maximise_elbo(lambda q: q.mean.sum(), vi.MeanFieldGaussian(2), steps=1, optimizer="lbfgs"), "optimizer"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    X, y = _blr_problem("cpu")
    with pytest.raises((TypeError, ValueError), match=match):
        call(X, y)


def test_every_line_of_the_elbo_derivation_eqs_16_to_23_has_the_same_value(device, gen):
    X, y = _blr_problem(device)
    q_mean, q_cov = _random_q(2, gen, device)
    t = vi.blr_elbo_terms(X, y, NOISE_VAR, PRIOR_VAR, q_mean, q_cov)
    eq16 = t["kl_posterior"]
    eq18 = t["neg_entropy"] - (t["expected_log_prior"] + t["expected_log_likelihood"] - t["log_evidence"])
    eq20 = t["kl_prior"] - t["expected_log_likelihood"] + t["log_evidence"]
    eq22 = t["log_evidence"] - t["elbo"]
    for line in (eq18, eq20, eq22):          # float64 round-off of independent closed forms
        torch.testing.assert_close(line, eq16, rtol=1e-10, atol=1e-9)
    # and the cross-entropy term against Monte Carlo (4 standard errors)
    w = MultivariateNormal(q_mean, q_cov).sample((100_000,))
    lp = Normal(torch.zeros((), dtype=w.dtype, device=device), math.sqrt(PRIOR_VAR)).log_prob(w).sum(-1)
    assert abs(float(lp.mean() - t["expected_log_prior"])) < 4 * float(lp.std()) / math.sqrt(len(lp))
