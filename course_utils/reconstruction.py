"""Classical reconstruction from sparse measurements: gappy POD (the baseline of notebook 7).

Proper orthogonal decomposition (POD) writes a snapshot as its mean plus a combination of the
leading principal directions of the training snapshots,

    x ≈ x̄ + Φ_r a,        Φ_r = the first r left singular vectors of [x_1 − x̄, …, x_T − x̄],

and *gappy* POD (Everson & Sirovich, 1995) finds the coefficients a from the observed entries
only, by least squares on the mask M:

    a* = argmin_a ‖M ⊙ (x̄ + Φ_r a − x)‖² + λ‖a‖²  =  (Φ_rᵀ M Φ_r + λ I)⁻¹ Φ_rᵀ M (x − x̄),

then returns the full field x̄ + Φ_r a*.  With every entry observed and λ = 0 it is the orthogonal
projection onto the POD subspace.  Shapes: snapshots ``[T, D]`` (flattened fields), masks ``[D]``
(shared) or ``[B, D]`` (one per snapshot), booleans.
"""
from __future__ import annotations

import torch

from course_utils._checks import check_int, check_positive, check_tensor


def pod_basis(snapshots: torch.Tensor, n_modes: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The POD of a set of snapshots: the mean, the leading modes and their singular values.

    Args:
        snapshots: ``[T, D]`` (T snapshots of D values).
        n_modes: how many modes to keep (default: all, min(T, D)).
    Returns:
        ``mean`` [D], ``modes`` [D, r] (orthonormal columns), ``singular_values`` [r] (descending).
    Raises:
        ValueError: naming ``snapshots`` (not 2-D or fewer than 2 rows, non-finite) or ``n_modes``
            (larger than min(T, D)).
    """
    check_tensor("snapshots", snapshots, ndim=2)
    if snapshots.shape[0] < 2:
        raise ValueError(f"snapshots must hold at least 2 rows, got {snapshots.shape[0]}")
    r_max = min(snapshots.shape)
    r = r_max if n_modes is None else check_int("n_modes", n_modes)
    if r > r_max:
        raise ValueError(f"n_modes must be at most min(T, D) = {r_max}, got {r}")
    mean = snapshots.mean(0)
    _, s, vh = torch.linalg.svd(snapshots - mean, full_matrices=False)
    return mean, vh[:r].T.contiguous(), s[:r]


def gappy_pod(values: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor, modes: torch.Tensor, *,
              n_modes: int | None = None, ridge: float = 1e-6, chunk: int = 256) -> torch.Tensor:
    """Reconstruct full snapshots from the entries where ``mask`` is True (gappy POD).

    Args:
        values: ``[B, D]`` snapshots of which only the masked entries are used (the others may be
            anything finite, e.g. 0).
        mask: ``[D]`` (the same sensors for every snapshot) or ``[B, D]`` booleans, True = observed.
        mean, modes: from :func:`pod_basis` (``[D]`` and ``[D, r]``).
        n_modes: use only the first ``n_modes`` modes (default: all r).  A well-posed problem needs
            at most as many modes as observed entries, unless ``ridge`` > 0.
        ridge: λ relative to the mean diagonal of Φ_rᵀ M Φ_r (stabilises the solve; 0 = plain
            least squares, which needs Φ_rᵀ M Φ_r invertible).
        chunk: snapshots per batched solve (bounds the memory when ``mask`` is per snapshot).
    Returns:
        the reconstructions ``[B, D]``.
    Raises:
        TypeError/ValueError: naming the argument for wrong shapes or dtypes, a mask without any
            observed entry, or ``n_modes`` > r.
    """
    check_tensor("values", values, ndim=2)
    check_tensor("mean", mean, ndim=1)
    check_tensor("modes", modes, ndim=2)
    check_positive("ridge", ridge, allow_zero=True)
    check_int("chunk", chunk)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a boolean tensor [D] or [B, D]")
    B, D = values.shape
    if mean.shape[0] != D or modes.shape[0] != D:
        raise ValueError(f"mean and modes must have D = {D} rows (as values), got {mean.shape[0]} and {modes.shape[0]}")
    if mask.shape not in ((D,), (B, D)):
        raise ValueError(f"mask must have shape [{D}] or [{B}, {D}], got {tuple(mask.shape)}")
    if not bool(mask.reshape(-1, D).any(1).all()):
        raise ValueError("mask must mark at least one observed entry for every snapshot")
    r = modes.shape[1] if n_modes is None else check_int("n_modes", n_modes)
    if r > modes.shape[1]:
        raise ValueError(f"n_modes must be at most the number of modes {modes.shape[1]}, got {r}")
    phi = modes[:, :r]
    eye = torch.eye(r, dtype=values.dtype, device=values.device)
    resid = values - mean
    if mask.ndim == 1:
        p = phi[mask]                                                      # [n_obs, r]
        A = p.T @ p
        A = A + ridge * A.diagonal().mean() * eye
        a = torch.linalg.solve(A, p.T @ resid[:, mask].T).T               # [B, r]
        return mean + a @ phi.T
    out = []
    for s in range(0, B, chunk):
        m = mask[s:s + chunk].to(values.dtype)                             # [b, D]
        mp = m[:, :, None] * phi                                           # [b, D, r]  = M Φ
        A = phi.T @ mp                                                     # [b, r, r]  = Φᵀ M Φ
        A = A + ridge * A.diagonal(dim1=-2, dim2=-1).mean(-1)[:, None, None] * eye
        rhs = (mp * resid[s:s + chunk, :, None]).sum(1)                   # [b, r]     = Φᵀ M (x − x̄)
        a = torch.linalg.solve(A, rhs)
        out.append(mean + a @ phi.T)
    return torch.cat(out)
