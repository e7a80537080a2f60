"""Classical per-step scorers (``squall.detect.classical``): ranking of injected anomalies,
hand-computed scores on tiny examples, missing values, state round trips, memory at 20,000
steps. The matrix-profile tests are ``slow``: stumpy's first numba compile takes ~20 s."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from squall.detect import classical
from squall.detect.classical import (
    IsolationForestDetector,
    MatrixProfileDetector,
    PcaDetector,
    RobustZDetector,
    dominant_period,
    fill_gaps,
    to_steps,
)
from squall.detect.dynamic import robust_z
from squall.errors import SquallError

PERIOD = 40


def _sine(n: int, seed: int = 0, features: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cols = [np.sin(2 * np.pi * t / PERIOD + j) for j in range(features)]
    return np.stack(cols, axis=1) + 0.1 * rng.standard_normal((n, features))


def _injected() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Training series, test series with a spike, a short level shift and a flat segment,
    and the anomalous steps of each."""
    train = _sine(2000, seed=1)
    test = _sine(2000, seed=2)
    labels = {
        "spike": np.arange(500, 501),
        "shift": np.arange(1000, 1020),
        "flat": np.arange(1500, 1540),
    }
    test[500] += 2.0
    test[1000:1020] += 1.0
    test[1500:1540] = test[1500]
    return train, test, labels


def _auc(scores: np.ndarray, anomalous: np.ndarray, normal: np.ndarray) -> float:
    """P(anomalous step scores above a normal step), ties half: the AUC-ROC of the ranking."""
    s_norm = scores[normal]
    s_norm = s_norm[np.isfinite(s_norm)]
    assert len(s_norm) > 0.9 * normal.sum()
    vals = [np.mean(s_norm < x) + 0.5 * np.mean(s_norm == x) for x in scores[anomalous]]
    return float(np.mean(vals))


def _aucs(det: classical.ClassicalDetector) -> dict[str, float]:
    train, test, labels = _injected()
    scores = det.fit(train).score(test)
    assert scores.shape == (len(test),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    normal = np.ones(len(test), dtype=bool)
    for idx in labels.values():
        normal[max(0, idx[0] - PERIOD) : idx[-1] + PERIOD + 1] = False  # windows touching it
    return {name: _auc(scores, idx, normal) for name, idx in labels.items()}


# --- the period default -------------------------------------------------------------------


def test_dominant_period_of_a_noisy_sine_is_its_period():
    assert dominant_period(_sine(2000)) == PERIOD
    assert dominant_period(_sine(3000, features=3)) == PERIOD


def test_dominant_period_falls_back_without_periodicity_and_is_capped():
    noise = np.random.default_rng(3).standard_normal((2000, 2))
    assert dominant_period(noise) == classical.FALLBACK_M
    t = np.arange(4000)
    long = np.sin(2 * np.pi * t / 600)[:, None]
    assert dominant_period(long) <= classical.MAX_M
    assert dominant_period(_sine(100)) <= 25  # at most n // 4


# --- ranking injected anomalies -----------------------------------------------------------


def test_pca_ranks_spike_shift_and_flat_segment_above_normal_steps():
    aucs = _aucs(PcaDetector())
    assert min(aucs.values()) > 0.9, aucs


def test_iforest_ranks_spike_shift_and_flat_segment_above_normal_steps():
    aucs = _aucs(IsolationForestDetector(seed=0))
    assert aucs["shift"] > 0.95 and aucs["flat"] > 0.95, aucs
    # one step out of a 40-step window moves the window along one of its 40 coordinates, which
    # a random split picks 1 time in 40: the forest ranks a lone spike above normal steps, but
    # weakly (0.71 here; PCA and the matrix profile > 0.95)
    assert aucs["spike"] > 0.6, aucs


def test_robust_z_ranks_spike_and_shift_but_not_an_in_range_flat_segment():
    aucs = _aucs(RobustZDetector())
    assert aucs["spike"] > 0.95 and aucs["shift"] > 0.9, aucs
    # a stuck value inside the normal range is invisible to a per-value score: stated limit
    assert aucs["flat"] < 0.5, aucs


@pytest.mark.slow
def test_matrix_profile_ranks_spike_shift_and_flat_segment_above_normal_steps():
    aucs = _aucs(MatrixProfileDetector())
    assert min(aucs.values()) > 0.9, aucs


# --- hand-computed scores on tiny examples ------------------------------------------------


def test_pca_score_equals_a_hand_computed_projection_error():
    rng = np.random.default_rng(5)
    m, variance = 3, 0.9
    t = np.arange(40)
    train = np.stack([np.sin(t / 2), np.cos(t / 3)], axis=1) + 0.05 * rng.standard_normal((40, 2))
    test = rng.standard_normal((12, 2))
    det = PcaDetector(m=m, variance=variance).fit(train)

    mu, sd = train.mean(axis=0), train.std(axis=0)

    def windows(x):
        z = (x - mu) / sd
        return np.array([z[i : i + m].reshape(-1) for i in range(len(x) - m + 1)])

    W = windows(train)
    mean = W.mean(axis=0)
    _, s, vt = np.linalg.svd(W - mean, full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.argmax(share >= variance)) + 1
    V = vt[:k].T
    err = []
    for w in windows(test) - mean:
        r = w - V @ (V.T @ w)
        err.append(np.mean(r**2))
    err = np.array(err)
    assert det.k_ == k
    np.testing.assert_allclose(det.window_scores(test), err, rtol=1e-8, atol=1e-12)
    by_hand = [np.mean([err[s] for s in range(len(err)) if s <= i < s + m]) for i in range(12)]
    np.testing.assert_allclose(det.score(test), by_hand, rtol=1e-8, atol=1e-12)


def _znorm_distance(a: np.ndarray, b: np.ndarray) -> float:
    za = (a - a.mean()) / a.std()
    zb = (b - b.mean()) / b.std()
    return float(np.sqrt(np.sum((za - zb) ** 2)))


@pytest.mark.slow
def test_matrix_profile_ab_join_equals_brute_force_nearest_neighbour():
    rng = np.random.default_rng(7)
    m = 5
    train = rng.standard_normal((30, 2))
    test = rng.standard_normal((20, 2))
    det = MatrixProfileDetector(m=m).fit(train)
    brute = np.array(
        [
            max(
                min(_znorm_distance(test[i : i + m, j], train[s : s + m, j]) for s in range(26))
                for j in range(2)
            )
            for i in range(16)
        ]
    )
    np.testing.assert_allclose(det.window_scores(test), brute, rtol=1e-6, atol=1e-6)
    by_hand = [np.mean([brute[s] for s in range(16) if s <= i < s + m]) for i in range(20)]
    np.testing.assert_allclose(det.score(test), by_hand, rtol=1e-6, atol=1e-6)

    # the training data itself (or a piece of it): nearest neighbour outside the exclusion
    # zone (stumpy's ceil(m / 4) = 2 steps either side), not the window itself
    own = det.window_scores(train[4:20])
    excl = int(np.ceil(m / 4))
    self_join = np.array(
        [
            max(
                min(
                    _znorm_distance(train[i : i + m, j], train[s : s + m, j])
                    for s in range(26)
                    if abs(s - i) > excl
                )
                for j in range(2)
            )
            for i in range(4, 16)
        ]
    )
    assert (own > 0).all()
    np.testing.assert_allclose(own, self_join, rtol=1e-6, atol=1e-6)


# --- determinism and state ----------------------------------------------------------------


def test_iforest_is_deterministic_for_a_seed():
    train, test, _ = _injected()
    a = IsolationForestDetector(seed=3).fit(train).score(test)
    b = IsolationForestDetector(seed=3).fit(train).score(test)
    c = IsolationForestDetector(seed=4).fit(train).score(test)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def _round_trip(det: classical.ClassicalDetector) -> classical.ClassicalDetector:
    """Through JSON and an npz file read without pickle, as a saved detector would be."""
    state = det.state()
    params = json.loads(json.dumps(state["params"]))
    buf = io.BytesIO()
    np.savez(buf, **state["arrays"])
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        arrays = dict(npz)
    return classical.from_state(params["kind"], {"params": params, "arrays": arrays})


@pytest.mark.parametrize(
    "det",
    [
        PcaDetector(variance=0.8),
        IsolationForestDetector(seed=2, n_estimators=50),
        RobustZDetector(),
    ],
    ids=["pca", "iforest", "robust-z"],
)
def test_params_and_state_round_trip_to_identical_scores(det):
    train, test, _ = _injected()
    det.fit(train)
    params = json.loads(json.dumps(det.params()))
    again = classical.make(det.kind, **params)
    assert again.params() == params  # the fitted m is a parameter of the new detector
    assert again.fit(train).params() == det.params()
    np.testing.assert_array_equal(again.score(test), det.score(test))
    loaded = _round_trip(det)
    assert type(loaded) is type(det) and loaded.params() == det.params()
    np.testing.assert_array_equal(loaded.score(test), det.score(test))


@pytest.mark.slow
def test_matrix_profile_state_round_trip():
    train, test, _ = _injected()
    det = MatrixProfileDetector(m=20).fit(train[:400])
    loaded = _round_trip(det)
    assert loaded.params() == det.params() == {"m": 20, "max_gap": None}
    np.testing.assert_array_equal(loaded.score(test[:300]), det.score(test[:300]))


def test_make_passes_the_seed_to_iforest_only_and_rejects_unknown_kinds():
    assert classical.make("iforest", seed=9).params()["seed"] == 9
    assert classical.make("pca", seed=9).params() == {"m": None, "max_gap": None, "variance": 0.9}
    with pytest.raises(SquallError, match="unknown classical detector"):
        classical.make("lof")
    with pytest.raises(SquallError, match="bad parameters"):
        classical.make("pca", depth=3)


# --- missing values -----------------------------------------------------------------------


def test_fill_gaps_interpolates_short_interior_gaps_only():
    x = np.array([[np.nan], [1.0], [np.nan], [3.0], [np.nan], [np.nan], [np.nan], [7.0], [np.nan]])
    out = fill_gaps(x, 2)
    np.testing.assert_array_equal(np.isnan(out[:, 0]), [1, 0, 0, 0, 1, 1, 1, 0, 1])
    assert out[2, 0] == 2.0
    np.testing.assert_array_equal(fill_gaps(x, 3)[4:7, 0], [4.0, 5.0, 6.0])


@pytest.mark.parametrize("kind", ["pca", "iforest"])
def test_missing_values_short_gaps_filled_long_gaps_not_scored(kind):
    train, test, _ = _injected()
    train = train.copy()
    train[300:310] = np.nan  # training gaps are skipped, not fatal
    det = classical.make(kind, seed=0).fit(train)
    m = det.m_
    assert m == PERIOD and det.gap_ == PERIOD // 4
    clean = det.score(test)
    holed = test.copy()
    holed[200:205] = np.nan  # short: filled
    holed[600:700] = np.nan  # long: windows over it not scored
    s = det.score(holed)
    w = det.window_scores(holed)
    assert np.isfinite(w[200 - m + 1 : 205]).all()
    assert np.isnan(w[600 - m + 1 : 700]).all()
    # steps with nothing observed score NaN; every observed step is scored
    expect_nan = np.zeros(len(test), dtype=bool)
    expect_nan[200:205] = expect_nan[600:700] = True
    np.testing.assert_array_equal(np.isnan(s), expect_nan)
    # windows not touching a gap keep their scores exactly, and so (to rounding in the running
    # sums of the window-to-step mean) do the steps they alone cover
    w_clean = det.window_scores(test)
    far = np.ones(len(w), dtype=bool)
    for a, b in ((200, 205), (600, 700)):
        far[a - m + 1 : b] = False
    np.testing.assert_array_equal(w[far], w_clean[far])
    far_steps = np.ones(len(test), dtype=bool)
    for a, b in ((200, 205), (600, 700)):
        far_steps[a - 2 * m : b + 2 * m] = False
    np.testing.assert_allclose(s[far_steps], clean[far_steps], rtol=1e-12, atol=0)


def test_robust_z_missing_values_and_equal_to_dynamic_robust_z():
    train, test, _ = _injected()
    X = np.concatenate([train, _sine(2000, seed=4, features=1) * 3], axis=1)
    det = RobustZDetector().fit(X)
    np.testing.assert_allclose(det.score(X), np.abs(robust_z(X)).max(axis=1), rtol=1e-12)
    holed = X.copy()
    holed[10, 0] = np.nan
    holed[11] = np.nan
    s = det.score(holed)
    assert s[10] == pytest.approx(np.abs(robust_z(X))[10, 1], rel=1e-12)
    assert np.isnan(s[11]) and np.isfinite(np.delete(s, 11)).all()


def test_to_steps_is_the_mean_of_covering_windows():
    w = np.array([1.0, np.nan, 3.0, 5.0])
    np.testing.assert_allclose(to_steps(w, 6, 3), [1.0, 1.0, 2.0, 4.0, 4.0, 5.0])
    assert np.isnan(to_steps(np.array([np.nan]), 3, 3)).all()


def test_series_shorter_than_m_scores_nan_and_errors_are_one_line():
    train, _, _ = _injected()
    det = PcaDetector().fit(train)
    assert np.isnan(det.score(train[:10])).all() and len(det.score(train[:10])) == 10
    with pytest.raises(SquallError, match="features"):
        det.score(np.zeros((100, 2)))
    with pytest.raises(SquallError, match="not fitted"):
        PcaDetector().score(train)
    with pytest.raises(SquallError, match="fewer than the subsequence length"):
        PcaDetector(m=50).fit(train[:20])


# --- dependencies -------------------------------------------------------------------------


def test_a_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    monkeypatch.setitem(sys.modules, "stumpy", None)
    train, _, _ = _injected()
    for det in (IsolationForestDetector(), MatrixProfileDetector()):
        with pytest.raises(SquallError, match=r"pip install 'squall\[detect\]'") as err:
            det.fit(train)
        assert "\n" not in str(err.value)


def test_import_squall_imports_no_sklearn_or_stumpy():
    code = (
        "import sys, squall, squall.detect.classical\n"
        "bad = [m for m in ('sklearn', 'stumpy', 'numba', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pca", "iforest"])
def test_20000_steps_without_quadratic_memory(kind):
    X = _sine(20000, seed=6, features=3)
    tracemalloc.start()
    try:
        det = classical.make(kind, seed=0).fit(X)
        s = det.score(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert det.m_ == PERIOD
    assert np.isfinite(s).all() and len(s) == 20000
    # n^2 float64 would be 3.2 GB; the windows (n x m F) are 19 MB, the covariance 115 kB
    assert peak < 150e6, peak
