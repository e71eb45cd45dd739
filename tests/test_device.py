import random

import numpy as np
import pytest
import torch

from course_utils.device import describe, get_device, seed_everything


def test_get_device_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected


def test_get_device_is_overridden_by_environment_variable(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_get_device_rejects_unknown_or_unavailable_devices(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu-of-dreams")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        get_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


def test_seed_everything_makes_all_generators_repeat():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(3))
    g = seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert torch.equal(torch.rand(2, generator=g), torch.rand(2, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        seed_everything(bad)


def test_describe_names_device_and_versions():
    line = describe(torch.device("cpu"))
    assert "cpu" in line and torch.__version__ in line
