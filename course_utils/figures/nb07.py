"""Notebook 7's plots (the SCVAE reconstructing flow fields) and its lecture figure.

Fields are ``[H, W, 2]`` (u, v) in m/s, as in :mod:`course_utils.data.flow`; the maps show the
speed |u| with arrows for the direction.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils import plotting
from course_utils.figures import register


def speed_map(ax: plt.Axes, field: torch.Tensor, *, title: str = "", vmax: float | None = None, arrows: bool = True,
              sensors: torch.Tensor | None = None, cmap: str = "viridis", label: str = "speed |u| (m/s)") -> plt.Axes:
    """The speed of a field ``[H, W, 2]`` as an image, arrows every 4th cell, sensors as white dots."""
    f = plotting.to_numpy(field)
    H, W = f.shape[:2]
    speed = np.hypot(f[..., 0], f[..., 1])
    im = ax.imshow(speed, origin="lower", cmap=cmap, vmin=0, vmax=vmax, extent=(0, W, 0, H))
    if arrows:
        s = slice(2, None, 4)
        yy, xx = np.mgrid[0:H, 0:W] + 0.5
        ax.quiver(xx[s, s], yy[s, s], f[s, s, 0], f[s, s, 1], color="white", alpha=0.8, scale=None, width=0.006)
    if sensors is not None:
        p = plotting.to_numpy(sensors)
        ax.plot(p[:, 1] + 0.5, p[:, 0] + 0.5, "o", color="white", mec="black", ms=6, label="sensors")
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label=label)
    return ax


def scalar_map(ax: plt.Axes, values: torch.Tensor, *, title: str = "", label: str = "", vmax: float | None = None,
               sensors: torch.Tensor | None = None, cmap: str = "magma") -> plt.Axes:
    """A scalar field ``[H, W]`` (a pixel-wise standard deviation or error) with the sensors."""
    v = plotting.to_numpy(values)
    H, W = v.shape
    im = ax.imshow(v, origin="lower", cmap=cmap, vmin=0, vmax=vmax, extent=(0, W, 0, H))
    if sensors is not None:
        p = plotting.to_numpy(sensors)
        ax.plot(p[:, 1] + 0.5, p[:, 0] + 0.5, "o", color="white", mec="black", ms=6)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label=label)
    return ax


def reconstruction_panels(truth: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, sensors: torch.Tensor,
                          *, title: str = "") -> plt.Figure:
    """Truth, SCVAE mean, pixel-wise standard deviation (of the speed) and |error| for one snapshot."""
    vmax = float(torch.linalg.vector_norm(truth, dim=-1).max())
    err = torch.linalg.vector_norm(mean - truth, dim=-1)
    std_speed = torch.linalg.vector_norm(std, dim=-1)
    emax = float(torch.maximum(err.max(), 2 * std_speed.max()))
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.8))
    speed_map(axes[0], truth, title="truth", vmax=vmax, sensors=sensors)
    speed_map(axes[1], mean, title="SCVAE mean", vmax=vmax, sensors=sensors)
    scalar_map(axes[2], std_speed, title="pixel-wise std", label=r"$\|\mathrm{std}(u, v)\|$ (m/s)", vmax=emax / 2, sensors=sensors)
    scalar_map(axes[3], err, title="|error| of the mean", label="m/s", vmax=emax, sensors=sensors)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def error_curves(ns: Sequence[int], errors: Mapping[str, Sequence[float]], *, baseline: float | None = None,
                 ylabel: str = "RMSE of the reconstruction (m/s)", title: str = "Reconstruction error against the number of sensors"
                 ) -> plt.Figure:
    """Error of each method against the number of measurements (log x-axis)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for (name, e), marker in zip(errors.items(), "os^D"):
        ax.plot(ns, e, marker=marker, label=name)
    if baseline is not None:
        ax.axhline(baseline, color=plotting.COLORS["grey"], ls=":", label="mean field (no measurements)")
    ax.set_xscale("log")
    ax.set_xticks(list(ns), [str(n) for n in ns])
    ax.set(xlabel="number of sensors (each measures u and v)", ylabel=ylabel, title=title)
    ax.legend()
    fig.tight_layout()
    return fig


@register("07_flow_fields_and_sensors")
def flow_fields_and_sensors() -> plt.Figure:
    """Three snapshots of the synthetic flow (3 h apart) with 20 sensors, and the velocity at one point over 3 days."""
    from course_utils.data.flow import flow_fields, sensor_positions

    f = flow_fields(3 * 144, generator=torch.Generator().manual_seed(0))
    sensors = sensor_positions(20, 32, generator=torch.Generator().manual_seed(1))
    vmax = float(torch.linalg.vector_norm(f, dim=-1).max())
    with plotting.course_style():
        fig = plt.figure(figsize=(18, 9))
        gs = fig.add_gridspec(2, 3, height_ratios=[1.3, 1])
        for j, t in enumerate((0, 18, 36)):
            speed_map(fig.add_subplot(gs[0, j]), f[t], title=f"t = {t * 10 // 60} h", vmax=vmax, sensors=sensors)
        ax = fig.add_subplot(gs[1, :])
        hours = np.arange(f.shape[0]) / 6
        ax.plot(hours, plotting.to_numpy(f[:, 16, 16, 0]), label="u at the centre")
        ax.plot(hours, plotting.to_numpy(f[:, 16, 16, 1]), label="v at the centre")
        ax.set(xlabel="time (hours)", ylabel="velocity (m/s)", title="Tides, eddies and a mean current (10-minute steps)")
        ax.legend(loc="upper right")
        fig.tight_layout()
        return fig
