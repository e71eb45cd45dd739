"""Bayesian neural networks by variational inference: a Bayesian linear layer with a Gaussian
mean-field posterior, sampled by the reparametrization trick or the local reparametrization
trick, and Bayes by Backprop (Blundell et al. 2015) with the minibatch estimator of eq. (26).
Also a NUTS reference posterior for the same network, from Pyro.

Shapes: N data points, M in a minibatch, S samples of the weights, D_in / D_out features.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F
from tqdm.auto import tqdm

from course_utils._checks import check_int, check_positive, check_regression_data, check_tensor
from course_utils.vi import minibatch_elbo_loss, standard_normal

__all__ = ["BayesLinear", "BNN", "bayes_by_backprop", "predictive_samples", "minibatch_gradients",
           "nuts_posterior", "mlp_forward"]


def _inverse_softplus(x: float) -> float:
    return x + math.log(-math.expm1(-x))


class BayesLinear(nn.Module):
    r"""A linear layer with a Gaussian mean-field posterior over its weights and biases,

    .. math:: q_\phi(\mathbf W) = \prod_{j,k}\mathcal N(w_{jk};\mu_{jk},\sigma_{jk}^2),\qquad
              \sigma = \mathrm{softplus}(\rho),\qquad p(\mathbf W) = \prod_{j,k}\mathcal N(w_{jk}; 0, \tau^2),

    (and the same for the bias), φ = (μ, ρ).  Two ways to sample the output for an input x:

    - ``local_reparam=False`` — the **reparametrization trick**: draw W = μ + σ ⊙ ε once per
      forward pass (one W for the whole minibatch, or one per leading sample index when x is
      [S, M, D_in]) and compute x Wᵀ + b.
    - ``local_reparam=True`` — the **local reparametrization trick** (Kingma, Salimans & Welling
      2015): the pre-activation of each data point is Gaussian,
      :math:`a_{nk}\sim\mathcal N(\sum_j x_{nj}\mu_{kj} + \mu_{b,k},\ \sum_j x_{nj}^2\sigma_{kj}^2 + \sigma_{b,k}^2)`,
      so sample it directly, with independent noise for every data point.

    For a single input both give the same output distribution; in a minibatch the local version
    decorrelates the data points and lowers the variance of the gradient estimate.

    Args:
        in_features, out_features: sizes (≥ 1).   prior_var: τ² > 0.
        init_std: initial posterior standard deviation σ (> 0).   local_reparam: the switch.
        generator: seeded ``torch.Generator`` for the initial means.
    """

    def __init__(self, in_features: int, out_features: int, *, prior_var: float = 1.0, init_std: float = 0.05,
                 local_reparam: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int("in_features", in_features)
        check_int("out_features", out_features)
        check_positive("prior_var", prior_var)
        check_positive("init_std", init_std)
        self.in_features, self.out_features = in_features, out_features
        self.prior_var = float(prior_var)
        self.local_reparam = bool(local_reparam)
        bound = math.sqrt(6.0 / (in_features + out_features))     # Glorot-uniform means
        self.weight_mu = nn.Parameter((torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound)
        self.weight_rho = nn.Parameter(torch.full((out_features, in_features), _inverse_softplus(init_std)))
        self.bias_mu = nn.Parameter(torch.zeros(out_features))
        self.bias_rho = nn.Parameter(torch.full((out_features,), _inverse_softplus(init_std)))

    @property
    def weight_std(self) -> torch.Tensor:
        return F.softplus(self.weight_rho)

    @property
    def bias_std(self) -> torch.Tensor:
        return F.softplus(self.bias_rho)

    def kl(self) -> torch.Tensor:
        r"""The closed-form :math:`KL[q_\phi(\omega)\|p(\omega)]` of this layer (a sum over its weights and
        biases of KL between 1-D normals), from ``torch.distributions.kl_divergence``."""
        prior_std = torch.tensor(math.sqrt(self.prior_var), dtype=self.weight_mu.dtype, device=self.weight_mu.device)
        zero = torch.zeros((), dtype=self.weight_mu.dtype, device=self.weight_mu.device)
        prior = Normal(zero, prior_std)
        return (kl_divergence(Normal(self.weight_mu, self.weight_std), prior).sum()
                + kl_divergence(Normal(self.bias_mu, self.bias_std), prior).sum())

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x`` [M, D_in] → [M, D_out], or [S, M, D_in] → [S, M, D_out] (S independent weight draws)."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.in_features:
            raise ValueError(f"x must be [M, {self.in_features}] or [S, M, {self.in_features}], got {tuple(x.shape)}")
        if self.local_reparam:
            mean = x @ self.weight_mu.mT + self.bias_mu
            var = (x * x) @ (self.weight_std**2).mT + self.bias_std**2
            return mean + var.sqrt() * standard_normal(tuple(mean.shape), mean, generator)
        lead = (x.shape[0],) if x.ndim == 3 else ()
        W = self.weight_mu + self.weight_std * standard_normal((*lead, *self.weight_mu.shape), self.weight_mu, generator)
        b = self.bias_mu + self.bias_std * standard_normal((*lead, *self.bias_mu.shape), self.bias_mu, generator)
        return x @ W.mT + (b.unsqueeze(-2) if x.ndim == 3 else b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, prior_var={self.prior_var:g}, "
                f"local_reparam={self.local_reparam}")


class BNN(nn.Module):
    r"""A small Bayesian network, the lecture's model with Bayesian layers:
    :math:`\mathbf f^\omega(\mathbf x) = \mathbf W_2\,\sigma(\mathbf W_1\mathbf x + \mathbf b_1) + \mathbf b_2`
    (more hidden layers if ``d_hidden`` is a tuple), every weight with a mean-field Gaussian q.

    Args:
        d_in, d_out: sizes.   d_hidden: an int or a tuple of hidden sizes.
        prior_var: τ² of every weight's prior N(0, τ²).   init_std: initial σ of q.
        local_reparam: the sampling switch of :class:`BayesLinear` (settable later).
        activation: σ (default tanh).   generator: for the initial means.
    """

    def __init__(self, d_in: int, d_hidden: int | tuple[int, ...], d_out: int, *, prior_var: float = 1.0,
                 init_std: float = 0.05, local_reparam: bool = False,
                 activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        hidden = (d_hidden,) if isinstance(d_hidden, int) else tuple(d_hidden)
        if not hidden:
            raise ValueError("d_hidden must name at least one hidden layer")
        for h in hidden:
            check_int("d_hidden", h)
        sizes = [d_in, *hidden, d_out]
        self.layers = nn.ModuleList(
            BayesLinear(a, b, prior_var=prior_var, init_std=init_std, local_reparam=local_reparam, generator=generator)
            for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation

    @property
    def local_reparam(self) -> bool:
        return self.layers[0].local_reparam

    @local_reparam.setter
    def local_reparam(self, value: bool) -> None:
        for layer in self.layers:
            layer.local_reparam = bool(value)

    def kl(self) -> torch.Tensor:
        """KL[q‖p(ω)] of the whole network (closed form, summed over layers)."""
        return sum(layer.kl() for layer in self.layers)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One sample of f^ω(x): ``x`` [M, D_in] → [M, D_out]; [S, M, D_in] → [S, M, D_out]."""
        for i, layer in enumerate(self.layers):
            x = layer(x, generator)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x


def _gaussian_log_lik(out: torch.Tensor, y: torch.Tensor, noise_var: float) -> torch.Tensor:
    """log N(y_i; f(x_i), σ²_ε) per point: out [S, M, 1], y [M] → [S, M]."""
    std = torch.as_tensor(noise_var, dtype=out.dtype, device=out.device).sqrt()
    return Normal(out[..., 0], std).log_prob(y)


def bayes_by_backprop(model: BNN, x: torch.Tensor, y: torch.Tensor, noise_var: float, *, epochs: int,
                      batch_size: int, lr: float = 0.01, kl_weight: float = 1.0, n_samples: int = 1,
                      generator: torch.Generator | None = None, progress: bool = True) -> dict[str, list[float]]:
    r"""Bayes by Backprop: minimise the minibatch estimator of eq. (26),

    .. math:: \hat{\mathcal L}_{MC}(\phi) = -\frac NM\sum_{i\in S}\log\mathcal N\big(y^{(i)};
              f^{g(\phi,\epsilon)}(\mathbf x^{(i)}), \sigma_\epsilon^2\big) + \beta\,KL[q_\phi(\omega)\|p(\omega)],

    with Adam, one KL per step (β = ``kl_weight``, 1 in the lecture) and ``n_samples`` draws of ε
    per step (the model's ``local_reparam`` switch decides how they are drawn).

    Args:
        model: a :class:`BNN` (or a :class:`BayesLinear`) with one output (updated in place).
        x: [N, D_in] inputs.   y: [N] targets.   noise_var: the known σ²_ε > 0.
        epochs, batch_size (M): ≥ 1.   lr: > 0.   kl_weight: β ≥ 0.   n_samples: ≥ 1.
        generator: seeded generator for the minibatches and ε.
    Returns:
        history: ``"loss"`` the eq. (26) loss of each step; ``"epoch_loss"`` its mean per epoch.
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "kl", None)):
        raise TypeError(f"model must be a BNN or BayesLinear (an nn.Module with a kl() method), got {type(model).__name__}")
    check_regression_data(x, y)
    check_positive("noise_var", noise_var)
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_positive("kl_weight", kl_weight, allow_zero=True)
    check_int("n_samples", n_samples)
    N = x.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": []}
    for _ in tqdm(range(epochs), desc="Bayes by Backprop", disable=not progress, leave=False):
        perm = torch.randperm(N, generator=generator).to(x.device)
        losses = []
        for idx in perm.split(batch_size):
            opt.zero_grad()
            out = model(x[idx].expand(n_samples, -1, -1), generator)
            loss = minibatch_elbo_loss(_gaussian_log_lik(out, y[idx], noise_var), N, model.kl(), kl_weight)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history["loss"].extend(losses)
        history["epoch_loss"].append(sum(losses) / len(losses))
    return history


@torch.no_grad()
def predictive_samples(model: nn.Module, x: torch.Tensor, n_samples: int, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Samples :math:`\mathbf f^{\omega_t}(\mathbf x^*)`, ω_t ~ q_φ(ω), t = 1..T, for the approximate
    predictive of eq. (25): mean over t is the predictive mean, variance over t the epistemic part
    (add σ²_ε for the predictive variance).  ``x`` [M, D_in] → [T, M, D_out]."""
    check_tensor("x", x, ndim=2)
    check_int("n_samples", n_samples)
    return model(x.expand(n_samples, -1, -1), generator)


def minibatch_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise_var: float, batch_size: int,
                        n_repeats: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Independent draws of the gradient of the data term of eq. (26),
    :math:`-\frac NM\sum_{i\in S}\nabla_\phi\log p(y^{(i)}|f^{g(\phi,\epsilon)}(\mathbf x^{(i)}))`,
    each with a fresh random index set S of size M (without replacement) and fresh ε, sampled
    the way the model's ``local_reparam`` switch says.  Their variance is the estimator's (the KL
    term is deterministic and adds none).

    Returns:
        [n_repeats, P]: one flattened gradient over all P variational parameters per row.
    """
    check_regression_data(x, y)
    check_positive("noise_var", noise_var)
    check_int("batch_size", batch_size)
    check_int("n_repeats", n_repeats)
    N = x.shape[0]
    if batch_size > N:
        raise ValueError(f"batch_size must be <= the number of data points {N}, got {batch_size}")
    params = list(model.parameters())
    grads = []
    for _ in range(n_repeats):
        idx = torch.randperm(N, generator=generator)[:batch_size].to(x.device)
        out = model(x[idx].unsqueeze(0), generator)
        loss = -(N / batch_size) * _gaussian_log_lik(out, y[idx], noise_var).sum()
        g = torch.autograd.grad(loss, params)
        grads.append(torch.cat([gi.reshape(-1) for gi in g]))
    return torch.stack(grads)


# ----------------------------------------------------------------------------- NUTS reference


def mlp_forward(params: dict[str, torch.Tensor], x: torch.Tensor,
                activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh) -> torch.Tensor:
    r""":math:`\mathbf f^\omega(\mathbf x) = \mathbf W_2\,\sigma(\mathbf W_1\mathbf x + \mathbf b_1) + \mathbf b_2` for
    S posterior samples at once.  ``params``: ``W1`` [S, H, D_in], ``b1`` [S, H], ``W2`` [S, 1, H],
    ``b2`` [S, 1] (as returned by :func:`nuts_posterior`); ``x`` [M, D_in] → [S, M]."""
    h = activation(x @ params["W1"].mT + params["b1"].unsqueeze(-2))
    return (h @ params["W2"].mT + params["b2"].unsqueeze(-2))[..., 0]


def nuts_posterior(x: torch.Tensor, y: torch.Tensor, *, d_hidden: int, noise_var: float, prior_var: float = 1.0,
                   num_samples: int = 300, warmup_steps: int = 150, max_tree_depth: int = 6, map_steps: int = 1000,
                   seed: int = 0, progress: bool = True,
                   activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh) -> dict[str, torch.Tensor]:
    r"""A reference posterior p(ω|X, Y) of the one-hidden-layer network of :func:`mlp_forward` with
    the prior N(0, τ²) on every weight and bias and the likelihood N(y; f^ω(x), σ²_ε), sampled by
    Pyro's No-U-Turn sampler (one chain, seeded with ``pyro.set_rng_seed``).

    The chain starts at a MAP estimate (``map_steps`` of Adam on the same log density, from a
    seeded random start), so that a short warm-up (step size and diagonal mass matrix adaptation)
    suffices; ``max_tree_depth`` caps the trajectory at 2^depth leapfrog steps to bound the cost.
    Pyro's own progress bar is off (``disable_progbar``); with ``progress`` a tqdm bar counts the
    warm-up and the samples.

    Returns:
        ``W1`` [S, H, D_in], ``b1`` [S, H], ``W2`` [S, 1, H], ``b2`` [S, 1] (S = ``num_samples``).
    """
    import pyro
    from pyro.infer import MCMC, NUTS

    check_regression_data(x, y)
    check_int("d_hidden", d_hidden)
    check_positive("noise_var", noise_var)
    check_positive("prior_var", prior_var)
    check_int("num_samples", num_samples)
    check_int("warmup_steps", warmup_steps)
    check_int("max_tree_depth", max_tree_depth)
    check_int("map_steps", map_steps, minimum=0)
    D = x.shape[1]
    shapes = {"W1": (d_hidden, D), "b1": (d_hidden,), "W2": (1, d_hidden), "b2": (1,)}

    def potential(p: dict[str, torch.Tensor]) -> torch.Tensor:
        # U(ω) = −log p(ω) − log p(Y|X, ω) + const, the energy NUTS samples exp(−U) from
        f = mlp_forward({k: v.unsqueeze(0) for k, v in p.items()}, x, activation)[0]
        return 0.5 * sum((v * v).sum() for v in p.values()) / prior_var + 0.5 * ((f - y) ** 2).sum() / noise_var

    pyro.set_rng_seed(seed)
    g = torch.Generator().manual_seed(seed)
    init = {k: (0.5 * torch.randn(s, generator=g, dtype=x.dtype)).to(x.device).requires_grad_(True)
            for k, s in shapes.items()}
    opt = torch.optim.Adam(list(init.values()), lr=0.02)
    for _ in range(map_steps):
        opt.zero_grad()
        potential(init).backward()
        opt.step()
    init = {k: v.detach() for k, v in init.items()}
    bar = tqdm(total=num_samples + warmup_steps, desc="NUTS", disable=not progress, leave=False)
    kernel = NUTS(potential_fn=potential, max_tree_depth=max_tree_depth)
    mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=warmup_steps, initial_params=init,
                disable_progbar=True, hook_fn=lambda *_: bar.update(1))
    mcmc.run()
    bar.close()
    return {k: v.detach() for k, v in mcmc.get_samples().items()}
