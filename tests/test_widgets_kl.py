"""The KL explorer (notebook 3), headless: its pure function against independent quadrature and
closed forms, and the app's sliders, value boxes and fit buttons without a browser."""
import math

import matplotlib
import numpy as np
import pytest
import torch
from scipy import integrate

from course_utils import divergences as dv
from course_utils.widgets import kl

matplotlib.use("Agg")
F64 = torch.float64


def _log_norm(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))


def _scipy_kls(separation, weight, width_1, width_2, q_mean, q_std):
    """KL[q‖p] and KL[p‖q] by scipy.integrate.quad on NumPy densities (independent of the package)."""
    log_p = lambda x: np.logaddexp(math.log(weight) + _log_norm(x, -separation / 2, width_1),
                                   math.log(1 - weight) + _log_norm(x, separation / 2, width_2))
    log_q = lambda x: _log_norm(x, q_mean, q_std)
    lo = min(-separation / 2 - 12 * width_1, q_mean - 12 * q_std)
    hi = max(separation / 2 + 12 * width_2, q_mean + 12 * q_std)
    pts = sorted({-separation / 2, separation / 2, q_mean})
    kw = dict(points=pts, limit=400, epsabs=1e-12, epsrel=1e-11)
    kl_qp = integrate.quad(lambda x: math.exp(log_q(x)) * (log_q(x) - log_p(x)), lo, hi, **kw)[0]
    kl_pq = integrate.quad(lambda x: math.exp(log_p(x)) * (log_p(x) - log_q(x)), lo, hi, **kw)[0]
    return kl_qp, kl_pq


SETTINGS = [
    dict(kl.DEFAULTS),
    dict(separation=6.0, weight=0.2, width_1=0.3, width_2=1.5, q_mean=-2.5, q_std=0.4),
    dict(separation=1.0, weight=0.9, width_1=2.0, width_2=0.2, q_mean=3.0, q_std=3.0),
]


@pytest.mark.parametrize("setting", SETTINGS)
def test_explorer_kl_values_equal_scipy_quadrature(setting):
    state = kl.kl_explorer_state(**setting)
    kl_qp, kl_pq = _scipy_kls(**setting)
    # the 4001-point trapezoid and scipy's adaptive quadrature agree to ~1e-9 relative
    assert state.kl_qp == pytest.approx(kl_qp, rel=1e-8, abs=1e-10)
    assert state.kl_pq == pytest.approx(kl_pq, rel=1e-8, abs=1e-10)


def test_explorer_reduces_to_the_closed_form_when_the_target_is_one_gaussian():
    state = kl.kl_explorer_state(separation=0.0, weight=0.3, width_1=1.2, width_2=1.2, q_mean=0.7, q_std=0.5)
    assert state.kl_qp == pytest.approx(float(dv.kl_normal(*torch.tensor([0.7, 0.5, 0.0, 1.2], dtype=F64))), rel=1e-10)
    assert state.kl_pq == pytest.approx(float(dv.kl_normal(*torch.tensor([0.0, 1.2, 0.7, 0.5], dtype=F64))), rel=1e-10)


def test_explorer_densities_are_normalised_and_integrands_integrate_to_the_values():
    state = kl.kl_explorer_state(**SETTINGS[1])
    for density in (state.p, state.q):
        assert float(torch.trapezoid(density, state.x)) == pytest.approx(1.0, abs=1e-10)
    assert float(torch.trapezoid(state.integrand_qp, state.x)) == pytest.approx(state.kl_qp, rel=1e-14)
    assert float(torch.trapezoid(state.integrand_pq, state.x)) == pytest.approx(state.kl_pq, rel=1e-14)


def test_reverse_integrand_is_large_where_q_has_mass_and_p_has_none():
    """Zero forcing: q between two well separated modes pays q log(q/p) ≫ 0 in the gap."""
    state = kl.kl_explorer_state(separation=6.0, weight=0.5, width_1=0.5, width_2=0.5, q_mean=0.0, q_std=1.0)
    gap = state.x.abs() < 0.5
    assert float(state.integrand_qp[gap].min()) > 1.0
    assert float(state.integrand_pq[gap].abs().max()) < 1e-3 * float(state.integrand_qp[gap].min())  # p ≈ 0 there


def test_fit_q_forward_is_moment_matching_and_reverse_lowers_kl_qp():
    s = SETTINGS[1]
    mu, std = kl.fit_q(**s, direction="forward")
    m, v = dv.mixture_moments(torch.tensor([s["weight"], 1 - s["weight"]], dtype=F64),
                              torch.tensor([-s["separation"] / 2, s["separation"] / 2], dtype=F64),
                              torch.tensor([s["width_1"], s["width_2"]], dtype=F64))
    assert mu == pytest.approx(float(m), abs=1e-9) and std**2 == pytest.approx(float(v), rel=1e-9)
    mu_r, std_r = kl.fit_q(**s, direction="reverse")
    start = kl.kl_explorer_state(**s).kl_qp
    fitted = kl.kl_explorer_state(**{**s, "q_mean": mu_r, "q_std": std_r}).kl_qp
    assert fitted < start
    assert mu_r == pytest.approx(-3.0, abs=0.05)        # from q_mean = -2.5 it finds the left mode at -s/2


def test_app_value_boxes_follow_the_sliders():
    app = kl.KLExplorer(draw=False)
    assert app.kl_qp.value == pytest.approx(kl.kl_explorer_state(**kl.DEFAULTS).kl_qp, rel=1e-12)
    app.q_mean.value = -1.25
    app.width_2.value = 1.0
    expected = kl.kl_explorer_state(**{**kl.DEFAULTS, "q_mean": -1.25, "width_2": 1.0})
    assert app.params["q_mean"] == -1.25
    assert app.kl_qp.value == pytest.approx(expected.kl_qp, rel=1e-12)
    assert app.kl_pq.value == pytest.approx(expected.kl_pq, rel=1e-12)


def test_app_fit_buttons_move_the_q_sliders_to_the_optimum():
    app = kl.KLExplorer(draw=False, q_mean=1.0, q_std=1.0)
    before = (app.kl_qp.value, app.kl_pq.value)
    app.fit_reverse_button.click()
    mu, std = kl.fit_q(**{**kl.DEFAULTS, "q_mean": 1.0, "q_std": 1.0}, direction="reverse")
    assert (app.q_mean.value, app.q_std.value) == pytest.approx((mu, std))
    assert app.kl_qp.value < before[0]
    assert app.q_mean.value == pytest.approx(2.0, abs=0.01)        # the right mode, nearest the start
    app.fit_forward_button.click()
    assert app.kl_pq.value < before[1]
    assert app.q_mean.value == pytest.approx(0.0, abs=1e-9)        # moment matching: the mixture's mean


def test_reverse_fit_from_the_default_q_seeks_a_mode():
    """The app's showpiece: pressing "fit q: reverse" in the default state lands on a mode, not between them."""
    app = kl.KLExplorer(draw=False)
    before = app.kl_qp.value
    app.fit_reverse_button.click()
    width = kl.DEFAULTS["width_2"]
    assert app.q_mean.value == pytest.approx(kl.DEFAULTS["separation"] / 2, abs=0.01)   # the right mode at +s/2
    assert app.q_std.value == pytest.approx(width, abs=0.01)                            # about as narrow as it
    assert app.kl_qp.value < before
    # for two well separated modes of weight 1/2, q = one component pays KL[q||p] ≈ -log(1/2)
    assert app.kl_qp.value == pytest.approx(math.log(2), abs=0.01)


def test_reverse_fit_from_a_wide_central_q_stops_at_a_broad_q_with_larger_kl():
    """The broad stationary point between the modes: a local optimum of KL[q||p], worse than the mode fits."""
    app = kl.KLExplorer(draw=False, q_mean=0.5, q_std=1.5)
    app.fit_reverse_button.click()
    broad = app.kl_qp.value
    assert abs(app.q_mean.value) < 0.05 and app.q_std.value > 1.5
    mode = kl.kl_explorer_state(**{**kl.DEFAULTS, "q_mean": 2.0, "q_std": 0.6}).kl_qp
    assert broad > mode + 0.3


def test_app_classes_let_a_browser_find_its_widgets():
    app = kl.KLExplorer(draw=False)
    for name, slider in app.sliders.items():
        assert "kl-" + name.replace("_", "-") in slider._dom_classes
    assert "kl-qp-value" in app.kl_qp._dom_classes and "kl-pq-value" in app.kl_pq._dom_classes
    assert "kl-fit-reverse" in app.fit_reverse_button._dom_classes
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "VBox" not in bundle["text/plain"]                  # a stored notebook shows a sentence, not a repr


def test_draw_state_makes_two_labelled_panels():
    fig = kl.draw_state(kl.kl_explorer_state(**kl.DEFAULTS))
    top, bottom = fig.axes
    assert "KL[q‖p]" in top.get_title() and top.get_legend() is not None and bottom.get_legend() is not None
    assert bottom.get_xlabel() and bottom.get_ylabel() and top.get_ylabel()
    assert matplotlib.pyplot.get_fignums() == []          # not registered with pyplot: nothing leaks into a cell


def test_app_redraws_its_figure_as_a_png_widget_value():
    app = kl.KLExplorer()
    first = app.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    app.q_mean.value = -2.0
    assert app.image.value != first and app.image.value[:4] == b"\x89PNG"


@pytest.mark.parametrize("call,match", [
    (lambda: kl.kl_explorer_state(**{**kl.DEFAULTS, "weight": 1.5}), "weight"),
    (lambda: kl.kl_explorer_state(**{**kl.DEFAULTS, "q_std": 0.0}), "q_std"),
    (lambda: kl.kl_explorer_state(**{**kl.DEFAULTS, "width_1": -1.0}), "width_1"),
    (lambda: kl.kl_explorer_state(**{**kl.DEFAULTS, "separation": -1.0}), "separation"),
    (lambda: kl.kl_explorer_state(**{**kl.DEFAULTS, "q_mean": float("nan")}), "q_mean"),
    (lambda: kl.kl_explorer_state(**kl.DEFAULTS, n_grid=10), "n_grid"),
    (lambda: kl.fit_q(**kl.DEFAULTS, direction="up"), "direction"),
    (lambda: kl.KLExplorer(draw=False, q_variance=1.0), "q_variance"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
