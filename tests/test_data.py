import pytest
import torch

from course_utils import data


@pytest.mark.parametrize("function", sorted(data.TOY_FUNCTIONS))
def test_toy_regression_noise_has_the_stated_std(function):
    """The residuals y - f(x) are N(0, σ²): their sample std is within 4 standard errors of σ."""
    n = 20_000
    x, y = data.toy_regression(n, function, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    resid = y - data.toy_function(x, function)
    sigma = data.TOY_FUNCTIONS[function][2]
    se = sigma / (2 * (n - 1)) ** 0.5  # standard error of a sample std of a normal
    assert abs(float(resid.std()) - sigma) < 4 * se
    assert abs(float(resid.mean())) < 4 * sigma / n**0.5
    lo, hi = data.TOY_FUNCTIONS[function][1]
    assert float(x.min()) >= lo and float(x.max()) <= hi


def test_toy_regression_is_seeded_and_on_the_requested_device(device):
    a = data.toy_regression(5, generator=torch.Generator().manual_seed(1), device=device)
    b = data.toy_regression(5, generator=torch.Generator().manual_seed(1), device=device)
    assert a[0].device.type == device.type and torch.equal(a[1], b[1])
    assert a[0].shape == (5, 1) and a[1].shape == (5,)


def test_toy_classification_shapes_and_labels():
    x, labels = data.toy_classification(100, 4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (100, 2) and labels.shape == (100,)
    assert set(labels.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("call,match", [
    (lambda: data.toy_regression(0), "n"),
    (lambda: data.toy_regression(5, "quartic"), "function"),
    (lambda: data.toy_regression(5, x_range=(1.0, 0.0)), "x_range"),
    (lambda: data.toy_regression(5, noise_std=-1.0), "noise_std"),
    (lambda: data.toy_classification(5, 1), "n_classes"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
