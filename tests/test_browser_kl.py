"""Notebook 3's KL explorer in a real JupyterLab: run the notebook, move the q-mean slider, check
the displayed KL values against course_utils, press the reverse-KL fit button."""
import time

import pytest

from course_utils.widgets.kl import fit_q, kl_explorer_state
from lab import clear_and_run_all, error_outputs, open_notebook
from lab_widgets import read_number, read_slider, scroll_to_cell, set_slider, wait_number_change

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SLIDERS = {"separation": "kl-separation", "weight": "kl-weight", "width_1": "kl-width-1", "width_2": "kl-width-2",
           "q_mean": "kl-q-mean", "q_std": "kl-q-std"}


def _params(page):
    return {name: read_slider(page, cls) for name, cls in SLIDERS.items()}


def _wait_until_displayed(page, expected, timeout: float = 60.0) -> tuple[float, float]:
    """Wait until the app shows the KL values that course_utils computes (rel. 1e-9); return them."""
    deadline = time.time() + timeout
    while True:
        shown = (read_number(page, "kl-qp-value"), read_number(page, "kl-pq-value"))
        if shown == pytest.approx((expected.kl_qp, expected.kl_pq), rel=1e-9):
            return shown
        if time.time() > deadline:
            raise AssertionError(f"the app shows KL[q||p], KL[p||q] = {shown}, course_utils computes "
                                 f"{(expected.kl_qp, expected.kl_pq)}")
        time.sleep(0.2)


def test_kl_explorer_in_jupyterlab(jupyter_lab, page, artifacts):
    t0 = time.time()
    open_notebook(page, jupyter_lab, "notebooks/03_kl_divergence.ipynb")
    clear_and_run_all(page, timeout=400)
    assert error_outputs(page) == []
    text = page.locator(".jp-Notebook").inner_text()
    assert "variance ratio (reverse mean-field / true)" in text        # the last solution cell ran
    scroll_to_cell(page, "app = KLExplorer()")
    explorer = page.locator(".kl-explorer")
    try:
        explorer.wait_for(state="visible", timeout=60_000)
    except Exception:
        page.screenshot(path=str(artifacts / "kl_explorer_missing.png"))
        (artifacts / "kl_explorer_missing.html").write_text(page.evaluate(
            """() => { const c = [...document.querySelectorAll('.jp-CodeCell')].find(c => c.innerText.includes('app = KLExplorer()'));
                       return c ? c.outerHTML : 'no cell'; }"""))
        raise
    assert explorer.locator(".widget-slider").count() == 6

    # a q with exactly representable slider values (state A), then move the q-mean slider (state B)
    set_slider(page, "kl-q-mean", 1.5)
    set_slider(page, "kl-q-std", 1.25)
    params_a = _params(page)
    assert (params_a["q_mean"], params_a["q_std"]) == (1.5, 1.25)
    shown_a = _wait_until_displayed(page, kl_explorer_state(**params_a))
    set_slider(page, "kl-q-mean", -1.25)
    params = {**params_a, "q_mean": -1.25}
    shown_qp, shown_pq = _wait_until_displayed(page, kl_explorer_state(**params))
    assert _params(page) == params
    assert shown_qp != shown_a[0] and shown_pq != shown_a[1]            # both values moved with the slider

    # the reverse-KL fit button: KL[q‖p] goes down, to what course_utils computes from this start,
    # and q moves onto the left mode at -s/2 (mode seeking)
    explorer.screenshot(path=str(artifacts / "kl_explorer_before_fit.png"))
    figure_before = page.locator(".kl-figure").first.get_attribute("src")
    page.locator(".kl-fit-reverse").first.click()
    fitted_qp = wait_number_change(page, "kl-qp-value", shown_qp)
    assert fitted_qp < shown_qp
    mu, std = fit_q(**params, direction="reverse")
    assert fitted_qp == pytest.approx(kl_explorer_state(**{**params, "q_mean": mu, "q_std": std}).kl_qp, rel=1e-6)
    assert read_slider(page, "kl-q-mean") == pytest.approx(mu, abs=0.006)      # the readout shows 2 decimals
    assert mu == pytest.approx(-params["separation"] / 2, abs=0.05)
    page.wait_for_function("(old) => document.querySelector('.kl-figure').getAttribute('src') !== old", arg=figure_before,
                           timeout=30_000)                                      # the drawing follows
    explorer.screenshot(path=str(artifacts / "kl_explorer_after_reverse_fit.png"))
    page.screenshot(path=str(artifacts / "notebook3_lab.png"))
    assert error_outputs(page) == []
    print(f"notebook 3 + KL explorer in JupyterLab: {time.time() - t0:.1f} s "
          f"(KL[q||p] {shown_qp:.4f} -> {fitted_qp:.4f} after the reverse fit)")
