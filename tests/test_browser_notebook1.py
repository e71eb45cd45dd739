"""Notebook 1 in a real JupyterLab: open it, run every cell, check what it prints."""
import time

import pytest

from lab import NB, clear_and_run_all, error_outputs, notebook_text, open_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_notebook1_runs_top_to_bottom_in_jupyterlab(jupyter_lab, page, artifacts):
    t0 = time.time()
    open_notebook(page, jupyter_lab, "notebooks/01_deep_learning_as_likelihood.ipynb")
    clear_and_run_all(page, timeout=400)
    text = notebook_text(page)
    page.screenshot(path=str(artifacts / "notebook1_lab.png"))
    assert error_outputs(page) == []
    assert "f^ω(x) equals W2 σ(W1 x + b): True" in text
    assert "analytic gradient equals autograd: True" in text   # the last solution cells ran too
    assert page.locator(f"{NB} .jp-OutputArea-output img").count() >= 5    # the figures rendered
    print(f"notebook 1 in JupyterLab: {time.time() - t0:.1f} s")
