"""Thresholds beyond a fixed quantile: sigma, Hundman's search and pruning, POT, robust z."""

import math

import numpy as np
import pytest

from squall.detect.dynamic import (
    dynamic_flags,
    fit_gpd,
    hundman_epsilon,
    pot_threshold,
    prune_sequences,
    robust_z,
    runs,
    sigma_threshold,
)
from squall.detect.thresholds import fit_pot_threshold
from squall.errors import SquallError


def noise(n=2000, seed=0, sd=1.0):
    return np.abs(np.random.default_rng(seed).normal(0, sd, n))


def test_runs():
    f = np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    assert runs(f).tolist() == [[1, 2], [5, 5], [7, 7]]
    assert runs(np.zeros(3, bool)).shape == (0, 2)


def test_sigma_threshold_ignores_nan():
    x = np.array([1.0, 2.0, 3.0, np.nan])
    assert sigma_threshold(x, k=2) == pytest.approx(2 + 2 * np.std([1, 2, 3]))
    assert sigma_threshold(np.array([np.nan])) == math.inf


def test_hundman_epsilon_separates_a_clear_anomaly_from_noise():
    x = noise()
    x[1000:1010] += 12.0
    eps = hundman_epsilon(x)
    flags = x > eps
    assert flags[1000:1010].all() and flags.sum() <= 15
    # plain noise gets a high threshold: (almost) nothing flagged
    assert (noise(seed=1) > hundman_epsilon(noise(seed=1))).sum() <= 3


def test_pruning_drops_sequences_close_to_the_nominal_maximum():
    x = np.full(100, 1.0)
    x[10:12] = 10.0  # strong
    x[50] = 3.05  # weak: within 10 % of the next (the largest nominal score, 3.0)
    x[80] = 3.0  # nominal maximum
    flags = np.zeros(100, bool)
    flags[10:12] = flags[50] = True
    pruned = prune_sequences(x, flags, 0.1)
    assert pruned[10:12].all() and not pruned[50]
    assert prune_sequences(x, flags, 0.0)[50]  # 0 = no pruning


def test_sliding_windows_find_a_local_anomaly_a_global_threshold_misses():
    quiet, loud = noise(1000, 2, 0.2), noise(1000, 3, 3.0)
    x = np.concatenate([quiet, loud])
    x[500:505] = 3.0  # huge for the quiet half, ordinary for the loud one
    global_flags, _ = dynamic_flags(x, method="sigma", k=4)
    local_flags, level = dynamic_flags(x, method="sigma", k=4, window=600, step=200)
    assert not global_flags[500:505].any()
    assert local_flags[500:505].all()
    assert level[:400].max() < level[-400:].min()
    with pytest.raises(SquallError, match="sigma or hundman"):
        dynamic_flags(x, method="nope")


def gpd_sample(gamma, sigma, n, seed=0):
    u = np.random.default_rng(seed).uniform(size=n)
    if gamma == 0:
        return -sigma * np.log(u)
    return sigma / gamma * (u**-gamma - 1)


@pytest.mark.parametrize("gamma", [0.3, 0.0, -0.2])
def test_gpd_fits_recover_the_parameters(gamma):
    y = gpd_sample(gamma, 2.0, 20_000)
    g, s = fit_gpd(y, "grimshaw")
    assert g == pytest.approx(gamma, abs=0.05) and s == pytest.approx(2.0, rel=0.05)
    g, s = fit_gpd(y, "moments")
    assert g == pytest.approx(gamma, abs=0.1) and s == pytest.approx(2.0, rel=0.15)


def test_pot_threshold_matches_the_exponential_quantile():
    x = np.random.default_rng(4).exponential(1.0, 200_000)
    for q in (1e-3, 1e-4):
        out = pot_threshold(x, q=q, level=0.98)
        assert out["value"] == pytest.approx(-math.log(q), rel=0.05)
        assert out["peaks"] == pytest.approx(4000, abs=2)
    few = pot_threshold(np.arange(100.0), q=1e-3, level=0.95)  # 4 peaks: not extrapolated
    assert few["value"] == 99.0 and math.isnan(few["gamma"])
    t = fit_pot_threshold(x, q=1e-3)
    assert t["method"] == "pot" and t["value"] == pytest.approx(-math.log(1e-3), rel=0.05)
    with pytest.raises(SquallError, match="risk"):
        pot_threshold(x, q=2.0)


def test_robust_z():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0], [100.0, 6.0], [np.nan, 5.0]])
    z = robust_z(x)
    assert abs(z[4, 0]) > 30 and abs(z[1, 0]) < 1.5
    assert np.isnan(z[5, 0])
    # MAD 0 (mostly constant column): mean absolute deviation instead, the outlier stands out
    assert z[4, 1] > 3 and z[0, 1] == 0.0
