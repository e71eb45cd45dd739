"""Eqs. (1)-(4): losses as negative log-likelihoods, the L2 penalty and minibatch SGD."""
import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from course_utils import likelihood as lk
from course_utils.data import toy_classification, toy_regression


def test_cross_entropy_eq1_equals_torch_loss_and_categorical_nll(device, gen):
    logits = torch.randn(50, 4, generator=gen, dtype=torch.float64).to(device)
    labels = torch.randint(4, (50,), generator=gen).to(device)
    ce = lk.cross_entropy(F.one_hot(labels, 4).to(logits.dtype), logits.softmax(-1))
    assert ce.device.type == device.type
    # float64 round-off only
    torch.testing.assert_close(ce, F.cross_entropy(logits, labels), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ce, -lk.categorical_log_likelihood(labels, logits) / 50, rtol=1e-12, atol=1e-12)


def test_mse_eq2_is_gaussian_nll_up_to_scale_and_constant(device, gen):
    y = torch.randn(40, generator=gen, dtype=torch.float64).to(device)
    y_hat = torch.randn(40, generator=gen, dtype=torch.float64).to(device)
    noise_var = 0.7
    c2 = lk.mse(y, y_hat)
    torch.testing.assert_close(c2, F.mse_loss(y_hat, y), rtol=1e-12, atol=0)
    nll_scipy = -stats.norm(y_hat.cpu().numpy(), math.sqrt(noise_var)).logpdf(y.cpu().numpy()).sum() / 40
    assert float(lk.mse_to_gaussian_nll(c2, noise_var)) == pytest.approx(nll_scipy, rel=1e-12)
    assert float(-lk.gaussian_log_likelihood(y, y_hat, noise_var)) / 40 == pytest.approx(nll_scipy, rel=1e-12)


def test_mse_sums_over_outputs_of_a_vector_target(gen):
    y, y_hat = torch.randn(10, 3, generator=gen), torch.randn(10, 3, generator=gen)
    torch.testing.assert_close(lk.mse(y, y_hat), ((y - y_hat) ** 2).sum(1).mean())


def test_cross_entropy_rejects_logits_in_place_of_probabilities(gen):
    logits = torch.randn(5, 3, generator=gen)
    with pytest.raises(ValueError, match="y_hat must hold probabilities"):
        lk.cross_entropy(torch.eye(3)[[0, 1, 2, 0, 1]], logits)
    with pytest.raises(ValueError, match="same shape"):
        lk.cross_entropy(torch.eye(3)[[0, 1]], logits.softmax(-1))


@pytest.mark.parametrize("call,match", [
    (lambda: lk.mse(torch.zeros(3), torch.zeros(4)), "same shape"),
    (lambda: lk.mse(torch.tensor([float("nan")]), torch.zeros(1)), "finite"),
    (lambda: lk.gaussian_log_likelihood(torch.zeros(3), torch.zeros(3), 0.0), "noise_var"),
    (lambda: lk.categorical_log_likelihood(torch.tensor([0, 5]), torch.zeros(2, 3)), "labels"),
    (lambda: lk.categorical_log_likelihood(torch.tensor([0.0, 1.0]), torch.zeros(2, 3)), "labels"),
    (lambda: lk.l2_penalty({"W1": torch.ones(2)}, {"W3": 0.1}), "W3"),
    (lambda: lk.l2_penalty({"W1": torch.ones(2)}, {"W1": -0.1}), "lambdas"),
    (lambda: lk.TwoLayerNet(0, 3, 1), "d_in"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_two_layer_net_is_the_lectures_model(gen):
    net = lk.TwoLayerNet(2, 5, 3, generator=gen).double()
    x = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    expected = torch.tanh(x @ net.W1.T + net.b) @ net.W2.T  # ŷ = W2 σ(W1 x + b)
    torch.testing.assert_close(net(x), expected)
    assert sorted(n for n, _ in net.named_parameters()) == ["W1", "W2", "b"]


def test_l2_penalty_eq3_gradient_equals_sgd_weight_decay(gen):
    """∇ λ‖W‖² = 2λW, so SGD on loss + λ‖ω‖² is torch's SGD with weight_decay = 2λ."""
    x, y = toy_regression(32, "sine", generator=gen, dtype=torch.float64)
    lam, lr = 0.01, 0.1
    nets = [lk.TwoLayerNet(1, 8, 1, generator=torch.Generator().manual_seed(0)).double() for _ in range(2)]
    lambdas = {"W1": lam, "W2": lam, "b": lam}
    loss_fn = lambda out, t: lk.mse(t, out[:, 0])
    lk.train(nets[0], x, y, loss_fn, lr=lr, epochs=3, batch_size=8, penalty=lambda m: lk.l2_penalty(dict(m.named_parameters()), lambdas),
             generator=torch.Generator().manual_seed(1), progress=False)
    opt = torch.optim.SGD(nets[1].parameters(), lr=lr, weight_decay=2 * lam)
    # replay the same minibatches with torch's weight decay
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        for idx in lk.minibatch_indices(32, 8, g):
            opt.zero_grad()
            loss_fn(nets[1](x[idx]), y[idx]).backward()
            opt.step()
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_hand_written_sgd_eq4_follows_torch_optim_sgd_step_by_step(device):
    x, labels = toy_classification(60, 3, generator=torch.Generator().manual_seed(3), device=device)
    runs = []
    for optimizer in ("manual", "torch"):
        net = lk.TwoLayerNet(2, 16, 3, generator=torch.Generator().manual_seed(0)).to(device)
        hist = lk.train(net, x, labels, F.cross_entropy, lr=0.5, epochs=4, batch_size=16, optimizer=optimizer,
                        generator=torch.Generator().manual_seed(5), progress=False, record_params=True)
        runs.append(torch.stack(hist["params"]))
    assert runs[0].shape[0] == 4 * 4  # 4 epochs of 4 minibatches (16, 16, 16, 12)
    # identical up to float32 round-off of p - lr·g (torch fuses it as p + (-lr)·g)
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=1e-6)


def test_mean_of_per_example_gradients_is_the_minibatch_gradient_of_eq4(gen):
    x, y = toy_regression(16, "sine", generator=gen, dtype=torch.float64)
    net = lk.TwoLayerNet(1, 6, 1, generator=gen).double()
    loss_fn = lambda out, t: ((out[:, 0] - t) ** 2).mean()
    per_ex = lk.per_example_gradients(net, loss_fn, x, y)
    net.zero_grad()
    loss_fn(net(x), y).backward()
    for name, p in net.named_parameters():
        assert per_ex[name].shape == (16, *p.shape)
        torch.testing.assert_close(per_ex[name].mean(0), p.grad, rtol=1e-12, atol=1e-14)


def test_training_with_sgd_lowers_the_loss(device):
    x, y = toy_regression(64, "sine", generator=torch.Generator().manual_seed(0), device=device)
    net = lk.TwoLayerNet(1, 32, 1, generator=torch.Generator().manual_seed(0)).to(device)
    hist = lk.train(net, x, y, lambda o, t: lk.mse(t, o[:, 0]), lr=0.05, epochs=200, batch_size=16,
                    generator=torch.Generator().manual_seed(0), progress=False)
    assert hist["epoch_loss"][-1] < 0.5 * hist["epoch_loss"][0]
