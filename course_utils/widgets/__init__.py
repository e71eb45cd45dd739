"""The course's ipywidgets apps.

Each app is a thin layer of sliders and buttons over a *pure function* that computes everything
the app shows; the pure functions are tested headless, and the apps keep their displayed results
in widget values, so that a following notebook cell (or a browser test) can assert them.

Submodules, one per notebook that has an app:
    blr   Bayesian linear regression explorer (notebook 2)
    kl    the KL explorer (notebook 3)
"""
