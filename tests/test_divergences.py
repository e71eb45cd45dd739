"""Eq. (15): the KL divergence in closed form, by quadrature and by Monte Carlo; forward and
reverse KL fits of a Gaussian (moment matching vs mode seeking); mean-field fits in 2-D."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats
from torch import distributions as D

from course_utils import divergences as dv

F64 = torch.float64


def _spd(d: int, gen: torch.Generator, batch: tuple[int, ...] = ()) -> torch.Tensor:
    A = torch.randn(*batch, d, d, generator=gen, dtype=F64)
    return A @ A.mT + 0.5 * torch.eye(d, dtype=F64)


def _norm_logpdf(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def _mixture_np(weights, means, stds):
    """The same mixture density in NumPy, for independent quadrature with scipy."""
    return lambda x: sum(w * np.exp(_norm_logpdf(x, m, s)) for w, m, s in zip(weights, means, stds))


# ----------------------------------------------------------------------------- closed forms


def test_kl_normal_closed_form_equals_torch_kl_divergence(device, gen):
    mu_q, mu_p = (torch.randn(50, generator=gen, dtype=F64).to(device) for _ in range(2))
    std_q, std_p = (torch.rand(50, generator=gen, dtype=F64).to(device) * 2 + 0.1 for _ in range(2))
    kl = dv.kl_normal(mu_q, std_q, mu_p, std_p)
    assert kl.device.type == device.type and kl.shape == (50,)
    # float64 round-off only
    torch.testing.assert_close(kl, D.kl_divergence(D.Normal(mu_q, std_q), D.Normal(mu_p, std_p)), rtol=1e-12, atol=1e-12)


def test_kl_normal_broadcasts_numbers_and_tensors():
    kl = dv.kl_normal(torch.tensor([0.0, 1.0, 2.0], dtype=F64), 1.0, 0.0, 2.0)
    assert kl.shape == (3,) and kl.dtype == F64
    torch.testing.assert_close(kl, D.kl_divergence(D.Normal(torch.tensor([0.0, 1.0, 2.0], dtype=F64), 1.0), D.Normal(0.0, 2.0)))


def test_kl_mvn_closed_form_equals_torch_kl_divergence(device, gen):
    d = 4
    mu_q, mu_p = (torch.randn(3, d, generator=gen, dtype=F64).to(device) for _ in range(2))
    cov_q, cov_p = _spd(d, gen, (3,)).to(device), _spd(d, gen, (3,)).to(device)
    kl = dv.kl_mvn(mu_q, cov_q, mu_p, cov_p)
    assert kl.shape == (3,) and kl.device.type == device.type
    expected = D.kl_divergence(D.MultivariateNormal(mu_q, cov_q), D.MultivariateNormal(mu_p, cov_p))
    torch.testing.assert_close(kl, expected, rtol=1e-10, atol=1e-10)   # float64 round-off of Cholesky solves


def test_kl_mvn_with_diagonal_covariances_is_the_sum_of_kl_normal(gen):
    mu_q, mu_p = torch.randn(3, generator=gen, dtype=F64), torch.randn(3, generator=gen, dtype=F64)
    s_q, s_p = torch.rand(3, generator=gen, dtype=F64) + 0.2, torch.rand(3, generator=gen, dtype=F64) + 0.2
    kl = dv.kl_mvn(mu_q, torch.diag(s_q**2), mu_p, torch.diag(s_p**2))
    torch.testing.assert_close(kl, dv.kl_normal(mu_q, s_q, mu_p, s_p).sum(), rtol=1e-12, atol=1e-12)


def test_kl_is_zero_iff_distributions_equal(device, gen):
    mu, std = torch.randn(5, generator=gen, dtype=F64).to(device), torch.rand(5, generator=gen, dtype=F64).to(device) + 0.1
    torch.testing.assert_close(dv.kl_normal(mu, std, mu, std), torch.zeros(5, dtype=F64, device=device), rtol=0, atol=1e-15)
    assert bool((dv.kl_normal(mu, std, mu + 1e-3, std) > 0).all())
    cov = _spd(3, gen).to(device)
    assert abs(float(dv.kl_mvn(mu[:3], cov, mu[:3], cov))) < 1e-12
    probs = torch.softmax(torch.randn(6, 4, generator=gen, dtype=F64), -1).to(device)
    assert float(dv.kl_categorical(probs, probs).abs().max()) < 1e-15
    assert bool((dv.kl_categorical(probs, probs.roll(1, 0)) > 0).all())


def test_kl_is_non_negative_and_asymmetric(gen):
    """Gibbs' inequality KL ≥ 0 for 1000 random pairs; KL[q‖p] ≠ KL[p‖q] in general."""
    q = torch.softmax(2 * torch.randn(1000, 5, generator=gen, dtype=F64), -1)
    p = torch.softmax(2 * torch.randn(1000, 5, generator=gen, dtype=F64), -1)
    kl_qp, kl_pq = dv.kl_categorical(q, p), dv.kl_categorical(p, q)
    assert bool((kl_qp >= 0).all()) and bool((kl_pq >= 0).all())
    assert float((kl_qp - kl_pq).abs().median()) > 0.1
    a = dv.kl_normal(0.0, 1.0, 0.0, 3.0)
    b = dv.kl_normal(0.0, 3.0, 0.0, 1.0)
    assert float(b) > float(a) > 0


def test_discrete_kl_equals_torch_kl_divergence(device, gen):
    pq, pp = torch.rand(20, generator=gen, dtype=F64).to(device), torch.rand(20, generator=gen, dtype=F64).to(device)
    torch.testing.assert_close(dv.kl_bernoulli(pq, pp), D.kl_divergence(D.Bernoulli(probs=pq), D.Bernoulli(probs=pp)),
                               rtol=1e-12, atol=1e-12)
    cq = torch.softmax(torch.randn(7, 6, generator=gen, dtype=F64), -1).to(device)
    cp = torch.softmax(torch.randn(7, 6, generator=gen, dtype=F64), -1).to(device)
    kl = dv.kl_categorical(cq, cp)
    assert kl.shape == (7,) and kl.device.type == device.type
    torch.testing.assert_close(kl, D.kl_divergence(D.Categorical(probs=cq), D.Categorical(probs=cp)), rtol=1e-12, atol=1e-12)


def test_kl_is_infinite_where_p_excludes_what_q_allows_and_ignores_what_q_excludes():
    q = torch.tensor([0.5, 0.5, 0.0], dtype=F64)
    p = torch.tensor([0.5, 0.0, 0.5], dtype=F64)
    assert dv.kl_categorical(q, p) == math.inf                    # q(z) > 0 where p(z) = 0
    r = torch.tensor([0.25, 0.25, 0.5], dtype=F64)
    expected = 0.5 * math.log(2) + 0.5 * math.log(2)              # the z with q(z) = 0 contributes 0
    assert float(dv.kl_categorical(q, r)) == pytest.approx(expected, rel=1e-14)
    assert float(dv.kl_bernoulli(1.0, 0.0)) == math.inf and float(dv.kl_bernoulli(0.0, 0.5)) == pytest.approx(math.log(2))


# ----------------------------------------------------------------------------- quadrature and Monte Carlo


def test_kl_quadrature_equals_scipy_quad_and_the_closed_form():
    grid = torch.linspace(-25, 25, 5001, dtype=F64)
    q, p = D.Normal(torch.tensor(0.3, dtype=F64), 0.7), D.Normal(torch.tensor(-0.5, dtype=F64), 1.6)
    kl = dv.kl_quadrature(q.log_prob, p.log_prob, grid)
    assert float(kl) == pytest.approx(float(dv.kl_normal(*_t(0.3, 0.7, -0.5, 1.6))), rel=1e-10)  # spectral accuracy of trapezoid
    # a mixture target: scipy.integrate.quad on independent NumPy densities
    w, m, s = [0.3, 0.7], [-2.0, 1.5], [0.5, 0.8]
    mix = dv.gaussian_mixture(torch.tensor(w, dtype=F64), torch.tensor(m, dtype=F64), torch.tensor(s, dtype=F64))
    p_np, q_np = _mixture_np(w, m, s), stats.norm(0.3, 0.7).pdf
    kl_qp_ref = integrate.quad(lambda x: q_np(x) * np.log(q_np(x) / p_np(x)), -12, 12, epsabs=1e-13, limit=200)[0]
    kl_pq_ref = integrate.quad(lambda x: p_np(x) * np.log(p_np(x) / q_np(x)), -12, 12, epsabs=1e-13, limit=200)[0]
    assert float(dv.kl_quadrature(q.log_prob, mix.log_prob, grid)) == pytest.approx(kl_qp_ref, rel=1e-8)
    assert float(dv.kl_quadrature(mix.log_prob, q.log_prob, grid)) == pytest.approx(kl_pq_ref, rel=1e-8)


def test_kl_monte_carlo_is_within_four_standard_errors_of_the_closed_form(device, gen):
    q = D.Normal(torch.tensor(0.5, dtype=F64, device=device), torch.tensor(0.8, dtype=F64, device=device))
    p = D.Normal(torch.tensor(0.0, dtype=F64, device=device), torch.tensor(1.3, dtype=F64, device=device))
    est, se = dv.kl_monte_carlo(q, p, 20_000, generator=gen)
    assert est.device.type == device.type
    truth = float(dv.kl_normal(*_t(0.5, 0.8, 0.0, 1.3)))
    assert abs(float(est) - truth) < 4 * float(se)      # seeded; 4 standard errors


def test_kl_monte_carlo_standard_error_shrinks_like_one_over_sqrt_n(gen):
    q, p = D.Normal(torch.tensor(0.0, dtype=F64), 1.0), D.Normal(torch.tensor(1.0, dtype=F64), 2.0)
    se = [float(dv.kl_monte_carlo(q, p, n, generator=gen)[1]) for n in (1_000, 16_000)]
    # se ∝ σ/√n: a 16× larger sample gives a 4× smaller error (the σ̂ estimates differ by a few %)
    assert se[0] / se[1] == pytest.approx(4.0, rel=0.1)


def test_kl_monte_carlo_of_a_mixture_agrees_with_quadrature(gen):
    mix = dv.gaussian_mixture(torch.tensor([0.4, 0.6], dtype=F64), torch.tensor([-1.5, 1.5], dtype=F64), torch.tensor([0.5, 0.7], dtype=F64))
    q = D.Normal(torch.tensor(0.2, dtype=F64), torch.tensor(1.2, dtype=F64))
    grid = torch.linspace(-15, 15, 3001, dtype=F64)
    for a, b in ((q, mix), (mix, q)):
        est, se = dv.kl_monte_carlo(a, b, 20_000, generator=gen)
        assert abs(float(est) - float(dv.kl_quadrature(a.log_prob, b.log_prob, grid))) < 4 * float(se)


def test_kl_monte_carlo_with_a_generator_is_reproducible_and_leaves_the_global_rng_alone():
    q, p = D.Normal(0.0, 1.0), D.Normal(1.0, 1.0)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    a = dv.kl_monte_carlo(q, p, 100, generator=torch.Generator().manual_seed(3))
    b = dv.kl_monte_carlo(q, p, 100, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_kl_monte_carlo_handles_multivariate_batches(gen):
    cov = _spd(2, gen)
    q = D.MultivariateNormal(torch.zeros(2, dtype=F64), cov)
    p = D.MultivariateNormal(torch.ones(2, dtype=F64), torch.eye(2, dtype=F64))
    est, se = dv.kl_monte_carlo(q, p, 20_000, generator=gen)
    assert est.shape == () and abs(float(est) - float(dv.kl_mvn(q.loc, cov, p.loc, p.covariance_matrix))) < 4 * float(se)


# ----------------------------------------------------------------------------- fitting q


W, M, S = [0.5, 0.5], [-2.0, 2.0], [0.6, 0.6]


def _mixture(device=torch.device("cpu"), weights=W, means=M, stds=S):
    t = lambda v: torch.tensor(v, dtype=F64, device=device)
    return dv.gaussian_mixture(t(weights), t(means), t(stds))


def test_mixture_moments_equal_torch_mixture_mean_and_variance():
    m, v = dv.mixture_moments(torch.tensor([0.2, 0.8], dtype=F64), torch.tensor([-1.0, 3.0], dtype=F64), torch.tensor([0.5, 1.5], dtype=F64))
    mix = dv.gaussian_mixture(torch.tensor([0.2, 0.8], dtype=F64), torch.tensor([-1.0, 3.0], dtype=F64), torch.tensor([0.5, 1.5], dtype=F64))
    torch.testing.assert_close(m, mix.mean)
    torch.testing.assert_close(v, mix.variance)


def test_forward_fit_is_moment_matching(device):
    weights, means, stds = [0.3, 0.7], [-2.5, 1.0], [0.5, 0.9]
    mix = _mixture(device, weights, means, stds)
    grid = torch.linspace(-20, 20, 4001, dtype=F64, device=device)
    mu, std = dv.fit_gaussian(mix.log_prob, "forward", grid=grid)
    m, v = dv.mixture_moments(torch.tensor(weights, dtype=F64), torch.tensor(means, dtype=F64), torch.tensor(stds, dtype=F64))
    assert mu.device.type == device.type
    assert float(mu) == pytest.approx(float(m), abs=1e-10) and float(std) ** 2 == pytest.approx(float(v), rel=1e-10)
    # an unnormalised log p gives the same fit
    mu2, std2 = dv.fit_gaussian(lambda x: mix.log_prob(x) + 3.0, "forward", grid=grid)
    assert float(mu2) == pytest.approx(float(mu), abs=1e-12) and float(std2) == pytest.approx(float(std), rel=1e-12)


def test_forward_fit_minimises_forward_kl():
    mix = _mixture()
    mu, std = (float(v) for v in dv.fit_gaussian(mix.log_prob, "forward"))
    p_np = _mixture_np(W, M, S)
    def kl_pq(m, s):  # scipy quadrature, independent of the package
        return integrate.quad(lambda x: p_np(x) * (np.log(p_np(x)) - _norm_logpdf(x, m, s)), -10, 10, limit=200)[0]
    best = kl_pq(mu, std)
    for dm, ds in ((0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)):
        assert kl_pq(mu + dm, std * (1 + ds)) > best


def test_reverse_kl_gaussian_on_a_grid_equals_the_closed_form(device):
    p = D.Normal(torch.tensor(-0.4, dtype=F64, device=device), torch.tensor(1.7, dtype=F64, device=device))
    grid = torch.linspace(-20, 20, 4001, dtype=F64, device=device)
    mu, std = torch.tensor(0.8, dtype=F64, device=device), torch.tensor(0.5, dtype=F64, device=device)
    value = dv.reverse_kl_gaussian(mu, std, p.log_prob, grid)
    assert float(value) == pytest.approx(float(dv.kl_normal(mu, std, p.loc, p.scale)), rel=1e-10)   # trapezoid, spectral
    # an unnormalised log p (+ c) shifts the value by −c: the minimiser is unchanged
    shifted = dv.reverse_kl_gaussian(mu, std, lambda x: p.log_prob(x) + 2.0, grid)
    assert float(shifted) == pytest.approx(float(value) - 2.0, rel=1e-12)


def test_reverse_fit_of_a_gaussian_target_recovers_it():
    p = D.Normal(torch.tensor(1.3, dtype=F64), torch.tensor(0.7, dtype=F64))
    mu, std = dv.fit_gaussian(p.log_prob, "reverse", init=(-1.0, 2.0))
    assert float(mu) == pytest.approx(1.3, abs=1e-6) and float(std) == pytest.approx(0.7, rel=1e-6)


def test_reverse_fit_seeks_the_mode_nearest_its_start(device):
    mix = _mixture(device)
    grid = torch.linspace(-20, 20, 4001, dtype=F64, device=device)
    left = [float(v) for v in dv.fit_gaussian(mix.log_prob, "reverse", init=(-1.0, 1.0), grid=grid)]
    right = [float(v) for v in dv.fit_gaussian(mix.log_prob, "reverse", init=(1.0, 1.0), grid=grid)]
    assert left[0] == pytest.approx(-2.0, abs=0.01) and right[0] == pytest.approx(2.0, abs=0.01)
    assert left[1] == pytest.approx(0.6, abs=0.01) and right[1] == pytest.approx(left[1], rel=1e-6)  # symmetry
    # a stationary point of KL[q‖p] computed independently with scipy: every small move increases it
    p_np = _mixture_np(W, M, S)
    def kl_qp(m, s):
        return integrate.quad(lambda x: np.exp(_norm_logpdf(x, m, s)) * (_norm_logpdf(x, m, s) - np.log(p_np(x))),
                              m - 12 * s, m + 12 * s, limit=200)[0]
    best = kl_qp(*right)
    for dm, ds in ((0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02)):
        assert kl_qp(right[0] + dm, right[1] * (1 + ds)) > best
    # mode seeking vs mass covering: the reverse fit is much narrower than the forward fit
    assert right[1] < 0.5 * float(dv.fit_gaussian(mix.log_prob, "forward", grid=grid)[1])


def test_reverse_kl_has_a_broad_optimum_between_close_modes_but_not_between_far_ones(device):
    """Notebook 3, section 4: for p = 0.45 N(-s/2, 0.6²) + 0.55 N(s/2, 0.8²) a wide start finds a broad
    local minimum between the modes at s = 4 (better than the left mode, worse than the right one);
    at s = 6 the same start lands on the right mode, where KL[q‖p] ≈ -log 0.55."""
    weights, stds = (0.45, 0.55), (0.6, 0.8)
    grid = torch.linspace(-20, 20, 4001, dtype=F64, device=device)

    def kl_qp_scipy(m, s, sep):     # independent: scipy quadrature on NumPy densities
        p_np = _mixture_np(weights, (-sep / 2, sep / 2), stds)
        return integrate.quad(lambda x: np.exp(_norm_logpdf(x, m, s)) * (_norm_logpdf(x, m, s) - np.log(p_np(x))),
                              m - 12 * s, m + 12 * s, points=[-sep / 2, sep / 2], limit=200)[0]

    def fit(sep, init):
        mix = dv.gaussian_mixture(torch.tensor(weights, dtype=F64, device=device),
                                  torch.tensor([-sep / 2, sep / 2], dtype=F64, device=device),
                                  torch.tensor(stds, dtype=F64, device=device))
        return [float(v) for v in dv.fit_gaussian(mix.log_prob, "reverse", init=init, grid=grid)]

    broad, left, right = fit(4.0, (0.0, 2.0)), fit(4.0, (-2.0, 0.6)), fit(4.0, (2.0, 0.8))
    assert abs(broad[0]) < 1.0 and broad[1] > 1.5                       # between the modes, wider than both
    best = kl_qp_scipy(*broad, 4.0)
    for dm, ds in ((0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02)):       # a local minimum, not a saddle
        assert kl_qp_scipy(broad[0] + dm, broad[1] * (1 + ds), 4.0) > best
    assert kl_qp_scipy(*right, 4.0) < best < kl_qp_scipy(*left, 4.0)
    far = fit(6.0, (0.0, 2.0))
    assert far[0] == pytest.approx(3.0, abs=0.01) and far[1] == pytest.approx(0.8, abs=0.01)
    # the neglected overlap of the far component is below the 1e-3 level at s = 6
    assert kl_qp_scipy(*far, 6.0) == pytest.approx(-math.log(0.55), abs=1e-3)


def test_mean_field_closed_forms_minimise_kl_mvn_in_each_direction():
    mu_p = torch.tensor([0.5, -1.0], dtype=F64)
    cov_p = torch.tensor([[1.0, 0.8], [0.8, 2.0]], dtype=F64)
    for direction in ("forward", "reverse"):
        def objective(theta):  # KL as a function of q's (mean, log std), with its gradient by autograd
            theta = torch.tensor(theta, dtype=F64, requires_grad=True)
            q = (theta[:2], torch.diag(torch.exp(2 * theta[2:])))
            kl = dv.kl_mvn(*q, mu_p, cov_p) if direction == "reverse" else dv.kl_mvn(mu_p, cov_p, *q)
            kl.backward()
            return float(kl.detach()), theta.grad.numpy()
        res = optimize.minimize(objective, np.zeros(4), jac=True, method="BFGS", options={"gtol": 1e-11})
        mean, std = dv.fit_mean_field_gaussian(mu_p, cov_p, direction)
        np.testing.assert_allclose(res.x[:2], mean.numpy(), atol=1e-8)          # the optimiser's tolerance
        np.testing.assert_allclose(np.exp(res.x[2:]), std.numpy(), rtol=1e-8)


def test_mean_field_reverse_fit_underestimates_the_marginal_variances(device):
    rho = 0.9
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=F64, device=device)
    _, std_fwd = dv.fit_mean_field_gaussian(torch.zeros(2, dtype=F64, device=device), cov, "forward")
    _, std_rev = dv.fit_mean_field_gaussian(torch.zeros(2, dtype=F64, device=device), cov, "reverse")
    torch.testing.assert_close(std_fwd, torch.ones(2, dtype=F64, device=device))
    torch.testing.assert_close(std_rev**2, torch.full((2,), 1 - rho**2, dtype=F64, device=device))   # 1/(Σ⁻¹)_ii


# ----------------------------------------------------------------------------- bad input

_t = lambda *v: torch.tensor(v, dtype=F64)
_normal = D.Normal(0.0, 1.0)


@pytest.mark.parametrize("call,match", [
    (lambda: dv.kl_normal(0.0, 0.0, 0.0, 1.0), "std_q"),
    (lambda: dv.kl_normal(0.0, 1.0, 0.0, -1.0), "std_p"),
    (lambda: dv.kl_normal(torch.zeros(3), 1.0, torch.zeros(4), 1.0), "mu_q, std_q, mu_p, std_p must have broadcastable"),
    (lambda: dv.kl_normal("a", 1.0, 0.0, 1.0), "mu_q"),
    (lambda: dv.kl_normal(float("nan"), 1.0, 0.0, 1.0), "mu_q must contain only finite"),
    (lambda: dv.kl_mvn(_t(0, 0), _t(1, 2, 2, 1).reshape(2, 2), _t(0, 0), torch.eye(2, dtype=F64)), "cov_q must be positive definite"),
    (lambda: dv.kl_mvn(_t(0, 0), torch.eye(2, dtype=F64), _t(0, 0), _t(1, 0.5, 0, 1).reshape(2, 2)), "cov_p must be symmetric"),
    (lambda: dv.kl_mvn(_t(0, 0), torch.eye(2, dtype=F64), _t(0, 0, 0), torch.eye(3, dtype=F64)), "mu_p must have dimension"),
    (lambda: dv.kl_mvn(_t(0, 0), torch.ones(2, 3, dtype=F64), _t(0, 0), torch.eye(2, dtype=F64)), "cov_q must be a square"),
    (lambda: dv.kl_mvn([0.0], torch.eye(1), torch.zeros(1), torch.eye(1)), "mu_q"),
    (lambda: dv.kl_bernoulli(1.5, 0.5), "p_q"),
    (lambda: dv.kl_categorical(_t(0.5, 0.6), _t(0.5, 0.5)), "probs_q must sum to one"),
    (lambda: dv.kl_categorical(_t(0.5, 0.5), _t(1.0, 0.0, 0.0)), "probs_q and probs_p"),
    (lambda: dv.kl_monte_carlo("q", _normal, 10), "q must be a torch.distributions"),
    (lambda: dv.kl_monte_carlo(_normal, None, 10), "p must be a torch.distributions"),
    (lambda: dv.kl_monte_carlo(_normal, _normal, 1), "n_samples"),
    (lambda: dv.kl_monte_carlo(_normal, _normal, 10.0), "n_samples"),
    (lambda: dv.kl_monte_carlo(_normal, D.MultivariateNormal(torch.zeros(2), torch.eye(2)), 10), "q and p must have the same event shape"),
    (lambda: dv.kl_quadrature(_normal.log_prob, _normal.log_prob, torch.linspace(1, -1, 11)), "grid"),
    (lambda: dv.kl_quadrature("log q", _normal.log_prob, torch.linspace(-1, 1, 11)), "log_q"),
    (lambda: dv.kl_integrand(_normal.log_prob, lambda x: x[:-1], torch.linspace(-1, 1, 11)), "log_p"),
    (lambda: dv.gaussian_mixture(_t(0.5, 0.6), _t(0, 1), _t(1, 1)), "weights"),
    (lambda: dv.gaussian_mixture(_t(0.5, 0.5), _t(0, 1), _t(1, -1)), "stds"),
    (lambda: dv.gaussian_mixture(_t(0.5, 0.5), _t(0, 1, 2), _t(1, 1)), "weights, means and stds must have the same length"),
    (lambda: dv.fit_gaussian(_normal.log_prob, "sideways"), "direction"),
    (lambda: dv.fit_gaussian(None, "forward"), "log_p"),
    (lambda: dv.fit_gaussian(_normal.log_prob, "reverse", init=(0.0, 0.0)), "init"),
    (lambda: dv.fit_gaussian(_normal.log_prob, "reverse", init=(30.0, 1.0)), "grid .* must cover init"),
    (lambda: dv.fit_gaussian(_normal.log_prob, "forward", grid=torch.linspace(-1, 1, 101, dtype=F64)), "grid must cover the target"),
    (lambda: dv.fit_mean_field_gaussian(_t(0, 0), torch.eye(2, dtype=F64), "both"), "direction"),
    (lambda: dv.fit_mean_field_gaussian(_t(0, 0), -torch.eye(2, dtype=F64), "reverse"), "cov_p"),
    (lambda: dv.fit_mean_field_gaussian(_t(0, 0, 0), torch.eye(2, dtype=F64), "reverse"), "cov_p must be"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
