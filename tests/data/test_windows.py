"""squall.data.windows (settings, windows per track) and squall.data.windowset (save/load).

Observations are built by hand so every expected window can be worked out from the rules in the
module docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from squall.data import windows as windows_module
from squall.data import windowset
from squall.data.noaa import read_noaa
from squall.data.observations import Observations
from squall.data.scaling import Scaler
from squall.data.windows import WindowSettings, make_windows, resolve_settings
from squall.errors import SquallError

T0 = pd.Timestamp("2025-03-01T00:00:00")


def make_obs(reports, features=("x", "y")) -> Observations:
    """Observations from ``(track, time offset, {feature: value})`` tuples, in the given order.

    The time offset is a pandas Timedelta or a number of hours.
    """
    features = list(features)
    rows = []
    for i, (track, offset, values) in enumerate(reports):
        delta = offset if isinstance(offset, pd.Timedelta) else pd.Timedelta(hours=offset)
        rows.append(
            {
                "source": 0,
                "row": i,
                "track": track,
                "time": T0 + delta,
                "lat": np.nan,
                "lon": np.nan,
                **{f: float(values.get(f, np.nan)) for f in features},
            }
        )
    frame = pd.DataFrame(rows, columns=["source", "row", "track", "time", "lat", "lon", *features])
    frame["time"] = frame["time"].astype("datetime64[ns]")
    return Observations(frame, features, {f: "" for f in features}, ["hand-made"])


def hourly(track, hours, start=0.0):
    """Reports of one track at the given hours, x = hour, y = 100 + hour."""
    return [(track, h, {"x": start + h, "y": 100 + start + h}) for h in hours]


def windows_for(obs, **settings):
    resolved = resolve_settings(WindowSettings(**settings), obs)
    return make_windows(obs, resolved)


def window_times(obs, w, i) -> pd.Series:
    return obs.frame["time"].iloc[w.rows(i)]


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "minutes, expected",
    [
        (10, "10min"),  # doc: 10-minute reports -> 10min grid
        (60, "1h"),  # hourly -> 1h
        (7, "10min"),  # rounded up to the next standard interval
        (45, "1h"),
        (180, "3h"),
    ],
)
def test_auto_resample_picks_standard_interval_at_least_the_typical_one(minutes, expected):
    step = pd.Timedelta(minutes=minutes)
    reports = [("A", k * step, {"x": k}) for k in range(30)]
    reports += [("B", k * step + pd.Timedelta(seconds=1), {"x": k}) for k in range(30)]
    obs = make_obs(reports, ["x"])
    settings = resolve_settings(WindowSettings(length=5), obs)
    assert pd.Timedelta(settings.resample) == pd.Timedelta(expected)
    # default max_gap: six intervals
    assert pd.Timedelta(settings.max_gap) == 6 * pd.Timedelta(expected)
    assert settings.mode == "track" and settings.length == 5


@pytest.mark.parametrize(
    ("minutes", "length", "span", "expected"),
    [
        (5, 24, "1D", "1h"),  # 24 x 5 min = 2 h < 1 day: coarser, to the next standard interval
        (5, 24, None, "5min"),  # no span: the data's own interval
        (5, 300, "1D", "5min"),  # 300 x 5 min already spans a day
        (60, 24, "1D", "1h"),
        (5, 10, "1D", "3h"),  # 1 day / 10 = 2.4 h -> 3 h
        (5, 24, "12h", "30min"),
    ],
)
def test_span_makes_the_interval_coarser_so_a_window_covers_it(minutes, length, span, expected):
    step = pd.Timedelta(minutes=minutes)
    obs = make_obs([("A", k * step, {"x": k}) for k in range(400)], ["x"])
    settings = resolve_settings(WindowSettings(length=length), obs, span)
    assert pd.Timedelta(settings.resample) == pd.Timedelta(expected)
    assert pd.Timedelta(settings.max_gap) == 6 * pd.Timedelta(expected)
    # an explicit interval is kept whatever the span
    fixed = resolve_settings(WindowSettings(length=length, resample="5min"), obs, span)
    assert fixed.resample == "5min"


def test_train_and_evaluate_resolve_windows_by_one_rule():
    """One series, one default: ``squall train`` and ``squall evaluate`` (issue 15)."""
    import inspect

    from squall import pipeline
    from squall.data.windows import DEFAULT_SPAN, span_for
    from squall.evaluate.detectors import DetectorConfig

    assert inspect.signature(pipeline.train).parameters["span"].default == "auto"
    assert DetectorConfig().span == "auto"
    assert span_for("auto", forecasting=False) == DEFAULT_SPAN == "1D"
    assert span_for("auto", forecasting=True) is None  # a forecaster's steps are the data's
    assert span_for("12h", forecasting=True) == "12h" and span_for(None, False) is None


def test_a_bad_span_is_a_parameter_error():
    from squall.data.windows import check_span
    from squall.errors import ParameterError

    with pytest.raises(ParameterError, match="cannot read 'soon' as a duration"):
        check_span("soon")
    check_span(None)


def test_auto_resample_uses_the_typical_track():
    # two tracks with 10-minute reports, one with hourly: the median track is 10-minute
    reports = []
    for track, minutes in (("A", 10), ("B", 10), ("C", 60)):
        reports += [(track, pd.Timedelta(minutes=minutes * k), {"x": k}) for k in range(30)]
    settings = resolve_settings(WindowSettings(length=5), make_obs(reports, ["x"]))
    assert pd.Timedelta(settings.resample) == pd.Timedelta("10min")


def test_default_max_gap_is_six_intervals():
    obs = make_obs(hourly("A", range(10)))
    assert pd.Timedelta(
        resolve_settings(WindowSettings(resample="30min"), obs).max_gap
    ) == pd.Timedelta("3h")
    # without resampling: six typical report intervals (hourly here)
    assert pd.Timedelta(
        resolve_settings(WindowSettings(length=3, resample=None), obs).max_gap
    ) == pd.Timedelta("6h")
    # an explicit max_gap is kept
    assert pd.Timedelta(
        resolve_settings(WindowSettings(max_gap="90min"), obs).max_gap
    ) == pd.Timedelta("90min")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"length": 1}, "length"),
        ({"length": 0}, "length"),
        ({"stride": 0}, "stride"),
        ({"stride": -2}, "stride"),
        ({"min_observed": 0}, "min_observed"),
        ({"min_observed": 2}, "min_observed"),
        ({"min_observed": -0.5}, "min_observed"),
        ({"resample": "often"}, "resample"),
        ({"resample": "-1h"}, "resample"),
        ({"resample": "0min"}, "resample"),
        ({"max_gap": "a while"}, "max.gap"),
        ({"max_gap": "-3h"}, "max.gap"),
        ({"mode": "sliding"}, "mode"),
    ],
)
def test_invalid_settings_are_errors(kwargs, match):
    obs = make_obs(hourly("A", range(10)))
    with pytest.raises(SquallError, match=match):
        resolve_settings(WindowSettings(**kwargs), obs)


def test_pooled_settings_have_no_resampling():
    obs = make_obs(hourly("A", range(10)))
    settings = resolve_settings(WindowSettings(mode="pooled", length=3, resample="1h"), obs)
    assert settings.mode == "pooled" and settings.resample is None and settings.max_gap is None


# --- track mode -------------------------------------------------------------------------------


def test_windows_never_cross_a_track_boundary():
    # two tracks reporting at the same hours, interleaved in the file
    reports = [
        r
        for pair in zip(hourly("A", range(30)), hourly("B", range(30), start=1000), strict=True)
        for r in pair
    ]
    obs = make_obs(reports)
    for resample in ("1h", None):
        w = windows_for(obs, length=5, resample=resample, max_gap="6h")
        assert len(w) == 2 * (30 - 5 + 1)
        for i in range(len(w)):
            rows = w.rows(i)
            assert len(rows) == 5
            assert set(obs.frame["track"].iloc[rows]) == {w.track[i]}
        assert sorted(set(w.track)) == ["A", "B"]


def test_windows_never_cross_a_long_gap():
    # hours 0-9, nothing for 10 h, hours 20-29: one gap of 11 h > max_gap 6 h
    obs = make_obs(hourly("A", [*range(10), *range(20, 30)]))
    w = windows_for(obs, length=4, resample="1h", max_gap="6h", min_observed=0.5)
    firsts = [window_times(obs, w, i).min() for i in range(len(w))]
    for i in range(len(w)):
        times = window_times(obs, w, i)
        assert times.max() < T0 + pd.Timedelta(hours=20) or times.min() >= T0 + pd.Timedelta(
            hours=20
        ), f"window {i} crosses the gap"
        step_times = w.step_time[w.steps[i]]
        assert (step_times <= np.datetime64(T0 + pd.Timedelta(hours=9))).all() or (
            step_times >= np.datetime64(T0 + pd.Timedelta(hours=20))
        ).all(), f"window {i} reaches into the gap"
        observed = np.sort(step_times[~np.isnan(w.values[i]).all(axis=1)])
        assert (np.diff(observed) <= np.timedelta64(6, "h")).all()
    # Worked out by hand: the segments are the hour grids 0..9 and 20..29 (each from its first to
    # its last observed step; the empty hours 10..19 belong to neither), windows of 4 start at
    # 0..6 and 20..26, all fully observed, so none is skipped.
    expected = [T0 + pd.Timedelta(hours=h) for h in [*range(7), *range(20, 27)]]
    assert firsts == expected
    assert w.skipped == 0


# The reviewer's example: hourly reports at hours 0-29 and 100-139, a 70 h gap between them.
GAP_HOURS = [*range(30), *range(100, 140)]
SEGMENTS = [(0, 29), (100, 139)]  # first and last observed hour of each segment


def hours_of(times) -> np.ndarray:
    return (pd.to_datetime(np.asarray(times)) - T0) / pd.Timedelta(hours=1)


@pytest.mark.parametrize("resample", ["1h", None])
def test_windows_never_reach_into_a_gap_longer_than_max_gap(resample):
    obs = make_obs(hourly("A", GAP_HOURS))
    w = windows_for(obs, length=24, resample=resample, max_gap="6h")
    # 30 - 24 + 1 windows in the first segment, 40 - 24 + 1 in the second
    assert len(w) == 7 + 17 and w.skipped == 0
    for i in range(len(w)):
        hours = hours_of(w.step_time[w.steps[i]])
        assert not ((hours > 29) & (hours < 100)).any(), f"window {i} has steps in the gap"
        lo, hi = next((a, b) for a, b in SEGMENTS if a <= hours.min() <= b)
        assert lo <= hours.min() and hours.max() <= hi, f"window {i} leaves its segment"
        assert (np.diff(hours) == 1).all()
        # start/end: the first and last report, which here are the first and last step
        assert hours_of(w.start[i : i + 1])[0] == hours.min()
        assert hours_of(w.end[i : i + 1])[0] == hours.max()
        np.testing.assert_array_equal(np.sort(hours_of(window_times(obs, w, i))), hours)
    starts = hours_of(w.start)
    np.testing.assert_array_equal(starts, [*range(7), *range(100, 117)])
    # no step at all inside the gap: the step table covers the segments only
    step_hours = hours_of(w.step_time)
    assert not ((step_hours > 29) & (step_hours < 100)).any()
    assert len(w.step_time) == 70


def test_skipped_counts_only_windows_inside_segments():
    # track A: the gap example (nothing to skip); track B: a report every 5 h for hours 0..100,
    # one segment (5 h <= max_gap) of 101 steps with every fifth observed. Windows of 24 start at
    # 0..77 and hold 5 observed steps, except those starting at 1, 6, ..., 76 (s % 5 == 1), which
    # hold 4 < 0.2 * 24: 16 skipped. The 70 h gap of A holds no window, so adds nothing.
    obs = make_obs(hourly("A", GAP_HOURS) + hourly("B", range(0, 101, 5), start=1000))
    w = windows_for(obs, length=24, resample="1h", max_gap="6h", min_observed=0.2)
    assert w.skipped == 16
    assert (w.track == "A").sum() == 24 and (w.track == "B").sum() == 78 - 16
    b_first_steps = hours_of(w.step_time[w.steps[w.track == "B", 0]])
    assert sorted(b_first_steps) == [s for s in range(78) if s % 5 != 1]
    # by brute force over each segment's windows
    counted = 0
    for a, b in [(0, 29), (100, 139), (0, 100)]:
        for s in range(a, b - 24 + 2):
            observed = {h for h in range(s, s + 24)} & (
                set(GAP_HOURS) if b != 100 else set(range(0, 101, 5))
            )
            counted += len(observed) / 24 < 0.2
    assert counted == w.skipped


def test_rows_start_end_describe_each_window_across_gaps():
    # reports at random minutes inside hours 0-29 and 100-139 of two tracks, in random file
    # order, plus reports without any observed value inside the gap and at its edge
    rng = np.random.default_rng(11)
    reports = []
    for track in ("S1", "S2"):
        for h in GAP_HOURS:
            minute = int(rng.integers(60))
            reports.append(
                (
                    track,
                    pd.Timedelta(hours=h, minutes=minute),
                    {"x": rng.normal(), "y": rng.normal()},
                )
            )
    reports.append(("S1", pd.Timedelta(hours=60), {}))  # inside the gap: in no step
    reports.append(("S2", pd.Timedelta(hours=29, minutes=59), {}))  # in S2's last step of hour 29
    reports = [reports[k] for k in rng.permutation(len(reports))]
    obs = make_obs(reports)
    times, track = obs.frame["time"], obs.frame["track"]
    in_gap = np.flatnonzero(
        ((times - T0) / pd.Timedelta(hours=1)).between(30, 100, inclusive="neither")
    )
    assert len(in_gap) == 1
    w = windows_for(obs, length=12, resample="1h", max_gap="6h")
    assert len(w) == 2 * ((30 - 12 + 1) + (40 - 12 + 1)) and w.skipped == 0
    assert in_gap[0] not in set(w.step_obs)
    for i in range(len(w)):
        rows = w.rows(i)
        assert len(rows) == len(set(rows)) > 0
        assert set(track.iloc[rows]) == {w.track[i]}
        t = times.iloc[rows]
        assert t.min() == pd.Timestamp(w.start[i]) and t.max() == pd.Timestamp(w.end[i])
        first, last = w.step_time[w.steps[i][0]], w.step_time[w.steps[i][-1]]
        # every report sits in its window's steps, every step in one segment
        assert (t >= pd.Timestamp(first)).all()
        assert (t < pd.Timestamp(last) + pd.Timedelta(hours=1)).all()
        hours = hours_of(w.step_time[w.steps[i]])
        assert any(a <= hours.min() and hours.max() <= b for a, b in SEGMENTS)
        # rows(i) is exactly the window's reports: those of its track inside its steps
        expected = np.flatnonzero(
            (track == w.track[i])
            & (times >= pd.Timestamp(first))
            & (times < pd.Timestamp(last) + pd.Timedelta(hours=1))
        )
        np.testing.assert_array_equal(np.sort(rows), expected)


def test_without_resampling_empty_reports_outside_segments_are_in_no_step():
    reports = (
        hourly("A", [0, 1, 2, 3])
        + [("A", 5, {})]
        + hourly("A", [12, 13])
        + [("A", 13.5, {})]
        + hourly("A", [14, 15])
    )
    obs = make_obs(reports)
    w = windows_for(obs, length=3, resample=None, max_gap="6h", min_observed=0.5)
    # the empty report at hour 5 lies in the 9 h gap (3 -> 12): in no step; the one at 13.5 lies
    # inside the second segment: an unobserved step of it
    assert 4 not in set(w.step_obs) and 7 in set(w.step_obs)
    hours = [list(hours_of(w.step_time[w.steps[i]])) for i in range(len(w))]
    assert hours == [[0, 1, 2], [1, 2, 3], [12, 13, 13.5], [13, 13.5, 14], [13.5, 14, 15]]
    assert w.skipped == 0


def test_a_resampled_grid_too_large_is_an_error(monkeypatch):
    # hourly reports for 600 days: on a 1 s grid one segment would have ~52 million steps
    n = 600 * 24
    frame = pd.DataFrame(
        {
            "source": 0,
            "row": np.arange(n),
            "track": "A",
            "time": (T0 + pd.to_timedelta(np.arange(n), unit="h")),
            "lat": np.nan,
            "lon": np.nan,
            "x": np.arange(n, dtype=float),
        }
    )
    frame["time"] = frame["time"].astype("datetime64[ns]")
    obs = Observations(frame, ["x"], {"x": ""}, ["hand-made"])
    with pytest.raises(SquallError, match=r"^resample 1s .*51,836,401 steps.*max_gap$") as info:
        windows_for(obs, length=24, resample="1s", max_gap="1D")
    assert "\n" not in str(info.value)
    # with the default max_gap (6 s) every report is its own one-step segment: no windows, none
    # skipped, and a step table of one step per report instead of a grid over all 600 days
    w = windows_for(obs, length=24, resample="1s")
    assert len(w) == 0 and w.skipped == 0 and len(w.step_time) == n
    # the limit counts segments only: the gap example has 70 steps, not 140
    monkeypatch.setattr(windows_module, "MAX_GRID_STEPS", 100)
    gap = make_obs(hourly("A", GAP_HOURS))
    assert len(windows_for(gap, length=24, resample="1h", max_gap="6h")) == 24
    with pytest.raises(SquallError, match="140 steps"):
        windows_for(gap, length=24, resample="1h", max_gap="3D")
    # without resampling there is no grid to limit (one step per report: 70 steps)
    assert len(windows_for(gap, length=24, resample=None, max_gap="3D")) == 70 - 24 + 1


def test_a_gap_of_exactly_max_gap_does_not_split():
    obs = make_obs(hourly("A", [0, 1, 2, 8, 9, 10]))  # observed steps 6 h apart (2 -> 8)
    w = windows_for(obs, length=11, resample="1h", max_gap="6h", min_observed=0.5)
    assert len(w) == 1 and len(w.rows(0)) == 6
    split = windows_for(obs, length=11, resample="1h", max_gap="5h", min_observed=0.5)
    assert len(split) == 0


def test_gaps_without_resampling_split_on_report_time():
    obs = make_obs(hourly("A", [0, 1, 2, 3, 12, 13, 14, 15]))
    w = windows_for(obs, length=3, resample=None, max_gap="6h")
    # segments of 4 reports each: 2 windows per segment
    assert len(w) == 4
    for i in range(len(w)):
        hours = (window_times(obs, w, i) - T0) / pd.Timedelta(hours=1)
        assert (hours.max() <= 3) or (hours.min() >= 12)
        assert (np.diff(hours.to_numpy()) == 1).all()


def test_stride_counts_from_each_segment_start():
    # track A: hours 0..9; track B: hours 5..14 (a different phase); T=3, stride 4
    obs = make_obs(hourly("A", range(10)) + hourly("B", range(5, 15), start=1000))
    w = windows_for(obs, length=3, stride=4, resample="1h", max_gap="6h")
    starts = {(t, s) for t, s in zip(w.track, pd.to_datetime(w.start), strict=True)}
    assert starts == {
        ("A", T0),
        ("A", T0 + pd.Timedelta(hours=4)),
        ("B", T0 + pd.Timedelta(hours=5)),
        ("B", T0 + pd.Timedelta(hours=9)),
    }
    # and after a long gap inside a track the count restarts too
    gap = make_obs(hourly("A", [0, 1, 2, 3, 4, 5, 6, 20, 21, 22, 23, 24, 25, 26]))
    w = windows_for(gap, length=2, stride=3, resample="1h", max_gap="6h", min_observed=1.0)
    hours = sorted((pd.to_datetime(w.start) - T0) / pd.Timedelta(hours=1))
    assert hours == [0, 3, 20, 23]


def test_rows_belong_to_the_window_and_start_end_are_first_and_last_report():
    rng = np.random.default_rng(7)
    reports = []
    for track in ("S1", "S2", "S3"):
        minutes = np.sort(rng.choice(48 * 60, size=60, replace=False))
        reports += [
            (track, pd.Timedelta(minutes=int(m)), {"x": rng.normal(), "y": rng.normal()})
            for m in minutes
        ]
    order = rng.permutation(len(reports))  # file order is not time order
    obs = make_obs([reports[k] for k in order])
    w = windows_for(obs, length=6, resample="1h", max_gap="3h", min_observed=0.5)
    assert len(w) > 20
    times = obs.frame["time"]
    for i in range(len(w)):
        rows = w.rows(i)
        assert len(rows) == len(set(rows)) > 0
        assert set(obs.frame["track"].iloc[rows]) == {w.track[i]}
        t = times.iloc[rows]
        assert t.min() == pd.Timestamp(w.start[i]) and t.max() == pd.Timestamp(w.end[i])
        # each report sits in the hour of its own step
        for s in w.steps[i]:
            step_rows = w.step_obs[w.step_ptr[s] : w.step_ptr[s + 1]]
            assert (times.iloc[step_rows].dt.floor("1h") == pd.Timestamp(w.step_time[s])).all()
        assert (np.diff(w.step_time[w.steps[i]]) == np.timedelta64(1, "h")).all()


def test_resampled_step_is_the_mean_of_its_reports():
    obs = make_obs(
        [
            ("A", pd.Timedelta(minutes=10), {"x": 1.0}),  # y missing in this report
            ("A", pd.Timedelta(minutes=40), {"x": 3.0, "y": 5.0}),
            ("A", pd.Timedelta(minutes=80), {"x": 10.0, "y": 7.0}),
            ("A", pd.Timedelta(minutes=130), {"x": 4.0, "y": 1.0}),
            ("A", pd.Timedelta(minutes=150), {"x": 8.0, "y": 3.0}),
            ("A", pd.Timedelta(minutes=170), {"x": 0.0, "y": 2.0}),
        ]
    )
    w = windows_for(obs, length=3, resample="1h", max_gap="6h")
    assert len(w) == 1
    # hour 0: x = mean(1, 3) = 2, y = 5 (the only observed y); hour 1: 10, 7; hour 2: 4, 2
    np.testing.assert_allclose(w.values[0], [[2.0, 5.0], [10.0, 7.0], [4.0, 2.0]])
    np.testing.assert_array_equal(
        w.step_time[w.steps[0]],
        np.array(
            [T0, T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2)], dtype="datetime64[ns]"
        ),
    )
    s0, s2 = w.steps[0][0], w.steps[0][2]
    assert sorted(w.step_obs[w.step_ptr[s0] : w.step_ptr[s0 + 1]]) == [0, 1]
    assert sorted(w.step_obs[w.step_ptr[s2] : w.step_ptr[s2 + 1]]) == [3, 4, 5]
    assert sorted(w.rows(0)) == list(range(6))
    assert pd.Timestamp(w.start[0]) == T0 + pd.Timedelta(minutes=10)
    assert pd.Timestamp(w.end[0]) == T0 + pd.Timedelta(minutes=170)


def test_missing_feature_is_masked_not_a_dropped_report():
    reports = hourly("A", range(6))
    reports[2] = ("A", 2, {"x": 2.0})  # y missing at hour 2
    obs = make_obs(reports)
    for resample in ("1h", None):
        w = windows_for(obs, length=6, resample=resample, max_gap="6h", min_observed=1.0)
        assert len(w) == 1 and w.skipped == 0
        assert sorted(w.rows(0)) == list(range(6))
        expected_mask = np.ones((6, 2), dtype=bool)
        expected_mask[2, 1] = False
        np.testing.assert_array_equal(w.mask[0], expected_mask)
        assert w.values[0, 2, 0] == 2.0
        np.testing.assert_array_equal(w.values[0, :, 0], np.arange(6.0))


def test_min_observed_skips_and_counts_windows():
    # observed hours 0, 1, 2, 3, 6 on a 1h grid: windows of 4 start at 0..3 with
    # 4, 3, 2, 2 observed steps
    obs = make_obs(hourly("A", [0, 1, 2, 3, 6]))
    for min_observed, kept in ((0.5, 4), (0.75, 2), (1.0, 1)):
        w = windows_for(obs, length=4, resample="1h", max_gap="1D", min_observed=min_observed)
        assert len(w) == kept and w.skipped == 4 - kept, min_observed
        assert (w.mask.any(axis=2).mean(axis=1) >= min_observed).all()


def test_file_order_does_not_matter():
    reports = hourly("A", range(12)) + hourly("B", range(3, 15), start=50)
    shuffled = [reports[k] for k in np.random.default_rng(1).permutation(len(reports))]
    a = windows_for(make_obs(reports), length=4, resample="1h", max_gap="6h")
    b = windows_for(make_obs(shuffled), length=4, resample="1h", max_gap="6h")
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.track, b.track)
    np.testing.assert_array_equal(a.start, b.start)


def test_no_reports_is_an_error():
    obs = make_obs(hourly("A", range(5)))
    settings = resolve_settings(WindowSettings(length=3, resample="1h"), obs)
    empty = Observations(obs.frame.iloc[:0], obs.features, obs.units, obs.sources)
    with pytest.raises(SquallError):
        make_windows(empty, settings)


def test_pooled_mode_sorts_by_time_and_drops_incomplete_reports():
    reports = [
        ("A", 3, {"x": 3, "y": 3}),
        ("B", 0, {"x": 0, "y": 0}),
        ("A", 1, {"x": 1}),
        ("B", 2, {"x": 2, "y": 2}),
        ("C", 4, {"x": 4, "y": 4}),
        ("A", 5, {"x": 5, "y": 5}),
    ]
    obs = make_obs(reports)
    w = windows_for(obs, length=2, mode="pooled")
    # complete reports in time order: hours 0, 2, 3, 4, 5; starts 0 .. n - T - 1 = 0..2
    np.testing.assert_array_equal(w.values[:, :, 0], [[0, 2], [2, 3], [3, 4]])
    assert w.skipped == 0


# --- the seed's windows -----------------------------------------------------------------------


def test_pooled_mode_reproduces_the_seed_training_sequences(shared_data):
    from squall.convert import import_keras

    box = shared_data / "noaa" / "10_100_00_110.csv"
    seed = shared_data / "seed-model"
    if not (box.is_file() and (seed / "training_sequences.npz").is_file()):
        pytest.skip("the NOAA box file or the seed model is not present")
    scaler = import_keras(seed / "lstm_weights.npz", seed / "scaler.json").scaler
    obs = read_noaa(box, scaler.features, keep_codes=True)
    w = make_windows(obs, resolve_settings(WindowSettings(length=24, mode="pooled"), obs))
    with np.load(seed / "training_sequences.npz", allow_pickle=False) as z:
        expected = z["sequences"]
    assert expected.shape == (476, 24, 6)
    assert w.values.shape == expected.shape
    np.testing.assert_allclose(scaler.transform(w.values), expected, rtol=0, atol=1e-12)


# --- windowset: save / load -------------------------------------------------------------------


def _sha256(path):
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def built_windowset(noaa_csv):
    """A WindowSet from a small NOAA file (two ships, flags, a missing feature)."""
    rows = []
    for k in range(8):
        for station, base in (("SHIP_A", 250), ("SHIP_B", 280)):
            rows.append(
                {
                    "STATION": station,
                    "DATE": f"2025-03-01T{k:02d}:00:00",
                    "LATITUDE": "5.0",
                    "LONGITUDE": str(100 + k),
                    "PLATFORM_ID": "5",
                    "DUP_STATUS": "0",
                    "AIR_TEMP": str(base + k),
                    "SEA_LVL_PRES": "" if k == 3 else str(10100 + k),
                    "NCDC_QC_FLAGS": "1AAAA" + str(1 + k % 9) + "1AAAAAAA",
                }
            )
    obs = read_noaa(noaa_csv(rows), ["AIR_TEMP", "SEA_LVL_PRES"])
    w = make_windows(obs, resolve_settings(WindowSettings(length=4, resample="1h"), obs))
    scaler = Scaler("minmax", list(obs.features)).fit(w.values)
    meta = {
        "note": "test",
        "bundle": "0123456789abcdef",
        "sources_sha256": [_sha256(s) for s in obs.sources],
    }
    return windowset.build(w, obs, scaler, meta=meta), w, obs


def test_windowset_save_load_round_trip(noaa_csv, tmp_path):
    ws, w, obs = built_windowset(noaa_csv)
    assert len(ws) == len(w) == 2 * (8 - 4 + 1)
    assert ws.traceable and np.isfinite(ws.x).all()
    np.testing.assert_array_equal(ws.mask, ~np.isnan(w.values))
    path = tmp_path / "windows.npz"
    ws.save(path)
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert "sequences" in z.files
        stored = {k: z[k] for k in z.files}
    assert stored["sequences"].dtype == np.float32
    back = windowset.load(path)
    np.testing.assert_allclose(back.x, ws.x, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(back.mask, ws.mask)
    np.testing.assert_array_equal(back.values, ws.values)
    for name in ("steps", "step_ptr", "step_obs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ws, name))
    np.testing.assert_array_equal(back.step_time, ws.step_time.astype("datetime64[ns]"))
    np.testing.assert_array_equal(back.start, ws.start.astype("datetime64[ns]"))
    np.testing.assert_array_equal(back.end, ws.end.astype("datetime64[ns]"))
    assert list(back.track) == list(ws.track)
    assert back.features == ["AIR_TEMP", "SEA_LVL_PRES"]
    assert back.sources == obs.sources
    assert back.meta == ws.meta and back.meta["note"] == "test"
    assert back.traceable
    # the report table survives: rows trace back to the same reports and flags
    assert list(back.obs["track"]) == list(ws.obs["track"])
    assert list(back.obs["row"]) == list(ws.obs["row"])
    assert list(back.obs["flag_SEA_LVL_PRES"]) == list(ws.obs["flag_SEA_LVL_PRES"])
    assert list(back.obs["time"]) == list(ws.obs["time"])
    np.testing.assert_allclose(back.obs["lon"], ws.obs["lon"])
    for i in range(len(back)):
        np.testing.assert_array_equal(back.rows(i), ws.rows(i))
        assert set(back.obs["track"].iloc[back.rows(i)]) == {back.track[i]}


def test_windowset_build_never_refits_the_scaler(noaa_csv):
    _, w, obs = built_windowset(noaa_csv)
    scaler = Scaler.from_minmax(["AIR_TEMP", "SEA_LVL_PRES"], [0.0, 1000.0], [50.0, 1020.0])
    ws = windowset.build(w, obs, scaler)
    observed = ~np.isnan(w.values)
    np.testing.assert_allclose(
        ws.x[..., 0][observed[..., 0]], w.values[..., 0][observed[..., 0]] / 50.0
    )
    # missing cells are filled with the scaler's fill value (0.5 for from_minmax)
    assert (ws.x[..., 1][~observed[..., 1]] == 0.5).all()
    assert (~observed[..., 1]).any()


def test_windowset_build_rejects_a_scaler_for_other_features(noaa_csv):
    _, w, obs = built_windowset(noaa_csv)
    scaler = Scaler.from_minmax(["SEA_LVL_PRES", "AIR_TEMP"], [1000.0, 0.0], [1020.0, 50.0])
    with pytest.raises(SquallError, match="features"):
        windowset.build(w, obs, scaler)


def test_windowset_rows_are_in_time_order_when_the_file_is_not():
    obs = make_obs(
        [
            ("A", pd.Timedelta(minutes=50), {"x": 1.0}),
            ("A", pd.Timedelta(minutes=10), {"x": 2.0}),
            ("A", pd.Timedelta(minutes=70), {"x": 3.0}),
        ],
        ["x"],
    )
    w = windows_for(obs, length=2, resample="1h", max_gap="6h")
    ws = windowset.build(w, obs, Scaler("minmax", ["x"]).fit(w.values))
    assert len(ws) == 1
    times = ws.obs["time"].iloc[ws.rows(0)]
    assert times.is_monotonic_increasing, times.tolist()


def test_bare_sequences_file_loads_as_untraceable(tmp_path):
    x = np.random.default_rng(3).random((5, 24, 6)).astype(np.float32)
    path = tmp_path / "seed.npz"
    np.savez(path, sequences=x)
    ws = windowset.load(path)
    assert len(ws) == 5 and not ws.traceable
    np.testing.assert_allclose(ws.x, x)
    assert ws.mask.all() and ws.x.shape == (5, 24, 6)
    assert len(ws.features) == 6


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_windowset_with_non_finite_sequences_is_an_error(tmp_path, bad):
    x = np.zeros((2, 4, 3))
    x[1, 2, 0] = bad
    path = tmp_path / "bad.npz"
    np.savez(path, sequences=x)
    with pytest.raises(SquallError, match="NaN|infinite"):
        windowset.load(path)


def test_windowset_load_errors(tmp_path):
    with pytest.raises(SquallError, match="missing.npz"):
        windowset.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(SquallError, match="sequences"):
        windowset.load(other)
    flat = tmp_path / "flat.npz"
    np.savez(flat, sequences=np.zeros((4, 3)))
    with pytest.raises(SquallError, match="shape"):
        windowset.load(flat)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, sequences=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SquallError):
        windowset.load(pickled)


@pytest.mark.parametrize("text", ["500ms", "0s", "-1h", "1.5s"])
def test_durations_below_or_between_seconds_are_refused(text):
    from squall.data.windows import _delta

    with pytest.raises(SquallError, match="whole number of seconds"):
        _delta(text, "--resample")


# --- memory: the step table, never (N, T, F) float64 ---------------------------------------------


def many_windows_obs(reports=12_000, tracks=4, features=6) -> Observations:
    """Hourly reports of a few tracks, every feature observed except a few cells."""
    rng = np.random.default_rng(0)
    per = reports // tracks
    frame = pd.DataFrame(
        {
            "source": 0,
            "row": np.arange(per * tracks),
            "track": np.repeat([f"T{k}" for k in range(tracks)], per),
            "time": np.tile(T0 + pd.to_timedelta(np.arange(per), unit="h"), tracks),
            "lat": np.nan,
            "lon": np.nan,
        }
    )
    names = [f"f{k}" for k in range(features)]
    values = rng.normal(size=(len(frame), features))
    values[rng.random(values.shape) < 0.05] = np.nan
    for k, name in enumerate(names):
        frame[name] = values[:, k]
    frame["time"] = frame["time"].astype("datetime64[ns]")
    return Observations(frame, names, {f: "" for f in names}, ["generated"])


def test_windows_build_score_and_save_never_hold_all_windows_in_float64(tmp_path, monkeypatch):
    """The large path (make_windows, build, chunked scoring, save) keeps the step table and
    per-window scores only: its peak is below one (N, T, F) float64 array (the earlier code
    held several: Windows.values, the scaled windows and their temporaries, residuals).
    Chunks are made small here so that they are small against N (as 16,384 windows are
    against 1.7 million)."""
    import tracemalloc

    monkeypatch.setattr(windows_module, "CHUNK_WINDOWS", 512)
    monkeypatch.setattr(windowset, "CHUNK_WINDOWS", 512, raising=False)
    obs = many_windows_obs()
    settings = resolve_settings(WindowSettings(length=24, resample="1h"), obs)
    scaler = Scaler("minmax", list(obs.features)).fit(obs.values())
    tracemalloc.start()
    try:
        w = make_windows(obs, settings)
        ws = windowset.build(w, obs, scaler)
        built = tracemalloc.get_traced_memory()[1]
        n, T, F = len(ws), 24, 6
        full = n * T * F * 8
        assert n > 10_000
        assert built < full / 2, (built, full)  # the earlier code: over 3x
        from squall.detect.scoring import score_windows

        scores = score_windows(lambda x: x * 0.5, ws, chunk=512)
        ws.save(tmp_path / "w.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # (N, T) arrays (steps, step scores) are 1/F of it each
    assert peak < full, (peak, full)
    kept = [v for v in (*vars(ws).values(), *vars(scores).values()) if isinstance(v, np.ndarray)]
    assert not [a.shape for a in kept if a.ndim == 3 and len(a) == n]
    assert ws.step_values.shape == ws.scaled_steps.shape == (len(ws.step_time), F)
    # the chunked scores are those of all windows at once
    from squall.detect.scoring import score

    whole = score(ws.x, ws.x * 0.5, ws.mask)
    np.testing.assert_array_equal(scores.window, whole.window)
    np.testing.assert_array_equal(scores.step, whole.step)
    np.testing.assert_array_equal(scores.feature, whole.feature)
    np.testing.assert_array_equal(scores.observed, whole.observed)


def test_window_values_and_mask_come_from_the_step_table(noaa_csv):
    ws, w, _ = built_windowset(noaa_csv)
    idx = np.array([3, 0])
    np.testing.assert_array_equal(w.window_values(idx), w.step_values[w.steps[idx]])
    np.testing.assert_array_equal(w.mask_of(idx), ~np.isnan(w.window_values(idx)))
    np.testing.assert_array_equal(w.feature_counts(), w.mask.sum(axis=1))
    np.testing.assert_array_equal(ws.inputs(idx), ws.x[idx])
    assert ws.inputs(idx).dtype == np.float64


def test_saved_file_holds_the_step_table_not_the_windows(noaa_csv, tmp_path):
    ws, _, _ = built_windowset(noaa_csv)
    ws.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        assert "values" not in z.files and "mask" not in z.files
        np.testing.assert_array_equal(z["step_values"], ws.step_values)
        np.testing.assert_array_equal(z["sequences"], ws.x.astype(np.float32))


def test_windows_file_of_the_earlier_format_still_loads(noaa_csv, tmp_path):
    """Written as before the step table was stored: values (N, T, F) and mask, no step_values."""
    ws, _, _ = built_windowset(noaa_csv)
    ws.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "step_values"}
    np.savez_compressed(tmp_path / "old.npz", **arrays, values=ws.values, mask=ws.mask)
    back = windowset.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(back.values, ws.values)
    np.testing.assert_array_equal(back.mask, ws.mask)
    np.testing.assert_array_equal(back.x, ws.x.astype(np.float32))
    used = np.unique(ws.steps)
    np.testing.assert_array_equal(back.step_values[used], ws.step_values[used])
    assert back.traceable and back.rows(0).tolist() == ws.rows(0).tolist()
    bad = dict(arrays, values=ws.values[:, :-1], mask=ws.mask)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(SquallError, match="values"):
        windowset.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("sign", [1, -1])
def test_loaded_windows_beyond_the_limit_are_clipped(tmp_path, noaa_csv, sign):
    """Bare and traceable files: sequences beyond +-SCALED_LIMIT are clipped with a warning
    (engines would otherwise score them as inf)."""
    from squall.errors import SquallWarning
    from squall.limits import SCALED_LIMIT

    x = np.zeros((2, 4, 3), np.float32)
    x[1, 2, 0] = sign * 1e30
    np.savez(tmp_path / "bare.npz", sequences=x)
    with pytest.warns(SquallWarning, match="1 scaled value"):
        ws = windowset.load(tmp_path / "bare.npz")
    assert ws.x[1, 2, 0] == sign * SCALED_LIMIT and np.abs(ws.x).max() == SCALED_LIMIT
    built, _, _ = built_windowset(noaa_csv)
    built.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["sequences"][0, 0, 0] = sign * 1e30
    np.savez(tmp_path / "far.npz", **arrays)
    with pytest.warns(SquallWarning, match="clipped"):
        back = windowset.load(tmp_path / "far.npz")
    assert back.x[0, 0, 0] == sign * SCALED_LIMIT


@pytest.mark.parametrize("name", ["obs_row", "steps", "step_ptr", "step_time", "start"])
def test_uint64_indices_beyond_int64_are_refused(noaa_csv, tmp_path, name):
    ws, _, _ = built_windowset(noaa_csv)
    ws.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    bad = arrays[name].astype(np.uint64)
    bad.reshape(-1)[-1] = 2**63
    np.savez(tmp_path / "bad.npz", **(arrays | {name: bad}))
    with pytest.raises(SquallError, match="int64|outside|step_ptr"):
        windowset.load(tmp_path / "bad.npz")


def test_clip_scaled_without_anything_to_clip_leaves_the_array_alone():
    x = np.array([[1.0, -2.0], [np.nan, 3.0]])
    assert windowset.clip_scaled(x) is x
    np.testing.assert_array_equal(x, [[1.0, -2.0], [np.nan, 3.0]])
    y = np.array([-1e9, 0.0, 2e6])
    with pytest.warns(Warning, match="2 scaled value"):
        windowset.clip_scaled(y)
    np.testing.assert_array_equal(y, [-1e6, 0.0, 1e6])


def test_save_writes_sequences_a_chunk_at_a_time(noaa_csv, tmp_path, monkeypatch):
    ws, _, _ = built_windowset(noaa_csv)
    monkeypatch.setattr(windowset, "CHUNK_WINDOWS", 3)  # 10 windows: 4 chunks
    ws.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["sequences"], ws.x.astype(np.float32))
    back = windowset.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(back.values, ws.values)
    np.testing.assert_array_equal(back.obs["flag_SEA_LVL_PRES"], ws.obs["flag_SEA_LVL_PRES"])
