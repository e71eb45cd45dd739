"""Bayes by Backprop: the BayesLinear layer (reparametrization and local reparametrization),
its closed-form KL, the minibatch estimator of eq. (26) and the NUTS reference."""
import math

import pytest
import torch
from torch.nn import functional as F

from course_utils import bnn
from course_utils.data import toy_regression
from course_utils.linear import blr_posterior, polynomial_features


def _layer(device, local=False, seed=0):
    layer = bnn.BayesLinear(3, 2, prior_var=0.5, init_std=0.3, local_reparam=local,
                            generator=torch.Generator().manual_seed(seed)).double().to(device)
    with torch.no_grad():
        layer.bias_mu.copy_(torch.tensor([0.2, -0.4]))
        layer.weight_rho.add_(torch.linspace(-1, 1, 6, dtype=torch.float64, device=device).reshape(2, 3))
    return layer


def test_kl_of_bayes_linear_is_the_sum_of_closed_form_normal_kls(device):
    layer = _layer(device)
    mu = torch.cat([layer.weight_mu.reshape(-1), layer.bias_mu])
    s = torch.cat([layer.weight_std.reshape(-1), layer.bias_std])
    tau = math.sqrt(0.5)
    # KL(N(μ, s²) ‖ N(0, τ²)) = log(τ/s) + (s² + μ²)/(2τ²) − ½, written out (independent of torch.distributions)
    by_hand = (torch.log(tau / s) + (s**2 + mu**2) / (2 * tau**2) - 0.5).sum()
    torch.testing.assert_close(layer.kl(), by_hand, rtol=1e-12, atol=1e-12)      # float64 round-off


def test_std_is_softplus_of_rho_and_sampling_uses_the_generator(device):
    layer = _layer(device)
    torch.testing.assert_close(layer.weight_std, F.softplus(layer.weight_rho))
    x = torch.ones(4, 3, dtype=torch.float64, device=device)
    a = layer(x, torch.Generator().manual_seed(5))
    b = layer(x, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.shape == (4, 2) and layer(x.expand(7, 4, 3)).shape == (7, 4, 2)


@pytest.mark.parametrize("local", [False, True])
def test_both_samplers_give_the_exact_output_moments(local, device, gen):
    """Each output a_k = Σ_j x_j w_kj + b_k is Gaussian with mean x·μ_k + μ_b and variance x²·σ_k² + σ_b²."""
    layer = _layer(device, local=local)
    x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], dtype=torch.float64, device=device)
    S = 100_000
    out = layer(x.expand(S, 2, 3), gen)                                    # [S, 2, 2]
    mean = x @ layer.weight_mu.T + layer.bias_mu
    var = x**2 @ layer.weight_std.T**2 + layer.bias_std**2
    se_mean = (var / S).sqrt()
    se_var = var * math.sqrt(2 / (S - 1))                                  # standard error of a Gaussian sample variance
    assert bool(((out.mean(0) - mean).abs() < 4 * se_mean).all())
    assert bool(((out.var(0) - var).abs() < 4 * se_var).all())


def test_local_reparametrization_decorrelates_the_points_of_a_minibatch(device, gen):
    layer_w, layer_l = _layer(device, local=False), _layer(device, local=True)
    x = torch.tensor([[0.5, -1.0, 2.0], [0.5, -1.0, 2.0]], dtype=torch.float64, device=device)   # the same point twice
    S = 50_000
    a_w, a_l = layer_w(x.expand(S, 2, 3), gen), layer_l(x.expand(S, 2, 3), gen)
    corr = lambda a: float(torch.corrcoef(a[:, :, 0].detach().T)[0, 1])
    assert corr(a_w) > 0.999                    # one weight draw per pass: identical outputs
    assert abs(corr(a_l)) < 4 / math.sqrt(S)    # independent noise per point (4 standard errors of a correlation)


def test_local_reparametrization_lowers_the_minibatch_gradient_variance(device):
    x, y = toy_regression(400, "sine", generator=torch.Generator().manual_seed(0), dtype=torch.float64, device=device)
    model = bnn.BNN(1, 16, 1, init_std=0.3, generator=torch.Generator().manual_seed(0)).double().to(device)
    variances = {}
    for local in (False, True):
        model.local_reparam = local
        g = bnn.minibatch_gradients(model, x, y, 0.09, batch_size=100, n_repeats=150,
                                    generator=torch.Generator().manual_seed(1))
        assert g.shape == (150, sum(p.numel() for p in model.parameters()))
        variances[local] = float(g.var(0).mean())
    # with M = 100 the shared weight draw dominates; the relative SE of 150-sample variances is ≈ 0.12
    assert variances[False] > 3 * variances[True], variances


def test_bayes_by_backprop_on_a_bayes_linear_layer_finds_the_mean_field_optimum_of_blr():
    """With one BayesLinear layer, q is mean-field Gaussian VI for Bayesian linear regression, whose
    optimum is known: the posterior mean and variances 1/diag(posterior precision)."""
    x, y = toy_regression(40, "linear", generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise_var, prior_var = 0.04, 1.0
    layer = bnn.BayesLinear(1, 1, prior_var=prior_var, init_std=0.05, local_reparam=True,
                            generator=torch.Generator().manual_seed(0)).double()
    hist = bnn.bayes_by_backprop(layer, x, y, noise_var, epochs=400, batch_size=10, lr=0.01, n_samples=8,
                                 generator=torch.Generator().manual_seed(0), progress=False)
    assert hist["epoch_loss"][-1] < hist["epoch_loss"][0]
    m, S = blr_posterior(polynomial_features(x, 1), y, noise_var, prior_var)          # ω = (bias, weight)
    q_mean = torch.stack([layer.bias_mu[0], layer.weight_mu[0, 0]]).detach()
    q_std = torch.stack([layer.bias_std[0], layer.weight_std[0, 0]]).detach()
    target_std = torch.linalg.inv(S).diagonal().rsqrt()
    # stochastic optimisation: a tolerance of a quarter of the posterior std for the mean and 25 % for the std
    assert bool(((q_mean - m).abs() < 0.25 * S.diagonal().sqrt()).all()), (q_mean, m)
    torch.testing.assert_close(q_std, target_std, rtol=0.25, atol=0)


def test_bayes_by_backprop_fits_the_cubic_toy_and_the_kl_is_counted_once(device):
    x, y = toy_regression(20, "cubic", generator=torch.Generator().manual_seed(0), device=device)
    xs, ys = x / 4, y / 30
    model = bnn.BNN(1, 10, 1, generator=torch.Generator().manual_seed(0)).to(device)
    hist = bnn.bayes_by_backprop(model, xs, ys, 0.01, epochs=300, batch_size=10, lr=0.03, n_samples=2,
                                 generator=torch.Generator().manual_seed(1), progress=False)
    assert len(hist["loss"]) == 600 and len(hist["epoch_loss"]) == 300     # 2 minibatches per epoch
    f = bnn.predictive_samples(model, xs, 200, generator=torch.Generator().manual_seed(2))[..., 0].mean(0)
    assert float(((f - ys) ** 2).mean()) < 0.2 * float(ys.var())             # explains > 80 % of the variance
    # eq. (26) with M = N and one KL: the loss at ε-averaged data term equals −N/M Σ log p + KL
    ll = torch.randn(20, generator=torch.Generator().manual_seed(0))
    from course_utils.vi import minibatch_elbo_loss
    torch.testing.assert_close(minibatch_elbo_loss(ll, 20, torch.tensor(3.0)), -ll.sum() + 3.0)


def test_nuts_reference_is_seeded_and_mlp_forward_matches_the_network():
    x, y = toy_regression(8, "cubic", generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kw = dict(d_hidden=3, noise_var=0.01, num_samples=10, warmup_steps=10, max_tree_depth=3, map_steps=50, seed=3, progress=False)
    a = bnn.nuts_posterior(x / 4, y / 30, **kw)
    b = bnn.nuts_posterior(x / 4, y / 30, **kw)
    assert {k: tuple(v.shape) for k, v in a.items()} == {"W1": (10, 3, 1), "b1": (10, 3), "W2": (10, 1, 3), "b2": (10, 1)}
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    f = bnn.mlp_forward(a, x / 4)
    s = 4
    by_hand = torch.tanh(x / 4 @ a["W1"][s].T + a["b1"][s]) @ a["W2"][s].T + a["b2"][s]
    torch.testing.assert_close(f[s], by_hand[:, 0])


@pytest.mark.parametrize("call,match", [
    (lambda: bnn.BayesLinear(0, 2), "in_features"),
    (lambda: bnn.BayesLinear(2, 2, prior_var=0.0), "prior_var"),
    (lambda: bnn.BayesLinear(2, 2, init_std=-1.0), "init_std"),
    (lambda: bnn.BayesLinear(2, 3)(torch.zeros(4, 5)), "x must be"),
    (lambda: bnn.BNN(1, (), 1), "d_hidden"),
    (lambda: bnn.bayes_by_backprop(torch.nn.Linear(1, 1), torch.zeros(4, 1), torch.zeros(4), 0.1, epochs=1, batch_size=2), "model"),
    (lambda: bnn.bayes_by_backprop(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(3), 0.1, epochs=1, batch_size=2), "x and y"),
    (lambda: bnn.bayes_by_backprop(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(4), 0.0, epochs=1, batch_size=2), "noise_var"),
    (lambda: bnn.bayes_by_backprop(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(4), 0.1, epochs=1, batch_size=0), "batch_size"),
    (lambda: bnn.bayes_by_backprop(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(4), 0.1, epochs=1, batch_size=2, n_samples=0), "n_samples"),
    (lambda: bnn.bayes_by_backprop(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(4), 0.1, epochs=1, batch_size=2, kl_weight=-1.0), "kl_weight"),
    (lambda: bnn.predictive_samples(bnn.BNN(1, 2, 1), torch.zeros(4, 1), 0), "n_samples"),
    (lambda: bnn.minibatch_gradients(bnn.BNN(1, 2, 1), torch.zeros(4, 1), torch.zeros(4), 0.1, 5, 3), "batch_size"),
    (lambda: bnn.nuts_posterior(torch.zeros(4, 1), torch.zeros(4), d_hidden=0, noise_var=0.1), "d_hidden"),
    (lambda: bnn.nuts_posterior(torch.zeros(4, 1), torch.zeros(4), d_hidden=2, noise_var=-0.1), "noise_var"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
