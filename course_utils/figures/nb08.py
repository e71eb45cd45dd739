"""Notebook 8's data, plots and lecture figures: dropout masks, the Bernoulli variance, and
heteroscedastic MC-dropout regression with its aleatoric and epistemic bands."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from course_utils import plotting
from course_utils.dropout import MCDropoutMLP, bernoulli_mask, fit, heteroscedastic_nll, mc_predict, split_mean_log_var
from course_utils.figures import register
from course_utils.uncertainty import decompose_regression

COLORS = plotting.COLORS


def hetero_noise_std(x: torch.Tensor) -> torch.Tensor:
    """The true, input-dependent noise standard deviation of the toy: σ(x) = 0.05 + 0.12·(x + 2)²/4."""
    return 0.05 + 0.12 * (x + 2) ** 2 / 4


def hetero_function(x: torch.Tensor) -> torch.Tensor:
    """The toy's mean function f(x) = sin(1.5 x) + 0.3 x."""
    return torch.sin(1.5 * x) + 0.3 * x


def heteroscedastic_toy(n: int = 300, seed: int = 0, dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points x ~ U(−2, 2), y = f(x) + σ(x)·ε: noise that grows from left to right.
    Returns X [n, 1] and y [n]."""
    g = torch.Generator().manual_seed(seed)
    x = -2 + 4 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    y = hetero_function(x[:, 0]) + hetero_noise_std(x[:, 0]) * torch.randn(n, generator=g, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def train_heteroscedastic(x: torch.Tensor, y: torch.Tensor, *, p: float = 0.1, steps: int = 2500, lam: float = 1e-5,
                          seed: int = 0, progress: bool = True) -> MCDropoutMLP:
    """An MC-dropout MLP 1 → 64 → 64 → (μ, log σ²) trained with the heteroscedastic Gaussian NLL
    plus an L2 penalty λ‖ω‖² (full batch, Adam)."""
    torch.manual_seed(seed)
    model = MCDropoutMLP(1, [64, 64], 1, p=p, heteroscedastic=True).to(x.device)

    def loss(m, xb, yb):
        mean, log_var = split_mean_log_var(m(xb))
        return heteroscedastic_nll(yb, mean, log_var) + lam * sum(w.pow(2).sum() for w in m.parameters())

    fit(model, loss, x, y, steps=steps, lr=5e-3, progress=progress, desc="heteroscedastic MC dropout")
    return model


def predict_decomposed(model: MCDropoutMLP, grid: torch.Tensor, T: int = 200):
    """MC-dropout prediction on ``grid`` [M, 1]: (mean [M], aleatoric [M], epistemic [M]) in float64."""
    mean_t, log_var_t = split_mean_log_var(mc_predict(model, grid, T).double())      # [T, M] each
    alea, epi = decompose_regression(mean_t, log_var_t.exp())
    return mean_t.mean(0), alea, epi


def plot_masks(z1: torch.Tensor, z2: torch.Tensor, p1: float, p2: float) -> plt.Figure:
    """The masks z1 (inputs) and z2 (hidden units) of several forward passes, as images."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [z1.shape[1], z2.shape[1]]})
    for ax, z, name, p in ((axes[0], z1, r"$z_1$ (inputs)", p1), (axes[1], z2, r"$z_2$ (hidden units)", p2)):
        ax.imshow(plotting.to_numpy(z), cmap="Greys_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(f"{name}, p = {p:g}")
        ax.set_xlabel("unit j")
        ax.set_ylabel("forward pass")
        ax.grid(False)
    fig.suptitle("Dropout masks: white = kept (z = 1), black = dropped (z = 0)")
    fig.tight_layout()
    return fig


def plot_decomposed_bands(grid, mean, alea, epi, x, y, *, true_std=None, data_range=(-2.0, 2.0)) -> plt.Figure:
    """Two panels: the aleatoric band ±2√aleatoric and the epistemic band ±2√epistemic."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True)
    g = plotting.to_numpy(grid).reshape(-1)
    for ax, var, name, color in ((axes[0], alea, "aleatoric", COLORS["alt"]), (axes[1], epi, "epistemic", COLORS["mean"])):
        plotting.predictive_band(ax, grid, mean, var.sqrt(), x_data=x, y_data=y, color=color,
                                 band_label=f"±2 std, {name}")
        ax.axvspan(g.min(), data_range[0], color=COLORS["grey"], alpha=0.1)
        ax.axvspan(data_range[1], g.max(), color=COLORS["grey"], alpha=0.1, label="no data")
        if true_std is not None and name == "aleatoric":
            f = plotting.to_numpy(mean).reshape(-1)
            s = plotting.to_numpy(true_std).reshape(-1)
            ax.plot(g, f + 2 * s, "--", color=COLORS["truth"], lw=1.8, label="±2 σ(x), true noise")
            ax.plot(g, f - 2 * s, "--", color=COLORS["truth"], lw=1.8)
        ax.set(xlabel="$x$", title=f"{name.capitalize()} uncertainty", ylim=(-4, 4))
        ax.legend(loc="upper left", fontsize=10)
    axes[0].set_ylabel("$y$")
    fig.tight_layout()
    return fig


@register("08_dropout_masks")
def dropout_masks() -> plt.Figure:
    """Masks z1 (p1 = 0.2) and z2 (p2 = 0.5) of eq. (28) for 8 forward passes."""
    g = torch.Generator().manual_seed(0)
    with plotting.course_style():
        return plot_masks(bernoulli_mask((8, 8), 0.2, generator=g), bernoulli_mask((8, 24), 0.5, generator=g), 0.2, 0.5)


def bernoulli_variance_curves(n_draws: int = 20_000, seed: int = 0):
    """Var[z] and the variance of one dropped-out linear unit Σ_j w_j z_j h_j, without (lecture)
    and with the 1/(1 − p) scaling of inverted dropout, all by Monte Carlo (``n_draws`` masks of 32
    elements per p), over a grid of p.  Returns ps, Var[z], Var unscaled, Var inverted, Σ_j (w_j h_j)²."""
    g = torch.Generator().manual_seed(seed)
    ps = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    wh = torch.randn(32, generator=g, dtype=torch.float64)           # w_j h_j of one unit
    mask_var, unscaled, inverted = [], [], []
    for p in ps:
        z = bernoulli_mask((n_draws, 32), float(p), generator=g, dtype=torch.float64)
        mask_var.append(z.var(0).mean())                              # Monte Carlo Var[z], averaged over 32 elements
        out = z @ wh
        unscaled.append(out.var())
        inverted.append((out / (1 - p)).var())
    return ps, torch.stack(mask_var), torch.stack(unscaled), torch.stack(inverted), wh.pow(2).sum()


def plot_bernoulli_variance(ps, mask_var, unscaled, inverted, sum_wh2) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    axes[0].plot(ps, ps * (1 - ps), color=COLORS["grey"], label=r"$p(1-p)$")
    axes[0].plot(ps, mask_var, "o", label=r"Var$[z]$, Monte Carlo")
    axes[0].axvline(0.5, color=COLORS["grey"], ls=":", label="p = 0.5")
    axes[0].set(xlabel="dropout rate $p$", ylabel="variance", title="Variance of a Bernoulli mask element")
    axes[0].legend()
    axes[1].plot(ps, unscaled / sum_wh2, "o-", label=r"$\hat{W} = W\,\mathrm{diag}(z)$ (lecture)")
    axes[1].plot(ps, inverted / sum_wh2, "s-", label=r"inverted dropout, $\times 1/(1-p)$")
    axes[1].set_yscale("log")
    axes[1].set(xlabel="dropout rate $p$", ylabel=r"Var$[\sum_j w_j z_j h_j] \,/\, \sum_j (w_j h_j)^2$",
                title="Variance of a dropped-out unit (Monte Carlo)")
    axes[1].legend()
    fig.tight_layout()
    return fig


@register("08_bernoulli_variance")
def bernoulli_variance() -> plt.Figure:
    """p(1 − p) is largest at p = 0.5; the output variance with and without inverted scaling."""
    with plotting.course_style():
        return plot_bernoulli_variance(*bernoulli_variance_curves())


@register("08_heteroscedastic_mc_dropout")
def heteroscedastic_mc_dropout() -> plt.Figure:
    """Heteroscedastic MC-dropout regression: aleatoric and epistemic bands, plotted separately."""
    x, y = heteroscedastic_toy()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # a tiny network: one thread is faster, and the result is the same
    try:
        model = train_heteroscedastic(x, y, steps=1200, progress=False)
        grid = torch.linspace(-4, 4, 300)[:, None]
        mean, alea, epi = predict_decomposed(model, grid)
    finally:
        torch.set_num_threads(threads)
    with plotting.course_style():
        return plot_decomposed_bands(grid, mean, alea, epi, x, y, true_std=hetero_noise_std(grid[:, 0]))
