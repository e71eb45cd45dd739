"""Notebook 9's plots and lecture figures: the synthetic CO₂ monitoring records, windows and the
difference transform, and the BCNN's μ_Leak / σ_Leak, confusion matrix and reliability diagram."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils import plotting
from course_utils.data.co2 import co2_monitoring_series, difference_transform
from course_utils.figures import register

COLORS = plotting.COLORS
RATE_COLORS = {0.0: COLORS["grey"], 30.0: COLORS["alt3"], 300.0: COLORS["alt"], 3000.0: COLORS["alt2"]}


def rate_label(rate: float) -> str:
    return "no leak" if rate == 0 else f"{rate:g} T/day"


def plot_records(rec: dict, days: float = 3.0, dt_hours: float = 0.25) -> plt.Figure:
    """Top: the current direction relative to the source → sensor bearing; bottom: the CO₂
    records of all sensors in ``rec`` (one per leak rate) over the first ``days`` days."""
    n = int(days * 24 / dt_hours)
    t = plotting.to_numpy(rec["time_h"][:n])
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    direction = torch.atan2(rec["v"][:n], rec["u"][:n])
    rel = torch.remainder(direction[None] - rec["bearing"][:, None] + math.pi, 2 * math.pi) - math.pi
    axes[0].plot(t, np.degrees(plotting.to_numpy(rel[0])), ".", ms=3, color=COLORS["mean"])
    axes[0].axhspan(-30, 30, color=COLORS["alt"], alpha=0.15, label="current towards the sensor (±30°)")
    axes[0].set(ylabel="current − bearing (°)", ylim=(-180, 180), yticks=[-180, -90, 0, 90, 180],
                title="Tidal current direction, relative to the source → sensor bearing")
    axes[0].legend(loc="upper right", fontsize=10)
    for s in range(rec["concentration"].shape[0]):
        rate = float(rec["leak_rate"][s])
        axes[1].plot(t, plotting.to_numpy(rec["concentration"][s, :n]), lw=1.5, color=RATE_COLORS.get(rate, COLORS["mean"]),
                     label=rate_label(rate))
    axes[1].set(xlabel="time (hours)", ylabel="CO$_2$ (µmol/kg)", title="Sensor records, the same current, four scenarios")
    axes[1].legend(loc="upper left", fontsize=10, ncol=4)
    fig.tight_layout()
    return fig


def plot_windows(raw: torch.Tensor, x: torch.Tensor, rates: torch.Tensor) -> plt.Figure:
    """Raw windows (left) and their difference transform (right), one row per window."""
    k = raw.shape[0]
    fig, axes = plt.subplots(k, 2, figsize=(12, 1.9 * k + 0.6), sharex="col", squeeze=False)
    for i in range(k):
        c = RATE_COLORS.get(float(rates[i]), COLORS["mean"])
        axes[i, 0].plot(plotting.to_numpy(raw[i]), color=c, lw=1.6)
        axes[i, 1].plot(plotting.to_numpy(x[i]), color=c, lw=1.6)
        axes[i, 0].set_ylabel(rate_label(float(rates[i])), fontsize=11)
    axes[0, 0].set_title("window of the record (µmol/kg)")
    axes[0, 1].set_title(r"difference transform $\Delta x_t = x_t - x_{t-1}$ (scaled)")
    axes[-1, 0].set_xlabel("time step (15 min)")
    axes[-1, 1].set_xlabel("time step (15 min)")
    fig.tight_layout()
    return fig


def plot_mu_sigma(mu: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor) -> plt.Figure:
    """μ_Leak against σ_Leak per test window, coloured by the true class, with the bound √(μ(1−μ))."""
    fig, ax = plt.subplots(figsize=(8, 5))
    m, s, y = plotting.to_numpy(mu), plotting.to_numpy(sigma), plotting.to_numpy(labels)
    ax.scatter(m[y == 0], s[y == 0], s=10, alpha=0.6, color=COLORS["mean"], label="no leak (truth)")
    ax.scatter(m[y == 1], s[y == 1], s=10, alpha=0.6, color=COLORS["alt"], label="leak (truth)")
    g = np.linspace(0, 1, 200)
    ax.plot(g, np.sqrt(g * (1 - g)), "--", color=COLORS["grey"], label=r"bound $\sqrt{\mu(1-\mu)}$")
    ax.set(xlabel=r"$\hat\mu_{Leak}$", ylabel=r"$\hat\sigma_{Leak}$", title="MC-dropout mean and spread of p(leak) per window")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion_and_reliability(cm: torch.Tensor, rel, ece: float, title: str = "BCNN, MC dropout") -> plt.Figure:
    """Left: the confusion matrix (counts); right: the reliability diagram with the ECE."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    c = plotting.to_numpy(cm)
    ax.imshow(c, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{int(c[i, j])}", ha="center", va="center", fontsize=18,
                    color="white" if c[i, j] > c.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["no leak", "leak"], yticklabels=["no leak", "leak"],
           xlabel="predicted", ylabel="true", title=f"Confusion matrix ({title})")
    ax.grid(False)
    ax = axes[1]
    edges = plotting.to_numpy(rel.edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    acc = np.nan_to_num(plotting.to_numpy(rel.accuracy))
    ax.bar(centres, acc, width=edges[1] - edges[0], edgecolor="black", color=COLORS["band"], label="accuracy per bin")
    ax.plot([0, 1], [0, 1], "--", color=COLORS["grey"], label="perfect calibration")
    conf = plotting.to_numpy(rel.confidence)
    ok = ~np.isnan(conf)
    ax.plot(conf[ok], plotting.to_numpy(rel.accuracy)[ok], "o", color=COLORS["alt"], label="(mean confidence, accuracy) per bin")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (largest class probability)", ylabel="accuracy",
           title=f"Reliability diagram, ECE = {ece:.3f}")
    ax.legend(loc="upper left", fontsize=10)
    fig.tight_layout()
    return fig


@register("09_co2_monitoring")
def co2_monitoring() -> plt.Figure:
    """Three days of synthetic monitoring at four sensors at the same place relative to the
    source (no leak, 30T, 300T, 3000T): the plume arrives when the current turns towards the sensor."""
    rec = co2_monitoring_series(4 * 96, [0.0, 30.0, 300.0, 3000.0], distance_km=1.0, bearing=0.5,
                                generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with plotting.course_style():
        return plot_records(rec)


@register("09_difference_transform")
def difference_transform_figure() -> plt.Figure:
    """Windows of the four scenarios before and after the lecture's difference transform."""
    rec = co2_monitoring_series(400, [0.0, 30.0, 300.0, 3000.0], distance_km=1.0, bearing=0.5,
                                generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    raw = rec["concentration"][:, 100:165]
    d = difference_transform(raw)
    with plotting.course_style():
        return plot_windows(raw, d / d[0].std(), rec["leak_rate"])


@register("09_leak_probability")
def leak_probability() -> plt.Figure:
    """The lecture's μ_Leak and σ_Leak for every test window of the BCNN trained as in notebook 9."""
    from course_utils import dropout as dr
    from course_utils import uncertainty as uq
    from course_utils.data.co2 import co2_leak_dataset

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = co2_leak_dataset(n_days=40, sensors_per_rate=4, window=65, stride=16,
                                generator=torch.Generator().manual_seed(0))
        p, n_train = 0.2, len(data.train)
        torch.manual_seed(0)
        bcnn = dr.BCNN(length=data.x.shape[-1], p=p)
        dropped = lambda name: name.startswith("features") and name.endswith("weight")  # noqa: E731  W1 … W4
        lambdas = {name: dr.kl_condition_weight_decay(1.0, p if dropped(name) else 0.0, n_train)
                   for name, _ in bcnn.named_parameters()}
        dr.fit(bcnn, lambda m, xb, yb: dr.bcnn_objective(m, xb, yb, lambdas), data.x[data.train], data.labels[data.train],
               steps=300, lr=3e-3, batch_size=128, generator=torch.Generator().manual_seed(0), progress=False)
        torch.manual_seed(1)
        probs = dr.mc_predict(bcnn, data.x[data.test], T=100).double().softmax(-1)
        mu, sigma = uq.class_mean_std(probs, c=1)
    finally:
        torch.set_num_threads(threads)
    with plotting.course_style():
        return plot_mu_sigma(mu, sigma, data.labels[data.test])
