"""Eqs. (28)-(35): dropout masks, MC dropout prediction, the KL condition, heteroscedastic loss, BCNN."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import dropout as dr


def test_masked_weights_eq28_give_the_same_output_as_nn_dropout_with_the_same_mask(device, gen):
    # f^{Ŵ1,Ŵ2,b}(x) with Ŵ = W diag(z)/(1-p) must equal the same network run with nn.Dropout
    # layers whose masks are z (recovered from nn.Dropout's output at the same RNG state).
    net = dr.DropoutTwoLayerNet(4, 16, 3, p1=0.3, p2=0.5, generator=gen).double().to(device)
    x = (torch.rand(20, 4, generator=gen, dtype=torch.float64) + 0.5).to(device)   # no zeros in x
    torch.manual_seed(7)
    d1, d2 = nn.Dropout(0.3).train(), nn.Dropout(0.5).train()
    x_dropped = d1(x)
    h = torch.tanh(x_dropped @ net.W1.T + net.b)
    h_dropped = d2(h)
    y_nn = h_dropped @ net.W2.T
    z1, z2 = (x_dropped != 0).double(), (h_dropped != 0).double()
    y_eq28 = net(x, z1, z2)
    torch.testing.assert_close(y_eq28, y_nn, rtol=1e-12, atol=1e-12)   # float64 round-off
    # and per data point i: Ŵ1^i = W1 diag(z1^i) / (1 - p1) is literally W1 @ diag(...)
    W1_hat = dr.dropped_weights(net.W1, z1, 0.3)
    torch.testing.assert_close(W1_hat[3], net.W1 @ torch.diag(z1[3] / 0.7), rtol=1e-12, atol=1e-12)


def test_dropped_weights_without_p_is_the_lectures_unscaled_w_diag_z(gen):
    W = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    z = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(dr.dropped_weights(W, z), W * z, rtol=0, atol=0)


def test_mc_dropout_stays_on_in_eval_mode_and_the_switch_turns_it_off(device):
    layer = dr.MCDropout(0.5).to(device).eval()
    x = torch.ones(1000, device=device)
    assert bool((layer(x) == 0).any())
    layer.active = False
    assert torch.equal(layer(x), x)
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.25), nn.ReLU(), nn.Sequential(nn.Dropout(0.5)))
    dr.to_mc_dropout(model)
    kinds = [type(m) for m in model.modules()]
    assert nn.Dropout not in kinds and kinds.count(dr.MCDropout) == 2
    assert [m.p for m in model.modules() if isinstance(m, dr.MCDropout)] == [0.25, 0.5]
    assert dr.set_mc_dropout(model, False) == 2
    model.eval()
    x3 = torch.randn(5, 3)
    assert torch.equal(model(x3), model(x3))


def test_mc_predict_returns_t_distinct_samples_of_the_right_shape(device):
    torch.manual_seed(0)
    net = dr.MCDropoutMLP(2, [32, 32], 3, p=0.5).to(device)
    x = torch.randn(7, 2, device=device)
    out = dr.mc_predict(net, x, T=11)
    assert out.shape == (11, 7, 3) and out.device.type == device.type
    flat = out.reshape(11, -1)
    assert torch.unique(flat, dim=0).shape[0] == 11              # T different ω̂_t
    chunked = dr.mc_predict(net, x, T=11, max_rows=21)           # 3 passes per chunk
    assert chunked.shape == (11, 7, 3) and torch.unique(chunked.reshape(11, -1), dim=0).shape[0] == 11


def test_mc_predict_mean_converges_to_the_average_over_all_masks(device):
    # A small f^ω with dropout on x (D = 3) and on h (H = 5): 2^8 masks, enumerated exactly.
    torch.manual_seed(3)
    p1, p2 = 0.3, 0.5
    net = dr.DropoutTwoLayerNet(3, 5, 1, p1=p1, p2=p2, generator=torch.Generator().manual_seed(1)).double().to(device)
    x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]], dtype=torch.float64, device=device)
    exact = torch.zeros(2, 1, dtype=torch.float64, device=device)
    net.requires_grad_(False)
    for bits in itertools.product([0.0, 1.0], repeat=8):
        z = torch.tensor(bits, dtype=torch.float64, device=device)
        z1, z2 = z[:3], z[3:]
        prob = float(torch.prod(torch.where(z1 == 1, 1 - p1, p1)) * torch.prod(torch.where(z2 == 1, 1 - p2, p2)))
        exact += prob * net(x, z1.expand(2, 3), z2.expand(2, 5))
    T = 40_000
    samples = dr.mc_predict(net, x, T)                          # [T, 2, 1]
    se = samples.std(0) / math.sqrt(T)
    assert bool(((samples.mean(0) - exact).abs() < 4 * se).all())   # 4 Monte Carlo standard errors
    # the estimator's error shrinks like 1/sqrt(T): 100 passes are much worse than 40 000
    assert float((samples[:100].mean(0) - exact).abs().max()) < 4 * float(samples.std(0).max()) / 10


def test_mc_predict_matches_a_python_loop_in_distribution(device):
    torch.manual_seed(0)
    net = dr.MCDropoutMLP(1, [16], 1, p=0.5).double().to(device)
    x = torch.linspace(-1, 1, 4, dtype=torch.float64, device=device)[:, None]
    T = 4000
    vec = dr.mc_predict(net, x, T)[..., 0]
    with torch.no_grad():
        loop = torch.stack([net(x)[:, 0] for _ in range(T)])
    se = torch.sqrt(vec.var(0) / T + loop.var(0) / T)
    assert bool(((vec.mean(0) - loop.mean(0)).abs() < 4 * se).all())     # 4 standard errors of the difference


def test_bernoulli_mask_variance_is_largest_at_p_one_half(gen):
    ps = torch.linspace(0.05, 0.95, 19)
    n = 200_000
    var = torch.stack([dr.bernoulli_mask((n,), float(p), generator=gen).var() for p in ps])
    torch.testing.assert_close(var, ps * (1 - ps), atol=5 * 0.5 / math.sqrt(n), rtol=0)   # ~5 s.e. of a variance of n draws
    assert abs(float(ps[var.argmax()]) - 0.5) < 0.051
    assert float((dr.bernoulli_mask((n,), 0.3, generator=gen)).mean()) == pytest.approx(0.7, abs=5 * math.sqrt(0.21 / n))


def test_dropout_kl_is_the_prior_cross_entropy_minus_the_mask_entropy(gen):
    # Gal's approximation: KL(q||p) ≈ E_q[-log p(M diag(z))] - H[z] + const, with the constant -log p(0).
    # Exact expectation over all 2^K masks of K = 4 columns; truth from torch.distributions (float64 round-off).
    M = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    p, l = 0.3, 2.0
    prior = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1 / l, dtype=torch.float64))
    Z = torch.tensor([[(k >> j) & 1 for j in range(4)] for k in range(16)], dtype=torch.float64)
    P_Z = torch.where(Z == 1, torch.tensor(1 - p, dtype=torch.float64), torch.tensor(p, dtype=torch.float64)).prod(1)
    cross_entropy = -sum(w * prior.log_prob(M @ torch.diag(z)).sum() for w, z in zip(P_Z, Z)) + prior.log_prob(torch.zeros_like(M)).sum()
    mask_entropy = 4 * torch.distributions.Bernoulli(probs=torch.tensor(1 - p, dtype=torch.float64)).entropy()
    torch.testing.assert_close(dr.dropout_kl(M, p, l), cross_entropy - mask_entropy, rtol=1e-12, atol=1e-12)


def test_inverted_dropout_layer_has_variational_mean_w_over_one_minus_p(gen):
    # nn.Dropout-style layers compute W diag(z)/(1-p) = M diag(z) with M = W/(1-p), and E[Ŵ] = W.
    W = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    z = dr.bernoulli_mask((5,), 0.4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(dr.dropped_weights(W, z, 0.4), (W / 0.6) @ torch.diag(z), rtol=1e-12, atol=1e-12)


def test_kl_condition_weight_decay_makes_eq_33_hold_for_inverted_dropout(gen):
    # eq. (33): d/dW [N λ ||W||²] = d/dW KL(q||p), the KL computed from its definition via the variational
    # mean M = W/(1-p) (autograd through the division), λ = σ²_ε l² / (2N(1-p)) from the closed form.
    W = torch.randn(4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    p, l, N = 0.3, 2.0, 500
    lam = dr.kl_condition_weight_decay(l, p, N)
    (g_decay,) = torch.autograd.grad(N * lam * W.pow(2).sum(), W)
    (g_kl,) = torch.autograd.grad(dr.dropout_kl(W / (1 - p), p, l), W)
    torch.testing.assert_close(g_decay, g_kl, rtol=1e-12, atol=1e-12)
    # the λ of the unscaled parametrisation, (1-p) l²/(2N), is too small by (1-p)² for inverted dropout
    assert lam * (1 - p) ** 2 == pytest.approx((1 - p) * l**2 / (2 * N), rel=1e-12)
    assert dr.kl_condition_weight_decay(l, p, N, noise_var=0.25) == pytest.approx(lam / 4, rel=1e-12)
    assert dr.kl_condition_weight_decay(l, 0.0, N) == pytest.approx(l**2 / (2 * N), rel=1e-12)   # no dropout: bias


def test_bcnn_drops_out_four_layers_and_not_the_output_layer():
    model = dr.BCNN(64, p=0.2)
    mods = list(model.features)
    drops = [i for i, m in enumerate(mods) if isinstance(m, dr.MCDropout)]
    assert len(drops) == 4
    assert all(isinstance(mods[i + 1], (nn.Conv1d, nn.Linear)) for i in drops)   # each drops a layer's input
    assert not isinstance(mods[-1], dr.MCDropout)                                 # W5 sees the hidden units as they are


def test_heteroscedastic_nll_equals_torch_gaussian_nll(device, gen):
    y, mean = torch.randn(30, generator=gen, dtype=torch.float64).to(device), torch.randn(30, generator=gen, dtype=torch.float64).to(device)
    log_var = (0.5 * torch.randn(30, generator=gen, dtype=torch.float64)).to(device)
    ours = dr.heteroscedastic_nll(y, mean, log_var)
    ref = -torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(y).mean()
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours, F.gaussian_nll_loss(mean, y, log_var.exp(), full=True), rtol=1e-12, atol=1e-12)
    m, s = dr.split_mean_log_var(torch.stack([mean, log_var], -1))
    assert torch.equal(m, mean) and torch.equal(s, log_var)


def test_bcnn_outputs_logits_and_its_objective_is_nll_plus_l2(device, gen):
    torch.manual_seed(0)
    model = dr.BCNN(64, p=0.2).double().to(device)
    x = torch.randn(10, 1, 64, generator=gen, dtype=torch.float64).to(device)
    labels = torch.randint(2, (10,), generator=gen).to(device)
    assert model(x).shape == (10, 2)
    dr.set_mc_dropout(model, False)
    l2 = sum(p.pow(2).sum() for p in model.parameters())
    torch.testing.assert_close(dr.bcnn_objective(model, x, labels, 1e-3), F.cross_entropy(model(x), labels) + 1e-3 * l2,
                               rtol=1e-12, atol=1e-12)
    dr.set_mc_dropout(model, True)
    assert dr.mc_predict(model, x, 5).shape == (5, 10, 2)


@pytest.mark.parametrize("call,match", [
    (lambda: dr.MCDropout(1.0), "p"),
    (lambda: dr.MCDropout(-0.1), "p"),
    (lambda: dr.MCDropoutMLP(1, [8], 1, p=1.5), "p"),
    (lambda: dr.bernoulli_mask((3,), 1.0), "p"),
    (lambda: dr.mc_predict(nn.Identity(), torch.zeros(3, 1), 0), "T"),
    (lambda: dr.mc_predict(nn.Identity(), torch.zeros(3, 1), 2.5), "T"),
    (lambda: dr.mc_predict(nn.Identity(), torch.zeros(3, 1), 2, max_rows=0), "max_rows"),
    (lambda: dr.mc_predict(nn.Identity(), [1.0, 2.0], 2), "x"),
    (lambda: dr.kl_condition_weight_decay(1.0, 1.0, 10), "p"),
    (lambda: dr.kl_condition_weight_decay(-1.0, 0.5, 10), "prior_length_scale"),
    (lambda: dr.kl_condition_weight_decay(1.0, 0.5, 0), "n_data"),
    (lambda: dr.kl_condition_weight_decay(1.0, 0.5, 10, noise_var=0.0), "noise_var"),
    (lambda: dr.dropout_kl(torch.ones(2, 2), 1.2, 1.0), "p"),
    (lambda: dr.dropout_kl(torch.ones(2), 0.5, 1.0), "M"),
    (lambda: dr.dropout_kl(torch.ones(2, 2), 0.5, 0.0), "prior_length_scale"),
    (lambda: dr.dropped_weights(torch.ones(2, 3), torch.ones(4)), "z"),
    (lambda: dr.dropped_weights(torch.ones(2, 3), torch.full((3,), 0.5)), "z"),
    (lambda: dr.heteroscedastic_nll(torch.zeros(3), torch.zeros(3), torch.zeros(4)), "log_var"),
    (lambda: dr.split_mean_log_var(torch.zeros(3, 3)), "out"),
    (lambda: dr.BCNN(64, p=1.0), "p"),
    (lambda: dr.BCNN(64, kernel_size=4), "kernel_size"),
    (lambda: dr.bcnn_objective(dr.BCNN(16), torch.zeros(2, 1, 16), torch.tensor([0.0, 1.0]), 0.1), "labels"),
    (lambda: dr.to_mc_dropout("net"), "model"),
    (lambda: dr.set_mc_dropout(nn.Linear(1, 1), 1), "active"),
    (lambda: dr.DropoutTwoLayerNet(2, 3, 1, p2=1.0), "p"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
