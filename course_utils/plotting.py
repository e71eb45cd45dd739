"""One figure style for the whole course, the plots that recur, and saving into ``figures/``.

The style is made for a projector: large fonts, thick lines, a white background, a colour-blind
safe palette.  Plotting lives here, never inside the math functions.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

#: Okabe-Ito colours, safe for colour-blind viewers.
COLORS = {
    "data": "#000000",
    "mean": "#0072B2",
    "band": "#56B4E9",
    "truth": "#009E73",
    "alt": "#D55E00",
    "alt2": "#CC79A7",
    "alt3": "#E69F00",
    "grey": "#999999",
}
CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

COURSE_STYLE: dict[str, object] = {
    "figure.figsize": (8.0, 5.0),
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "font.size": 14,
    "axes.titlesize": 16,
    "axes.labelsize": 15,
    "legend.fontsize": 12,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "lines.linewidth": 2.5,
    "lines.markersize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "svg.hashsalt": "course",
}

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = REPO_ROOT / "figures"


def set_style() -> None:
    """Apply the course style globally (the set-up cell of each notebook calls this)."""
    plt.rcParams.update(COURSE_STYLE)


@contextmanager
def course_style() -> Iterator[None]:
    """Context manager applying the course style temporarily."""
    with plt.rc_context(COURSE_STYLE):
        yield


def to_numpy(x: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """Detach, move to CPU and convert to NumPy (plotting is the one place where this is right)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=float)


def predictive_band(
    ax: plt.Axes,
    x: torch.Tensor | np.ndarray,
    mean: torch.Tensor | np.ndarray,
    std: torch.Tensor | np.ndarray,
    *,
    x_data: torch.Tensor | np.ndarray | None = None,
    y_data: torch.Tensor | np.ndarray | None = None,
    n_std: float = 2.0,
    label: str = "predictive mean",
    band_label: str | None = None,
    color: str = COLORS["mean"],
) -> plt.Axes:
    """Draw a mean curve, a ±``n_std``·std band around it and (optionally) the data points."""
    x_, m_, s_ = (to_numpy(v).reshape(-1) for v in (x, mean, std))
    order = np.argsort(x_)
    x_, m_, s_ = x_[order], m_[order], s_[order]
    ax.fill_between(x_, m_ - n_std * s_, m_ + n_std * s_, color=color, alpha=0.25,
                    label=band_label or f"±{n_std:g} std")
    ax.plot(x_, m_, color=color, label=label)
    if x_data is not None and y_data is not None:
        ax.plot(to_numpy(x_data).reshape(-1), to_numpy(y_data).reshape(-1), "o", color=COLORS["data"],
                markersize=6, label="data", zorder=5)
    ax.legend(loc="best")
    return ax


def density_curves(
    ax: plt.Axes,
    x: torch.Tensor | np.ndarray,
    densities: Mapping[str, torch.Tensor | np.ndarray],
    *,
    fill: bool = True,
    xlabel: str = r"$\omega$",
    ylabel: str = "density",
) -> plt.Axes:
    """Draw several densities over the same grid ``x``, one labelled curve each."""
    x_ = to_numpy(x).reshape(-1)
    for (name, d), color in zip(densities.items(), CYCLE):
        d_ = to_numpy(d).reshape(-1)
        ax.plot(x_, d_, label=name, color=color)
        if fill:
            ax.fill_between(x_, 0.0, d_, color=color, alpha=0.12)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax


def save_figure(fig: plt.Figure, name: str, directory: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<directory>/<name>.png`` deterministically (no time stamp in the file).

    ``directory`` defaults to the repository's ``figures/`` folder.  Returns the path written.
    """
    if not isinstance(name, str) or not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"name must be a plain file stem such as 'fitting', got {name!r}")
    out_dir = Path(directory) if directory is not None else FIGURES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def fit_panels(
    x_data: torch.Tensor | np.ndarray,
    y_data: torch.Tensor | np.ndarray,
    x_grid: torch.Tensor | np.ndarray,
    fits: Mapping[str, torch.Tensor | np.ndarray],
    *,
    truth: torch.Tensor | np.ndarray | None = None,
    ylim: tuple[float, float] | None = (-1.8, 1.8),
    xlabel: str = "$x$",
    ylabel: str = "$y$",
) -> plt.Figure:
    """One panel per fitted curve (title = the dict key), each with the data and the truth."""
    fig, axes = plt.subplots(1, len(fits), figsize=(5.2 * len(fits), 4.6), sharey=True, squeeze=False)
    xg = to_numpy(x_grid).reshape(-1)
    for ax, (title, curve) in zip(axes[0], fits.items()):
        if truth is not None:
            ax.plot(xg, to_numpy(truth).reshape(-1), "--", color=COLORS["truth"], label="truth $f(x)$")
        ax.plot(xg, to_numpy(curve).reshape(-1), color=COLORS["mean"], label="fit")
        ax.plot(to_numpy(x_data).reshape(-1), to_numpy(y_data).reshape(-1), "o", color=COLORS["data"], label="data")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(loc="lower left")
    fig.tight_layout()
    return fig


def figure_png(fig: plt.Figure, dpi: int = 90) -> bytes:
    """Render ``fig`` to PNG bytes and close it: for widget apps, which show figures in an
    ``ipywidgets.Image`` (updated through the widget's state, not through cell outputs, so the
    app works the same in JupyterLab, in nbconvert and under nbval)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
