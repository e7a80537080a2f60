"""Threshold-free metrics, pinned on hand-made cases and cross-checked with scikit-learn."""

import numpy as np
import pytest

from squall.errors import SquallWarning
from squall.evaluate.scoremetrics import (
    auc_pr,
    auc_roc,
    point_adjusted_f1,
    range_auc,
    score_metrics,
    vus,
)


def test_hand_made_cases():
    y = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    perfect = y * 10.0 + np.arange(10) * 0.01
    assert auc_roc(y, perfect) == 1.0 and auc_pr(y, perfect) == 1.0
    assert auc_roc(y, -perfect) == 0.0
    flat = np.ones(10)
    assert auc_roc(y, flat) == 0.5 and auc_pr(y, flat) == pytest.approx(0.2)  # prevalence
    # by hand: scores 3,1 on the anomalies; order 9,3,2,1,... -> AP = (1/2)(1/2) + (1/2)(2/4)
    s = np.array([0, 0, 2, 3, 1, 9, 0, 0, 0, 0.5])
    assert auc_pr(y, s) == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert np.isnan(auc_roc(np.zeros(5), np.arange(5)))


def test_against_scikit_learn_with_ties_and_nan():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = (rng.random(500) < 0.1).astype(int)
        s = np.round(rng.normal(size=500) + y, 1)  # ties
        assert auc_roc(y, s) == pytest.approx(metrics.roc_auc_score(y, s))
        assert auc_pr(y, s) == pytest.approx(metrics.average_precision_score(y, s))
    s[:10] = np.nan  # NaN ranks lowest
    filled = np.where(np.isnan(s), -1e9, s)
    assert auc_roc(y, s) == pytest.approx(metrics.roc_auc_score(y, filled))


def test_range_auc_rewards_a_detection_just_before_the_range():
    y = np.zeros(200)
    y[100:110] = 1
    s = np.zeros(200)
    s[96:99] = 5.0  # the detector fires 2-4 steps early
    plain = auc_roc(y, s)
    roc0, _ = range_auc(y, s, 0, thresholds=200)
    assert roc0 == pytest.approx(plain, abs=0.02)  # one range, no buffer: plain AUC
    v_roc, v_pr = vus(y, s, window=20)
    assert v_roc > plain + 0.05 and v_pr > auc_pr(y, s)


def test_score_metrics_keys_and_a_long_series():
    rng = np.random.default_rng(1)
    y = np.zeros(100_000)
    y[50_000:50_050] = 1
    s = rng.normal(size=100_000) + 3 * y
    out = score_metrics(y, s, window=24)
    assert set(out) == {"auc_roc", "auc_pr", "vus_roc", "vus_pr"}
    assert 0.9 < out["auc_roc"] <= 1 and 0 < out["vus_pr"] <= 1


def test_point_adjusted_f1_warns():
    y = np.array([0, 1, 1, 1, 0])
    with pytest.warns(SquallWarning, match="inflates"):
        assert point_adjusted_f1(y, [0, 0, 1, 0, 0]) == 1.0
