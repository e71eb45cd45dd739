"""Notebook 10's figures: the lecture's routes to uncertainty side by side (slide "UQ in Deep
learning"): predictive bands on the cubic toy, and predictive entropy maps on a 2-D classification toy."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from course_utils import dropout, plotting, uq
from course_utils.data import toy_classification, toy_function
from course_utils.figures import register
from course_utils.uncertainty import entropy_decomposition

#: dropout rate of the MC-dropout networks of notebook 10
DROPOUT_P = 0.2
#: radius of the ring of far-away inputs of the classification part
FAR_RADIUS = 6.0


def plot_regression_bands(x_grid: torch.Tensor, bands: dict, x: torch.Tensor, y: torch.Tensor, noise_std: float,
                          reference: str = "NUTS", ncols: int = 3) -> plt.Figure:
    """One panel per method: the predictive mean, ±2 epistemic std (dark) and ±2 predictive std
    (light, with σ_ε = ``noise_std``), the reference's ±2 predictive std as dashed lines, the data
    and the truth x³.  ``bands``: name → (mean [G], epistemic std [G]) in the units of ``y``."""
    rows = math.ceil(len(bands) / ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(6.2 * ncols, 4.6 * rows), sharex=True, sharey=True)
    ref_m, ref_s = bands[reference]
    ref_p = (ref_s**2 + noise_std**2).sqrt()
    for ax, (name, (mean, std)), color in zip(axes.flat, bands.items(), plotting.CYCLE):
        plotting.predictive_band(ax, x_grid, mean, (std**2 + noise_std**2).sqrt(), x_data=x, y_data=y, color=color,
                                 label="mean", band_label="±2 std (predictive)")
        ax.fill_between(x_grid[:, 0], mean - 2 * std, mean + 2 * std, color=color, alpha=0.4, label="±2 std (epistemic)")
        if name != reference:
            for sign in (-1, 1):
                ax.plot(x_grid[:, 0], ref_m + sign * 2 * ref_p, ":", color=plotting.COLORS["grey"],
                        label=f"{reference} ±2 std" if sign < 0 else None)
        ax.plot(x_grid[:, 0], toy_function(x_grid, "cubic"), "--", color=plotting.COLORS["truth"], lw=1, label="truth $x^3$")
        ax.axvspan(-6, -4, color="0.9", zorder=0)
        ax.axvspan(4, 6, color="0.9", zorder=0)
        ax.set(title=name, ylim=(-160, 160), xlim=(-6, 6))
        ax.legend(loc="upper left", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("$x$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$y$")
    for ax in list(axes.flat)[len(bands):]:
        ax.set_visible(False)
    fig.suptitle("Predictive bands on the cubic toy (grey: no data)")
    fig.tight_layout()
    return fig


def classification_problem(seed: int = 0):
    """Three Gaussian blobs (200 training, 2000 test points) and a ring of 120 inputs at radius 6,
    far from every blob.  Returns X, labels, X_test, labels_test, X_far."""
    X, L = toy_classification(200, 3, generator=torch.Generator().manual_seed(seed))
    Xt, Lt = toy_classification(2000, 3, generator=torch.Generator().manual_seed(seed + 1))
    ang = torch.linspace(0, 2 * math.pi, 121)[:-1]
    return X, L, Xt, Lt, FAR_RADIUS * torch.stack([ang.cos(), ang.sin()], 1)


def train_classifiers(X: torch.Tensor, L: torch.Tensor, *, n_members: int = 5, steps: int = 500,
                      progress: bool = False) -> dict:
    """The three classifiers of notebook 10 (one hidden layer of 16 ReLU units, prior N(0, 1)):
    a deterministic MAP network, a deep ensemble of ``n_members`` such networks, and MC dropout
    (p = 0.2, prior variance 1/(1 − p) from the KL condition).  Returns name → (models, T) where
    the T-pass class probabilities are ``probabilities(models, x, T)``."""
    make = lambda s: uq.mlp(2, 16, 3, generator=torch.Generator().manual_seed(s), activation=torch.nn.ReLU).to(X.device)
    loss = lambda m, a, b: uq.categorical_neg_log_joint(m, a, b, 1.0)
    members = uq.train_ensemble(make, lambda m: dropout.fit(m, loss, X, L, steps=steps, lr=0.01, progress=False),
                                n_members, progress=progress)
    torch.manual_seed(0)
    mcd = dropout.MCDropoutMLP(2, [16], 3, p=DROPOUT_P).to(X.device)
    dropout.fit(mcd, lambda m, a, b: uq.categorical_neg_log_joint(m, a, b, 1 / (1 - DROPOUT_P)), X, L, steps=steps,
                lr=0.01, progress=progress, desc="MC dropout")
    return {"deterministic": (members[:1], 1), "deep ensemble": (members, 1), "MC dropout": ([mcd], 200)}


@torch.no_grad()
def probabilities(models: list, x: torch.Tensor, T: int = 1) -> torch.Tensor:
    """Class probabilities [T·len(models), N, K]: T stochastic passes of every model (T = 1 for
    deterministic networks)."""
    return torch.cat([dropout.mc_predict(m, x, T).softmax(-1) for m in models])


def plot_entropy_maps(classifiers: dict, X: torch.Tensor, L: torch.Tensor, lim: float = 6.5) -> plt.Figure:
    """Predictive entropy H[p̄] (top) and mutual information (bottom) over the plane, one column per method."""
    g = torch.linspace(-lim, lim, 101)
    grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2).to(X.device)
    fig, axes = plt.subplots(2, len(classifiers), figsize=(5.2 * len(classifiers), 9.4), sharex=True, sharey=True)
    for j, (name, (models, T)) in enumerate(classifiers.items()):
        dec = entropy_decomposition(probabilities(models, grid, T))
        for i, (vals, label) in enumerate(((dec.total, r"$\mathcal{H}[\bar p]$"), (dec.epistemic, r"$\mathcal{I}[y,\omega]$"))):
            ax = axes[i, j]
            im = ax.imshow(plotting.to_numpy(vals).reshape(101, 101), origin="lower", extent=(-lim, lim, -lim, lim),
                           vmin=0, vmax=math.log(3) if i == 0 else 0.3, cmap="viridis")
            ax.scatter(*plotting.to_numpy(X).T, c=plotting.to_numpy(L), cmap="Set1", s=8, edgecolors="k", linewidths=0.3)
            ax.add_patch(plt.Circle((0, 0), FAR_RADIUS, fill=False, ls="--", color="w"))
            ax.set(title=f"{name}: {label}", xlabel="$x_1$", ylabel="$x_2$" if j == 0 else None)
            fig.colorbar(im, ax=ax, shrink=0.8, label="nats")
    fig.suptitle("Classification far from the data (dashed: the ring of far inputs)")
    fig.tight_layout()
    return fig


@register("10_classification_uncertainty")
def classification_uncertainty() -> plt.Figure:
    """Deterministic network, deep ensemble and MC dropout on three blobs: entropy and mutual information maps."""
    X, L, *_ = classification_problem()
    torch.manual_seed(0)
    with plotting.course_style():
        return plot_entropy_maps(train_classifiers(X, L), X, L)
