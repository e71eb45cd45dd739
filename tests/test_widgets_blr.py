"""The Bayesian linear regression explorer: its pure function against course_utils.linear, and
the app's widget values following its sliders (headless, no browser)."""
import pytest
import torch

from course_utils import linear
from course_utils.widgets import blr


def test_explorer_state_equals_the_closed_form_for_the_same_setting():
    s = blr.blr_explorer_state(prior_var=2.0, noise_var=0.1, n_points=12, degree=4)
    x_all, y_all = blr.explorer_data()
    X = blr.design(x_all[:12, 0], 4)
    mean, cov = linear.blr_posterior(X, y_all[:12], 0.1, 2.0)
    G = blr.design(s.grid, 4)
    torch.testing.assert_close(s.pred_mean, G @ mean)
    torch.testing.assert_close(s.epistemic_var, linear.blr_epistemic_var(G, cov))
    assert s.log_evidence == pytest.approx(float(linear.blr_log_evidence(X, y_all[:12], 0.1, 2.0)), rel=1e-12)
    assert s.best_degree == int(s.evidence_vs_degree.argmax())
    assert s.x.shape == (12,) and s.samples.shape == (20, 200)


def test_posterior_samples_have_the_posterior_moments_within_standard_error():
    s = blr.blr_explorer_state(1.0, 0.09, 10, 2, n_samples=20_000)
    # at each grid point the sample mean of f(x) is within 5 standard errors of the predictive mean
    se = s.epistemic_var.sqrt() / 20_000**0.5
    assert bool(((s.samples.mean(0) - s.pred_mean).abs() < 5 * se).all())


def test_epistemic_variance_shrinks_as_data_arrive():
    few, many = (blr.blr_explorer_state(1.0, 0.09, n, 3) for n in (3, 50))
    assert float(few.epistemic_var.mean()) > 5 * float(many.epistemic_var.mean())


def test_evidence_curve_peaks_where_the_marked_prior_variance_is_best():
    s = blr.blr_explorer_state(1.0, 0.09, 30, 3)
    best_tau2 = float(s.prior_vars[s.evidence_vs_prior.argmax()])
    at_best = blr.blr_explorer_state(best_tau2, 0.09, 30, 3)
    assert at_best.log_evidence >= s.log_evidence


def test_app_values_follow_the_sliders():
    app = blr.BLRExplorer(prior_var=1.0, noise_var=0.09, n_points=10, degree=3)
    before = app.log_evidence.value
    app.n_points.value = 30
    app.degree.value = 5
    expected = blr.blr_explorer_state(app.prior_var.value, app.noise_var.value, 30, 5).log_evidence
    assert app.log_evidence.value != before
    assert app.log_evidence.value == pytest.approx(expected, abs=1e-4)
    assert app.best_degree.value == app.state.best_degree
    assert app.figure.value[:8] == b"\x89PNG\r\n\x1a\n"  # the redrawn figure


@pytest.mark.parametrize("kwargs,match", [
    (dict(prior_var=0.0, noise_var=0.1, n_points=5, degree=1), "prior_var"),
    (dict(prior_var=1.0, noise_var=-0.1, n_points=5, degree=1), "noise_var"),
    (dict(prior_var=1.0, noise_var=0.1, n_points=0, degree=1), "n_points"),
    (dict(prior_var=1.0, noise_var=0.1, n_points=51, degree=1), "n_points"),
    (dict(prior_var=1.0, noise_var=0.1, n_points=5, degree=10), "degree"),
])
def test_bad_settings_raise_an_error_naming_the_argument(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        blr.blr_explorer_state(**kwargs)


def test_app_displays_its_widget_with_a_sentence_as_plain_text():
    app = blr.BLRExplorer()
    bundle = app._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("BLR explorer")
