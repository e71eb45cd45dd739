"""The synthetic flow fields (the stand-in for the lecture's ocean-model data) and the sensors."""
from __future__ import annotations


import pytest
import torch

from course_utils.data.flow import (M2_HOURS, flow_fields, masked_measurements, measurement_mask, nested_measurements,
                                    random_masked_measurements, sample_measurements, sensor_positions)


def test_flow_fields_have_the_lectures_layout_on_the_requested_device(device):
    f = flow_fields(20, generator=torch.Generator().manual_seed(0), device=device)
    assert tuple(f.shape) == (20, 32, 32, 2) and f.dtype == torch.float32 and f.device.type == device.type
    assert bool(torch.isfinite(f).all())


def test_flow_fields_are_reproducible_from_the_seed():
    a = flow_fields(30, grid=16, generator=torch.Generator().manual_seed(3))
    b = flow_fields(30, grid=16, generator=torch.Generator().manual_seed(3))
    c = flow_fields(30, grid=16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_noise_free_flow_is_nearly_divergence_free():
    """Tide, shear and eddies come from stream functions: ∇·u = 0 up to finite-difference error,
    which is small against the vorticity of the same field."""
    f = flow_fields(50, grid=64, noise_std=0.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h = 1.0 / 64
    du_dx = torch.gradient(f[..., 0], spacing=h, dim=2)[0]
    dv_dy = torch.gradient(f[..., 1], spacing=h, dim=1)[0]
    dv_dx = torch.gradient(f[..., 1], spacing=h, dim=2)[0]
    du_dy = torch.gradient(f[..., 0], spacing=h, dim=1)[0]
    inner = (slice(None), slice(2, -2), slice(2, -2))                     # one-sided differences at the edges
    div, vort = (du_dx + dv_dy)[inner].abs().mean(), (dv_dx - du_dy)[inner].abs().mean()
    assert float(div) < 0.05 * float(vort)


def test_the_tide_has_the_m2_period():
    """Without eddies and noise, the domain-mean velocity oscillates with the M2 period (12.42 h):
    the largest periodogram peak lies within one frequency bin of 1/12.42 h."""
    n, dt_h = 60 * 24 * 6, 1 / 6                                           # 60 days every 10 minutes
    f = flow_fields(n, grid=8, n_eddies=0, noise_std=0.0, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    speed = f.mean((1, 2)).norm(dim=-1)
    x = f.mean((1, 2))[:, 0] if float(f.mean((1, 2))[:, 0].std()) > float(f.mean((1, 2))[:, 1].std()) else f.mean((1, 2))[:, 1]
    power = torch.fft.rfft(x - x.mean()).abs() ** 2
    freqs = torch.fft.rfftfreq(n, d=dt_h)
    peak = float(freqs[power.argmax()])
    assert abs(peak - 1 / M2_HOURS) <= 1.0 / (n * dt_h)
    assert float(speed.std()) > 0


def test_sensor_positions_are_distinct_and_inside_the_grid(gen):
    p = sensor_positions(40, 32, generator=gen)
    assert tuple(p.shape) == (40, 2) and p.dtype == torch.int64
    assert int(p.min()) >= 0 and int(p.max()) < 32
    assert len({tuple(r) for r in p.tolist()}) == 40
    reg = sensor_positions(16, 32, layout="regular")
    assert torch.equal(reg, sensor_positions(16, 32, layout="regular"))
    assert sorted(set(reg[:, 0].tolist())) == [4, 12, 20, 28]


def test_measurements_are_the_field_values_at_the_sensors(device, gen):
    f = flow_fields(7, grid=16, generator=gen, device=device)
    p = sensor_positions(5, 16, generator=gen)
    m = sample_measurements(f, p)
    assert tuple(m.shape) == (7, 5, 2) and m.device.type == device.type
    for j, (r, c) in enumerate(p.tolist()):
        assert torch.equal(m[:, j], f[:, r, c])
    per_snapshot = torch.stack([sensor_positions(5, 16, generator=gen) for _ in range(7)])
    m2 = sample_measurements(f, per_snapshot)
    assert torch.equal(m2[3, 2], f[3, per_snapshot[3, 2, 0], per_snapshot[3, 2, 1]])


def test_masked_measurements_keep_only_the_sensors(device, gen):
    f = flow_fields(4, grid=16, generator=gen, device=device)
    p = sensor_positions(9, 16, generator=gen)
    mm = masked_measurements(f, p)
    assert tuple(mm.shape) == (4, 16, 16, 3)
    assert torch.equal(mm[..., 2].sum((1, 2)), torch.full((4,), 9.0, device=mm.device))
    mask = measurement_mask(p, 16).to(device)
    assert torch.equal(mm[..., :2][:, mask], f[:, mask]) and bool((mm[..., :2][:, ~mask] == 0).all())


def test_random_masked_measurements_draw_between_n_min_and_n_max_sensors(device):
    f = flow_fields(200, grid=16, generator=torch.Generator().manual_seed(0), device=device)
    mm = random_masked_measurements(f, 3, 12, generator=torch.Generator().manual_seed(1))
    counts = mm[..., 2].sum((1, 2))
    assert int(counts.min()) >= 3 and int(counts.max()) <= 12 and len(counts.unique()) > 5
    assert torch.equal(mm[..., :2], f * mm[..., 2:])


def test_nested_measurements_use_the_first_n_sensors(device, gen):
    f = flow_fields(6, grid=16, generator=gen, device=device)
    p = sensor_positions(10, 16, generator=gen)
    m = nested_measurements(f, p, 4).reshape(6, 10, 3)
    assert m.device.type == device.type
    assert torch.equal(m[:, :4, :2], sample_measurements(f, p[:4])) and bool((m[:, 4:] == 0).all())
    assert torch.equal(m[:, :, 2], (torch.arange(10, device=m.device) < 4).float().expand(6, 10))
    per = nested_measurements(f, p, torch.tensor([1, 2, 3, 4, 5, 10])).reshape(6, 10, 3)
    assert per[..., 2].sum(1).tolist() == [1, 2, 3, 4, 5, 10]


@pytest.mark.parametrize("call,match", [
    (lambda: nested_measurements(torch.zeros(2, 4, 4, 2), torch.zeros(3, 2, dtype=torch.long), 4), "n_active"),
    (lambda: nested_measurements(torch.zeros(2, 4, 4, 2), torch.zeros(3, 2, dtype=torch.long), torch.tensor([0, 1])), "n_active"),
    (lambda: flow_fields(0), "n_steps"),
    (lambda: flow_fields(5, grid=1.5), "grid"),
    (lambda: flow_fields(5, noise_std=-1.0), "noise_std"),
    (lambda: flow_fields(5, mean_current=(0.1,)), "mean_current"),
    (lambda: sensor_positions(2000, 32), "n_sensors"),
    (lambda: sensor_positions(5, 32, layout="hexagonal"), "layout"),
    (lambda: sample_measurements(torch.zeros(2, 4, 4), torch.zeros(1, 2, dtype=torch.long)), "fields"),
    (lambda: sample_measurements(torch.zeros(2, 4, 4, 2), torch.zeros(1, 2)), "positions"),
    (lambda: sample_measurements(torch.zeros(2, 4, 4, 2), torch.tensor([[0, 9]])), "positions"),
    (lambda: masked_measurements(torch.zeros(2, 4, 4, 2), torch.zeros(3, 1, 2, dtype=torch.long)), "positions"),
    (lambda: random_masked_measurements(torch.zeros(2, 4, 4, 2), 5, 3), "n_min"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
