"""Deep learning as likelihood: the model f^ω, its losses as negative log-likelihoods, L2
regularisation and minibatch SGD (lecture eqs. 1-4).

Shapes: N data points, D inputs, H hidden units, K classes or outputs.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from course_utils._checks import check_int, check_positive, check_same_rows, check_tensor


class TwoLayerNet(nn.Module):
    r"""The lecture's model :math:`\hat y = W_2\,\sigma(W_1 x + b) := f^\omega(x)`, ω = {W₁, W₂, b}.

    Parameters are named as in the lecture: ``W1`` [H, D], ``b`` [H], ``W2`` [K, H].  There is no
    output bias, as on the slide.  Input ``x`` [N, D] → output [N, K].
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh,
                 *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int("d_in", d_in)
        check_int("d_hidden", d_hidden)
        check_int("d_out", d_out)
        # Glorot-uniform initialisation, drawn from an explicit generator for reproducibility.
        def init(rows: int, cols: int) -> torch.Tensor:
            bound = math.sqrt(6.0 / (rows + cols))
            return (torch.rand(rows, cols, generator=generator) * 2 - 1) * bound

        self.W1 = nn.Parameter(init(d_hidden, d_in))
        self.b = nn.Parameter(torch.zeros(d_hidden))
        self.W2 = nn.Parameter(init(d_out, d_hidden))
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x @ self.W1.T + self.b) @ self.W2.T


def cross_entropy(y_onehot: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""Eq. (1): :math:`\mathcal C_1 = -\frac1N\sum_i\sum_j y^{(i)}_j \log \hat y^{(i)}_j`.

    Args:
        y_onehot: [N, K] one-hot (or soft) targets, rows summing to one.
        y_hat: [N, K] predicted class probabilities, rows summing to one.
    Returns:
        scalar tensor, the mean cross-entropy (= -(1/N) log p(Y|f^ω(X)) for a categorical model).
    Raises:
        ValueError: on shape mismatch, or rows of ``y_hat`` that are not probabilities.
    """
    check_tensor("y_onehot", y_onehot, ndim=2)
    check_tensor("y_hat", y_hat, ndim=2)
    if y_onehot.shape != y_hat.shape:
        raise ValueError(f"y_onehot and y_hat must have the same shape, got {tuple(y_onehot.shape)} and {tuple(y_hat.shape)}")
    tol = 1e-4 if y_hat.dtype != torch.float64 else 1e-10
    if bool((y_hat < 0).any()) or not torch.allclose(y_hat.sum(-1), torch.ones_like(y_hat[:, 0]), atol=tol):
        raise ValueError("y_hat must hold probabilities: non-negative rows that sum to one (apply softmax to logits)")
    # 0 · log 0 is taken as 0, as in the definition of entropy.
    terms = torch.where(y_onehot > 0, y_onehot * torch.log(y_hat), torch.zeros_like(y_hat))
    return -terms.sum(-1).mean()


def mse(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""Eq. (2): :math:`\mathcal C_2 = \frac1N\sum_i (y^{(i)} - \hat y^{(i)})^2` (summed over output
    dimensions, averaged over the N data points).  ``y`` and ``y_hat`` have the same shape [N] or [N, K]."""
    check_tensor("y", y, ndim=(1, 2))
    check_tensor("y_hat", y_hat, ndim=(1, 2))
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat must have the same shape, got {tuple(y.shape)} and {tuple(y_hat.shape)}")
    sq = (y - y_hat) ** 2
    return (sq if sq.ndim == 1 else sq.sum(-1)).mean()


def gaussian_log_likelihood(y: torch.Tensor, y_hat: torch.Tensor, noise_var: float) -> torch.Tensor:
    r""":math:`\log p(Y|f^\omega(X)) = \sum_i \log\mathcal N(y^{(i)}; \hat y^{(i)}, \sigma^2)`, with
    ``torch.distributions.Normal``.  ``y``, ``y_hat``: [N] or [N, K]; returns a scalar."""
    check_tensor("y", y, ndim=(1, 2))
    check_tensor("y_hat", y_hat, ndim=(1, 2))
    check_positive("noise_var", noise_var)
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat must have the same shape, got {tuple(y.shape)} and {tuple(y_hat.shape)}")
    std = torch.as_tensor(noise_var, dtype=y_hat.dtype, device=y_hat.device).sqrt()
    return torch.distributions.Normal(y_hat, std).log_prob(y).sum()


def mse_to_gaussian_nll(mse_value: torch.Tensor | float, noise_var: float, n_outputs: int = 1) -> torch.Tensor | float:
    r"""The affine map behind eq. (2): for a Gaussian likelihood with variance σ²,

    .. math:: -\tfrac1N \log p(Y|f^\omega(X)) = \frac{\mathcal C_2}{2\sigma^2} + \frac{K}{2}\log(2\pi\sigma^2).

    The two sides differ by a scale and a constant that do not depend on ω, so they share their
    minimiser.  Returns the mean negative log-likelihood per data point.
    """
    check_positive("noise_var", noise_var)
    check_int("n_outputs", n_outputs)
    return mse_value / (2 * noise_var) + 0.5 * n_outputs * math.log(2 * math.pi * noise_var)


def categorical_log_likelihood(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r""":math:`\log p(Y|f^\omega(X)) = \sum_i \log \mathrm{Cat}(y^{(i)}; \mathrm{softmax}(f^\omega(x^{(i)})))`.

    ``labels``: [N] integer class indices; ``logits``: [N, K].  Returns a scalar (a sum over i).
    """
    check_tensor("logits", logits, ndim=2)
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor of class indices")
    check_same_rows("labels", labels, "logits", logits)
    if bool((labels < 0).any()) or bool((labels >= logits.shape[1]).any()):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), the number of columns of logits")
    return torch.distributions.Categorical(logits=logits).log_prob(labels).sum()


def l2_penalty(params: Mapping[str, torch.Tensor], lambdas: Mapping[str, float]) -> torch.Tensor:
    r"""The regulariser of eq. (3): :math:`\lambda_1\|W_1\|^2 + \lambda_2\|W_2\|^2 + \lambda_3\|b\|^2`.

    Args:
        params: name → tensor, e.g. ``dict(model.named_parameters())``.
        lambdas: name → λ ≥ 0 for each parameter to penalise (names must exist in ``params``).
    Returns:
        a scalar tensor on the parameters' device.
    """
    if not lambdas:
        raise ValueError("lambdas must name at least one parameter")
    total = None
    for name, lam in lambdas.items():
        if name not in params:
            raise ValueError(f"lambdas names {name!r}, which is not among params: {sorted(params)}")
        check_positive(f"lambdas[{name!r}]", lam, allow_zero=True)
        term = lam * params[name].pow(2).sum()
        total = term if total is None else total + term
    return total


@torch.no_grad()
def sgd_step(params: Iterable[torch.Tensor], lr: float) -> None:
    r"""Eq. (4): :math:`\omega_t = \omega_{t-1} - \frac{\eta}{n}\sum_{i=1}^n \nabla\mathcal L_i(\omega_{t-1})`.

    Written out by hand: each parameter's ``.grad`` must hold the gradient of the *mean* loss over
    the minibatch, i.e. :math:`\frac1n\sum_i\nabla\mathcal L_i` (what ``loss.mean().backward()``
    leaves there).  Updates the parameters in place.
    """
    check_positive("lr", lr)
    for p in params:
        if p.grad is None:
            raise ValueError("every parameter must have a .grad: call backward() on the minibatch loss first")
        p -= lr * p.grad


def per_example_gradients(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""The n gradients :math:`\nabla\mathcal L_i(\omega)` of eq. (4), one per example, with
    ``torch.func.vmap(torch.func.grad(...))``.  Returns name → [n, *param.shape]."""
    check_tensor("x", x)
    check_same_rows("x", x, "y", y)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, p, (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    return torch.func.vmap(torch.func.grad(loss_one), in_dims=(None, 0, 0))(params, x, y)


def minibatch_indices(n: int, batch_size: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> list[torch.Tensor]:
    """A random partition of ``range(n)`` into minibatches (the index sets S of eq. 4 / eq. 26)."""
    check_int("n", n)
    check_int("batch_size", batch_size)
    perm = torch.randperm(n, generator=generator)
    if device is not None:
        perm = perm.to(device)
    return list(perm.split(batch_size))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, lr: float, epochs: int,
          batch_size: int, optimizer: str = "manual", penalty: Callable[[nn.Module], torch.Tensor] | None = None,
          generator: torch.Generator | None = None, progress: bool = True,
          record_params: bool = False) -> dict[str, list]:
    """Minibatch SGD (eq. 4) on ``loss_fn(model(x_S), y_S) + penalty(model)``.

    ``optimizer="manual"`` updates with :func:`sgd_step`; ``"torch"`` with ``torch.optim.SGD``.
    With the same ``generator`` seed both visit the same minibatches, so their trajectories can
    be compared step by step.  Returns a history dict with the loss per step (``"loss"``), the
    full-data loss per epoch (``"epoch_loss"``) and, if ``record_params``, flattened parameters
    after each step (``"params"``).
    """
    check_tensor("x", x)
    check_same_rows("x", x, "y", y)
    check_positive("lr", lr)
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    if optimizer not in {"manual", "torch"}:
        raise ValueError(f"optimizer must be 'manual' or 'torch', got {optimizer!r}")
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr) if optimizer == "torch" else None
    history: dict[str, list] = {"loss": [], "epoch_loss": [], "params": []}
    for _ in tqdm(range(epochs), desc=f"SGD ({optimizer})", disable=not progress, leave=False):
        for idx in minibatch_indices(x.shape[0], batch_size, generator, device=x.device):
            for p in params:
                p.grad = None
            loss = loss_fn(model(x[idx]), y[idx])
            objective = loss + penalty(model) if penalty is not None else loss
            objective.backward()
            if opt is not None:
                opt.step()
            else:
                sgd_step(params, lr)
            history["loss"].append(float(objective.detach()))
            if record_params:
                history["params"].append(torch.cat([p.detach().reshape(-1) for p in params]).clone())
        with torch.no_grad():
            history["epoch_loss"].append(float(loss_fn(model(x), y)))
    return history
