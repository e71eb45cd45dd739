"""Variational auto-encoders: the VAE, the conditional VAE and the semi-conditional VAE of the lecture.

The generative story is eq. (27),

    p_θ(x) = ∫ p_θ(x|z) p_θ(z) dz,

with a recognition model q_φ(z|x) ≈ p_θ(z|x).  The three models differ only in what is conditioned
on what (c: a class label; m: sparse measurements of x):

    model   recognition q_φ     prior p_θ          decoder p_θ
    VAE     q_φ(z|x)            N(0, I)            p_θ(x|z)
    CVAE    q_φ(z|x, c)         p_θ(z|c)           p_θ(x|c, z)
    SCVAE   q_φ(z|x)            p_θ(z|m)           p_θ(x|m, z)

and each is trained by maximising its ELBO (the lecture's L_VAE, L_CVAE, L_SCVAE)

    L(θ, φ, x) = E_{q_φ(z|x,·)}[log p_θ(x|·, z)] − KL[q_φ(z|x,·) ‖ p_θ(z|·)],

i.e. by minimising :func:`loss`, the negative ELBO split into its reconstruction and KL terms.
(The lecture's slides print "+ KL" in L_CVAE and L_SCVAE; the ELBO always *subtracts* the KL, as
in L_VAE.)  The expectation is estimated with L = ``n_samples`` reparametrised draws
z = μ_φ + σ_φ ⊙ ε, ε ~ N(0, I) (default L = 1; the reparametrization trick of notebook 5).

Shapes: data x are ``[B, x_dim]`` (images are flattened: ``[B, H, W]`` is accepted and reshaped);
conditions c are ``[B, c_dim]`` floats, or ``[B]`` integer class labels for :class:`CVAE`
(one-hot encoded inside).  Every function computes on the device and dtype of its inputs.
"""
from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from course_utils._checks import check_int, check_positive, check_tensor

Condition = torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None


class NegativeELBO(NamedTuple):
    """The negative ELBO (``total``) and its two parts, each averaged over the batch (nats per example).

    ``total = reconstruction + beta · kl`` with ``reconstruction = −E_q[log p_θ(x|·, z)]`` and
    ``kl = KL[q_φ(z|x, ·) ‖ p_θ(z|·)]``.
    """
    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def kl_diagonal_gaussians(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor | None = None,
                          logvar_p: torch.Tensor | None = None) -> torch.Tensor:
    """KL[q ‖ p] of two diagonal Gaussians in closed form, summed over the last axis.

        KL = ½ Σ_j [ log σ²_p − log σ²_q + (σ²_q + (μ_q − μ_p)²) / σ²_p − 1 ]

    The KL term of L_VAE; with ``mu_p = logvar_p = None`` the prior is N(0, I) and this is the
    familiar −½ Σ (1 + log σ² − μ² − σ²).

    Args:
        mu_q, logvar_q: ``[..., z_dim]`` mean and log-variance of q.
        mu_p, logvar_p: the same for p (broadcastable), or None for N(0, I).
    Returns:
        ``[...]`` (one KL per example).
    Raises:
        ValueError: naming the argument, for non-finite inputs or shapes that do not broadcast.
    """
    check_tensor("mu_q", mu_q)
    check_tensor("logvar_q", logvar_q)
    if mu_q.shape != logvar_q.shape:
        raise ValueError(f"mu_q and logvar_q must have the same shape, got {tuple(mu_q.shape)} and {tuple(logvar_q.shape)}")
    mu_p = torch.zeros_like(mu_q) if mu_p is None else check_tensor("mu_p", mu_p)
    logvar_p = torch.zeros_like(logvar_q) if logvar_p is None else check_tensor("logvar_p", logvar_p)
    try:
        torch.broadcast_shapes(mu_q.shape, mu_p.shape, logvar_p.shape)
    except RuntimeError as err:
        raise ValueError(f"mu_p and logvar_p must broadcast with mu_q {tuple(mu_q.shape)}, got "
                         f"{tuple(mu_p.shape)} and {tuple(logvar_p.shape)}") from err
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0).sum(-1)


def _randn(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal draws with ``like``'s device and dtype, from ``generator`` when given (on its own device)."""
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    eps = torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype)
    return eps.to(like.device)


def reparametrize(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + σ ⊙ ε, ε ~ N(0, I): a differentiable draw from N(μ, diag σ²) (the reparametrization trick).

    Returns ``[B, z_dim]``, or ``[n_samples, B, z_dim]`` when ``n_samples`` is given.
    """
    shape = tuple(mu.shape) if n_samples is None else (check_int("n_samples", n_samples), *mu.shape)
    return mu + (0.5 * logvar).exp() * _randn(shape, mu, generator)


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


class LatentVariableModel(nn.Module):
    """The common machinery of :class:`VAE`, :class:`CVAE` and :class:`SCVAE` (MLP encoder, prior and decoder).

    Args:
        x_dim: size of a (flattened) data point.
        z_dim: size of the latent z.
        hidden: hidden-layer widths of the encoder (the decoder and the prior network use the reverse).
        c_dim: size of the condition (0 for none).
        likelihood: ``"bernoulli"`` (p_θ(x|z) a product of Bernoullis with logits from the decoder,
            used with pixel intensities in [0, 1]) or ``"gaussian"`` (N(mean, σ²) per output, σ
            learned per output).
        encoder_uses_c, prior_uses_c, decoder_uses_c: what is conditioned on c.
        activation: the hidden activation (a module class, default ``nn.ReLU``).
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: tuple[int, ...] = (400,), *, c_dim: int = 0,
                 likelihood: str = "bernoulli", encoder_uses_c: bool = False, prior_uses_c: bool = False,
                 decoder_uses_c: bool = False, activation: type[nn.Module] = nn.ReLU, init_sigma: float = 0.1):
        super().__init__()
        check_int("x_dim", x_dim)
        check_int("z_dim", z_dim)
        check_int("c_dim", c_dim, minimum=0)
        if not isinstance(hidden, (tuple, list)) or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a tuple of positive ints, got {hidden!r}")
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if (encoder_uses_c or prior_uses_c or decoder_uses_c) and c_dim == 0:
            raise ValueError("c_dim must be positive for a conditional model")
        check_positive("init_sigma", init_sigma)
        self.x_dim, self.z_dim, self.c_dim, self.likelihood = x_dim, z_dim, c_dim, likelihood
        self.encoder_uses_c, self.prior_uses_c, self.decoder_uses_c = encoder_uses_c, prior_uses_c, decoder_uses_c
        hidden = tuple(hidden)
        h_enc = hidden[-1] if hidden else x_dim + c_dim * encoder_uses_c
        self.encoder = _mlp([x_dim + c_dim * encoder_uses_c, *hidden], activation)
        self.encoder_head = nn.Linear(h_enc, 2 * z_dim)                      # → (μ_φ, log σ²_φ)
        dec_hidden = tuple(reversed(hidden))
        self.decoder = _mlp([z_dim + c_dim * decoder_uses_c, *dec_hidden], activation)
        self.decoder_head = nn.Linear(dec_hidden[-1] if dec_hidden else z_dim + c_dim * decoder_uses_c, x_dim)
        if prior_uses_c:
            self.prior_net = _mlp([c_dim, *dec_hidden], activation)
            self.prior_head = nn.Linear(dec_hidden[-1] if dec_hidden else c_dim, 2 * z_dim)   # → (μ_θ, log σ²_θ)
        if likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.full((x_dim,), math.log(init_sigma)))

    # ------------------------------------------------------------------ the three distributions
    def _param(self) -> torch.Tensor:
        return self.encoder_head.weight

    def flatten(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """``[B, ...]`` → ``[B, x_dim]`` (checked)."""
        check_tensor(name, x)
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape [B, x_dim] (or [B, H, W, ...]), got {tuple(x.shape)}")
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.x_dim:
            raise ValueError(f"{name} must have {self.x_dim} values per example, got {x.shape[1]}")
        return x

    def condition(self, c: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor | None:
        """Check c and bring it to ``[batch, c_dim]`` floats on ``like``'s device (labels are one-hot encoded)."""
        if self.c_dim == 0:
            if c is not None:
                raise ValueError("c must be None for an unconditional model")
            return None
        if c is None:
            raise ValueError(f"c is required: this model is conditioned on a [B, {self.c_dim}] condition")
        if not isinstance(c, torch.Tensor):
            raise TypeError(f"c must be a torch.Tensor, got {type(c).__name__}")
        if not c.is_floating_point():
            if c.ndim != 1 or int(c.min()) < 0 or int(c.max()) >= self.c_dim:
                raise ValueError(f"c given as labels must be [B] integers in 0 … {self.c_dim - 1}")
            c = F.one_hot(c.long(), self.c_dim)
        c = c.reshape(c.shape[0], -1).to(device=like.device, dtype=like.dtype)
        if c.shape[1] != self.c_dim:
            raise ValueError(f"c must have {self.c_dim} values per example, got {c.shape[1]}")
        if c.shape[0] != batch:
            raise ValueError(f"c must have one row per example ({batch}), got {c.shape[0]}")
        return c

    def encode(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The recognition model q_φ(z|x[, c]): its mean and log-variance, each ``[B, z_dim]``."""
        x = self.flatten(x)
        c = self.condition(c, x.shape[0], x)
        inp = torch.cat([x, c], -1) if self.encoder_uses_c else x
        mu, logvar = self.encoder_head(self.encoder(inp)).chunk(2, dim=-1)
        return mu, logvar

    def prior(self, c: torch.Tensor | None = None, n: int | None = None, *, like: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior p_θ(z[|c]): mean and log-variance ``[B, z_dim]`` (N(0, I) when not conditioned; give ``n``)."""
        like = self._param() if like is None else like
        if self.prior_uses_c:
            c = self.condition(c, c.shape[0] if isinstance(c, torch.Tensor) else 0, like)
            mu, logvar = self.prior_head(self.prior_net(c)).chunk(2, dim=-1)
            return mu, logvar
        batch = n if n is not None else (c.shape[0] if isinstance(c, torch.Tensor) else None)
        if batch is None:
            raise ValueError("n (the number of draws) is required for an unconditional prior")
        z = torch.zeros(batch, self.z_dim, device=like.device, dtype=like.dtype)
        return z, z

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's output for ``z`` ``[..., B, z_dim]``: Bernoulli logits or Gaussian means ``[..., B, x_dim]``."""
        check_tensor("z", z)
        if z.shape[-1] != self.z_dim:
            raise ValueError(f"z must have {self.z_dim} values in its last axis, got {z.shape[-1]}")
        if self.decoder_uses_c:
            c = self.condition(c, z.shape[-2], z)
            z = torch.cat([z, c.expand(*z.shape[:-1], self.c_dim)], -1)
        return self.decoder_head(self.decoder(z))

    def log_likelihood(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """log p_θ(x|z, ·) summed over the outputs: ``x`` ``[B, x_dim]``, decoder output ``[..., B, x_dim]`` → ``[..., B]``."""
        if self.likelihood == "bernoulli":
            # Bernoulli log-likelihood with logits; also defined for intensities in [0, 1] (the usual recipe)
            return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        return D.Normal(out, self._log_sigma().exp()).log_prob(x).sum(-1)

    def _log_sigma(self) -> torch.Tensor:
        """log σ_θ of the Gaussian decoder, floored at −7 so that the likelihood stays finite."""
        return self.log_sigma.clamp(min=-7.0)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z, ·] from the decoder output (probabilities for Bernoulli, the means for Gaussian)."""
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def variance(self, out: torch.Tensor) -> torch.Tensor:
        """Var[x|z, ·] from the decoder output: p(1 − p) for Bernoulli, σ_θ² for Gaussian (same shape as ``out``)."""
        if self.likelihood == "bernoulli":
            p = torch.sigmoid(out)
            return p * (1 - p)
        return (2 * self._log_sigma()).exp().expand_as(out)

    @torch.no_grad()
    def init_output_bias(self, x: torch.Tensor) -> "LatentVariableModel":
        """Start the decoder at the data's mean: its output bias is set to logit(x̄) (Bernoulli) or x̄
        (Gaussian), x̄ the per-output mean of ``x`` ``[N, ...]``.  A data-dependent initialisation
        (as in Burda et al.'s IWAE code) that spares the first epochs learning the average image."""
        x = self.flatten(x)
        mean = x.mean(0).to(self.decoder_head.bias.device, self.decoder_head.bias.dtype)
        if self.likelihood == "bernoulli":
            mean = torch.logit(mean.clamp(1e-3, 1 - 1e-3))
        self.decoder_head.bias.copy_(mean)
        return self

    # ------------------------------------------------------------------ conveniences
    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruct x through the mean of q_φ: E[x | z = μ_φ(x)] ``[B, x_dim]``."""
        mu, _ = self.encode(x, c)
        return self.mean(self.decode(mu, c))

    @torch.no_grad()
    def generate(self, c: torch.Tensor | None = None, n: int | None = None, *, n_samples: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw z from the prior p_θ(z[|c]) and return E[x|z, ·]: ``[B, x_dim]`` (or ``[n_samples, B, x_dim]``)."""
        mu, logvar = self.prior(c, n)
        z = reparametrize(mu, logvar, n_samples, generator)
        return self.mean(self.decode(z, c))


class VAE(LatentVariableModel):
    """The VAE: q_φ(z|x), p(z) = N(0, I), p_θ(x|z) (lecture, L_VAE).

    The default is the reference recipe: 784-400-20 MLP with ReLU, Bernoulli decoder on pixel
    intensities (train with Adam, learning rate 1e-3, batch 128).
    """

    def __init__(self, x_dim: int = 784, z_dim: int = 20, hidden: tuple[int, ...] = (400,), *, likelihood: str = "bernoulli",
                 activation: type[nn.Module] = nn.ReLU, init_sigma: float = 0.1):
        super().__init__(x_dim, z_dim, hidden, likelihood=likelihood, activation=activation, init_sigma=init_sigma)


class CVAE(LatentVariableModel):
    """The conditional VAE: q_φ(z|x, c), p_θ(z|c), p_θ(x|c, z) (lecture, L_CVAE).

    ``c`` is a ``[B, c_dim]`` condition or ``[B]`` integer class labels (one-hot encoded).  With
    ``learned_prior=False`` the prior is N(0, I) (the simplification of Sohn et al.'s CVAE that
    many implementations use).
    """

    def __init__(self, x_dim: int = 784, c_dim: int = 10, z_dim: int = 20, hidden: tuple[int, ...] = (400,), *,
                 likelihood: str = "bernoulli", learned_prior: bool = True, activation: type[nn.Module] = nn.ReLU,
                 init_sigma: float = 0.1):
        check_int("c_dim", c_dim)
        super().__init__(x_dim, z_dim, hidden, c_dim=c_dim, likelihood=likelihood, encoder_uses_c=True,
                         prior_uses_c=learned_prior, decoder_uses_c=True, activation=activation, init_sigma=init_sigma)


class SCVAE(LatentVariableModel):
    """The semi-conditional VAE: q_φ(z|x), p_θ(z|m), p_θ(x|m, z) (lecture, L_SCVAE).

    The recognition model sees only the full field x (q_φ(z|x, m) = q_φ(z|x)); the prior and the
    decoder see the measurements m, so that at prediction time — when x is unknown — z is drawn
    from p_θ(z|m) and decoded with m: the spread of the decoded fields is the pixel-wise
    uncertainty of the reconstruction.
    """

    def __init__(self, x_dim: int, m_dim: int, z_dim: int = 16, hidden: tuple[int, ...] = (256,), *,
                 likelihood: str = "gaussian", activation: type[nn.Module] = nn.ReLU, init_sigma: float = 0.1):
        check_int("m_dim", m_dim)
        super().__init__(x_dim, z_dim, hidden, c_dim=m_dim, likelihood=likelihood, encoder_uses_c=False,
                         prior_uses_c=True, decoder_uses_c=True, activation=activation, init_sigma=init_sigma)

    @torch.no_grad()
    def reconstruct(self, m: torch.Tensor, n_samples: int = 100, *, generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruct x from m alone: z_s ~ p_θ(z|m), x̂_s = E[x|m, z_s]; returns the mean and the
        pixel-wise standard deviation of the x̂_s, each ``[B, x_dim]``."""
        check_int("n_samples", n_samples, minimum=2)
        draws = self.generate(m, n_samples=n_samples, generator=generator)
        return draws.mean(0), draws.std(0)

    @torch.no_grad()
    def predictive(self, m: torch.Tensor, n_samples: int = 100, *, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The predictive p_θ(x|m) = ∫ p_θ(x|m, z) p_θ(z|m) dz from S = ``n_samples`` draws z_s ~ p_θ(z|m).

        Its variance splits by the law of total variance (the lecture's regression split,
        :func:`course_utils.uncertainty.decompose_regression`):

            Var[x|m] ≈ (1/S) Σ_s (E[x|m, z_s] − x̄)²   +   (1/S) Σ_s Var[x|m, z_s]
                       (which field: z is unknown)        (the decoder's noise: σ_θ², or p(1 − p))

        Returns ``(mean, std_latent, std_total)``, each ``[B, x_dim]``: the mean x̄, the square
        root of the first term alone (what :meth:`reconstruct` reports) and of the sum.
        """
        from course_utils.uncertainty import decompose_regression

        check_int("n_samples", n_samples, minimum=2)
        mu, logvar = self.prior(m)
        z = reparametrize(mu, logvar, n_samples, generator)
        out = self.decode(z, m)                                              # [S, B, x_dim]
        means = self.mean(out)
        noise, latent = decompose_regression(means, self.variance(out))
        return means.mean(0), latent.sqrt(), (latent + noise).sqrt()


# ----------------------------------------------------------------------------- the objective


def _check_model(model: object) -> LatentVariableModel:
    if not isinstance(model, LatentVariableModel):
        raise TypeError(f"model must be a VAE, CVAE or SCVAE, got {type(model).__name__}")
    return model


def elbo_terms(model: LatentVariableModel, x: torch.Tensor, c: torch.Tensor | None = None, *, n_samples: int = 1,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo estimate of E_q[log p_θ(x|·, z)] and the closed-form KL[q_φ ‖ p_θ], each ``[B]``.

        E_q[log p_θ(x|·, z)] ≈ (1/L) Σ_{l=1..L} log p_θ(x|·, μ_φ + σ_φ ⊙ ε_l),   ε_l ~ N(0, I),  L = n_samples

    Their difference is the ELBO (L_VAE / L_CVAE / L_SCVAE) of each example.  Any L gives an
    unbiased estimate; its variance falls as 1/L (L = 1 is Kingma & Welling's choice for minibatches).
    """
    _check_model(model)
    check_int("n_samples", n_samples)
    x = model.flatten(x)
    mu_q, logvar_q = model.encode(x, c)
    z = reparametrize(mu_q, logvar_q, n_samples, generator)                # the reparametrization trick, [L, B, z_dim]
    rec = model.log_likelihood(x, model.decode(z, c)).mean(0)
    mu_p, logvar_p = model.prior(c, x.shape[0], like=x)
    kl = kl_diagonal_gaussians(mu_q, logvar_q, mu_p, logvar_p)
    return rec, kl


def loss(model: LatentVariableModel, x: torch.Tensor, c: torch.Tensor | None = None, *, beta: float = 1.0,
         n_samples: int = 1, generator: torch.Generator | None = None) -> NegativeELBO:
    """The negative ELBO, averaged over the batch, split into reconstruction and KL (nats per example).

        −L = −E_{q_φ(z|x,·)}[log p_θ(x|·, z)] + β · KL[q_φ(z|x,·) ‖ p_θ(z|·)]      (β = 1: the lecture's L)

    Args:
        model: a :class:`VAE`, :class:`CVAE` or :class:`SCVAE`.
        x: ``[B, x_dim]`` (or ``[B, H, W, …]``).
        c: the condition (class labels or m), None for the VAE.
        beta: weight of the KL term (1 for the ELBO; β-VAE otherwise).
        n_samples: L, the number of draws of ε per example for the reconstruction term (see :func:`elbo_terms`).
        generator: for the draws of ε.
    Returns:
        :class:`NegativeELBO` ``(total, reconstruction, kl)``, scalars.
    Raises:
        TypeError/ValueError naming ``model``, ``x``, ``c`` or ``beta``.
    """
    check_positive("beta", beta, allow_zero=True)
    rec, kl = elbo_terms(model, x, c, n_samples=n_samples, generator=generator)
    reconstruction, kl_mean = -rec.mean(), kl.mean()
    return NegativeELBO(reconstruction + beta * kl_mean, reconstruction, kl_mean)


def iwae_bound(model: LatentVariableModel, x: torch.Tensor, k: int, c: torch.Tensor | None = None, *,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The importance-weighted bound L_k on log p_θ(x[|·]) of each example (Burda et al., 2016).

        L_k = E[ log (1/k) Σ_{j=1..k} p_θ(x|·, z_j) p_θ(z_j|·) / q_φ(z_j|x, ·) ],   z_j ~ q_φ(z|x, ·),

    estimated with one set of k draws.  L_1 is the ELBO, L_k grows with k and tends to log p_θ(x)
    (eq. 27) as k → ∞: ELBO ≤ L_k ≤ log p_θ(x).

    Args:
        model, x, c: as in :func:`loss`.
        k: number of importance samples.
    Returns:
        ``[B]`` (nats per example).  Memory grows as k·B·x_dim: split large sets into batches.
    """
    _check_model(model)
    check_int("k", k)
    x = model.flatten(x)
    mu_q, logvar_q = model.encode(x, c)
    z = reparametrize(mu_q, logvar_q, k, generator)                      # [k, B, z_dim]
    mu_p, logvar_p = model.prior(c, x.shape[0], like=x)
    log_q = D.Normal(mu_q, (0.5 * logvar_q).exp()).log_prob(z).sum(-1)    # [k, B]
    log_prior = D.Normal(mu_p, (0.5 * logvar_p).exp()).log_prob(z).sum(-1)
    log_lik = model.log_likelihood(x, model.decode(z, c))
    return torch.logsumexp(log_lik + log_prior - log_q, dim=0) - math.log(k)


@torch.no_grad()
def quadrature_1d(model: LatentVariableModel, x: torch.Tensor, c: torch.Tensor | None = None, *, z_max: float = 12.0,
                  n_points: int = 24001) -> dict[str, torch.Tensor]:
    """For a model with a 1-D latent: log p_θ(x) (eq. 27), the ELBO and KL[q_φ(z|x) ‖ p_θ(z|x)] by quadrature.

    The integrals over z ∈ [−z_max, z_max] use the rectangle rule on ``n_points`` points (the
    integrands are smooth and vanish at the ends, so this is as accurate as the trapezoidal rule).

        log p_θ(x) = log ∫ p_θ(x|z) p_θ(z) dz
        ELBO       = ∫ q_φ(z|x) [log p_θ(x|z) + log p_θ(z) − log q_φ(z|x)] dz
        KL         = ∫ q_φ(z|x) [log q_φ(z|x) − log p_θ(z|x)] dz,   p_θ(z|x) = p_θ(x|z) p_θ(z) / p_θ(x)

    Returns a dict of ``[B]`` tensors ``log_px``, ``elbo``, ``kl_posterior`` (so that
    log p_θ(x) = ELBO + KL[q ‖ p(z|x)], the identity of notebook 4 for the VAE).
    Raises ValueError if the model's latent is not 1-D.
    """
    _check_model(model)
    if model.z_dim != 1:
        raise ValueError(f"model must have a 1-D latent (z_dim = 1), got z_dim = {model.z_dim}")
    check_positive("z_max", z_max)
    check_int("n_points", n_points, minimum=3)
    x = model.flatten(x)
    z = torch.linspace(-z_max, z_max, n_points, dtype=x.dtype, device=x.device)
    dz = 2 * z_max / (n_points - 1)
    zz = z[:, None, None].expand(-1, x.shape[0], 1)                                   # [G, B, 1]
    mu_p, logvar_p = model.prior(c, x.shape[0], like=x)
    log_joint = model.log_likelihood(x, model.decode(zz, c)) + D.Normal(mu_p[:, 0], (0.5 * logvar_p[:, 0]).exp()).log_prob(zz[..., 0])
    log_px = torch.logsumexp(log_joint, 0) + math.log(dz)
    mu_q, logvar_q = model.encode(x, c)
    log_q = D.Normal(mu_q[:, 0], (0.5 * logvar_q[:, 0]).exp()).log_prob(zz[..., 0])   # [G, B]
    q = log_q.exp() * dz
    elbo = (q * (log_joint - log_q)).sum(0)
    kl = (q * (log_q - (log_joint - log_px))).sum(0)
    return {"log_px": log_px, "elbo": elbo, "kl_posterior": kl}


# ----------------------------------------------------------------------------- training


def _resolve(c: Condition, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor | None:
    if c is None:
        return None
    if callable(c) and not isinstance(c, torch.Tensor):
        return c(x)
    return c[idx]


def evaluate(model: LatentVariableModel, x: torch.Tensor, c: Condition = None, *, batch_size: int = 1000,
             n_samples: int = 1, generator: torch.Generator | None = None) -> NegativeELBO:
    """The negative ELBO and its parts averaged over a whole data set (in batches, without gradients).

    ``c`` may be a tensor with one row per example or a function ``c(x_batch) -> condition``;
    ``n_samples`` draws of ε per example (the estimate's expectation does not depend on it).
    """
    _check_model(model)
    check_int("batch_size", batch_size)
    device = model._param().device
    totals = torch.zeros(3, dtype=torch.float64)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            idx = torch.arange(start, min(start + batch_size, x.shape[0]))
            xb = x[idx].to(device)
            cb = _resolve(c, xb, idx.to(c.device) if isinstance(c, torch.Tensor) else idx)
            terms = loss(model, xb, cb, n_samples=n_samples, generator=generator)
            totals += torch.stack([t.detach().double().cpu() for t in terms]) * len(idx)
    model.train(was_training)
    t = totals / x.shape[0]
    return NegativeELBO(t[0], t[1], t[2])


def train(model: LatentVariableModel, x: torch.Tensor, c: Condition = None, *, epochs: int = 10, batch_size: int = 128,
          lr: float = 1e-3, beta: float = 1.0, n_samples: int = 1, x_test: torch.Tensor | None = None,
          c_test: Condition = None, generator: torch.Generator | None = None, progress: bool = True,
          desc: str = "training") -> dict[str, list[float]]:
    """Train a VAE/CVAE/SCVAE by minimising :func:`loss` with Adam over shuffled minibatches.

    Batches are moved to the device of the model, so ``x`` may stay on the CPU.  A ``tqdm.auto``
    progress bar shows the epochs and the running loss.

    Args:
        model: the model (already on its device).
        x: training data ``[N, ...]``.
        c: conditions: None, a tensor with one row per example, or a function ``c(x_batch)``
            (e.g. drawing new random sensors for every batch).
        epochs, batch_size, lr, beta: the recipe (defaults: Adam 1e-3, batch 128, β = 1).
        n_samples: L, draws of ε per example in each step (default 1).  A larger L lowers the
            variance of the gradient; the encoder runs once and the decoder L times (for the
            default VAE, L = 4 takes about twice the time of L = 1).
        x_test, c_test: evaluated after every epoch when given.
        generator: a CPU ``torch.Generator`` for the shuffling and the draws of ε.
    Returns:
        history with per-epoch lists ``loss``, ``reconstruction``, ``kl`` (training averages),
        ``test_loss``, ``test_reconstruction``, ``test_kl`` (when ``x_test`` is given) and ``seconds``.
    """
    _check_model(model)
    check_tensor("x", x)
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_int("n_samples", n_samples)
    if isinstance(c, torch.Tensor) and c.shape[0] != x.shape[0]:
        raise ValueError(f"c must have one row per example of x ({x.shape[0]}), got {c.shape[0]}")
    device = model._param().device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    hist: dict[str, list[float]] = {k: [] for k in ("loss", "reconstruction", "kl", "seconds")}
    if x_test is not None:
        hist.update(test_loss=[], test_reconstruction=[], test_kl=[])
    from tqdm.auto import tqdm

    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        t0 = time.perf_counter()
        model.train()
        sums = torch.zeros(3, dtype=torch.float64)
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            xb = x[idx.to(x.device)].to(device)
            cb = _resolve(c, xb, idx.to(c.device) if isinstance(c, torch.Tensor) else idx)
            terms = loss(model, xb, cb, beta=beta, n_samples=n_samples, generator=generator)
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            opt.step()
            sums += torch.stack([t.detach() for t in terms]).double().cpu() * len(idx)
        hist["seconds"].append(time.perf_counter() - t0)
        for key, val in zip(("loss", "reconstruction", "kl"), (sums / n).tolist()):
            hist[key].append(val)
        post = {"loss": f"{hist['loss'][-1]:.1f}"}
        if x_test is not None:
            te = evaluate(model, x_test, c_test, generator=torch.Generator().manual_seed(0) if generator is not None else None)
            for key, val in zip(("test_loss", "test_reconstruction", "test_kl"), te):
                hist[key].append(float(val))
            post["test"] = f"{hist['test_loss'][-1]:.1f}"
        bar.set_postfix(post)
    model.eval()
    return hist
