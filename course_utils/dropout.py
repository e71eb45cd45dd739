"""Dropout, MC dropout and dropout as approximate variational inference (lecture eqs. 28-35).

* :class:`MCDropout` - a dropout layer that stays on at prediction time (with a switch to turn
  it off), and :func:`to_mc_dropout` / :func:`set_mc_dropout` to convert a network's
  ``nn.Dropout`` layers and to switch them;
* :func:`bernoulli_mask` and :func:`dropped_weights` - the masks z and Ŵ = W·diag(z) of eq. (28);
  :class:`DropoutTwoLayerNet` - the lecture's f^ω with dropout on x and h, which accepts explicit
  masks so that eq. (28) can be checked against ``nn.Dropout``;
* :func:`mc_predict` - T stochastic forward passes in one batched pass, ``[T, ...]``;
* :func:`kl_condition_weight_decay`, :func:`dropout_kl` - the KL condition of eq. (33), for the
  inverted-dropout parametrisation (variational mean M = W/(1 − p));
* :func:`heteroscedastic_nll`, :class:`MCDropoutMLP` - a network that predicts a mean and a log
  variance (aleatoric uncertainty), trained with the Gaussian negative log-likelihood;
* :class:`BCNN` and :func:`bcnn_objective` - the lecture's Bayesian CNN for time series and its
  MC-dropout objective (eq. 35).

Conventions: ``p`` is always the *dropout rate* (the probability that a unit is dropped), so an
element of a mask z is 1 with probability 1 − p, as on the lecture's slide.  Like ``nn.Dropout``,
the layers here scale the kept units by 1/(1 − p) ("inverted dropout") so that the expected
output does not change with p; :func:`dropped_weights` can do either.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from course_utils._checks import check_int, check_positive, check_same_rows, check_tensor
from course_utils.likelihood import l2_penalty

__all__ = [
    "BCNN", "DropoutTwoLayerNet", "MCDropout", "MC_MAX_ROWS", "MCDropoutMLP", "bcnn_objective", "bernoulli_mask",
    "check_rate", "dropout_kl", "dropped_weights", "fit", "heteroscedastic_nll", "kl_condition_weight_decay",
    "mc_predict", "set_mc_dropout", "split_mean_log_var", "to_mc_dropout",
]


def check_rate(name: str, p: float) -> float:
    """Check that a dropout rate is a number in [0, 1); returns it as a float."""
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(p).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a dropout rate in [0, 1), got {p}")
    return float(p)


# ----------------------------------------------------------------------------- layers and masks


class MCDropout(nn.Module):
    """Dropout that stays on at prediction time: MC dropout.

    ``nn.Dropout`` is the identity in ``eval()`` mode; ``MCDropout`` draws a fresh Bernoulli mask
    in every forward pass, in training *and* in evaluation mode, as long as ``active`` is True.
    Set ``active = False`` (or call :func:`set_mc_dropout`) to get the deterministic network of
    ordinary dropout inference (weight scaling: the kept units are already scaled by 1/(1 − p)
    during training, so the deterministic pass is the identity).

    Args:
        p: dropout rate in [0, 1).
        active: whether masks are drawn (default True).
    Raises:
        ValueError/TypeError: if ``p`` is not a number in [0, 1).
    """

    def __init__(self, p: float = 0.5, active: bool = True) -> None:
        super().__init__()
        self.p = check_rate("p", p)
        self.active = bool(active)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active or self.p == 0.0:
            return x
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}, active={self.active}"


def to_mc_dropout(model: nn.Module) -> nn.Module:
    """Replace every ``nn.Dropout`` of ``model`` (recursively, in place) by an :class:`MCDropout`
    with the same rate, so that dropout stays on at prediction.  Returns ``model``.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, child in model.named_children():
        if type(child) is nn.Dropout:
            setattr(model, name, MCDropout(child.p))
        else:
            to_mc_dropout(child)
    return model


def set_mc_dropout(model: nn.Module, active: bool) -> int:
    """Switch every :class:`MCDropout` layer of ``model`` on or off; returns how many were switched.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``active`` is not a bool.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(active, bool):
        raise TypeError(f"active must be a bool, got {type(active).__name__}")
    n = 0
    for m in model.modules():
        if isinstance(m, MCDropout):
            m.active = active
            n += 1
    return n


def bernoulli_mask(shape: Sequence[int], p: float, *, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Draw a dropout mask z of eq. (28): independent elements with P(z = 1) = 1 − p, P(z = 0) = p.

    The draw happens on the CPU with ``generator`` (reproducible on every machine), then moves to
    ``device``.  Returns a tensor of 0s and 1s of the given ``shape``.

    Raises:
        ValueError/TypeError: if ``p`` is not in [0, 1).
    """
    p = check_rate("p", p)
    shape = tuple(int(s) for s in shape)
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return (u >= p).to(device=device, dtype=dtype)


def dropped_weights(W: torch.Tensor, z: torch.Tensor, p: float | None = None) -> torch.Tensor:
    r"""Eq. (28): :math:`\hat{\mathbf W} = \mathbf W\,\mathrm{diag}(\mathbf z)` - column j of W is
    zeroed where :math:`z_j = 0`.

    Args:
        W: weights [K, H] (the layer computes W h).
        z: mask [H] (one mask) or [N, H] (one mask per data point, eq. 30) of 0s and 1s.
        p: if given, the kept columns are scaled by 1/(1 − p) (inverted dropout, as ``nn.Dropout``);
            if ``None``, no scaling (the lecture's Ŵ).
    Returns:
        Ŵ [K, H], or [N, K, H] for per-point masks.
    Raises:
        ValueError: if the mask does not match W's columns or is not made of 0s and 1s.
    """
    check_tensor("W", W, ndim=2)
    check_tensor("z", z, ndim=(1, 2))
    if z.shape[-1] != W.shape[1]:
        raise ValueError(f"z must have {W.shape[1]} elements per mask (the columns of W), got shape {tuple(z.shape)}")
    if not bool(((z == 0) | (z == 1)).all()):
        raise ValueError("z must contain only 0s and 1s (a Bernoulli mask)")
    scale = 1.0 if p is None else 1.0 / (1.0 - check_rate("p", p))
    if z.ndim == 1:
        return W @ torch.diag(z * scale)
    return W.unsqueeze(0) * (z * scale).unsqueeze(1)          # [N, K, H] = W diag(z_i) for each i


class DropoutTwoLayerNet(nn.Module):
    r"""The lecture's :math:`\mathbf f^\omega` with dropout (eq. 28):
    :math:`\hat y = \mathbf W_2\,\mathrm{diag}(\mathbf z_2)\,\sigma(\mathbf W_1\mathrm{diag}(\mathbf z_1)\mathbf x + \mathbf b)`.

    Parameters ``W1`` [H, D], ``b`` [H], ``W2`` [K, H] as in :class:`course_utils.likelihood.TwoLayerNet`.
    Without masks, ``forward`` draws them with :class:`MCDropout` layers (rates ``p1`` on x and
    ``p2`` on h); with explicit masks ``z1`` [N, D] and ``z2`` [N, H] it computes eq. (28) with
    Ŵ = W·diag(z)/(1 − p) (inverted scaling, as ``nn.Dropout``).  Input [N, D] → output [N, K].
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, p1: float = 0.0, p2: float = 0.5,
                 activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh,
                 *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int("d_in", d_in)
        check_int("d_hidden", d_hidden)
        check_int("d_out", d_out)

        def init(rows: int, cols: int) -> torch.Tensor:   # Glorot uniform, as TwoLayerNet
            bound = math.sqrt(6.0 / (rows + cols))
            return (torch.rand(rows, cols, generator=generator) * 2 - 1) * bound

        self.W1 = nn.Parameter(init(d_hidden, d_in))
        self.b = nn.Parameter(torch.zeros(d_hidden))
        self.W2 = nn.Parameter(init(d_out, d_hidden))
        self.drop1, self.drop2 = MCDropout(p1), MCDropout(p2)
        self.activation = activation

    @property
    def p1(self) -> float:
        return self.drop1.p

    @property
    def p2(self) -> float:
        return self.drop2.p

    def forward(self, x: torch.Tensor, z1: torch.Tensor | None = None, z2: torch.Tensor | None = None) -> torch.Tensor:
        if (z1 is None) != (z2 is None):
            raise ValueError("z1 and z2 must be given together (or neither)")
        if z1 is None:
            return self.drop2(self.activation(self.drop1(x) @ self.W1.T + self.b)) @ self.W2.T
        check_same_rows("x", x, "z1", z1)
        check_same_rows("x", x, "z2", z2)
        W1_hat = dropped_weights(self.W1, z1, self.p1)                     # [N, H, D]
        W2_hat = dropped_weights(self.W2, z2, self.p2)                     # [N, K, H]
        h = self.activation(torch.einsum("nhd,nd->nh", W1_hat, x) + self.b)
        return torch.einsum("nkh,nh->nk", W2_hat, h)


class MCDropoutMLP(nn.Module):
    """A fully connected network with an :class:`MCDropout` layer after every hidden layer.

    ``d_in → hidden[0] → … → hidden[-1] → d_out``, activation ``act`` (default ReLU).  With
    ``heteroscedastic=True`` the output has 2·d_out columns: the mean and the log variance of a
    Gaussian (split them with :func:`split_mean_log_var`).  Input [N, d_in] → [N, d_out or 2·d_out].
    """

    def __init__(self, d_in: int, hidden: Sequence[int], d_out: int = 1, p: float = 0.1, *,
                 act: type[nn.Module] = nn.ReLU, heteroscedastic: bool = False, input_dropout: bool = False) -> None:
        super().__init__()
        check_int("d_in", d_in)
        check_int("d_out", d_out)
        if len(hidden) == 0:
            raise ValueError("hidden must list at least one layer width")
        for i, h in enumerate(hidden):
            check_int(f"hidden[{i}]", h)
        p = check_rate("p", p)
        layers: list[nn.Module] = [MCDropout(p)] if input_dropout else []
        widths = [d_in, *hidden]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), act(), MCDropout(p)]
        layers.append(nn.Linear(widths[-1], 2 * d_out if heteroscedastic else d_out))
        self.net = nn.Sequential(*layers)
        self.heteroscedastic = heteroscedastic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------- MC prediction


#: Default largest batch of one pass of :func:`mc_predict`: moderate on the CPU (bounded memory; on a
#: CPU, larger batches bring no further speed-up, see ``benchmarks/mc_predict.py``), large on accelerators.
MC_MAX_ROWS = {"cpu": 8192, "default": 2**18}


def mc_predict(model: nn.Module | Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, T: int, *,
               max_rows: int | None = None, grad: bool = False) -> torch.Tensor:
    r"""MC dropout: the T stochastic outputs :math:`\mathbf f^{\hat\omega_t}(\mathbf x^*)`, t = 1…T, whose
    mean :math:`\frac1T\sum_t \mathbf f^{\hat\omega_t}(\mathbf x^*)` approximates the predictive
    mean of eq. (25) (lecture, slide "Optimization and prediction").

    No Python loop over T: the batch is repeated T times to [T·N, ...] and passed through the
    network once; every row draws its own dropout masks, so the T copies of a data point see T
    independent ω̂_t.  When T·N exceeds ``max_rows`` (the memory budget), the T passes are split
    into chunks of at most ``max_rows`` rows (at least one pass of N rows per chunk).

    Args:
        model: a network whose dropout stays on at prediction (:class:`MCDropout` layers, or
            ``nn.Dropout`` in training mode), or any callable on a batch.
        x: inputs [N, ...].
        T: number of stochastic forward passes (≥ 1).
        max_rows: largest batch passed through the network at once; ``None``: :data:`MC_MAX_ROWS`
            for the device of ``x`` (8192 rows on the CPU, 2^18 elsewhere).
        grad: keep the autograd graph (default: computed under ``torch.no_grad()``).
    Returns:
        [T, N, ...] - the T outputs, on the device and dtype of the model's output.
    Raises:
        ValueError/TypeError: if ``T < 1``, ``max_rows < 1`` or ``x`` is not a tensor with a batch dimension.
    """
    check_int("T", T)
    if max_rows is not None:
        check_int("max_rows", max_rows)
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise TypeError("x must be a torch.Tensor with a leading batch dimension [N, ...]")
    if not callable(model):
        raise TypeError(f"model must be callable (an nn.Module), got {type(model).__name__}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("x must contain at least one data point")
    if max_rows is None:
        max_rows = MC_MAX_ROWS.get(x.device.type, MC_MAX_ROWS["default"])
    per_chunk = max(1, min(T, max_rows // n))
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        outs = []
        for start in range(0, T, per_chunk):
            t = min(per_chunk, T - start)
            xr = x.unsqueeze(0).expand(t, *x.shape).reshape(t * n, *x.shape[1:])
            y = model(xr)
            outs.append(y.reshape(t, n, *y.shape[1:]))
    return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


# ----------------------------------------------------------------------------- dropout as VI


def kl_condition_weight_decay(prior_length_scale: float, p: float, n_data: int, noise_var: float = 1.0) -> float:
    r"""The weight decay λ on a layer's *stored* weights W that makes the KL condition (eq. 33) hold
    for an inverted-dropout layer (``nn.Dropout``, :class:`MCDropout`, :class:`DropoutTwoLayerNet`).

    Such a layer computes :math:`\mathbf W\,\mathrm{diag}(\mathbf z)/(1-p)`, so its variational
    distribution :math:`q_\phi(\hat{\mathbf W}) = \mathbf M\,\mathrm{diag}(\mathbf z)` has the mean
    matrix :math:`\mathbf M = \mathbf W/(1-p)`.  With a Gaussian prior :math:`\mathcal N(0, l^{-2})`
    per weight and many units, Gal's (2016) approximation (:func:`dropout_kl`) is

    .. math:: \mathrm{KL}(q_\phi\|p) \approx \frac{(1-p)\,l^2}{2}\|\mathbf M\|^2 - K\mathcal H(p)
              = \frac{l^2}{2(1-p)}\|\mathbf W\|^2 - K\mathcal H(p),

    and eq. (33), :math:`\partial_{\mathbf W} N\lambda\|\mathbf W\|^2 = \partial_{\mathbf W}\mathrm{KL}`
    (for a data term of unit scale), gives

    .. math:: \lambda = \frac{\sigma_\epsilon^2\, l^2}{2N(1-p)} .

    σ²_ε is the observation-noise variance that turns the data term into a log-likelihood: σ²_ε = 1
    when the data term is the mean negative log-likelihood (classification, eq. 30); σ²_ε is the
    noise variance of eq. (14) when it is the halved mean squared error
    :math:`\frac1{2N}\sum_i\|\mathbf y^{(i)}-\hat{\mathbf y}^{(i)}\|^2` (then the VI objective is
    :math:`1/\sigma_\epsilon^2` times N times it, plus the KL).  For the lecture's unscaled
    :math:`\hat{\mathbf W}=\mathbf W\mathrm{diag}(\mathbf z)` (M = W) it would be
    :math:`(1-p)\sigma_\epsilon^2 l^2/(2N)`, smaller by the factor (1 − p)²; for a layer without
    dropout (a bias, p = 0) both are :math:`\sigma_\epsilon^2 l^2/(2N)`.

    Args:
        prior_length_scale: l > 0 (prior standard deviation 1/l).
        p: dropout rate in [0, 1) of the layer's input.
        n_data: N, the number of training points.
        noise_var: σ²_ε > 0 (1 for classification).
    Returns:
        λ as a float.
    Raises:
        ValueError/TypeError naming the bad argument.
    """
    check_positive("prior_length_scale", prior_length_scale)
    p = check_rate("p", p)
    check_int("n_data", n_data)
    check_positive("noise_var", noise_var)
    return noise_var * prior_length_scale**2 / (2.0 * n_data * (1.0 - p))


def dropout_kl(M: torch.Tensor, p: float, prior_length_scale: float) -> torch.Tensor:
    r"""Gal's (2016) approximation of :math:`\mathrm{KL}(q_\phi(\hat{\mathbf W})\|p(\hat{\mathbf W}))` for one
    dropout layer (the right-hand side of eq. 33), up to an additive constant:

    .. math:: \mathrm{KL} \approx \frac{(1-p)\,l^2}{2}\|\mathbf M\|^2 - K\,\mathcal H(p),\qquad
              \mathcal H(p) = -p\log p - (1-p)\log(1-p),

    for :math:`q_\phi(\hat{\mathbf W}) = \mathbf M\,\mathrm{diag}(\mathbf z)`, :math:`z_j\sim\mathrm{Bernoulli}(1-p)`, and
    the prior :math:`\mathcal N(0, l^{-2})` per weight.  K is the number of columns of M: the input
    units of the layer, one Bernoulli variable each (``M diag(z)`` zeroes whole columns); 𝓗(p) is
    the entropy of one of them.

    ``M`` is the *mean* matrix [K_out, K] of the variational distribution: for the lecture's
    unscaled dropout M = W, for an inverted-dropout layer (``nn.Dropout``, :class:`MCDropout`),
    which stores W and computes W diag(z)/(1 − p), pass ``M = W / (1 − p)``
    (see :func:`kl_condition_weight_decay`).  Returns a scalar.

    Raises:
        ValueError/TypeError naming the bad argument.
    """
    check_tensor("M", M, ndim=2)
    p = check_rate("p", p)
    check_positive("prior_length_scale", prior_length_scale)
    ent = 0.0 if p == 0.0 else -(p * math.log(p) + (1 - p) * math.log(1 - p))
    return 0.5 * (1 - p) * prior_length_scale**2 * M.pow(2).sum() - M.shape[1] * ent


# ----------------------------------------------------------------------------- heteroscedastic regression


def split_mean_log_var(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a heteroscedastic network's output [..., 2·D] into (mean, log variance), each [..., D]
    (a last dimension of size 1 is squeezed)."""
    check_tensor("out", out, finite=False)
    if out.shape[-1] % 2 != 0:
        raise ValueError(f"out must have an even last dimension (mean and log variance), got shape {tuple(out.shape)}")
    mean, log_var = out.chunk(2, dim=-1)
    if mean.shape[-1] == 1:
        mean, log_var = mean.squeeze(-1), log_var.squeeze(-1)
    return mean, log_var


def heteroscedastic_nll(y: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    r"""The loss of a network that predicts its own noise: the Gaussian negative log-likelihood
    with an input-dependent variance :math:`\hat\sigma^2(\mathbf x) = \exp(s(\mathbf x))`,

    .. math:: -\frac1N\sum_i \log\mathcal N\big(y_i;\hat\mu(\mathbf x_i), \hat\sigma^2(\mathbf x_i)\big)
              = \frac1N\sum_i \Big[\frac{(y_i-\hat\mu_i)^2}{2\hat\sigma_i^2} + \frac{s_i}{2}\Big] + \frac12\log 2\pi .

    (With a constant σ² this is eq. (2) up to scale and constant.)  Predicting s = log σ² keeps
    the variance positive.  ``y``, ``mean``, ``log_var``: the same shape [N] or [N, D] (summed over
    D); returns a scalar.
    """
    check_tensor("y", y, ndim=(1, 2))
    check_tensor("mean", mean, ndim=(1, 2))
    check_tensor("log_var", log_var, ndim=(1, 2))
    if not (y.shape == mean.shape == log_var.shape):
        raise ValueError(f"y, mean and log_var must have the same shape, got {tuple(y.shape)}, "
                         f"{tuple(mean.shape)} and {tuple(log_var.shape)}")
    terms = 0.5 * ((y - mean) ** 2 * torch.exp(-log_var) + log_var + math.log(2 * math.pi))
    return (terms if terms.ndim == 1 else terms.sum(-1)).mean()


# ----------------------------------------------------------------------------- the BCNN


class BCNN(nn.Module):
    r"""The lecture's Bayesian CNN for time-series classification,

    .. math:: \hat{\mathbf y} = \sigma_S(\sigma_R(\sigma_R(\sigma_R(\sigma_R(\mathbf x\hat{\mathbf W}_1 + \mathbf b)
              \hat{\mathbf W}_2)\hat{\mathbf W}_3)\hat{\mathbf W}_4)\mathbf W_5),

    four ReLU layers (σ_R) whose weights are dropped out (an :class:`MCDropout` on each layer's
    input) and a linear output layer W₅ - not dropped out, as in the lecture's formula - followed
    by the softmax σ_S (applied by the loss / the caller: ``forward`` returns logits).  The first three layers are 1-D convolutions (with max
    pooling), the fourth a dense layer.  Input [N, C, L] → logits [N, n_classes].

    Args:
        length: window length L (≥ 8).
        in_channels: C.
        channels: width of the convolutions; ``hidden``: width of the dense layer.
        p: dropout rate in [0, 1); ``kernel_size``: odd kernel size of the convolutions.
    """

    def __init__(self, length: int, in_channels: int = 1, n_classes: int = 2, channels: int = 16,
                 hidden: int = 32, p: float = 0.2, kernel_size: int = 5) -> None:
        super().__init__()
        check_int("length", length, minimum=8)
        check_int("in_channels", in_channels)
        check_int("n_classes", n_classes, minimum=2)
        check_int("channels", channels)
        check_int("hidden", hidden)
        check_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.p = check_rate("p", p)
        pad = kernel_size // 2
        c = channels
        self.features = nn.Sequential(
            MCDropout(p), nn.Conv1d(in_channels, c, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool1d(2),   # Ŵ1
            MCDropout(p), nn.Conv1d(c, c, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool1d(2),             # Ŵ2
            MCDropout(p), nn.Conv1d(c, c, kernel_size, padding=pad), nn.ReLU(), nn.AdaptiveMaxPool1d(4),     # Ŵ3
            nn.Flatten(),
            MCDropout(p), nn.Linear(4 * c, hidden), nn.ReLU(),                                              # Ŵ4
        )
        self.out = nn.Linear(hidden, n_classes)                                                              # W5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def bcnn_objective(model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                   lambdas: Mapping[str, float] | float) -> torch.Tensor:
    r"""Eq. (35), the MC-dropout objective on a minibatch S of size M:

    .. math:: \hat{\mathcal L}(\omega) = -\frac1M\sum_{i\in S}\log p(\mathbf Y_i|\mathbf f^{\hat\omega_i}(\mathbf X_i))
              + \sum_l \lambda_l\|\mathbf W_l\|_2^2 + \sum_l \lambda'_l\|\mathbf b_l\|_2^2,

    with new dropout masks ω̂_i for each data point (drawn by the model's :class:`MCDropout` layers).

    Args:
        model: a classifier returning logits [M, K].
        x: the minibatch [M, ...]; labels: [M] integer classes.
        lambdas: one λ for every parameter, or parameter name → λ (parameters not named are not penalised).
    Returns:
        a scalar tensor.
    """
    check_tensor("x", x)
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor of class indices")
    check_same_rows("x", x, "labels", labels)
    params = dict(model.named_parameters())
    if isinstance(lambdas, (int, float)) and not isinstance(lambdas, bool):
        check_positive("lambdas", lambdas, allow_zero=True)
        lambdas = {name: float(lambdas) for name in params}
    elif not isinstance(lambdas, Mapping):
        raise TypeError(f"lambdas must be a number or a mapping name -> λ, got {type(lambdas).__name__}")
    nll = F.cross_entropy(model(x), labels)                      # -(1/M) Σ log p(Y_i | f^ω̂_i(X_i))
    return nll + l2_penalty(params, lambdas) if lambdas else nll


# ----------------------------------------------------------------------------- training


def fit(model: nn.Module, loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
        x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float = 1e-2, batch_size: int | None = None,
        generator: torch.Generator | None = None, record_every: int = 0,
        record: Callable[[nn.Module], dict[str, float]] | None = None, progress: bool = True,
        desc: str = "training") -> dict[str, list[float]]:
    """Minimise ``loss_fn(model, x_S, y_S)`` with Adam for ``steps`` steps (minibatches S of
    ``batch_size`` drawn with ``generator``; full batch when ``None``), with a ``tqdm`` bar.

    Every ``record_every`` steps ``record(model)`` is called (under ``torch.no_grad()``, the model
    in ``eval()`` mode) and its values are appended to the history.  Returns the history: the
    loss per step (``"loss"``), the recorded step numbers (``"step"``) and the recorded values.
    """
    check_tensor("x", x)
    check_same_rows("x", x, "y", y)
    check_int("steps", steps)
    check_positive("lr", lr)
    if batch_size is not None:
        check_int("batch_size", batch_size)
    check_int("record_every", record_every, minimum=0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "step": []}
    n = x.shape[0]
    model.train()
    for step in tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False):
        if batch_size is None or batch_size >= n:
            xb, yb = x, y
        else:
            idx = torch.randint(n, (batch_size,), generator=generator).to(x.device)
            xb, yb = x[idx], y[idx]
        opt.zero_grad()
        loss = loss_fn(model, xb, yb)
        loss.backward()
        opt.step()
        history["loss"].append(float(loss.detach()))
        if record is not None and record_every and (step % record_every == 0 or step == 1):
            model.eval()
            with torch.no_grad():
                for k, v in record(model).items():
                    history.setdefault(k, []).append(float(v))
            history["step"].append(step)
            model.train()
    model.eval()
    return history
