import numpy as np
import pandas as pd
import pytest

from squall.detect.evaluate import match_events
from squall.detect.events import merge_events
from squall.detect.scoring import score
from squall.detect.thresholds import fit_threshold, resolve_threshold
from squall.errors import SquallError


def test_scores_count_observed_cells_only():
    x = np.zeros((2, 3, 2))
    recon = np.ones((2, 3, 2))
    recon[0, :, 1] = 10.0           # large error on a feature that is not observed
    mask = np.ones((2, 3, 2), dtype=bool)
    mask[0, :, 1] = False
    mask[1, 2, :] = False           # an empty step
    s = score(x, recon, mask)
    np.testing.assert_allclose(s.window, [1.0, 1.0])
    assert np.isnan(s.feature[0, 1]) and s.feature[0, 0] == 1.0
    assert np.isnan(s.step[1, 2])
    assert s.observed.tolist() == [3, 4]
    assert np.isnan(s.residual[0, 0, 1]) and s.residual[1, 0, 0] == 1.0


def test_threshold_is_a_quantile_of_reference_scores():
    ref = np.arange(101, dtype=float)
    t = fit_threshold(ref, q=0.9)
    assert t["value"] == pytest.approx(90.0) and t["method"] == "quantile" and t["n"] == 101
    assert resolve_threshold(t)["value"] == t["value"]
    assert resolve_threshold(t, value=3.0)["value"] == 3.0
    assert resolve_threshold(t, quantile=0.5, scores=ref)["value"] == pytest.approx(50.0)
    with pytest.raises(SquallError, match="no threshold"):
        resolve_threshold(None)
    with pytest.raises(SquallError, match="quantile"):
        fit_threshold(ref, q=1.5)


def test_events_merge_overlapping_windows_per_track():
    t = pd.to_datetime(["2025-01-01 00:00", "2025-01-01 01:00", "2025-01-01 05:00",
                        "2025-01-01 00:30", "2025-01-01 01:00"]).to_numpy()
    end = t + np.timedelta64(2, "h")
    track = np.array(["A", "A", "A", "B", "A"])
    flagged = np.array([True, True, True, True, False])
    ev = merge_events(track, t, end, flagged)
    assert ev[0] == ev[1]              # overlap on track A
    assert ev[2] != ev[0]              # starts after the first event ended
    assert ev[3] not in (ev[0], ev[2])  # other track, even though times overlap
    assert ev[4] == -1
    assert sorted(set(ev[ev >= 0])) == [0, 1, 2]


def test_match_events():
    events = pd.DataFrame({"track": ["A", "A", "B"],
                           "start": ["2025-01-01T00:00", "2025-01-03T00:00", "2025-01-01T00:00"],
                           "end": ["2025-01-01T10:00", "2025-01-03T05:00", "2025-01-02T00:00"]})
    labels = pd.DataFrame({"track": ["A", "A", "C"], "type": ["storm", "spike", "storm"],
                           "start": ["2025-01-01T10:00", "2025-01-05T00:00", "2025-01-01T00:00"],
                           "end": ["2025-01-01T12:00", "2025-01-05T01:00", "2025-01-02T00:00"]})
    m = match_events(events, labels)
    assert m["true_events"] == 1          # touching at 10:00 counts (inclusive ends)
    assert m["false_events"] == 2
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["per_type"] == {"spike": {"labels": 1, "found": 0},
                             "storm": {"labels": 2, "found": 1}}
