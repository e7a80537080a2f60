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
    recon[0, :, 1] = 10.0  # large error on a feature that is not observed
    mask = np.ones((2, 3, 2), dtype=bool)
    mask[0, :, 1] = False
    mask[1, 2, :] = False  # an empty step
    s = score(x, recon, mask)
    np.testing.assert_allclose(s.window, [1.0, 1.0])
    assert np.isnan(s.feature[0, 1]) and s.feature[0, 0] == 1.0
    assert np.isnan(s.step[1, 2])
    assert s.observed.tolist() == [3, 4]
    assert np.isnan(s.residual[0, 0, 1]) and s.residual[1, 0, 0] == 1.0


def test_step_errors_derived_from_residuals_equal_the_kept_ones():
    """The per-step detector keeps no (N, T) step errors; Scores.step_of derives them from the
    residuals of the windows asked for, with the same numbers as scoring keeps."""
    from dataclasses import replace

    rng = np.random.default_rng(3)
    x, recon = rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4, 3))
    mask = rng.random((5, 4, 3)) > 0.3
    mask[2, 1, :] = False  # an empty step: NaN both ways
    s = score(x, recon, mask)
    kept = replace(s, step=None, residual_windows=np.arange(5))
    np.testing.assert_array_equal(kept.step_of([1, 2, 4]), s.step[[1, 2, 4]])
    assert np.isnan(kept.step_of([2])[0, 1])
    some = replace(s, step=None, residual=s.residual[[3]], residual_windows=np.array([3]))
    with pytest.raises(SquallError, match="not kept"):
        some.step_of([0])


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
    t = pd.to_datetime(
        [
            "2025-01-01 00:00",
            "2025-01-01 01:00",
            "2025-01-01 05:00",
            "2025-01-01 00:30",
            "2025-01-01 01:00",
        ]
    ).to_numpy()
    end = t + np.timedelta64(2, "h")
    track = np.array(["A", "A", "A", "B", "A"])
    flagged = np.array([True, True, True, True, False])
    ev = merge_events(track, t, end, flagged)
    assert ev[0] == ev[1]  # overlap on track A
    assert ev[2] != ev[0]  # starts after the first event ended
    assert ev[3] not in (ev[0], ev[2])  # other track, even though times overlap
    assert ev[4] == -1
    assert sorted(set(ev[ev >= 0])) == [0, 1, 2]


def test_match_events():
    events = pd.DataFrame(
        {
            "track": ["A", "A", "B"],
            "start": ["2025-01-01T00:00", "2025-01-03T00:00", "2025-01-01T00:00"],
            "end": ["2025-01-01T10:00", "2025-01-03T05:00", "2025-01-02T00:00"],
        }
    )
    labels = pd.DataFrame(
        {
            "track": ["A", "A", "C"],
            "type": ["storm", "spike", "storm"],
            "start": ["2025-01-01T10:00", "2025-01-05T00:00", "2025-01-01T00:00"],
            "end": ["2025-01-01T12:00", "2025-01-05T01:00", "2025-01-02T00:00"],
        }
    )
    m = match_events(events, labels)
    assert m["true_events"] == 1  # touching at 10:00 counts (inclusive ends)
    assert m["false_events"] == 2
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["per_type"] == {"spike": {"labels": 1, "found": 0}, "storm": {"labels": 2, "found": 1}}


# --- chunked scoring (squall.detect.scoring.score_windows / with_residuals) ----------------------


class _Steps:
    """The least a window set needs for chunked scoring: steps into a scaled step table."""

    def __init__(self, n=300, T=5, F=3, seed=0):
        rng = np.random.default_rng(seed)
        self.step_values = rng.normal(size=(n + T, F))
        self.step_values[rng.random(self.step_values.shape) < 0.2] = np.nan
        self.scaled = np.where(np.isnan(self.step_values), 0.5, self.step_values)
        self.steps = np.arange(n)[:, None] + np.arange(T)[None, :]
        self.features = [f"f{k}" for k in range(F)]

    def __len__(self):
        return len(self.steps)

    def inputs(self, idx):
        return self.scaled[self.steps[idx]]

    def mask_of(self, idx):
        return ~np.isnan(self.step_values)[self.steps[idx]]


def _recon(x):
    return np.tanh(x) * 0.7 + 0.1


def test_chunked_scores_equal_scores_of_all_windows_at_once():
    from squall.detect.scoring import score_windows

    ws = _Steps()
    whole = score(ws.inputs(slice(None)), _recon(ws.inputs(slice(None))), ws.mask_of(slice(None)))
    calls = []
    got = score_windows(lambda x: calls.append(len(x)) or _recon(x), ws, chunk=64)
    assert calls == [64, 64, 64, 108]  # the last 44 join the chunk before
    for name in ("window", "feature", "step", "observed"):
        np.testing.assert_array_equal(getattr(got, name), getattr(whole, name))
    assert got.residual.shape[0] == 0  # no residuals kept for all windows


def test_residuals_are_kept_for_the_windows_asked_for_only():
    from squall.detect.scoring import score_windows, with_residuals

    ws = _Steps()
    whole = score(ws.inputs(slice(None)), _recon(ws.inputs(slice(None))), ws.mask_of(slice(None)))
    scores = score_windows(_recon, ws)
    with pytest.raises(SquallError, match="not kept"):
        scores.residual_of([3])
    calls = []
    kept = with_residuals(
        scores, lambda x: calls.append(len(x)) or _recon(x), ws, np.array([250, 3, 3, 17])
    )
    assert kept.residual.shape == (3, 5, 3) and calls == [3]
    np.testing.assert_array_equal(kept.residual_of([17, 250]), whole.residual[[17, 250]])
    np.testing.assert_array_equal(kept.window, whole.window)
    with pytest.raises(SquallError, match="not kept"):
        kept.residual_of([4])
    assert kept.residual_of([]).shape == (0, 5, 3)
    calls.clear()
    one = with_residuals(scores, lambda x: calls.append(len(x)) or _recon(x), ws, [7])
    assert calls == [2]  # a batch of one is computed as two copies
    np.testing.assert_array_equal(one.residual_of([7]), whole.residual[[7]])


def test_chunks_cover_every_window_once():
    from squall.detect.scoring import MIN_CHUNK, chunks

    assert chunks(0) == []
    for n, size in ((1, 10), (10, 10), (11, 10), (200, 64), (64 * 3 + MIN_CHUNK, 64)):
        parts = chunks(n, size)
        covered = np.concatenate([np.arange(n)[p] for p in parts])
        np.testing.assert_array_equal(covered, np.arange(n))
        assert all(p.stop - p.start >= min(n, MIN_CHUNK) for p in parts)


def test_one_matcher_counts_labels_found_and_events_matching_nothing():
    from squall.evaluate.metrics import confusion

    labels = pd.DataFrame(
        {
            "track": ["A", "A", ""],
            "type": ["storm", "spike", "spike"],
            "start": ["2025-01-01T00:00", "2025-01-01T06:00", "2025-01-04T00:00"],
            "end": ["2025-01-01T01:00", "2025-01-01T07:00", "2025-01-04T01:00"],
        }
    )
    events = pd.DataFrame(
        {
            "track": ["A", "B", "B"],  # one event over both A labels
            "start": ["2025-01-01T00:30", "2025-01-04T00:30", "2025-01-09T00:00"],
            "end": ["2025-01-01T06:30", "2025-01-04T00:40", "2025-01-10T00:00"],
        }
    )
    m = match_events(events, labels)
    assert (m["tp"], m["fp"], m["fn"]) == (3, 1, 0)  # a label without track matches B
    assert m["precision"] == pytest.approx(0.75) and m["recall"] == 1.0
    assert m["found_by"] == [[0], [0], [1]] and m["false"] == [2]
    assert confusion(labels, events) == {"tp": 3, "fp": 1, "fn": 0}
