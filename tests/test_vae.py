"""VAE, CVAE, SCVAE: the closed-form KL, the negative ELBO, the importance-weighted bound and training."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as D

from course_utils import vae as V


def test_closed_form_kl_matches_torch_distributions(device, gen):
    mu_q, lv_q, mu_p, lv_p = (torch.randn(6, 4, generator=gen, dtype=torch.float64).to(device) for _ in range(4))
    kl = V.kl_diagonal_gaussians(mu_q, lv_q, mu_p, lv_p)
    ref = D.kl_divergence(D.Normal(mu_q, (0.5 * lv_q).exp()), D.Normal(mu_p, (0.5 * lv_p).exp())).sum(-1)
    assert kl.shape == (6,) and kl.device.type == device.type
    torch.testing.assert_close(kl, ref, rtol=1e-12, atol=1e-12)        # float64 round-off
    std_normal = D.kl_divergence(D.Normal(mu_q, (0.5 * lv_q).exp()), D.Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(V.kl_diagonal_gaussians(mu_q, lv_q), std_normal, rtol=1e-12, atol=1e-12)
    assert float(V.kl_diagonal_gaussians(mu_q, lv_q, mu_q, lv_q).abs().max()) < 1e-12


def _tiny_model() -> V.VAE:
    torch.manual_seed(0)
    m = V.VAE(x_dim=2, z_dim=1, hidden=(8,), likelihood="gaussian", init_sigma=0.3, activation=torch.nn.Tanh).double()
    with torch.no_grad():                               # make q_φ(z|x) a poor posterior so that the gaps are visible
        m.encoder_head.bias.copy_(torch.tensor([0.5, -1.0], dtype=torch.float64))
    return m


def _quadrature(model: V.VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x) = log ∫ p(x|z) p(z) dz and ELBO = ∫ q(z|x) log[p(x|z) p(z) / q(z|x)] dz on a fine z-grid."""
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    dz = float(z[1] - z[0])
    zz = z[:, None, None].expand(-1, x.shape[0], 1)                             # [G, B, 1]
    log_joint = model.log_likelihood(x, model.decode(zz)) + D.Normal(0.0, 1.0).log_prob(zz[..., 0])   # [G, B]
    log_px = torch.logsumexp(log_joint, 0) + math.log(dz)
    mu, lv = model.encode(x)
    log_q = D.Normal(mu[:, 0], (0.5 * lv[:, 0]).exp()).log_prob(zz[..., 0])
    elbo = (log_q.exp() * (log_joint - log_q)).sum(0) * dz
    return log_px, elbo


def test_elbo_below_iwae_bound_below_log_evidence_by_quadrature():
    """ELBO = L_1 ≤ L_10 ≤ L_100 ≤ log p(x) (eq. 27 by quadrature over the 1-D latent).  The expected
    bounds are estimated from R = 10000 seeded replicates; tolerances are 4 standard errors (of a
    difference: the root sum of squares)."""
    model = _tiny_model()
    x = torch.tensor([[0.3, -0.2], [1.5, 0.7], [-1.0, 2.0]], dtype=torch.float64)
    with torch.no_grad():
        log_px, elbo = _quadrature(model, x)
        gen = torch.Generator().manual_seed(0)
        R = 10000
        est = {k: V.iwae_bound(model, x.repeat(R, 1), k, generator=gen).reshape(R, -1) for k in (1, 10, 100)}
    mean = {k: v.mean(0) for k, v in est.items()}
    se = {k: v.std(0) / math.sqrt(R) for k, v in est.items()}
    assert bool((elbo < log_px - 0.05).all())                                    # a visible gap: KL[q ‖ p(z|x)] > 0
    assert bool(((mean[1] - elbo).abs() <= 4 * se[1]).all())                     # L_1 is an unbiased ELBO estimate
    assert bool((mean[10] - 4 * se[10] > elbo).all())
    assert bool((mean[100] - mean[10] > 4 * (se[100] ** 2 + se[10] ** 2).sqrt()).all())
    assert bool((mean[100] <= log_px + 4 * se[100]).all())


def test_quadrature_1d_agrees_with_the_independent_quadrature_and_splits_log_evidence():
    model = _tiny_model()
    x = torch.tensor([[0.3, -0.2], [1.5, 0.7]], dtype=torch.float64)
    q = V.quadrature_1d(model, x)
    log_px, elbo = _quadrature(model, x)
    torch.testing.assert_close(q["log_px"], log_px, rtol=1e-10, atol=1e-10)     # float64 round-off
    torch.testing.assert_close(q["elbo"], elbo, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(q["elbo"] + q["kl_posterior"], q["log_px"], rtol=1e-8, atol=1e-8)
    assert bool((q["kl_posterior"] > 0).all())
    with pytest.raises(ValueError, match="z_dim"):
        V.quadrature_1d(V.VAE(4, 2, (3,)), torch.zeros(1, 4))


def test_loss_is_reconstruction_plus_kl_and_matches_binary_cross_entropy(device, gen):
    torch.manual_seed(0)
    model = V.VAE(x_dim=12, z_dim=3, hidden=(16,)).to(device)
    x = torch.rand(9, 12, generator=gen).to(device)
    terms = V.loss(model, x, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(terms.total, terms.reconstruction + terms.kl)
    mu, lv = model.encode(x)
    z = V.reparametrize(mu, lv, generator=torch.Generator().manual_seed(5))      # the same ε
    bce = F.binary_cross_entropy(torch.sigmoid(model.decode(z)), x, reduction="sum") / 9
    torch.testing.assert_close(terms.reconstruction, bce, rtol=1e-4, atol=1e-4)  # float32, sigmoid vs logits path
    torch.testing.assert_close(terms.kl, V.kl_diagonal_gaussians(mu, lv).mean())
    beta_half = V.loss(model, x, beta=0.5, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(beta_half.total, terms.reconstruction + 0.5 * terms.kl)


def test_several_draws_per_example_keep_the_estimate_unbiased_and_divide_its_variance(device):
    """L draws of ε per example: the mean of R estimates matches the quadrature ELBO (4 standard
    errors) for L = 1 and L = 8, and the variance ratio is L (tolerance: 5 standard errors of the
    log of the ratio, SE(log s²) ≈ √((κ − 1)/R) with κ the sample kurtosis)."""
    model = _tiny_model().to(device)
    x = torch.tensor([[1.5, 0.7]], dtype=torch.float64, device=device)
    with torch.no_grad():
        _, elbo = _quadrature(model.cpu(), x.cpu())
        model.to(device)
        R, gen = 4000, torch.Generator().manual_seed(11)
        est = {L: -torch.stack([V.loss(model, x, n_samples=L, generator=gen).total for _ in range(R)]).cpu()
               for L in (1, 8)}
    for L, e in est.items():
        assert abs(float(e.mean() - elbo[0])) < 4 * float(e.std()) / math.sqrt(R), L
    se_log = [math.sqrt((float(((e - e.mean()) ** 4).mean() / e.var() ** 2) - 1) / R) for e in est.values()]
    log_ratio = math.log(float(est[1].var() / est[8].var()))
    assert abs(log_ratio - math.log(8)) < 5 * math.hypot(*se_log)


def test_several_draws_per_example_in_training_and_evaluation(device, gen, monkeypatch):
    torch.manual_seed(0)
    model = V.VAE(x_dim=12, z_dim=3, hidden=(16,)).to(device)
    x = torch.rand(40, 12, generator=gen)
    terms = V.loss(model, x.to(device), n_samples=5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(terms.total, terms.reconstruction + terms.kl)
    assert terms.total.device.type == device.type
    hist = V.train(model, x, epochs=2, batch_size=16, n_samples=3, generator=torch.Generator().manual_seed(0), progress=False)
    assert len(hist["loss"]) == 2 and all(math.isfinite(v) for v in hist["loss"])
    # evaluate passes L on: one batch of the whole set equals loss() with the same draws
    full = V.evaluate(model, x, batch_size=len(x), n_samples=7, generator=torch.Generator().manual_seed(2))
    direct = V.loss(model, x.to(device), n_samples=7, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(full.total.float(), direct.total.detach().cpu().float())
    # train passes L on to every step
    seen: list[int] = []
    original = V.loss

    def recording_loss(*args, **kwargs):
        seen.append(kwargs["n_samples"])
        return original(*args, **kwargs)

    monkeypatch.setattr(V, "loss", recording_loss)
    V.train(model, x, epochs=1, batch_size=20, n_samples=4, generator=torch.Generator().manual_seed(0), progress=False)
    assert seen == [4, 4]


def test_reparametrized_loss_sends_gradients_to_the_encoder(gen):
    model = V.VAE(x_dim=6, z_dim=2, hidden=(8,))
    V.loss(model, torch.rand(4, 6, generator=gen), generator=gen).total.backward()
    assert float(model.encoder_head.weight.grad.abs().sum()) > 0


def test_reparametrize_draws_have_the_right_moments(device):
    mu = torch.tensor([[1.0, -2.0]], dtype=torch.float64, device=device)
    lv = torch.tensor([[0.0, math.log(4.0)]], dtype=torch.float64, device=device)
    z = V.reparametrize(mu, lv, 40000, torch.Generator().manual_seed(0))
    assert tuple(z.shape) == (40000, 1, 2) and z.device.type == device.type
    # standard errors: σ/√n = 0.005, 0.01 for the means; ≈ σ²√(2/n) for the variances
    assert (z.mean(0) - mu).abs().max() < 4 * 2 / 200
    torch.testing.assert_close(z.var(0), lv.exp(), atol=4 * 4 * math.sqrt(2 / 40000), rtol=0)


@pytest.mark.parametrize("kind", ["vae", "cvae", "scvae"])
def test_shapes_and_devices_of_all_three_models(kind, device, gen):
    torch.manual_seed(0)
    B = 5
    x = torch.rand(B, 4, 4, generator=gen).to(device)
    if kind == "vae":
        model, c = V.VAE(16, 3, (12,)), None
    elif kind == "cvae":
        model, c = V.CVAE(16, 4, 3, (12,)), torch.tensor([0, 1, 2, 3, 0], device=device)
    else:
        model, c = V.SCVAE(16, 7, 3, (12,)), torch.randn(B, 7, generator=gen).to(device)
    model = model.to(device)
    terms = V.loss(model, x, c)
    assert all(t.shape == () and t.device.type == device.type for t in terms)
    assert float(terms.kl.detach()) >= 0
    assert V.iwae_bound(model, x, 7, c).shape == (B,)
    assert model(x, c).shape == (B, 16)
    gen_out = model.generate(c, n=B, n_samples=3)
    assert gen_out.shape == (3, B, 16) and gen_out.device.type == device.type
    if kind == "scvae":
        mean, std = model.reconstruct(c, 10)
        assert mean.shape == std.shape == (B, 16) and bool((std >= 0).all())


def test_scvae_predictive_variance_is_latent_spread_plus_decoder_noise(device):
    """Law of total variance: std_total² = std_latent² + σ_θ² exactly for the Gaussian decoder; the
    latent part is reconstruct()'s spread (same draws, 1/S instead of 1/(S−1)); and std_total² is
    the variance of real draws x ~ p_θ(x|m) (S = 20000 draws: tolerance 5 standard errors of a
    variance, σ²·√(2/S) for Gaussian-like draws, plus the 1/S difference)."""
    torch.manual_seed(0)
    model = V.SCVAE(x_dim=5, m_dim=3, z_dim=2, hidden=(8,), init_sigma=0.2).double().to(device)
    m = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    S = 20000
    mean, std_latent, std_total = model.predictive(m, S, generator=torch.Generator().manual_seed(2))
    assert mean.shape == std_latent.shape == std_total.shape == (4, 5) and mean.device.type == device.type
    sigma2 = (2 * model.log_sigma.detach()).exp()
    torch.testing.assert_close(std_total ** 2 - std_latent ** 2, sigma2.expand(4, 5), rtol=1e-9, atol=1e-12)
    rec_mean, rec_std = model.reconstruct(m, S, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(rec_mean, mean)
    torch.testing.assert_close(rec_std ** 2 * (S - 1) / S, std_latent ** 2)
    with torch.no_grad():                                    # x ~ p(x|m): z ~ p(z|m), then x ~ N(E[x|m,z], σ_θ²)
        g = torch.Generator().manual_seed(3)
        mu_p, lv_p = model.prior(m)
        z = V.reparametrize(mu_p, lv_p, S, g)
        x = model.decode(z, m) + sigma2.sqrt() * torch.randn(S, 4, 5, generator=g, dtype=torch.float64).to(device)
    assert bool(((x.var(0) - std_total ** 2).abs() <= 5 * std_total ** 2 * math.sqrt(2 / S)).all())


def test_bernoulli_decoder_variance_is_p_times_one_minus_p():
    model = V.SCVAE(x_dim=4, m_dim=2, z_dim=2, hidden=(6,), likelihood="bernoulli")
    out = torch.linspace(-3, 3, 8).reshape(2, 4)
    p = torch.sigmoid(out)
    torch.testing.assert_close(model.variance(out), p * (1 - p))
    _, std_latent, std_total = model.predictive(torch.randn(3, 2), 10)
    assert bool((std_total >= std_latent).all()) and bool((std_total <= 0.5).all())


def test_cvae_takes_labels_or_one_hot_conditions(gen):
    model = V.CVAE(10, 3, 2, (8,))
    x, labels = torch.rand(4, 10, generator=gen), torch.tensor([0, 2, 1, 2])
    a = V.loss(model, x, labels, generator=torch.Generator().manual_seed(1))
    b = V.loss(model, x, F.one_hot(labels, 3).float(), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a.total, b.total)


def test_training_lowers_the_negative_elbo(device):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    proto = (torch.rand(3, 20, generator=g) > 0.5).float()
    x = proto[torch.randint(3, (300,), generator=g)]
    model = V.VAE(20, 2, (32,)).to(device)
    hist = V.train(model, x, epochs=15, batch_size=32, lr=3e-3, x_test=x[:50], generator=g, progress=False)
    assert set(hist) >= {"loss", "reconstruction", "kl", "seconds", "test_loss", "test_kl"}
    assert len(hist["loss"]) == 15 and hist["loss"][-1] < 0.5 * hist["loss"][0]
    te = V.evaluate(model, x[:50], generator=torch.Generator().manual_seed(0))
    assert te.total == pytest.approx(hist["test_loss"][-1], rel=1e-6)


def test_train_accepts_a_condition_function(gen):
    model = V.SCVAE(8, 8, 2, (8,))
    x = torch.rand(40, 8, generator=gen)
    hist = V.train(model, x, lambda xb: xb * (xb > 0.5), epochs=2, batch_size=16, generator=gen, progress=False)
    assert len(hist["kl"]) == 2


@pytest.mark.parametrize("call,match", [
    (lambda: V.kl_diagonal_gaussians(torch.zeros(2, 3), torch.zeros(2, 2)), "mu_q and logvar_q"),
    (lambda: V.kl_diagonal_gaussians(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(4)), "mu_p"),
    (lambda: V.VAE(0), "x_dim"),
    (lambda: V.VAE(4, likelihood="poisson"), "likelihood"),
    (lambda: V.VAE(4, hidden=(0,)), "hidden"),
    (lambda: V.loss(V.VAE(4, 2, (3,)), torch.zeros(2, 5)), "x must have 4"),
    (lambda: V.loss(V.VAE(4, 2, (3,)), torch.zeros(2, 4), torch.zeros(2, 1)), "c must be None"),
    (lambda: V.loss(V.CVAE(4, 3, 2, (3,)), torch.zeros(2, 4)), "c is required"),
    (lambda: V.loss(V.CVAE(4, 3, 2, (3,)), torch.zeros(2, 4), torch.tensor([0, 3])), "c given as labels"),
    (lambda: V.loss(V.CVAE(4, 3, 2, (3,)), torch.zeros(2, 4), torch.zeros(3, 3)), "c must have one row"),
    (lambda: V.loss(V.VAE(4, 2, (3,)), torch.zeros(2, 4), beta=-1.0), "beta"),
    (lambda: V.loss(V.VAE(4, 2, (3,)), torch.zeros(2, 4), n_samples=0), "n_samples"),
    (lambda: V.SCVAE(4, 2, 2, (3,)).predictive(torch.zeros(2, 2), 1), "n_samples"),
    (lambda: V.train(V.VAE(4, 2, (3,)), torch.zeros(2, 4), n_samples=1.5, progress=False), "n_samples"),
    (lambda: V.loss(torch.nn.Linear(2, 2), torch.zeros(2, 2)), "model"),
    (lambda: V.iwae_bound(V.VAE(4, 2, (3,)), torch.zeros(2, 4), 0), "k"),
    (lambda: V.train(V.VAE(4, 2, (3,)), torch.zeros(2, 4), epochs=0), "epochs"),
    (lambda: V.train(V.SCVAE(4, 2, 2, (3,)), torch.zeros(2, 4), torch.zeros(3, 2)), "c must have one row"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
