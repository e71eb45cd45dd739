"""CO₂ data: the Mauna Loa record and the synthetic monitoring generator of notebook 9."""

import numpy as np
import pytest
import torch

from course_utils.data.co2 import (LEAK_RATES, co2_leak_dataset, co2_monitoring_series, difference_transform,
                                   leak_amplitude, mauna_loa_co2, sliding_windows, time_split)


def test_mauna_loa_is_monthly_gap_free_and_rising():
    t, y = mauna_loa_co2()
    assert t.shape == y.shape and t.ndim == 1
    assert not bool(torch.isnan(y).any())
    np.testing.assert_allclose(torch.diff(t).numpy(), 1 / 12, atol=1e-9)     # one value per month
    assert float(t[0]) == pytest.approx(1958 + 2 / 12 + 1 / 24) and float(t[-1]) == pytest.approx(2001 + 11 / 12 + 1 / 24)
    assert 312 < float(y[:12].mean()) < 318 and 368 < float(y[-12:].mean()) < 374   # ppm, as published
    # the statsmodels weekly record averaged by hand for one month (March 1990)
    from statsmodels.datasets import co2
    weekly = co2.load_pandas().data["co2"]
    ref = weekly["1990-03"].mean()
    k = int(round((1990 + 2 / 12 + 1 / 24 - float(t[0])) * 12))
    assert float(y[k]) == pytest.approx(ref, abs=1e-9)


def test_monitoring_series_is_seeded_and_leak_signal_grows_with_the_rate(device):
    a = co2_monitoring_series(2000, [0.0, 30.0, 300.0, 3000.0], distance_km=1.0, bearing=0.5,
                              generator=torch.Generator().manual_seed(0), dtype=torch.float64, device=device)
    b = co2_monitoring_series(2000, [0.0, 30.0, 300.0, 3000.0], distance_km=1.0, bearing=0.5,
                              generator=torch.Generator().manual_seed(0), dtype=torch.float64, device=device)
    assert torch.equal(a["concentration"], b["concentration"])
    assert a["concentration"].device.type == device.type and a["concentration"].shape == (4, 2000)
    torch.testing.assert_close(a["concentration"], a["background"] + a["plume"], rtol=0, atol=1e-12)
    assert float(a["plume"][0].abs().max()) == 0.0                               # no leak, no plume
    mean_plume = a["plume"].mean(-1)
    assert bool((mean_plume[1:] > 0).all()) and bool((torch.diff(mean_plume) > 0).all())
    # same sensor and weather draws up to the plume: the ratio of plumes is the ratio of amplitudes
    ratio = float(a["plume"][3].sum() / a["plume"][2].sum())
    assert ratio == pytest.approx(float(leak_amplitude(3000.0) / leak_amplitude(300.0)), rel=0.5)


def test_leak_signal_depends_on_the_current_direction():
    rec = co2_monitoring_series(4000, [300.0], distance_km=1.0, bearing=0.0, generator=torch.Generator().manual_seed(1),
                                dtype=torch.float64)
    direction = torch.atan2(rec["v"], rec["u"])
    towards = torch.cos(direction) > 0.9            # current flows from the source to the sensor (bearing 0)
    away = torch.cos(direction) < 0.0
    assert float(rec["plume"][0, towards].mean()) > 50 * float(rec["plume"][0, away].mean())


def test_tides_give_the_background_a_semidiurnal_cycle():
    rec = co2_monitoring_series(96 * 60, [0.0], generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = difference_transform(rec["background"][0])                # remove the slow weather
    freqs = np.fft.rfftfreq(x.numel(), d=0.25)                    # cycles per hour
    power = np.abs(np.fft.rfft(x.numpy())) ** 2
    peak = freqs[1:][power[1:].argmax()]
    assert 1 / 12.6 < peak < 1 / 11.9                            # M2/S2 band


def test_difference_transform_and_windows():
    x = torch.arange(20.0).reshape(2, 10) ** 2
    d = difference_transform(x)
    torch.testing.assert_close(d, x[:, 1:] - x[:, :-1])
    w, starts = sliding_windows(x, 4, 3)
    assert w.shape == (6, 4) and starts.tolist() == [0, 3, 6, 0, 3, 6]
    torch.testing.assert_close(w[4], x[1, 3:7])


def test_time_split_puts_train_validation_and_test_in_consecutive_blocks_without_shared_steps():
    starts = torch.arange(0, 1000 - 50 + 1, 10).repeat(3)
    train, val, test = time_split(starts, 50, 1000, test_fraction=0.2, val_fraction=0.2)
    assert int((starts[train] + 50).max()) <= 600                                  # training: [0, 600)
    assert int(starts[val].min()) >= 600 and int((starts[val] + 50).max()) <= 800  # validation: [600, 800)
    assert int(starts[test].min()) >= 800                                          # test: [800, 1000)
    # no window of one set shares a time step with a window of another (neighbours overlap by 40 steps)
    steps = [set((starts[idx, None] + torch.arange(50)).reshape(-1).tolist()) for idx in (train, val, test)]
    assert not (steps[0] & steps[1]) and not (steps[1] & steps[2]) and not (steps[0] & steps[2])
    # every window that fits in one block is used; only the straddling ones are dropped
    fits = ((starts + 50 <= 600) | ((starts >= 600) & (starts + 50 <= 800)) | (starts >= 800)).sum()
    assert len(train) + len(val) + len(test) == int(fits)


def test_leak_dataset_has_the_lectures_class_balance_and_split():
    d = co2_leak_dataset(n_days=10, sensors_per_rate=2, generator=torch.Generator().manual_seed(0))
    assert d.x.ndim == 3 and d.x.shape[1] == 1 and d.x.shape[2] == 64            # window 65 → 64 differences
    assert float(d.labels.float().mean()) == pytest.approx(0.75)                  # 3 of 4 scenarios leak (lecture: 75.8 %)
    assert torch.equal(d.labels, (d.rate > 0).long())
    assert int(d.start[d.val].min()) >= int((d.start[d.train] + 65).max())   # validation after training ...
    assert int(d.start[d.test].min()) >= int((d.start[d.val] + 65).max())    # ... and test after validation
    ratio = d.x[:, 0] / difference_transform(d.raw)                              # one common scale factor
    assert float(ratio.nan_to_num(float(ratio[0, 0])).std()) < 1e-3 * float(ratio[0, 0].abs())
    assert set(torch.unique(d.rate).tolist()) == set(LEAK_RATES)


@pytest.mark.parametrize("call,match", [
    (lambda: co2_monitoring_series(1, 0.0), "n_steps"),
    (lambda: co2_monitoring_series(100, -1.0), "leak_rate"),
    (lambda: co2_monitoring_series(100, [0.0, 30.0], distance_km=[1.0]), "distance_km"),
    (lambda: co2_monitoring_series(100, 0.0, distance_km=-1.0), "distance_km"),
    (lambda: co2_monitoring_series(100, 0.0, dt_hours=0.0), "dt_hours"),
    (lambda: difference_transform(torch.zeros(3, 1)), "x"),
    (lambda: sliding_windows(torch.zeros(2, 10), 20, 1), "window"),
    (lambda: sliding_windows(torch.zeros(2, 10), 4, 0), "stride"),
    (lambda: time_split(torch.arange(10), 5, 100, test_fraction=1.0), "test_fraction"),
    (lambda: time_split(torch.arange(10), 5, 100, val_fraction=0.0), "val_fraction"),
    (lambda: time_split(torch.arange(10), 5, 100, val_fraction=0.5, test_fraction=0.5), "val_fraction"),
    (lambda: co2_leak_dataset(5, rates=(30.0, 300.0)), "rates"),
    (lambda: co2_leak_dataset(5, window=4), "window"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
