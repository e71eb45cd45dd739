r"""The KL explorer (notebook 3): a Gaussian q against a two-component mixture target p.

The target is :math:`p(\omega) = \pi\,\mathcal N(\omega; -s/2, \sigma_1^2) + (1-\pi)\,\mathcal N(\omega; s/2, \sigma_2^2)`
(separation s, weight π of the left component, widths σ₁, σ₂) and q = N(μ, σ²).  The app shows p, q,
the integrands of both KL divergences (eq. 15 and its reverse) and their values, and two buttons fit
q by the forward KL (moment matching) or by the reverse KL (from the current q).

Everything the app shows comes from the pure function :func:`kl_explorer_state`, tested headless;
the displayed values live in widget values (``app.kl_qp.value``, ``app.kl_pq.value``), so that a
notebook cell or a browser test can read them.  CSS classes for the browser: ``kl-separation``,
``kl-weight``, ``kl-width-1``, ``kl-width-2``, ``kl-q-mean``, ``kl-q-std`` (sliders),
``kl-qp-value``, ``kl-pq-value`` (values), ``kl-fit-forward``, ``kl-fit-reverse`` (buttons),
``kl-figure`` (the drawing, a PNG ``Image`` widget).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import distributions as D

from course_utils import divergences as dv
from course_utils._checks import check_int, check_positive
from course_utils.plotting import COLORS, course_style

#: Slider ranges (min, max, step) and defaults of the app.
RANGES = {
    "separation": (0.0, 6.0, 0.1), "weight": (0.05, 0.95, 0.01), "width_1": (0.2, 2.0, 0.05),
    "width_2": (0.2, 2.0, 0.05), "q_mean": (-6.0, 6.0, 0.01), "q_std": (0.1, 4.0, 0.01),
}
#: The default q sits off-centre, in the basin of the right mode: "fit q: reverse" from it shows mode seeking.
#: (From a wide q near the middle, e.g. μ = 0.5, σ = 1.5, the reverse fit stops at a broad q between the modes.)
DEFAULTS = {"separation": 4.0, "weight": 0.5, "width_1": 0.6, "width_2": 0.6, "q_mean": 1.25, "q_std": 1.0}
#: The part of the ω axis the app draws (fixed, so that the picture does not jump).
VIEW = (-8.0, 8.0)


@dataclass(frozen=True)
class KLState:
    """Everything the KL explorer shows for one setting of its sliders (float64 tensors on the CPU)."""

    x: torch.Tensor             #: [n] quadrature grid
    p: torch.Tensor             #: [n] target density p(ω)
    q: torch.Tensor             #: [n] Gaussian q(ω)
    integrand_qp: torch.Tensor  #: [n] q log(q/p), integrand of KL[q‖p] (reverse)
    integrand_pq: torch.Tensor  #: [n] p log(p/q), integrand of KL[p‖q] (forward)
    kl_qp: float                #: KL[q‖p] in nats
    kl_pq: float                #: KL[p‖q] in nats


def _check_target(separation: float, weight: float, width_1: float, width_2: float) -> None:
    check_positive("separation", separation, allow_zero=True)
    check_positive("width_1", width_1)
    check_positive("width_2", width_2)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise TypeError(f"weight must be a number, got {type(weight).__name__}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")


def target_mixture(separation: float, weight: float, width_1: float, width_2: float) -> D.MixtureSameFamily:
    """The app's target p: components at ∓separation/2 with weights (weight, 1 − weight), float64.

    Raises:
        ValueError/TypeError: for a negative separation, a weight outside [0, 1], non-positive widths.
    """
    _check_target(separation, weight, width_1, width_2)
    f64 = torch.float64
    return dv.gaussian_mixture(torch.tensor([weight, 1.0 - weight], dtype=f64),
                               torch.tensor([-separation / 2, separation / 2], dtype=f64),
                               torch.tensor([width_1, width_2], dtype=f64))


def explorer_grid(separation: float, width_1: float, width_2: float, q_mean: float, q_std: float,
                  n_grid: int = 4001) -> torch.Tensor:
    """A grid that covers ±10 standard deviations of every component of p and of q (float64)."""
    lo = min(-separation / 2 - 10 * width_1, separation / 2 - 10 * width_2, q_mean - 10 * q_std)
    hi = max(-separation / 2 + 10 * width_1, separation / 2 + 10 * width_2, q_mean + 10 * q_std)
    return torch.linspace(lo, hi, n_grid, dtype=torch.float64)


def kl_explorer_state(separation: float, weight: float, width_1: float, width_2: float,
                      q_mean: float, q_std: float, *, n_grid: int = 4001) -> KLState:
    r"""The pure function behind the KL explorer: p, q, both integrands and both KL values.

    The KLs are integrated by the trapezoidal rule on a grid covering ±10 standard deviations of
    every component (4001 points: spacing ≤ σ/10 for the slider ranges, so the error is far below
    the 4 decimals shown).  A few milliseconds per call, so the app stays live.

    Args:
        separation ≥ 0, weight ∈ [0, 1], width_1 > 0, width_2 > 0: the target p.
        q_mean, q_std > 0: the Gaussian q.
        n_grid: number of grid points (≥ 101).
    Returns:
        a :class:`KLState`.
    Raises:
        TypeError/ValueError: for out-of-range parameters, naming the parameter.
    """
    _check_target(separation, weight, width_1, width_2)
    if isinstance(q_mean, bool) or not isinstance(q_mean, (int, float)) or not math.isfinite(q_mean):
        raise TypeError(f"q_mean must be a finite number, got {q_mean!r}")
    check_positive("q_std", q_std)
    check_int("n_grid", n_grid, minimum=101)
    p_dist = target_mixture(separation, weight, width_1, width_2)
    q_dist = D.Normal(torch.tensor(float(q_mean), dtype=torch.float64), torch.tensor(float(q_std), dtype=torch.float64))
    x = explorer_grid(separation, width_1, width_2, q_mean, q_std, n_grid)
    log_p, log_q = p_dist.log_prob(x), q_dist.log_prob(x)          # evaluated once, reused below
    integrand_qp = dv.kl_integrand(lambda _: log_q, lambda _: log_p, x)
    integrand_pq = dv.kl_integrand(lambda _: log_p, lambda _: log_q, x)
    return KLState(x=x, p=log_p.exp(), q=log_q.exp(),
                   integrand_qp=integrand_qp, integrand_pq=integrand_pq,
                   kl_qp=float(torch.trapezoid(integrand_qp, x)), kl_pq=float(torch.trapezoid(integrand_pq, x)))


def fit_q(separation: float, weight: float, width_1: float, width_2: float, q_mean: float, q_std: float,
          direction: str) -> tuple[float, float]:
    """The app's fit buttons: (μ, σ) of the Gaussian q that minimises the forward KL[p‖q] (moment
    matching) or the reverse KL[q‖p] (L-BFGS from the current (q_mean, q_std)).

    Raises:
        ValueError: for an unknown direction or out-of-range parameters.
    """
    p_dist = target_mixture(separation, weight, width_1, width_2)
    check_positive("q_std", q_std)
    grid = explorer_grid(separation, width_1, width_2, q_mean, q_std)
    mu, std = dv.fit_gaussian(p_dist.log_prob, direction, init=(q_mean, q_std), grid=grid)
    return float(mu), float(std)


def draw_state(state: KLState, *, title: str | None = None) -> Figure:
    """Two panels: p and q on top, the integrands of KL[q‖p] and KL[p‖q] below.

    Returns a ``matplotlib.figure.Figure`` that is not registered with pyplot (nothing to close,
    nothing shown by the inline backend), in the course style.
    """
    with course_style():
        return _draw_state(state, title)


def _draw_state(state: KLState, title: str | None) -> Figure:
    x = state.x.numpy()
    fig = Figure(figsize=(9, 6.4))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(x, state.p.numpy(), color=COLORS["data"], label=r"target $p(\omega)$")
    ax1.fill_between(x, 0, state.p.numpy(), color=COLORS["grey"], alpha=0.2)
    ax1.plot(x, state.q.numpy(), color=COLORS["mean"], label=r"$q(\omega)$")
    ax1.set_ylabel("density")
    ax1.set_title(title or f"KL[q‖p] = {state.kl_qp:.4f},   KL[p‖q] = {state.kl_pq:.4f} nats")
    ax1.legend(loc="upper right")
    ax2.plot(x, state.integrand_qp.numpy(), color=COLORS["alt"], label=r"$q\log(q/p)$ (reverse)")
    ax2.plot(x, state.integrand_pq.numpy(), color=COLORS["truth"], label=r"$p\log(p/q)$ (forward)")
    ax2.axhline(0, color=COLORS["grey"], lw=1)
    ax2.set(xlabel=r"$\omega$", ylabel="integrand", xlim=VIEW)
    ax2.legend(loc="upper right")
    fig.tight_layout()
    return fig


class KLExplorer:
    """The KL explorer app (ipywidgets): sliders for p and q, live KL values, fit buttons.

    ``KLExplorer()`` builds it; display it as the last line of a cell.  Its widgets are attributes
    (``separation``, ``weight``, ``width_1``, ``width_2``, ``q_mean``, ``q_std`` sliders;
    ``kl_qp``, ``kl_pq`` value boxes; ``fit_forward_button``, ``fit_reverse_button``), and
    ``state`` is the :class:`KLState` last drawn.  ``draw=False`` skips the figure (headless use).
    """

    def __init__(self, *, draw: bool = True, **values: float) -> None:
        import ipywidgets as W

        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown KLExplorer parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        init = {**DEFAULTS, **values}
        self._draw = draw
        self._busy = False
        labels = {"separation": "separation s", "weight": "weight π", "width_1": "width σ₁", "width_2": "width σ₂",
                  "q_mean": "q mean μ", "q_std": "q std σ"}
        style = {"description_width": "7em"}
        self.sliders: dict[str, W.FloatSlider] = {}
        for name, (lo, hi, step) in RANGES.items():
            s = W.FloatSlider(value=init[name], min=lo, max=hi, step=step, description=labels[name],
                              readout_format=".2f", continuous_update=False, style=style,
                              layout=W.Layout(width="28em"))
            s.add_class("kl-" + name.replace("_", "-"))
            s.observe(self._on_change, names="value")
            self.sliders[name] = s
            setattr(self, name, s)
        self.kl_qp = W.FloatText(description="KL[q‖p]", disabled=True, style=style, layout=W.Layout(width="20em"))
        self.kl_qp.add_class("kl-qp-value")
        self.kl_pq = W.FloatText(description="KL[p‖q]", disabled=True, style=style, layout=W.Layout(width="20em"))
        self.kl_pq.add_class("kl-pq-value")
        self.fit_forward_button = W.Button(description="fit q: forward KL[p‖q]", layout=W.Layout(width="14em"))
        self.fit_forward_button.add_class("kl-fit-forward")
        self.fit_reverse_button = W.Button(description="fit q: reverse KL[q‖p]", layout=W.Layout(width="14em"))
        self.fit_reverse_button.add_class("kl-fit-reverse")
        self.fit_forward_button.on_click(lambda _: self.fit("forward"))
        self.fit_reverse_button.on_click(lambda _: self.fit("reverse"))
        # The figure is a PNG in an Image widget: a widget value like the KL boxes, so it updates the
        # same way in JupyterLab, under nbclient and under nbval (no output capturing involved).
        self.image = W.Image(format="png", layout=W.Layout(width="720px"))
        self.image.add_class("kl-figure")
        target = W.VBox([W.HTML("<b>target p</b>")] + [self.sliders[n] for n in ("separation", "weight", "width_1", "width_2")])
        approx = W.VBox([W.HTML("<b>approximation q</b>"), self.q_mean, self.q_std,
                         W.HBox([self.fit_forward_button, self.fit_reverse_button])])
        values_box = W.VBox([W.HTML("<b>KL divergences (nats)</b>"), self.kl_qp, self.kl_pq])
        self.widget = W.VBox([W.HBox([target, approx, values_box]), self.image])
        self.widget.add_class("kl-explorer")
        self.state: KLState | None = None
        self.update()

    # -- behaviour
    @property
    def params(self) -> dict[str, float]:
        """The current slider values, by parameter name."""
        return {name: float(s.value) for name, s in self.sliders.items()}

    def _on_change(self, _change: dict) -> None:
        if not self._busy:
            self.update()

    def update(self) -> KLState:
        """Recompute the state from the sliders, set the value boxes, redraw."""
        self.state = kl_explorer_state(**self.params)
        self.kl_qp.value = self.state.kl_qp
        self.kl_pq.value = self.state.kl_pq
        if self._draw:
            buffer = io.BytesIO()
            draw_state(self.state).savefig(buffer, format="png", dpi=80)
            self.image.value = buffer.getvalue()
        return self.state

    def fit(self, direction: str) -> tuple[float, float]:
        """Fit q by the forward or the reverse KL from the current q and move the q sliders there."""
        mu, std = fit_q(**self.params, direction=direction)
        self._busy = True
        try:
            self.q_mean.value, self.q_std.value = mu, std
        finally:
            self._busy = False
        self.update()
        return mu, std

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):       # (data, metadata)
            bundle = (dict(bundle[0]), bundle[1])
            data = bundle[0]
        else:
            bundle = data = dict(bundle)
        if "text/plain" in data:            # shown where widgets cannot render: a sentence, not a VBox repr
            data["text/plain"] = "KL explorer (interactive: run this cell in JupyterLab to use it)"
        return bundle
