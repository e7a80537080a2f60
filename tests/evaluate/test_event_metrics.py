"""The event-level overlap rule (Orion's contextual F1, weighted=False), pinned on small cases."""

import math

import pandas as pd
import pytest

from squall.evaluate.metrics import confusion, pooled, prf


def frame(*pairs, track=None):
    out = pd.DataFrame(
        {
            "start": pd.to_datetime([a for a, _ in pairs], format="ISO8601"),
            "end": pd.to_datetime([b for _, b in pairs], format="ISO8601"),
        }
    )
    if track is not None:
        out["track"] = track
    return out


NONE = frame()


def test_touching_intervals_count_both_ends_inclusive():
    labels = frame(("2024-01-01 10:00", "2024-01-01 12:00"))
    # the detection ends exactly where the label starts
    assert confusion(labels, frame(("2024-01-01 08:00", "2024-01-01 10:00"))) == {
        "tp": 1,
        "fp": 0,
        "fn": 0,
    }
    # the detection starts exactly where the label ends
    assert confusion(labels, frame(("2024-01-01 12:00", "2024-01-01 13:00")))["tp"] == 1
    # one second apart: no overlap, one false positive and one false negative
    assert confusion(labels, frame(("2024-01-01 12:00:01", "2024-01-01 13:00"))) == {
        "tp": 0,
        "fp": 1,
        "fn": 1,
    }


def test_one_long_detection_over_two_labels_is_two_true_positives():
    labels = frame(("2024-01-02", "2024-01-03"), ("2024-01-05", "2024-01-06"))
    assert confusion(labels, frame(("2024-01-01", "2024-01-10"))) == {"tp": 2, "fp": 0, "fn": 0}


def test_width_is_not_penalised_and_several_detections_in_one_label_are_not_fps():
    labels = frame(("2024-01-05", "2024-01-06"))
    whole = frame(("2000-01-01", "2100-01-01"))
    assert confusion(labels, whole) == {"tp": 1, "fp": 0, "fn": 0}
    two_inside = frame(
        ("2024-01-05 01:00", "2024-01-05 02:00"), ("2024-01-05 05:00", "2024-01-05 06:00")
    )
    assert confusion(labels, two_inside) == {"tp": 1, "fp": 0, "fn": 0}


def test_false_positives_and_negatives():
    labels = frame(("2024-01-02", "2024-01-03"), ("2024-01-08", "2024-01-09"))
    events = frame(
        ("2024-01-02 12:00", "2024-01-02 13:00"),
        ("2024-01-05", "2024-01-05 01:00"),
        ("2024-01-06", "2024-01-06 01:00"),
    )
    assert confusion(labels, events) == {"tp": 1, "fp": 2, "fn": 1}
    assert confusion(labels, NONE) == {"tp": 0, "fp": 0, "fn": 2}
    assert confusion(NONE, events) == {"tp": 0, "fp": 3, "fn": 0}


def test_tracks_must_match_unless_the_label_has_none():
    labels = frame(("2024-01-02", "2024-01-03"), ("2024-01-02", "2024-01-03"), track=["A", ""])
    events = frame(("2024-01-02", "2024-01-02 01:00"), track=["B"])
    # the label of track A is missed; the label without a track matches B's event
    assert confusion(labels, events) == {"tp": 1, "fp": 0, "fn": 1}


def test_counts_are_pooled_over_series_before_the_scores():
    per_series = pd.DataFrame(
        {
            "dataset": ["d", "d", "e"],
            "series": ["d/a", "d/b", "e/c"],
            "tp": [1, 0, 0],
            "fp": [0, 3, 0],
            "fn": [0, 1, 2],
        }
    )
    out = pooled(per_series).set_index("dataset")
    assert out.loc["d", ["tp", "fp", "fn"]].tolist() == [1, 3, 1]
    assert out.loc["d", "precision"] == pytest.approx(1 / 4)
    assert out.loc["d", "recall"] == pytest.approx(1 / 2)
    assert out.loc["d", "f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)
    # not the mean of the per-series F1 scores (1.0 and 0.0)
    assert out.loc["d", "f1"] != pytest.approx(0.5)
    assert out.loc["e", "f1"] == 0.0 and math.isnan(out.loc["e", "precision"])


def test_prf_edge_cases():
    assert prf(0, 0, 0) == {
        "precision": pytest.approx(math.nan, nan_ok=True),
        "recall": pytest.approx(math.nan, nan_ok=True),
        "f1": pytest.approx(math.nan, nan_ok=True),
    }
    assert prf(0, 0, 3)["f1"] == 0.0 and math.isnan(prf(0, 0, 3)["precision"])
    assert prf(2, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
