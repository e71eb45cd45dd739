"""Uncertainty from T stochastic forward passes: the aleatoric/epistemic decomposition, proper
scores and calibration (lecture, slide "Sources of uncertainty", and the BCNN application).

Shapes: T forward passes (MC-dropout samples, ensemble members, ...), N inputs, K classes,
D regression outputs.  Everything is computed on the device and dtype of the inputs.

* :func:`decompose_regression` - (1/T)Σ σ̂²_t (aleatoric) + (1/T)Σ (μ̂_t − μ̄)² (epistemic);
* :func:`decompose_classification` - (1/T)Σ diag(p̂_t) − p̂_t p̂_tᵀ (aleatoric) +
  (1/T)Σ (p̂_t − p̄)(p̂_t − p̄)ᵀ (epistemic);
* :func:`entropy_decomposition` - H[p̄] = E_t H[p̂_t] (aleatoric) + I (mutual information, epistemic);
* :func:`class_mean_std` - the lecture's μ̂_Leak and σ̂_Leak;
* :func:`gaussian_nll`, :func:`predictive_entropy`, :func:`reliability_diagram`,
  :func:`expected_calibration_error`, :func:`decision_cost`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from course_utils._checks import check_int, check_positive, check_tensor

__all__ = [
    "EntropyDecomposition", "Reliability", "check_probabilities", "class_mean_std", "decision_cost",
    "decompose_classification", "decompose_regression", "entropy_decomposition", "expected_calibration_error",
    "gaussian_nll", "predictive_entropy", "reliability_diagram",
]


def _prob_tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-4


def check_probabilities(name: str, probs: torch.Tensor, *, ndim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Check that ``probs`` holds probability vectors along its last dimension: non-negative,
    summing to one (to float round-off).  Raises ValueError/TypeError naming ``name``."""
    check_tensor(name, probs, ndim=ndim)
    if probs.shape[-1] < 2:
        raise ValueError(f"{name} must have at least 2 classes in its last dimension, got shape {tuple(probs.shape)}")
    if bool((probs < 0).any()):
        raise ValueError(f"{name} must be non-negative (probabilities), found negative entries")
    if not torch.allclose(probs.sum(-1), torch.ones((), dtype=probs.dtype, device=probs.device), atol=_prob_tol(probs.dtype), rtol=0):
        raise ValueError(f"{name} must sum to one along the last dimension (apply softmax to logits)")
    return probs


def _check_labels(labels: torch.Tensor, n: int, k: int) -> None:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.ndim != 1:
        raise TypeError("labels must be a 1-D integer tensor of class indices")
    if labels.shape[0] != n:
        raise ValueError(f"labels must have one entry per row of probs ({n}), got {labels.shape[0]}")
    if bool((labels < 0).any()) or bool((labels >= k).any()):
        raise ValueError(f"labels must lie in [0, {k}), the number of classes of probs")


# ----------------------------------------------------------------------------- decompositions


def decompose_regression(mus: torch.Tensor, vars: torch.Tensor, *, full: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The lecture's split of the predictive variance for regression (slide "Sources of uncertainty"):

    .. math:: \underbrace{\frac1T\sum_{t=1}^T \mathrm{diag}(\hat{\boldsymbol\sigma}_t^2)}_{\text{aleatoric}}
              + \underbrace{\frac1T\sum_{t=1}^T (\hat{\boldsymbol\mu}_t - \bar{\boldsymbol\mu})^{\otimes 2}}_{\text{epistemic}},
              \qquad \bar{\boldsymbol\mu} = \frac1T\sum_t\hat{\boldsymbol\mu}_t .

    Their sum is exactly the variance of the mixture (1/T)Σ_t N(μ̂_t, σ̂²_t) - the law of total
    variance with the 1/T (not 1/(T−1)) average.

    Args:
        mus: [T, N] or [T, N, D] predicted means μ̂_t.
        vars: the predicted variances σ̂²_t, same shape, ≥ 0.
        full: for [T, N, D] inputs, return [N, D, D] covariance matrices instead of their diagonals.
    Returns:
        (aleatoric, epistemic), each [N] (or [N, D], or [N, D, D] with ``full``).
    Raises:
        ValueError/TypeError: shapes differ, negative or non-finite variances, or fewer than 1 pass.
    """
    check_tensor("mus", mus, ndim=(2, 3))
    check_tensor("vars", vars, ndim=(2, 3))
    if mus.shape != vars.shape:
        raise ValueError(f"mus and vars must have the same shape [T, N(, D)], got {tuple(mus.shape)} and {tuple(vars.shape)}")
    if bool((vars < 0).any()):
        raise ValueError("vars must be non-negative (predicted variances σ̂²_t)")
    dev = mus - mus.mean(0)
    if full and mus.ndim == 3:
        aleatoric = torch.diag_embed(vars.mean(0))
        epistemic = torch.einsum("tnd,tne->nde", dev, dev) / mus.shape[0]
        return aleatoric, epistemic
    return vars.mean(0), dev.pow(2).mean(0)


def decompose_classification(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The lecture's split of the predictive covariance of a one-hot label y* (slide "Sources of
    uncertainty", after Kwon et al. 2018):

    .. math:: \underbrace{\frac1T\sum_{t=1}^T \mathrm{diag}(\hat{\mathbf p}_t) - \hat{\mathbf p}_t^{\otimes 2}}_{\text{aleatoric}}
              + \underbrace{\frac1T\sum_{t=1}^T (\hat{\mathbf p}_t - \bar{\mathbf p})^{\otimes 2}}_{\text{epistemic}}
              = \mathrm{diag}(\bar{\mathbf p}) - \bar{\mathbf p}^{\otimes 2},

    the right-hand side being the covariance of y* under the MC predictive p̄ = (1/T)Σ p̂_t (the
    law of total variance, exact).

    Args:
        probs: [T, N, K] class probabilities p̂_t of T passes (rows sum to one).
    Returns:
        (aleatoric, epistemic), each [N, K, K].
    Raises:
        ValueError/TypeError: if ``probs`` is not [T, N, K] or its rows are not probabilities.
    """
    check_probabilities("probs", probs, ndim=3)
    T = probs.shape[0]
    aleatoric = torch.diag_embed(probs.mean(0)) - torch.einsum("tnk,tnl->nkl", probs, probs) / T
    dev = probs - probs.mean(0)
    epistemic = torch.einsum("tnk,tnl->nkl", dev, dev) / T
    return aleatoric, epistemic


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    r"""Entropy :math:`\mathcal H[\mathbf p] = -\sum_k p_k\log p_k` (nats, 0·log 0 = 0) of the
    probability vectors along the last dimension.  ``probs`` [..., K] → [...]."""
    check_probabilities("probs", probs)
    return -torch.special.xlogy(probs, probs).sum(-1)


class EntropyDecomposition(NamedTuple):
    """H[p̄] (total) = expected entropy (aleatoric) + mutual information (epistemic), each [N]."""

    total: torch.Tensor
    aleatoric: torch.Tensor
    epistemic: torch.Tensor


def entropy_decomposition(probs: torch.Tensor) -> EntropyDecomposition:
    r"""The information-theoretic split of the predictive entropy:

    .. math:: \underbrace{\mathcal H[\bar{\mathbf p}]}_{\text{total}}
              = \underbrace{\frac1T\sum_t \mathcal H[\hat{\mathbf p}_t]}_{\text{aleatoric}}
              + \underbrace{\mathcal I[y^*, \omega]}_{\text{epistemic}},

    where the mutual information I between the label and the weights equals
    (1/T)Σ_t KL(p̂_t ‖ p̄) ≥ 0.  ``probs``: [T, N, K] → three tensors [N].
    """
    check_probabilities("probs", probs, ndim=3)
    total = predictive_entropy(probs.mean(0))
    aleatoric = predictive_entropy(probs).mean(0)
    return EntropyDecomposition(total, aleatoric, (total - aleatoric).clamp_min(0.0))


def class_mean_std(probs: torch.Tensor, c: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The lecture's empirical mean and standard deviation of one class probability over T passes
    (for the leak class c₁: μ̂_Leak and σ̂_Leak):

    .. math:: \hat\mu = \frac1T\sum_t p(y^*=c\,|\,\mathbf x^*,\hat\omega_t), \qquad
              \hat\sigma = \sqrt{\frac1T\sum_t [p(y^*=c\,|\,\mathbf x^*,\hat\omega_t) - \hat\mu]^2}.

    σ̂² is the (c, c) entry of the epistemic part of :func:`decompose_classification`.
    ``probs``: [T, N, K]; returns (μ̂, σ̂), each [N].
    """
    check_probabilities("probs", probs, ndim=3)
    if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < probs.shape[-1]:
        raise ValueError(f"c must be a class index in [0, {probs.shape[-1]}), got {c!r}")
    pc = probs[..., c]
    mu = pc.mean(0)
    return mu, (pc - mu).pow(2).mean(0).sqrt()


# ----------------------------------------------------------------------------- scores and calibration


def gaussian_nll(y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Gaussian negative log-likelihood :math:`-\log\mathcal N(y;\mu,\sigma^2)
    = \frac12\log(2\pi\sigma^2) + \frac{(y-\mu)^2}{2\sigma^2}` (nats), elementwise over tensors of
    the same shape; ``reduction`` "mean" (default), "sum" or "none".

    Raises:
        ValueError: shapes differ, ``var`` not positive, unknown ``reduction``.
    """
    check_tensor("y", y)
    check_tensor("mean", mean)
    check_tensor("var", var)
    if not (y.shape == mean.shape == var.shape):
        raise ValueError(f"y, mean and var must have the same shape, got {tuple(y.shape)}, {tuple(mean.shape)}, {tuple(var.shape)}")
    if bool((var <= 0).any()):
        raise ValueError("var must be positive (a predictive variance)")
    if reduction not in {"mean", "sum", "none"}:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    nll = 0.5 * (torch.log(2 * math.pi * var) + (y - mean) ** 2 / var)
    return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll


class Reliability(NamedTuple):
    """Reliability-diagram data: per confidence bin (n_bins), the mean confidence, the accuracy,
    the number of predictions, and the bin edges (n_bins + 1).  Empty bins hold NaN."""

    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor
    edges: torch.Tensor


def reliability_diagram(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 10) -> Reliability:
    """Bin the predictions by confidence (the largest class probability) into ``n_bins`` equal bins
    of [0, 1] (right-closed, the first also closed on the left) and compare each bin's mean
    confidence with its accuracy (Guo et al. 2017).  A calibrated model lies on the diagonal.

    Args:
        probs: [N, K] predicted probabilities (e.g. the MC mean p̄); labels: [N] true classes.
        n_bins: number of bins ≥ 1.
    Returns:
        a :class:`Reliability` with tensors on the device of ``probs``.
    """
    check_probabilities("probs", probs, ndim=2)
    _check_labels(labels, probs.shape[0], probs.shape[1])
    check_int("n_bins", n_bins)
    conf, pred = probs.max(-1)
    correct = (pred == labels).to(probs.dtype)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype, device=probs.device)
    idx = (torch.bucketize(conf, edges, right=False) - 1).clamp(0, n_bins - 1)
    count = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, idx, torch.ones_like(conf))
    conf_sum = torch.zeros_like(count).index_add_(0, idx, conf)
    acc_sum = torch.zeros_like(count).index_add_(0, idx, correct)
    nan = torch.full_like(count, float("nan"))
    safe = count.clamp_min(1)
    return Reliability(torch.where(count > 0, conf_sum / safe, nan), torch.where(count > 0, acc_sum / safe, nan),
                       count, edges)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 10) -> torch.Tensor:
    r"""Expected calibration error, :math:`\mathrm{ECE} = \sum_b \frac{n_b}{N}\,|\mathrm{acc}_b - \mathrm{conf}_b|`
    over the bins of :func:`reliability_diagram`.  0 for a perfectly calibrated model with
    infinitely many predictions; with finitely many it is biased upwards by the binomial noise of
    acc_b (≈ √(conf_b(1 − conf_b)/n_b) per bin).  ``probs`` [N, K], ``labels`` [N] → scalar.
    """
    rel = reliability_diagram(probs, labels, n_bins)
    gap = torch.where(rel.count > 0, (rel.accuracy - rel.confidence).abs(), torch.zeros_like(rel.count))
    return (rel.count * gap).sum() / rel.count.sum()


def decision_cost(leak_prob: torch.Tensor, labels: torch.Tensor, threshold: float, *, cost_miss: float,
                  cost_false_alarm: float) -> torch.Tensor:
    r"""Mean cost of the rule "go (raise the alarm) when p(leak) ≥ threshold" on labelled data:
    a missed leak costs ``cost_miss``, a false alarm ``cost_false_alarm``, correct decisions 0.

    The Bayes rule minimises the expected cost with the threshold
    :math:`C_{FA}/(C_{FA} + C_{miss})` when p(leak) is calibrated.  ``leak_prob`` [N] in [0, 1],
    ``labels`` [N] (1 = leak); returns a scalar (cost per decision).
    """
    check_tensor("leak_prob", leak_prob, ndim=1)
    if bool((leak_prob < 0).any()) or bool((leak_prob > 1).any()):
        raise ValueError("leak_prob must lie in [0, 1]")
    _check_labels(labels, leak_prob.shape[0], 2)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    check_positive("cost_miss", cost_miss, allow_zero=True)
    check_positive("cost_false_alarm", cost_false_alarm, allow_zero=True)
    go = leak_prob >= threshold
    leak = labels == 1
    cost = cost_miss * (leak & ~go).to(leak_prob.dtype) + cost_false_alarm * (~leak & go).to(leak_prob.dtype)
    return cost.mean()
