"""The aleatoric/epistemic decompositions, Gaussian NLL, entropy, calibration and decision cost."""

import numpy as np
import pytest
import torch
from scipy import stats

from course_utils import uncertainty as uq


def random_probs(T, N, K, gen, device):
    """T passes of N class-probability vectors over K classes, spread out (logits with std 3)."""
    return torch.softmax(3 * torch.randn(T, N, K, generator=gen, dtype=torch.float64), -1).to(device)


def test_regression_decomposition_is_the_law_of_total_variance_of_the_mixture(device, gen):
    T, N = 50, 8
    mus = torch.randn(T, N, generator=gen, dtype=torch.float64).to(device)
    vars_ = torch.rand(T, N, generator=gen, dtype=torch.float64).to(device) + 0.1
    alea, epi = uq.decompose_regression(mus, vars_)
    # independent truth: the variance of the mixture (1/T) Σ N(μ_t, σ²_t) from torch.distributions
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=torch.full((N, T), 1.0 / T, dtype=torch.float64, device=device)),
        torch.distributions.Normal(mus.T, vars_.sqrt().T))
    torch.testing.assert_close(alea + epi, mix.variance, rtol=1e-12, atol=1e-12)   # float64 round-off
    # brute force: the formulas of the slide, term by term
    mubar = sum(mus[t] for t in range(T)) / T
    torch.testing.assert_close(alea, sum(vars_[t] for t in range(T)) / T, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(epi, sum((mus[t] - mubar) ** 2 for t in range(T)) / T, rtol=1e-12, atol=1e-12)


def test_regression_decomposition_full_covariance_matches_outer_products(gen):
    T, N, D = 20, 3, 2
    mus, vars_ = torch.randn(T, N, D, generator=gen, dtype=torch.float64), torch.rand(T, N, D, generator=gen, dtype=torch.float64)
    alea, epi = uq.decompose_regression(mus, vars_, full=True)
    assert alea.shape == epi.shape == (N, D, D)
    for n in range(N):
        torch.testing.assert_close(epi[n], torch.from_numpy(np.cov(mus[:, n].numpy().T, bias=True)), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(alea[n], torch.diag(vars_[:, n].mean(0)), rtol=1e-12, atol=1e-12)


def test_classification_decomposition_sums_to_the_covariance_of_the_one_hot_label(device, gen):
    T, N, K = 30, 6, 4
    probs = random_probs(T, N, K, gen, device)
    alea, epi = uq.decompose_classification(probs)
    pbar = probs.mean(0)
    # law of total variance: Cov[y*] under the predictive p̄, computed by enumerating the K outcomes e_k
    eye = torch.eye(K, dtype=torch.float64, device=device)
    cov = sum(pbar[:, k, None, None] * torch.einsum("nk,nl->nkl", eye[k] - pbar, eye[k] - pbar) for k in range(K))
    torch.testing.assert_close(alea + epi, cov, rtol=1e-12, atol=1e-12)
    # brute force: the slide's sums with explicit diag and outer products
    for n in (0, N - 1):
        a = sum(torch.diag(probs[t, n]) - torch.outer(probs[t, n], probs[t, n]) for t in range(T)) / T
        e = sum(torch.outer(probs[t, n] - pbar[n], probs[t, n] - pbar[n]) for t in range(T)) / T
        torch.testing.assert_close(alea[n], a, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(epi[n], e, rtol=1e-12, atol=1e-12)
    # epistemic part is positive semi-definite and vanishes when every pass agrees
    assert float(torch.linalg.eigvalsh(epi).min()) > -1e-12
    _, epi_same = uq.decompose_classification(probs[:1].expand(T, N, K))
    assert float(epi_same.abs().max()) < 1e-15


def test_entropy_decomposition_mutual_information_is_the_mean_kl_to_the_predictive(device, gen):
    probs = random_probs(25, 10, 3, gen, device)
    total, alea, epi = uq.entropy_decomposition(probs)
    ref_total = torch.distributions.Categorical(probs=probs.mean(0)).entropy()
    torch.testing.assert_close(total, ref_total, rtol=1e-12, atol=1e-12)
    kl = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=probs),
                                           torch.distributions.Categorical(probs=probs.mean(0).expand_as(probs))).mean(0)
    torch.testing.assert_close(epi, kl, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(alea + epi, total, rtol=1e-12, atol=1e-12)
    assert bool((epi >= 0).all())


def test_predictive_entropy_matches_scipy_and_handles_zero_probabilities(gen):
    p = torch.softmax(torch.randn(5, 4, generator=gen, dtype=torch.float64), -1)
    np.testing.assert_allclose(uq.predictive_entropy(p).numpy(), stats.entropy(p.numpy(), axis=-1), rtol=1e-12)
    assert float(uq.predictive_entropy(torch.tensor([1.0, 0.0], dtype=torch.float64))) == 0.0


def test_class_mean_std_is_the_lectures_mu_and_sigma_and_the_epistemic_diagonal(device, gen):
    probs = random_probs(40, 7, 2, gen, device)
    mu, sigma = uq.class_mean_std(probs, 1)
    np.testing.assert_allclose(mu.cpu().numpy(), probs[..., 1].mean(0).cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(sigma.cpu().numpy(), np.std(probs[..., 1].cpu().numpy(), axis=0, ddof=0), rtol=1e-12)
    _, epi = uq.decompose_classification(probs)
    torch.testing.assert_close(sigma ** 2, epi[:, 1, 1], rtol=1e-12, atol=1e-14)


def test_gaussian_nll_matches_scipy(device, gen):
    y, m = torch.randn(20, generator=gen, dtype=torch.float64), torch.randn(20, generator=gen, dtype=torch.float64)
    v = torch.rand(20, generator=gen, dtype=torch.float64) + 0.05
    ref = -stats.norm(m.numpy(), np.sqrt(v.numpy())).logpdf(y.numpy())
    ours = uq.gaussian_nll(y.to(device), m.to(device), v.to(device), reduction="none")
    np.testing.assert_allclose(ours.cpu().numpy(), ref, rtol=1e-12)
    assert float(uq.gaussian_nll(y, m, v)) == pytest.approx(ref.mean(), rel=1e-12)
    assert float(uq.gaussian_nll(y, m, v, reduction="sum")) == pytest.approx(ref.sum(), rel=1e-12)


def test_ece_of_perfectly_calibrated_predictions_is_zero_within_its_standard_error(device):
    g = torch.Generator().manual_seed(5)
    n, n_bins = 20_000, 10
    p1 = torch.rand(n, generator=g, dtype=torch.float64)
    labels = (torch.rand(n, generator=g, dtype=torch.float64) < p1).long()       # y ~ Bernoulli(p): calibrated
    probs = torch.stack([1 - p1, p1], -1)
    ece = float(uq.expected_calibration_error(probs.to(device), labels.to(device), n_bins))
    rel = uq.reliability_diagram(probs, labels, n_bins)
    ok = rel.count > 0
    # standard error of ECE under calibration: Σ_b (n_b/N) sd(acc_b), sd(acc_b) = √(conf_b(1-conf_b)/n_b)
    se = float((rel.count[ok] / n * torch.sqrt(rel.confidence[ok] * (1 - rel.confidence[ok]) / rel.count[ok])).sum())
    assert ece < 3 * se
    # an over-confident model (its logits three times too large) is far outside
    over = torch.sigmoid(3 * torch.logit(p1))
    assert float(uq.expected_calibration_error(torch.stack([1 - over, over], -1), labels, n_bins)) > 20 * se


def test_reliability_diagram_matches_a_brute_force_binning(gen):
    probs = torch.softmax(2 * torch.randn(500, 3, generator=gen, dtype=torch.float64), -1)
    labels = torch.randint(3, (500,), generator=gen)
    rel = uq.reliability_diagram(probs, labels, 5)
    conf, pred = probs.max(-1)
    ece = 0.0
    for b in range(5):
        lo, hi = b / 5, (b + 1) / 5
        sel = (conf > lo) & (conf <= hi) if b > 0 else (conf <= hi)
        assert int(rel.count[b]) == int(sel.sum())
        if sel.any():
            acc, c = float((pred[sel] == labels[sel]).double().mean()), float(conf[sel].mean())
            assert float(rel.accuracy[b]) == pytest.approx(acc, abs=1e-12)
            assert float(rel.confidence[b]) == pytest.approx(c, abs=1e-12)
            ece += int(sel.sum()) / 500 * abs(acc - c)
    assert float(uq.expected_calibration_error(probs, labels, 5)) == pytest.approx(ece, abs=1e-12)


def test_decision_cost_counts_misses_and_false_alarms():
    p = torch.tensor([0.9, 0.2, 0.6, 0.1], dtype=torch.float64)
    y = torch.tensor([1, 1, 0, 0])
    # threshold 0.5: one miss (0.2, leak) and one false alarm (0.6, no leak)
    assert float(uq.decision_cost(p, y, 0.5, cost_miss=10.0, cost_false_alarm=1.0)) == pytest.approx(11 / 4)
    assert float(uq.decision_cost(p, y, 0.0, cost_miss=10.0, cost_false_alarm=1.0)) == pytest.approx(2 / 4)


@pytest.mark.parametrize("call,match", [
    (lambda: uq.decompose_regression(torch.zeros(3, 2), torch.full((3, 2), -1.0)), "vars"),
    (lambda: uq.decompose_regression(torch.zeros(3, 2), torch.ones(3, 3)), "same shape"),
    (lambda: uq.decompose_regression(torch.zeros(3), torch.ones(3)), "mus"),
    (lambda: uq.decompose_classification(torch.full((2, 3, 2), 0.4)), "probs"),
    (lambda: uq.decompose_classification(torch.tensor([[[1.5, -0.5]]])), "probs"),
    (lambda: uq.decompose_classification(torch.full((3, 2), 0.5)), "probs"),
    (lambda: uq.entropy_decomposition(torch.full((2, 3, 2), 0.3)), "probs"),
    (lambda: uq.predictive_entropy(torch.tensor([0.2, 0.2])), "probs"),
    (lambda: uq.class_mean_std(torch.full((2, 3, 2), 0.5), 2), "c"),
    (lambda: uq.gaussian_nll(torch.zeros(2), torch.zeros(2), torch.zeros(2)), "var"),
    (lambda: uq.gaussian_nll(torch.zeros(2), torch.zeros(2), torch.ones(2), reduction="max"), "reduction"),
    (lambda: uq.expected_calibration_error(torch.full((2, 2), 0.5), torch.tensor([0, 2])), "labels"),
    (lambda: uq.expected_calibration_error(torch.full((2, 2), 0.5), torch.tensor([0, 1]), 0), "n_bins"),
    (lambda: uq.reliability_diagram(torch.full((2, 2), 0.7), torch.tensor([0, 1])), "probs"),
    (lambda: uq.decision_cost(torch.tensor([0.5]), torch.tensor([1]), 1.5, cost_miss=1.0, cost_false_alarm=1.0), "threshold"),
    (lambda: uq.decision_cost(torch.tensor([0.5]), torch.tensor([1]), 0.5, cost_miss=-1.0, cost_false_alarm=1.0), "cost_miss"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
