"""Synthetic coastal-ocean velocity fields and sparse measurements of them (notebook 7).

The lecture reconstructs velocity fields of the Bergen Ocean Model (8500 snapshots × 32 × 32
cells × 2 components (u, v), 10 minutes apart, a 25.6 km × 25.6 km area) from a few point
measurements.  That data set is not public, so :func:`flow_fields` generates a stand-in with the
same layout and the same ingredients: a mean current, a tidal oscillation (the M2 and S2 tides,
which beat into a spring-neap cycle), eddies that drift with the current and slowly wax and wane,
and measurement noise.  Eddies and the tide are built from stream functions, so those parts
are divergence-free, as a depth-averaged incompressible flow should be.

Shapes follow the lecture: fields are ``[T, H, W, 2]`` (the last axis is (u, v), in m/s).
Sensor positions are integer ``[n, 2]`` tensors of (row, column) grid indices.
"""
from __future__ import annotations

import math

import torch

from course_utils._checks import check_int, check_positive, check_tensor

#: Periods of the two main semi-diurnal tides, in hours.
M2_HOURS, S2_HOURS = 12.4206, 12.0


def flow_fields(n_steps: int, *, grid: int = 32, dt_minutes: float = 10.0, mean_current: tuple[float, float] = (0.08, 0.03),
                tide_amplitude: float = 0.25, n_eddies: int = 6, eddy_strength: float = 0.25, eddy_radius: float = 0.12,
                noise_std: float = 0.01, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> torch.Tensor:
    """A seeded sequence of 2-D velocity fields (u, v) on a ``grid × grid`` square, one every ``dt_minutes``.

    The domain is the unit square (the lecture's 25.6 km side), periodic for the eddies.  The field is

        u(x, t) = U_mean + a_tide(t) · s(x) · e_θ + Σ_k eddy_k(x, t) + ε,   ε ~ N(0, noise_std²),

    with a_tide(t) = A (cos ω_M2 t + 0.4 cos ω_S2 t) (spring-neap beating), s(x) a smooth spatial
    pattern (stronger flow in the "channel" across the middle), θ a fixed random direction, and each
    eddy a Gaussian vortex ψ_k = Γ_k(t) R² exp(−r²/2R²) drifting with the mean current plus its
    own velocity, its strength Γ_k(t) modulated over a few days.

    Args:
        n_steps: number of snapshots T.
        grid: cells per side (32 in the lecture).
        dt_minutes: time between snapshots (10 minutes in the lecture).
        mean_current: (u, v) of the mean current, m/s.
        tide_amplitude: A, m/s.
        n_eddies: number of eddies.
        eddy_strength: typical peak eddy speed, m/s.
        eddy_radius: typical eddy radius R as a fraction of the domain.
        noise_std: standard deviation of the white measurement noise, m/s.
        generator: a seeded CPU ``torch.Generator`` (everything is drawn from it).
    Returns:
        fields ``[n_steps, grid, grid, 2]`` on ``device`` with ``dtype``.
    Raises:
        TypeError/ValueError: naming the argument, for a non-int or non-positive size, or a
            negative amplitude or noise level.
    """
    check_int("n_steps", n_steps)
    check_int("grid", grid, minimum=2)
    check_positive("dt_minutes", dt_minutes)
    check_int("n_eddies", n_eddies, minimum=0)
    for name, val in (("tide_amplitude", tide_amplitude), ("eddy_strength", eddy_strength), ("noise_std", noise_std)):
        check_positive(name, val, allow_zero=True)
    check_positive("eddy_radius", eddy_radius)
    if not (isinstance(mean_current, (tuple, list)) and len(mean_current) == 2):
        raise ValueError(f"mean_current must be a pair (u, v), got {mean_current!r}")
    g, f64 = generator, torch.float64
    t_hours = torch.arange(n_steps, dtype=f64) * dt_minutes / 60.0                      # [T]
    c = (torch.arange(grid, dtype=f64) + 0.5) / grid
    Y, X = torch.meshgrid(c, c, indexing="ij")                                           # rows = y, cols = x

    u = torch.full((n_steps, grid, grid), float(mean_current[0]), dtype=f64)
    v = torch.full((n_steps, grid, grid), float(mean_current[1]), dtype=f64)
    # a weak steady shear of the mean current (stronger offshore)
    u = u + 0.04 * torch.sin(math.pi * Y)[None]

    # tide: a_tide(t) times the velocity of the stream function ψ = s-shaped "channel" profile
    theta = 2 * math.pi * float(torch.rand((), generator=g, dtype=f64))
    phase = 2 * math.pi * torch.rand(2, generator=g, dtype=f64)
    a_tide = tide_amplitude * (torch.cos(2 * math.pi * t_hours / M2_HOURS + phase[0])
                               + 0.4 * torch.cos(2 * math.pi * t_hours / S2_HOURS + phase[1]))
    across = -math.sin(theta) * (X - 0.5) + math.cos(theta) * (Y - 0.5)                 # distance across the channel
    profile = 0.6 + 0.8 * torch.exp(-(across / 0.3) ** 2)                                # faster in the channel centre
    u = u + a_tide[:, None, None] * (profile * math.cos(theta))[None]
    v = v + a_tide[:, None, None] * (profile * math.sin(theta))[None]

    if n_eddies > 0:
        k = n_eddies
        x0, y0 = torch.rand(k, generator=g, dtype=f64), torch.rand(k, generator=g, dtype=f64)
        drift = torch.stack([torch.full((k,), float(mean_current[0])), torch.full((k,), float(mean_current[1]))], 1).to(f64)
        drift = drift + 0.03 * torch.randn(k, 2, generator=g, dtype=f64)                # m/s
        sign = torch.where(torch.rand(k, generator=g, dtype=f64) < 0.5, -1.0, 1.0).to(f64)
        strength = eddy_strength * (0.6 + 0.8 * torch.rand(k, generator=g, dtype=f64)) * sign
        radius = eddy_radius * (0.7 + 0.6 * torch.rand(k, generator=g, dtype=f64))
        life_hours = 48 + 96 * torch.rand(k, generator=g, dtype=f64)
        life_phase = 2 * math.pi * torch.rand(k, generator=g, dtype=f64)
        domain_m = 25_600.0                                                               # metres
        shift = drift[None] * (t_hours[:, None, None] * 3600.0) / domain_m              # [T, k, 2] domain units
        cx = (x0[None] + shift[..., 0]) % 1.0                                             # [T, k]
        cy = (y0[None] + shift[..., 1]) % 1.0
        dx = (X[None, None] - cx[..., None, None] + 0.5) % 1.0 - 0.5                      # minimum-image distance
        dy = (Y[None, None] - cy[..., None, None] + 0.5) % 1.0 - 0.5                      # [T, k, H, W]
        R = radius[None, :, None, None]
        amp = strength[None, :] * (0.55 + 0.45 * torch.cos(2 * math.pi * t_hours[:, None] / life_hours[None] + life_phase[None]))
        gauss = torch.exp(-(dx**2 + dy**2) / (2 * R**2)) * amp[..., None, None] * math.exp(0.5)
        # ψ = Γ R² exp(−r²/2R²) → (u, v) = (−∂ψ/∂y, ∂ψ/∂x) = Γ·(dy, −dx)·exp(·); peak speed ≈ |Γ|·R·e^{-1/2}·e^{1/2}
        u = u + (gauss * dy / R).sum(1)
        v = v - (gauss * dx / R).sum(1)

    fields = torch.stack([u, v], dim=-1)
    if noise_std > 0:
        fields = fields + noise_std * torch.randn(fields.shape, generator=g, dtype=f64)
    return fields.to(device=device, dtype=dtype)


def sensor_positions(n_sensors: int, grid: int = 32, *, layout: str = "random", generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Positions of ``n_sensors`` point sensors on a ``grid × grid`` field, without repeats.

    Args:
        n_sensors: how many (1 … grid²).
        layout: ``"random"`` (uniform without replacement, from ``generator``) or ``"regular"``
            (a near-square lattice spread over the domain, the same every time).
    Returns:
        integer (row, column) indices ``[n_sensors, 2]``.
    Raises:
        ValueError: for ``n_sensors`` outside 1 … grid² or an unknown ``layout``.
    """
    check_int("grid", grid, minimum=1)
    check_int("n_sensors", n_sensors)
    if n_sensors > grid * grid:
        raise ValueError(f"n_sensors must be at most grid² = {grid * grid}, got {n_sensors}")
    if layout == "random":
        flat = torch.randperm(grid * grid, generator=generator)[:n_sensors]
    elif layout == "regular":
        side = math.ceil(math.sqrt(n_sensors))
        c = ((torch.arange(side, dtype=torch.float64) + 0.5) * grid / side).long().clamp(max=grid - 1)
        rr, cc = torch.meshgrid(c, c, indexing="ij")
        flat = (rr * grid + cc).reshape(-1)[:n_sensors]
    else:
        raise ValueError(f"layout must be 'random' or 'regular', got {layout!r}")
    return torch.stack([flat // grid, flat % grid], dim=1).to(device)


def sample_measurements(fields: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The measurements m: the (u, v) values of ``fields`` at the sensor ``positions``.

    Args:
        fields: ``[T, H, W, C]`` (C = 2 for (u, v)).
        positions: integer ``[n, 2]`` (row, column), shared by all snapshots, or ``[T, n, 2]``
            (different sensors for each snapshot).
    Returns:
        ``[T, n, C]``.
    Raises:
        TypeError/ValueError naming ``fields`` or ``positions`` for a bad shape, dtype or index.
    """
    check_tensor("fields", fields, ndim=4)
    _check_positions(positions, fields)
    T = fields.shape[0]
    pos = positions.to(fields.device)
    if pos.ndim == 2:
        return fields[:, pos[:, 0], pos[:, 1], :]
    t = torch.arange(T, device=fields.device)[:, None]
    return fields[t, pos[..., 0], pos[..., 1], :]


def measurement_mask(positions: torch.Tensor, grid: int, *, n_fields: int | None = None) -> torch.Tensor:
    """A boolean mask ``[grid, grid]`` (or ``[T, grid, grid]`` for per-snapshot positions) that is True at the sensors."""
    check_int("grid", grid)
    if not isinstance(positions, torch.Tensor) or positions.dtype not in (torch.int64, torch.int32):
        raise TypeError("positions must be an integer tensor [n, 2] or [T, n, 2]")
    if positions.ndim == 2:
        mask = torch.zeros(grid, grid, dtype=torch.bool, device=positions.device)
        mask[positions[:, 0], positions[:, 1]] = True
        return mask
    T = positions.shape[0]
    mask = torch.zeros(T, grid, grid, dtype=torch.bool, device=positions.device)
    t = torch.arange(T, device=positions.device)[:, None]
    mask[t, positions[..., 0], positions[..., 1]] = True
    return mask


def masked_measurements(fields: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The measurements as an image: the field at the sensors, 0 elsewhere, plus the mask as a channel.

    This is the encoding of m that the SCVAE of notebook 7 is conditioned on: it has a fixed size
    whatever the number and the positions of the sensors.

    Args:
        fields: ``[T, H, W, C]``; positions: ``[n, 2]`` or ``[T, n, 2]``.
    Returns:
        ``[T, H, W, C + 1]`` (the last channel is 1 at a sensor, 0 elsewhere).
    """
    check_tensor("fields", fields, ndim=4)
    _check_positions(positions, fields)
    T, H, W, _ = fields.shape
    mask = measurement_mask(positions.to(fields.device), H).to(fields.dtype)
    if mask.ndim == 2:
        mask = mask.expand(T, H, W)
    return torch.cat([fields * mask[..., None], mask[..., None]], dim=-1)


def random_masked_measurements(fields: torch.Tensor, n_min: int, n_max: int, *, generator: torch.Generator | None = None
                               ) -> torch.Tensor:
    """:func:`masked_measurements` with a different random set of sensors for every snapshot.

    The number of sensors of each snapshot is uniform on ``n_min … n_max``; this is how the
    SCVAE is trained so that one model serves any number of measurements.
    Returns ``[T, H, W, C + 1]``.
    """
    check_tensor("fields", fields, ndim=4)
    check_int("n_min", n_min)
    check_int("n_max", n_max)
    T, H, W, _ = fields.shape
    if n_min > n_max or n_max > H * W:
        raise ValueError(f"n_min and n_max must satisfy 1 <= n_min <= n_max <= {H * W}, got {n_min}, {n_max}")
    dev = generator.device if generator is not None else torch.device("cpu")
    counts = torch.randint(n_min, n_max + 1, (T, 1), generator=generator, device=dev)
    ranks = torch.rand(T, H * W, generator=generator, device=dev).argsort(dim=1).argsort(dim=1)
    mask = (ranks < counts).reshape(T, H, W).to(device=fields.device, dtype=fields.dtype)
    return torch.cat([fields * mask[..., None], mask[..., None]], dim=-1)


def _check_positions(positions: torch.Tensor, fields: torch.Tensor) -> None:
    if not isinstance(positions, torch.Tensor) or positions.dtype not in (torch.int64, torch.int32):
        raise TypeError("positions must be an integer tensor [n, 2] or [T, n, 2] of (row, column) indices")
    if positions.ndim not in (2, 3) or positions.shape[-1] != 2:
        raise ValueError(f"positions must have shape [n, 2] or [T, n, 2], got {tuple(positions.shape)}")
    if positions.ndim == 3 and positions.shape[0] != fields.shape[0]:
        raise ValueError(f"positions [T, n, 2] must have T = {fields.shape[0]} (as fields), got {positions.shape[0]}")
    H, W = fields.shape[1], fields.shape[2]
    if positions.numel() and (int(positions.min()) < 0 or int(positions[..., 0].max()) >= H or int(positions[..., 1].max()) >= W):
        raise ValueError(f"positions must index inside the {H}×{W} grid")


def nested_measurements(fields: torch.Tensor, positions: torch.Tensor, n_active: int | torch.Tensor) -> torch.Tensor:
    """Measurements from the first ``n_active`` of a fixed, ordered list of sensors, as a fixed-size vector.

    Think of sensors installed one after another at ``positions`` (in that order): a network with
    n sensors uses the first n.  The vector holds, for every position, (u, v) × active and the
    0/1 "active" flag, so that one model (the SCVAE of notebook 7) serves every n.

    Args:
        fields: ``[T, H, W, C]``.
        positions: integer ``[n_max, 2]`` (row, column), in installation order.
        n_active: an int in 1 … n_max (the same for all snapshots) or an integer tensor ``[T]``.
    Returns:
        m ``[T, n_max · (C + 1)]``: for each sensor j, C values then the flag (1 if j < n_active).
    Raises:
        TypeError/ValueError naming ``fields``, ``positions`` or ``n_active``.
    """
    check_tensor("fields", fields, ndim=4)
    _check_positions(positions, fields)
    if positions.ndim != 2:
        raise ValueError("positions must be [n_max, 2] (one ordered list shared by all snapshots)")
    n_max, T = positions.shape[0], fields.shape[0]
    if isinstance(n_active, torch.Tensor):
        if n_active.dtype not in (torch.int64, torch.int32) or n_active.shape != (T,):
            raise ValueError(f"n_active must be an int or an integer tensor [{T}]")
        if int(n_active.min()) < 1 or int(n_active.max()) > n_max:
            raise ValueError(f"n_active must lie in 1 … {n_max}")
        counts = n_active.to(fields.device)[:, None]
    else:
        check_int("n_active", n_active)
        if n_active > n_max:
            raise ValueError(f"n_active must be at most the number of positions {n_max}, got {n_active}")
        counts = torch.full((T, 1), n_active, device=fields.device)
    active = (torch.arange(n_max, device=fields.device)[None] < counts).to(fields.dtype)       # [T, n_max]
    values = sample_measurements(fields, positions) * active[..., None]                         # [T, n_max, C]
    return torch.cat([values, active[..., None]], dim=-1).reshape(T, -1)
