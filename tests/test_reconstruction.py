"""Gappy POD: the classical baseline for reconstruction from sparse measurements (notebook 7)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.reconstruction import gappy_pod, pod_basis


@pytest.fixture
def snapshots(gen):
    """50 snapshots of D = 60 values that lie (up to the mean) in a 4-dimensional subspace."""
    basis = torch.linalg.qr(torch.randn(60, 4, generator=gen, dtype=torch.float64))[0]
    coeffs = torch.randn(50, 4, generator=gen, dtype=torch.float64) * torch.tensor([5.0, 3.0, 2.0, 1.0], dtype=torch.float64)
    return 0.3 + coeffs @ basis.T


def test_pod_modes_are_orthonormal_and_match_numpy_svd(snapshots, device):
    X = snapshots.to(device)
    mean, modes, s = pod_basis(X, 6)
    assert tuple(modes.shape) == (60, 6) and mean.device.type == device.type
    torch.testing.assert_close(modes.T @ modes, torch.eye(6, dtype=X.dtype, device=device), atol=1e-12, rtol=0)
    s_np = np.linalg.svd(snapshots.numpy() - snapshots.numpy().mean(0), compute_uv=False)[:6]
    np.testing.assert_allclose(s.cpu().numpy(), s_np, rtol=1e-10, atol=1e-10)   # float64 round-off (tiny s: atol)


def test_gappy_pod_with_every_entry_observed_is_the_orthogonal_projection(snapshots, device, gen):
    X = snapshots.to(device)
    mean, modes, _ = pod_basis(X, 3)
    x = X[:7] + 0.1 * torch.randn(7, 60, generator=gen, dtype=X.dtype).to(device)
    full = torch.ones(60, dtype=torch.bool, device=device)
    proj = mean + ((x - mean) @ modes) @ modes.T
    torch.testing.assert_close(gappy_pod(x, full, mean, modes, ridge=0.0), proj, atol=1e-10, rtol=0)


def test_gappy_pod_recovers_a_field_of_the_subspace_exactly_from_few_entries(snapshots, device, gen):
    """Four modes, six observed entries: the least-squares system is exact (float64 round-off)."""
    X = snapshots.to(device)
    mean, modes, _ = pod_basis(X[:40], 4)
    mask = torch.zeros(60, dtype=torch.bool)
    mask[torch.randperm(60, generator=gen)[:6]] = True
    rec = gappy_pod(X[40:] * mask.to(device), mask.to(device), mean, modes, ridge=0.0)
    torch.testing.assert_close(rec, X[40:], atol=1e-9, rtol=0)


def test_gappy_pod_agrees_with_numpy_least_squares_on_the_observed_entries(snapshots, gen):
    mean, modes, _ = pod_basis(snapshots, 10)
    x = snapshots[:3] + 0.5 * torch.randn(3, 60, generator=gen, dtype=torch.float64)
    mask = torch.rand(60, generator=gen) < 0.4
    rec = gappy_pod(x, mask, mean, modes, n_modes=5, ridge=0.0)
    phi = modes[:, :5].numpy()
    a = np.linalg.lstsq(phi[mask.numpy()], (x - mean)[:, mask].numpy().T, rcond=None)[0]
    np.testing.assert_allclose(rec.numpy(), mean.numpy() + (phi @ a).T, atol=1e-9)


def test_per_snapshot_masks_give_the_same_answer_as_a_shared_mask(snapshots, device, gen):
    X = snapshots.to(device)
    mean, modes, _ = pod_basis(X, 8)
    mask = (torch.rand(60, generator=gen) < 0.3).to(device)
    shared = gappy_pod(X[:10], mask, mean, modes, ridge=1e-3)
    per = gappy_pod(X[:10], mask.expand(10, 60).clone(), mean, modes, ridge=1e-3, chunk=3)
    torch.testing.assert_close(per, shared, atol=1e-10, rtol=0)


@pytest.mark.parametrize("call,match", [
    (lambda X: pod_basis(X[0]), "snapshots"),
    (lambda X: pod_basis(X, 100), "n_modes"),
    (lambda X: gappy_pod(X, torch.ones(60), *pod_basis(X)[:2]), "mask"),
    (lambda X: gappy_pod(X, torch.ones(59, dtype=torch.bool), *pod_basis(X)[:2]), "mask"),
    (lambda X: gappy_pod(X, torch.zeros(60, dtype=torch.bool), *pod_basis(X)[:2]), "mask"),
    (lambda X: gappy_pod(X, torch.ones(60, dtype=torch.bool), *pod_basis(X, 3)[:2], n_modes=5), "n_modes"),
    (lambda X: gappy_pod(X, torch.ones(60, dtype=torch.bool), *pod_basis(X)[:2], ridge=-1.0), "ridge"),
    (lambda X: gappy_pod(X[:, :10], torch.ones(10, dtype=torch.bool), *pod_basis(X)[:2]), "mean and modes"),
])
def test_bad_input_raises_an_error_naming_the_argument(snapshots, call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call(snapshots)
