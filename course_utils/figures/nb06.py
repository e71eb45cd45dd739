"""Notebook 6's plots (variational auto-encoders) and its lecture figure.

The plotting helpers here are used by the notebook; the registered figure trains a small VAE
with a 2-D latent on scikit-learn's 8×8 digits (always available, a few seconds) and shows the
latent map and the manifold of decoded images, as on the lecture's MNIST slide.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats

from course_utils import plotting
from course_utils.figures import register


def image_grid(images: torch.Tensor, shape: tuple[int, int], *, ncols: int = 10, title: str = "",
               row_labels: Sequence[str] | None = None, ax: plt.Axes | None = None, cmap: str = "gray_r") -> plt.Axes:
    """Tile ``images`` ``[n, H·W]`` (or ``[n, H, W]``) into one picture, ``ncols`` per row."""
    imgs = plotting.to_numpy(images).reshape(-1, *shape)
    n = imgs.shape[0]
    nrows = math.ceil(n / ncols)
    H, W = shape
    canvas = np.ones((nrows * (H + 1) - 1, ncols * (W + 1) - 1)) * np.nan
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[r * (H + 1):r * (H + 1) + H, c * (W + 1):c * (W + 1) + W] = imgs[i]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.75 * ncols + 1, 0.75 * nrows + 0.6))
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks([r * (H + 1) + H / 2 for r in range(nrows)], list(row_labels)[:nrows])
    else:
        ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title)
    return ax


def loss_curves(histories: Mapping[str, dict[str, list[float]]]) -> plt.Figure:
    """Reconstruction and KL term per epoch, training and test, side by side (one colour per model)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (name, h), color in zip(histories.items(), plotting.CYCLE):
        ep = np.arange(1, len(h["loss"]) + 1)
        for ax, key, label in ((axes[0], "reconstruction", r"$-\mathbb{E}_q[\log p_\theta(\mathbf{x}|\mathbf{z})]$"),
                               (axes[1], "kl", r"KL$[q_\phi(\mathbf{z}|\mathbf{x})\,\|\,p(\mathbf{z})]$")):
            ax.plot(ep, h[key], color=color, label=f"{name}, training")
            if f"test_{key}" in h:
                ax.plot(ep, h[f"test_{key}"], color=color, ls="--", marker="o", label=f"{name}, test")
            ax.set(xlabel="epoch", ylabel="nats per image", title=label)
    axes[0].legend()
    fig.suptitle("The two terms of the negative ELBO")
    fig.tight_layout()
    return fig


def latent_scatter(ax: plt.Axes, z: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> plt.Axes:
    """Means μ_φ(x) of a 2-D latent, coloured by class."""
    z_, y_ = plotting.to_numpy(z), plotting.to_numpy(labels).astype(int)
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(classes):
        sel = y_ == k
        ax.scatter(z_[sel, 0], z_[sel, 1], s=6, alpha=0.6, color=cmap(k % 10), label=name)
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=r"Latent map: $\mu_\phi(\mathbf{x})$ of test images")
    ax.legend(markerscale=3, fontsize=9, loc="upper right", ncol=2)
    return ax


def manifold_latents(n: int = 15, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """An n×n grid of 2-D latents at the Gaussian quantiles Φ⁻¹(0.05 … 0.95), so that it covers p(z) = N(0, I)."""
    q = torch.as_tensor(stats.norm.ppf(np.linspace(0.05, 0.95, n)), dtype=dtype, device=device)
    z1, z2 = torch.meshgrid(q, q.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def latent_map_and_manifold(model, x_test: torch.Tensor, y_test: torch.Tensor, classes: Sequence[str],
                            shape: tuple[int, int], n: int = 15) -> plt.Figure:
    """Left: the latent map of a 2-D-latent VAE; right: the decoded means over a grid of latents."""
    device = next(model.parameters()).device
    with torch.no_grad():
        mu, _ = model.encode(x_test.to(device))
        decoded = model.mean(model.decode(manifold_latents(n, device=device)))
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    latent_scatter(axes[0], mu, y_test, classes)
    image_grid(decoded, shape, ncols=n, ax=axes[1], title=r"Manifold: $\mathbb{E}[\mathbf{x}|\mathbf{z}]$ on a grid of $\mathbf{z}$")
    fig.tight_layout()
    return fig


@register("06_vae_latent_manifold")
def vae_latent_manifold() -> plt.Figure:
    """A VAE with a 2-D latent on scikit-learn's digits: latent map and manifold (lecture, 'MNIST Data set')."""
    from course_utils.data.images import load_digits_set
    from course_utils.vae import VAE, train

    data = load_digits_set()
    torch.manual_seed(0)
    model = VAE(64, 2, (64,)).init_output_bias(data.x_train)
    train(model, data.x_train, epochs=40, batch_size=64, lr=1e-2, generator=torch.Generator().manual_seed(0), progress=False)
    with plotting.course_style():
        return latent_map_and_manifold(model, data.x_test, data.y_test, data.classes, (8, 8), n=12)
