"""The NAB score (standard profile) on hand-made files."""

import math

import numpy as np
import pandas as pd
import pytest

from squall.evaluate.nab import nab_score, normalise, probation_rows, scaled_sigmoid

TIMES = pd.date_range("2024-01-01", periods=1000, freq="5min")
# rows 400-499 and 700-749
WINDOWS = [(TIMES[400], TIMES[499]), (TIMES[700], TIMES[749])]


def test_scaled_sigmoid_matches_nab():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0 and scaled_sigmoid(10.0) == -1.0


def test_perfect_detector_scores_100_and_null_detector_0():
    perfect = nab_score(TIMES, WINDOWS, [TIMES[400], TIMES[700]])
    assert perfect.raw == pytest.approx(2.0) and perfect.normalised == pytest.approx(100.0)
    null = nab_score(TIMES, WINDOWS, [])
    assert null.raw == -2.0 and null.normalised == pytest.approx(0.0)
    assert (null.null, null.perfect, null.windows) == (-2.0, 2.0, 2)


def test_only_the_earliest_detection_in_a_window_counts():
    late = nab_score(TIMES, WINDOWS, [TIMES[450], TIMES[700]])
    both = nab_score(TIMES, WINDOWS, [TIMES[499], TIMES[450], TIMES[700]])
    assert both.raw == pytest.approx(late.raw)
    # halfway: scaledSigmoid(-(499 - 450 + 1) / 100) / scaledSigmoid(-1)
    assert late.raw == pytest.approx(1 + scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0))
    assert both.tp == 2 and both.fp == 0


def test_false_positives_are_weighted_by_distance_after_the_previous_window():
    before = nab_score(TIMES, WINDOWS, [TIMES[200]])  # no window before it: -0.11
    assert before.raw == pytest.approx(-2.0 - 0.11) and before.fp == 1
    just_after = nab_score(TIMES, WINDOWS, [TIMES[500]])  # 1 row after a 100-row window
    assert just_after.raw == pytest.approx(-2.0 + 0.11 * scaled_sigmoid(1 / 99))
    far = nab_score(TIMES, WINDOWS, [TIMES[999]])  # 250 rows after a 50-row window
    assert far.raw == pytest.approx(-2.0 - 0.11)


def test_probationary_period_is_ignored():
    assert probation_rows(1000) == 150 and probation_rows(100_000) == 750
    early = nab_score(TIMES, WINDOWS, [TIMES[10]])
    assert early.raw == -2.0 and early.fp == 0
    # a window entirely inside the probationary period is not scored at all
    r = nab_score(TIMES, [(TIMES[10], TIMES[20])] + WINDOWS, [])
    assert r.windows == 2


def test_detections_between_rows_map_to_the_next_row_and_normalise_edge_cases():
    r = nab_score(TIMES, WINDOWS, [TIMES[399] + pd.Timedelta("1min"), TIMES[700]])
    assert r.normalised == pytest.approx(100.0)
    assert math.isnan(normalise(0.0, 0.0, 0.0))
    assert np.isfinite(nab_score(TIMES, [], [TIMES[500]]).raw)
