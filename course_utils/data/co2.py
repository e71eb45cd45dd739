"""CO₂ data: the Mauna Loa record (shipped by statsmodels, no download) and a seeded generator of
CO₂ monitoring time series near a CO₂ storage site, for the lecture's application (notebook 9).

The monitoring generator is a stand-in for the lecture's 3-D ocean simulations of leaks at
Goldeneye ("No leak, 30T, 300T and 3000T"): a sensor on the sea floor sees

* **tidal cycles** - a tidal current (M2 + S2 constituents, an ellipse, plus a slow wind-driven
  drift) sweeps the sensor through the natural CO₂ gradient, so the background oscillates with
  the tide;
* **background variability** - slow "weather" and a diurnal biological cycle, plus sensor noise;
* **leak plumes** - a source at a given distance and bearing from the sensor; the plume reaches
  the sensor only when the current flows from the source towards it, so the signal depends on
  the current direction, is intermittent (turbulence) and grows with the leak rate.

Windows of the records are labelled leak / no-leak; :func:`difference_transform` is the lecture's
difference transform; :func:`time_split` cuts the record into three blocks of time: training data
at the start, validation data next, test data at the end.

Units: time in hours, concentration in µmol/kg (dissolved CO₂), currents in m/s, distances in km,
leak rates in tonnes/day.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch

from course_utils._checks import check_int, check_positive, check_tensor

__all__ = [
    "LEAK_RATES", "LeakData", "co2_leak_dataset", "co2_monitoring_series", "difference_transform",
    "mauna_loa_co2", "sliding_windows", "time_split",
]

#: The lecture's scenarios: no leak, 30, 300 and 3000 tonnes per day.
LEAK_RATES: tuple[float, ...] = (0.0, 30.0, 300.0, 3000.0)

M2_PERIOD_H = 12.42   # principal lunar semidiurnal tide
S2_PERIOD_H = 12.00   # principal solar semidiurnal tide


# ----------------------------------------------------------------------------- Mauna Loa


def mauna_loa_co2(*, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The Mauna Loa atmospheric CO₂ record, March 1958 - December 2001, as monthly means.

    Read from ``statsmodels.datasets.co2`` (shipped with the package, no download).  The weekly
    record has 59 missing weeks; the monthly means average the weeks that exist and the months
    without any measurement (if any) are filled by linear interpolation in time.

    Returns:
        ``t`` [N] decimal years (the middle of each month) and ``co2`` [N] in ppm, no NaN.
    """
    from statsmodels.datasets import co2 as sm_co2

    weekly = sm_co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(method="time", limit_direction="both")
    idx = monthly.index
    t = np.asarray(idx.year + (idx.month - 1) / 12.0 + 1.0 / 24.0, dtype=np.float64)
    y = monthly.to_numpy(dtype=np.float64)
    return torch.tensor(t, dtype=dtype, device=device), torch.tensor(y, dtype=dtype, device=device)


# ----------------------------------------------------------------------------- the monitoring generator


def _ar1(n_series: int, n_steps: int, tau_steps: float, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """Stationary AR(1) processes [n_series, n_steps] with correlation time ``tau_steps`` and
    marginal standard deviation ``std`` (an exact Ornstein-Uhlenbeck discretisation)."""
    from scipy.signal import lfilter

    rho = math.exp(-1.0 / tau_steps)
    eps = torch.randn(n_series, n_steps, generator=generator, dtype=torch.float64)
    eps[:, 0] /= math.sqrt(1 - rho**2)                       # start in the stationary distribution
    x = lfilter([1.0], [1.0, -rho], eps.numpy(), axis=1)     # x_t = ρ x_{t-1} + ε_t (generation, not a hot path)
    return torch.from_numpy(np.ascontiguousarray(x)) * std * math.sqrt(1 - rho**2)


def leak_amplitude(rate: float | torch.Tensor) -> float | torch.Tensor:
    """Peak plume signal (µmol/kg) at 1 km downstream of a leak of ``rate`` tonnes/day:
    1.0·(rate/30)^0.5 (sub-linear: a larger plume is also more diluted over the sensor)."""
    if isinstance(rate, torch.Tensor):
        return 1.0 * (rate.clamp_min(0) / 30.0) ** 0.5
    return 1.0 * (max(rate, 0.0) / 30.0) ** 0.5


def co2_monitoring_series(n_steps: int, leak_rate: float | Sequence[float] = 0.0, *, dt_hours: float = 0.25,
                          distance_km: float | Sequence[float] | None = None,
                          bearing: float | Sequence[float] | None = None, noise_std: float = 0.08,
                          generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                          device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """Seeded CO₂ records of S sensors near a storage site (one per entry of ``leak_rate``).

    All sensors share the tidal current (the same region and time); each has its own background
    variability, noise, and its own distance and bearing from the (possible) leak.

    Args:
        n_steps: record length (time steps of ``dt_hours``; default 15 min).
        leak_rate: tonnes/day per sensor (0 = no leak), a number or a sequence of S numbers.
        distance_km, bearing: sensor distance (km) and direction (radians, counter-clockwise from
            east, from the source to the sensor); random per sensor when ``None``
            (distance U(0.5, 2) km, bearing U(0, 2π)).
        noise_std: sensor noise (µmol/kg).
        generator: a seeded ``torch.Generator`` (draws on the CPU, then moved to ``device``).
    Returns:
        a dict of tensors: ``time_h`` [n_steps]; ``u``, ``v`` [n_steps] current (m/s);
        ``concentration``, ``background``, ``plume`` [S, n_steps] (µmol/kg, concentration =
        background + plume); ``leak_rate``, ``distance_km``, ``bearing`` [S].
    Raises:
        ValueError/TypeError naming the bad argument.
    """
    check_int("n_steps", n_steps, minimum=2)
    check_positive("dt_hours", dt_hours)
    check_positive("noise_std", noise_std, allow_zero=True)
    rates = torch.as_tensor([leak_rate] if isinstance(leak_rate, (int, float)) else list(leak_rate), dtype=torch.float64)
    if rates.ndim != 1 or rates.numel() == 0:
        raise ValueError("leak_rate must be a number or a non-empty sequence of numbers")
    if bool((rates < 0).any()) or not bool(torch.isfinite(rates).all()):
        raise ValueError("leak_rate must be non-negative and finite (tonnes/day; 0 = no leak)")
    S = rates.numel()

    def per_sensor(name: str, value, low: float, high: float) -> torch.Tensor:
        if value is None:
            return low + (high - low) * torch.rand(S, generator=generator, dtype=torch.float64)
        v = torch.as_tensor([value] * S if isinstance(value, (int, float)) else list(value), dtype=torch.float64)
        if v.shape != (S,):
            raise ValueError(f"{name} must be a number or have one entry per leak_rate ({S}), got {tuple(v.shape)}")
        return v

    dist = per_sensor("distance_km", distance_km, 0.5, 2.0)
    if bool((dist <= 0).any()):
        raise ValueError("distance_km must be positive")
    bear = per_sensor("bearing", bearing, 0.0, 2 * math.pi)
    steps_per_hour = 1.0 / dt_hours
    t = torch.arange(n_steps, dtype=torch.float64) * dt_hours

    # Tidal current: M2 and S2 ellipses (spring-neap cycle) and a slow wind-driven drift.
    ph = 2 * math.pi * torch.rand(2, generator=generator, dtype=torch.float64)
    wM2, wS2 = 2 * math.pi / M2_PERIOD_H, 2 * math.pi / S2_PERIOD_H
    drift = _ar1(2, n_steps, 48 * steps_per_hour, 0.05, generator)
    u = 0.30 * torch.cos(wM2 * t + ph[0]) + 0.10 * torch.cos(wS2 * t + ph[1]) + drift[0]
    v = 0.15 * torch.sin(wM2 * t + ph[0]) + 0.05 * torch.sin(wS2 * t + ph[1]) + drift[1]
    speed, direction = torch.hypot(u, v), torch.atan2(v, u)

    # Background: tidal advection of the natural gradient, weather, diurnal cycle, noise.
    grad_amp = 0.15 + 0.25 * torch.rand(S, 1, generator=generator, dtype=torch.float64)
    grad_phase = 2 * math.pi * torch.rand(S, 1, generator=generator, dtype=torch.float64)
    tidal_bg = grad_amp * torch.sin(wM2 * t + ph[0] + grad_phase)
    weather = _ar1(S, n_steps, 72 * steps_per_hour, 0.6, generator)
    diurnal = 0.2 * torch.sin(2 * math.pi * t / 24.0 + 2 * math.pi * torch.rand(S, 1, generator=generator, dtype=torch.float64))
    noise = noise_std * torch.randn(S, n_steps, generator=generator, dtype=torch.float64)
    background = 15.0 + tidal_bg + weather + diurnal + noise

    # Leak plume: reaches the sensor when the current flows from the source towards it.
    alignment = torch.cos(direction - bear[:, None])                                 # 1 = straight downstream
    footprint = torch.exp((alignment - 1.0) / 0.25)                                   # a ~40° wide plume
    dilution = (0.15 / (speed + 0.05)).clamp(max=2.0) / dist[:, None]                # slow water, close source: stronger
    turbulence = torch.exp(_ar1(S, n_steps, 1 * steps_per_hour, 0.5, generator) - 0.125)
    plume = leak_amplitude(rates)[:, None] * footprint * dilution * turbulence

    out = {"time_h": t, "u": u, "v": v, "concentration": background + plume, "background": background,
           "plume": plume, "leak_rate": rates, "distance_km": dist, "bearing": bear}
    return {k: val.to(device=device, dtype=dtype) for k, val in out.items()}


# ----------------------------------------------------------------------------- windows, transform, split


def sliding_windows(x: torch.Tensor, window: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut series ``x`` [S, n_steps] into windows: returns [S·M, window] and the start index of
    each window [S·M] (series-major order: all windows of series 0, then series 1, ...)."""
    check_tensor("x", x, ndim=2)
    check_int("window", window, minimum=2)
    check_int("stride", stride)
    if window > x.shape[1]:
        raise ValueError(f"window must not exceed the record length {x.shape[1]}, got {window}")
    w = x.unfold(1, window, stride)                                   # [S, M, window]
    starts = torch.arange(w.shape[1], device=x.device) * stride
    return w.reshape(-1, window), starts.repeat(x.shape[0])


def difference_transform(x: torch.Tensor) -> torch.Tensor:
    r"""The lecture's difference transform, :math:`\Delta x_t = x_t - x_{t-1}`, along the last
    dimension: removes the slowly varying background level so that the network sees changes.
    ``x`` [..., L] → [..., L − 1]."""
    check_tensor("x", x)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"x must have at least 2 time steps in its last dimension, got shape {tuple(x.shape)}")
    return torch.diff(x, dim=-1)


def time_split(starts: torch.Tensor, window: int, n_steps: int, *, test_fraction: float = 0.2,
               val_fraction: float = 0.2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split windows into three consecutive blocks of time, as in the lecture's Table 1:
    training data from the start of the record, validation data from the next block, test data
    from the end.

    The record [0, n_steps) is cut at t_val = (1 − ``val_fraction`` − ``test_fraction``)·n_steps and
    t_test = (1 − ``test_fraction``)·n_steps.  A window [s, s + window) is a training window if it
    ends by t_val, a validation window if it starts at or after t_val and ends by t_test, and a test
    window if it starts at or after t_test; windows that straddle a cut are dropped.  So no two
    windows of different sets share a time step (overlapping neighbours - with a stride smaller
    than the window - stay in one set), and neither validation nor test data leak training samples.

    Args:
        starts: [M] start index of every window (in its record).
        window: window length.
        n_steps: record length.
        test_fraction, val_fraction: shares of the record's time, each in (0, 1), summing to < 1.
    Returns:
        index tensors (train, val, test) into ``starts``, each sorted.
    Raises:
        ValueError/TypeError naming the bad argument.
    """
    check_tensor("starts", starts.to(torch.float64) if isinstance(starts, torch.Tensor) else starts, ndim=1)
    check_int("window", window)
    check_int("n_steps", n_steps)
    for name, f in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise ValueError(f"{name} must be a number in (0, 1), got {f!r}")
    if test_fraction + val_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1 (training data come first), got {val_fraction + test_fraction}")
    t_val = int(round((1 - test_fraction - val_fraction) * n_steps))
    t_test = int(round((1 - test_fraction) * n_steps))
    ends = starts + window
    train = torch.nonzero(ends <= t_val).reshape(-1)
    val = torch.nonzero((starts >= t_val) & (ends <= t_test)).reshape(-1)
    test = torch.nonzero(starts >= t_test).reshape(-1)
    return train, val, test


class LeakData(NamedTuple):
    """Windows for leak / no-leak classification (see :func:`co2_leak_dataset`)."""

    x: torch.Tensor          # [M, 1, L] inputs (difference-transformed and standardised if asked)
    labels: torch.Tensor     # [M] 1 = leak, 0 = no leak
    rate: torch.Tensor       # [M] the leak rate of the window's scenario (tonnes/day)
    sensor: torch.Tensor     # [M] index of the record the window comes from
    start: torch.Tensor      # [M] start index of the window in its record
    train: torch.Tensor      # index tensors into the M windows
    val: torch.Tensor
    test: torch.Tensor
    raw: torch.Tensor        # [M, L_raw] the concentration windows before any transform
    records: dict            # the output of co2_monitoring_series


def co2_leak_dataset(n_days: float = 60.0, *, window: int = 65, stride: int = 16, sensors_per_rate: int = 6,
                     rates: Sequence[float] = LEAK_RATES, dt_hours: float = 0.25, difference: bool = True,
                     standardise: bool = True, test_fraction: float = 0.2, val_fraction: float = 0.2,
                     generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                     device: torch.device | str | None = None) -> LeakData:
    """The lecture's classification data set: windows of CO₂ records labelled leak / no-leak.

    ``sensors_per_rate`` sensors (random distance and bearing) record ``n_days`` for each
    scenario in ``rates`` (default: no leak, 30T, 300T, 3000T - so 3/4 of the windows are leaks,
    close to the lecture's 75.8 %).  Each record is cut into windows of ``window`` steps every
    ``stride`` steps; a window is labelled 1 (leak) if its scenario's rate is positive.  With
    ``difference`` the windows are difference-transformed (length ``window − 1``); with
    ``standardise`` they are divided by a robust scale of the training windows (1.4826 × their
    median absolute value, the standard deviation for Gaussian data, which the rare leak spikes
    do not inflate).  Without ``difference``, each window's mean is subtracted instead.  The
    split is :func:`time_split`: training windows from the first 1 − ``val_fraction`` −
    ``test_fraction`` of the record, then validation, then test windows, with no shared time steps.

    Returns:
        a :class:`LeakData`; ``x`` is [M, 1, L] on ``device``.
    """
    check_positive("n_days", n_days)
    check_int("window", window, minimum=9)
    check_int("stride", stride)
    check_int("sensors_per_rate", sensors_per_rate)
    rates = [float(r) for r in rates]
    if len(rates) < 2 or min(rates) < 0 or not any(r == 0 for r in rates) or not any(r > 0 for r in rates):
        raise ValueError("rates must hold non-negative leak rates including 0 (no leak) and at least one leak")
    n_steps = int(round(n_days * 24 / dt_hours))
    per_sensor_rates = [r for r in rates for _ in range(sensors_per_rate)]
    rec = co2_monitoring_series(n_steps, per_sensor_rates, dt_hours=dt_hours, generator=generator, dtype=torch.float64)
    raw, starts = sliding_windows(rec["concentration"], window, stride)
    n_win = raw.shape[0] // len(per_sensor_rates)
    sensor = torch.arange(len(per_sensor_rates)).repeat_interleave(n_win)
    rate = rec["leak_rate"][sensor]
    labels = (rate > 0).long()
    train, val, test = time_split(starts, window, n_steps, test_fraction=test_fraction, val_fraction=val_fraction)
    x = difference_transform(raw) if difference else raw - raw.mean(-1, keepdim=True)
    if standardise:   # a robust scale (the MAD of the training windows): leak spikes do not set it
        x = x / (1.4826 * x[train].abs().median())
    to = dict(device=device)
    return LeakData(x.unsqueeze(1).to(dtype=dtype, **to), labels.to(**to), rate.to(dtype=dtype, **to), sensor.to(**to),
                    starts.to(**to), train.to(**to), val.to(**to), test.to(**to), raw.to(dtype=dtype, **to),
                    {k: v.to(dtype=dtype, **to) for k, v in rec.items()})
