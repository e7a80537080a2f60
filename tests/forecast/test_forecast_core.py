"""Metrics against hand-computed values, baselines on signals with known answers, Lomb-Scargle
on an irregularly sampled signal with known periods."""

from __future__ import annotations

import numpy as np
import pytest

from squall.errors import SquallError
from squall.forecast import baselines, metrics, spectrum


def test_metrics_by_hand():
    y = np.array([1.0, 2.0, 4.0, np.nan])
    f = np.array([2.0, 2.0, 1.0, 5.0])
    assert metrics.mae(y, f) == pytest.approx((1 + 0 + 3) / 3)
    assert metrics.rmse(y, f) == pytest.approx(np.sqrt((1 + 0 + 9) / 3))
    # 200 |y - f| / (|y| + |f|): 200/3, 0, 600/5
    assert metrics.smape(y, f) == pytest.approx((200 / 3 + 0 + 120) / 3)
    assert metrics.smape([0.0, 1.0], [0.0, -1.0]) == pytest.approx((0 + 200) / 2)
    # training part 1 3 2 5 4: naive in-sample |diff| = 2 1 3 1 -> 7/4; season 2: 1 2 2 -> 5/3
    train = [1.0, 3.0, 2.0, 5.0, 4.0]
    assert metrics.mase_scale(train) == pytest.approx(7 / 4)
    assert metrics.mase_scale(train, 2) == pytest.approx(5 / 3)
    assert metrics.mase(y, f, 7 / 4) == pytest.approx((4 / 3) / (7 / 4))
    assert metrics.mase([1.0], [1.0], 0.0) != metrics.mase([1.0], [1.0], 0.0)  # NaN
    assert metrics.mase([1.0], [2.0], 0.0) == np.inf
    with pytest.raises(SquallError, match="season 5 is not shorter"):
        metrics.mase_scale(train, 5)
    with pytest.raises(SquallError, match="differ in shape"):
        metrics.mae([1.0], [1.0, 2.0])


def test_naive_and_seasonal_naive():
    y = np.arange(10.0)
    assert baselines.naive(y, 3).tolist() == [9.0, 9.0, 9.0]
    assert baselines.seasonal_naive(y, 5, 3).tolist() == [7.0, 8.0, 9.0, 7.0, 8.0]
    assert baselines.seasonal_naive(y, 2, 1).tolist() == [9.0, 9.0]
    with pytest.raises(SquallError, match="season"):
        baselines.seasonal_naive(y, 2, 11)
    with pytest.raises(SquallError, match="finite"):
        baselines.naive([1.0, np.nan], 2)


def test_harmonic_continues_sinusoids_whose_period_does_not_divide_the_lookback():
    t = np.arange(130.0)
    y = 1.3 * np.sin(2 * np.pi * t / 17.3 + 0.4) + 0.2
    assert np.abs(baselines.harmonic(y[:100], 30) - y[100:]).max() < 1e-3
    y2 = y + 0.5 * np.sin(2 * np.pi * t / 7 + 1)
    assert np.abs(baselines.harmonic(y2[:100], 30, k=2) - y2[100:]).max() < 2e-3
    # the plain DFT repetition is far off: the lookback is not a whole number of periods
    assert np.abs(np.tile(y[:100], 2)[100:130] - y[100:]).max() > 0.5


def test_ar1_coefficient_recovered_and_forecast_decays():
    rng = np.random.default_rng(0)
    x = np.zeros(4000)
    e = rng.normal(size=4000)
    for i in range(1, 4000):
        x[i] = 0.7 * x[i - 1] + e[i]
    c, a = baselines.fit_ar(x, 1)
    assert a[0] == pytest.approx(0.7, abs=0.03) and abs(c) < 0.05
    f = baselines.ar(np.array([0.0, 0.5, 1.0, 2.0, 1.0, 0.5, 1.0, 2.0, 0.0, 1.0]), 3, p=1)
    c1, a1 = baselines.fit_ar([0.0, 0.5, 1.0, 2.0, 1.0, 0.5, 1.0, 2.0, 0.0, 1.0], 1)
    assert f[0] == pytest.approx(c1 + a1[0] * 1.0) and f[1] == pytest.approx(c1 + a1[0] * f[0])
    assert baselines.ar_order(100) == 8 and baselines.ar_order(10) == 2


def test_periodogram_amplitudes_with_each_window():
    t = np.arange(480.0)
    y = 3 + 2.0 * np.cos(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 8)
    for window in spectrum.WINDOWS:
        sp = spectrum.periodogram(y, window)
        top = spectrum.dominant(sp, 2)
        assert [round(1 / f) for f, _ in top] == [24, 8]
        assert top[0][1] == pytest.approx(2.0, rel=1e-4)
        assert top[1][1] == pytest.approx(0.5, rel=1e-4)


def test_lomb_scargle_finds_known_periods_in_irregular_gappy_samples():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 600, 400))  # hours, irregular
    t = t[(t < 200) | (t > 320)]  # a five-day gap
    y = 1.5 * np.sin(2 * np.pi * t / 24 + 0.3) + 0.6 * np.cos(2 * np.pi * t / 12.4)
    y += rng.normal(0, 0.2, len(t))
    sp = spectrum.lomb_scargle(t, y)
    assert sp.method == "lomb-scargle"
    # the spectrum's second local maximum is a side lobe of the 24 h peak (the gap's leakage);
    # prewhitening finds the second period
    assert 1 / spectrum.dominant(sp, 2)[1][0] == pytest.approx(25.4, rel=0.01)
    (f1, a1), (f2, a2) = spectrum.components(t, y, 2, lambda r: spectrum.lomb_scargle(t, r))
    assert 1 / f1 == pytest.approx(24, rel=0.01) and a1 == pytest.approx(1.5, rel=0.1)
    assert 1 / f2 == pytest.approx(12.4, rel=0.01) and a2 == pytest.approx(0.6, rel=0.15)
    # the amplitude is the least-squares sinusoid's (cos and sin) on the values minus their mean
    tt = np.sort(rng.uniform(0, 100, 50))
    yy = 0.8 * np.sin(2 * np.pi * 0.1 * tt + 1.0) + rng.normal(0, 0.3, 50)
    one = spectrum.lomb_scargle(tt, yy, [0.1])
    design = np.column_stack([np.cos(2 * np.pi * 0.1 * tt), np.sin(2 * np.pi * 0.1 * tt)])
    ab = np.linalg.lstsq(design, yy - yy.mean(), rcond=None)[0]
    assert one.amplitude[0] == pytest.approx(np.hypot(*ab), rel=1e-9)


def test_lomb_scargle_at_the_nyquist_frequency_of_whole_hours_is_not_a_division_by_zero():
    t = np.array([0.0, 1, 2, 3, 5, 6, 9, 10, 11, 14, 15, 16, 20, 21])  # whole hours, gaps
    y = 1000 + np.sin(2 * np.pi * t / 12) + 0.01 * (-1.0) ** t
    sp = spectrum.lomb_scargle(t, y, [1 / 12, 0.5])
    assert sp.amplitude[0] == pytest.approx(1.0, rel=0.05) and sp.amplitude[1] < 0.1
