"""Tests of the synthetic NOAA box-file generator."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from squall.data.synthetic import (
    COLUMNS,
    DATE_FORMAT,
    EVENT_TYPES,
    LABEL_COLUMNS,
    generate_demo_data,
    synthesize,
    write_labels,
    write_noaa_csv,
)
from squall.errors import SquallError

EVENT_START = pd.Timestamp("2025-03-03")


@pytest.fixture(scope="module")
def with_events() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthesize(days=12, n_storms=3, n_faults=6, seed=7, event_start="2025-03-03")


@pytest.fixture(scope="module")
def normal() -> pd.DataFrame:
    return synthesize(days=12, seed=7)[0]


def _num(s: pd.Series) -> pd.Series:
    """Raw strings to numbers, '' to NaN."""
    return pd.to_numeric(s.replace("", np.nan))


def _track(
    reports: pd.DataFrame, station: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Reports of one station between two times (inclusive), without worse duplicates."""
    dates = pd.to_datetime(reports["DATE"], format=DATE_FORMAT)
    keep = (reports["STATION"] == station) & (dates >= start) & (dates <= end)
    return reports[keep & (reports["DUP_STATUS"] != "4")]


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = synthesize(days=5, n_storms=1, n_faults=2, seed=3)
    b = synthesize(days=5, n_storms=1, n_faults=2, seed=3)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    c = synthesize(days=5, n_storms=1, n_faults=2, seed=4)
    assert not a[0]["SEA_LVL_PRES"].equals(c[0]["SEA_LVL_PRES"])


def test_columns_are_raw_noaa_strings_in_range(normal: pd.DataFrame) -> None:
    assert tuple(normal.columns) == COLUMNS
    assert all(isinstance(v, str) for v in normal.to_numpy().ravel())
    assert normal["DATE"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00").all()
    assert (normal["DATE"].to_numpy() >= "2025-03-01").all()
    assert list(normal["DATE"]) == sorted(normal["DATE"])
    for col, lo, hi in [
        ("SEA_LVL_PRES", 9000, 10500),
        ("AIR_TEMP", 200, 350),
        ("SEA_SURF_TEMP", 250, 320),
        ("DEW_PT_TEMP", 150, 320),
        ("WIND_SPEED", 0, 250),
        ("WIND_DIR", 1, 361),
        ("WAVE_HGT", 0, 12),
    ]:
        values = normal.loc[normal[col] != "", col]
        assert values.str.fullmatch(r"\d+").all(), col  # integers, no decimals
        assert values.astype(int).between(lo, hi).all(), col
        assert len(values) > 50, col
    period = normal.loc[normal["WAVE_PERIOD"] != "", "WAVE_PERIOD"].astype(int)
    assert (period == 99).any() and period[period != 99].between(1, 30).all()
    lat, lon = normal["LATITUDE"], normal["LONGITUDE"]
    assert lat.str.fullmatch(r"\d\.\d\d").all() and lon.str.fullmatch(r"1\d\d\.\d\d").all()
    assert lat.astype(float).between(0, 10).all() and lon.astype(float).between(100, 110).all()
    assert set(normal["PLATFORM_ID"]) == {"5", "6"}
    assert normal["TRIM_FLAG"].str.fullmatch(r"[1F]{6}").all()
    assert normal["NCDC_QC_FLAGS"].str.fullmatch(r"1[1A]{13}").all()  # no events: nothing flagged
    # A flag is 'A' exactly when its value is missing (e.g. SLP is the 6th character).
    assert ((normal["NCDC_QC_FLAGS"].str[5] == "A") == (normal["SEA_LVL_PRES"] == "")).all()
    assert ((normal["TRIM_FLAG"].str[0] == "F") == (normal["SEA_SURF_TEMP"] == "")).all()
    wind = normal.loc[normal["WIND_SPEED"] != ""]
    assert ((wind["WIND_DIR"] == "361") == (wind["WIND_SPEED"] == "0")).all()
    assert (normal.loc[normal["WIND_SPEED"] == "", "WIND_SPD_IND"] == "").all()


def test_missing_patterns_of_ships_and_buoys(normal: pd.DataFrame) -> None:
    buoys = normal[normal["PLATFORM_ID"] == "6"]
    ships = normal[normal["PLATFORM_ID"] == "5"]
    assert len(buoys) > len(ships) > 0
    assert (buoys["WAVE_HGT"] == "").all() and (buoys["WAVE_PERIOD"] == "").all()
    assert (buoys["SEA_LVL_PRES"] != "").mean() > 0.95
    assert 0.3 < (ships["WAVE_HGT"] != "").mean() < 0.7
    assert 0.4 < (ships["SEA_SURF_TEMP"] != "").mean() < 0.8
    assert ((ships["WAVE_HGT"] == "") == (ships["WAVE_PERIOD"] == "")).all()
    # Reporting gaps: some intervals between consecutive reports are longer than the usual one.
    gaps = normal.groupby("STATION")["DATE"].apply(
        lambda d: pd.to_datetime(d, format=DATE_FORMAT).diff().dropna()
    )
    steps = gaps.groupby(level=0).agg(["min", "max"])
    assert (steps["max"] > steps["min"]).any()
    assert (steps.loc[steps.index.str.startswith("53"), "max"] >= pd.Timedelta(hours=6)).any()


def test_worse_duplicates_copy_a_best_duplicate_outside_events(
    with_events: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reports, labels = with_events
    assert set(reports["DUP_STATUS"]) == {"0", "1", "4"}
    worse = np.flatnonzero(reports["DUP_STATUS"] == "4")
    assert len(worse) > 0
    cols = [c for c in COLUMNS if c != "DUP_STATUS"]
    for i in worse:
        pd.testing.assert_series_equal(
            reports.loc[i, cols], reports.loc[i - 1, cols], check_names=False
        )
        assert reports.loc[i - 1, "DUP_STATUS"] == "1"
    dates = pd.to_datetime(reports["DATE"], format=DATE_FORMAT)
    for ev in labels.itertuples():
        hit = (reports["STATION"] == ev.track) & dates.between(ev.start, ev.end)
        assert not (hit & (reports["DUP_STATUS"] == "4")).any()


def test_csv_is_quoted_like_the_noaa_files(tmp_path, normal: pd.DataFrame) -> None:
    path = tmp_path / "box.csv"
    write_noaa_csv(normal, path)
    lines = path.read_text().split("\n")
    assert lines[0] == ",".join(f'"{c}"' for c in COLUMNS)
    assert lines[-1] == "" and len(lines) == len(normal) + 2
    row = normal.iloc[0]
    assert lines[1] == ",".join(f'"{v}"' if v else "" for v in row)
    buoy = next(line for line in lines[1:] if line.startswith('"53'))
    assert '"6",' in buoy and ",,," in buoy  # empty waves are bare empty fields
    assert '""' not in path.read_text()
    fields = re.findall(r'(?:^|,)("[^"]*"|)(?=,|$)', lines[1])
    assert len(fields) == len(COLUMNS)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, normal, check_dtype=False)


def test_storms_are_smooth_pressure_falls_with_wind(
    with_events: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reports, labels = with_events
    storms = labels[labels["type"] == "storm"]
    assert len(storms) == 3
    for ev in storms.itertuples():
        inside = _track(reports, ev.track, ev.start, ev.end)
        before = _track(
            reports, ev.track, ev.start - pd.Timedelta(hours=12), ev.start - pd.Timedelta(minutes=1)
        )
        pres = _num(inside["SEA_LVL_PRES"]) / 10
        assert pres.notna().all()
        assert _num(before["SEA_LVL_PRES"]).max() / 10 - pres.min() >= 10.0
        assert ev.magnitude <= -10 and ev.unit == "hPa"
        assert pres.diff().abs().max() < 0.6 * -ev.magnitude  # a smooth shape, not a step
        wind = _num(inside["WIND_SPEED"]) / 10
        assert wind.max() - _num(before["WIND_SPEED"]).mean() / 10 >= 5.0
        assert ev.features.startswith("SEA_LVL_PRES,WIND_SPEED")


def test_stuck_sensor_repeats_one_value() -> None:
    reports, labels = synthesize(days=10, n_faults=4, fault_types=("stuck",), seed=5)
    assert list(labels["type"]) == ["stuck"] * 4
    for ev in labels.itertuples():
        values = _track(reports, ev.track, ev.start, ev.end)[ev.features]
        assert len(values) >= 2 and values.nunique() == 1 and values.iloc[0] != ""
        assert pd.Timedelta(hours=9) <= ev.end - ev.start <= pd.Timedelta(hours=36)


def test_spikes_jump_and_are_only_sometimes_flagged() -> None:
    reports, labels = synthesize(days=20, n_faults=10, fault_types=("spike",), seed=11)
    flag_pos = {"WIND_SPEED": 1, "SEA_LVL_PRES": 5, "AIR_TEMP": 6, "SEA_SURF_TEMP": 9}
    flags = []
    for ev in labels.itertuples():
        track = _track(
            reports, ev.track, ev.start - pd.Timedelta(hours=12), ev.end + pd.Timedelta(hours=12)
        )
        in_event = pd.to_datetime(track["DATE"], format=DATE_FORMAT).between(ev.start, ev.end)
        values = _num(track[ev.features])
        baseline = values[~in_event].median()
        peak = values[in_event].sub(baseline).abs().max() / 10
        assert peak >= 0.6 * abs(ev.magnitude)
        flags += list(track["NCDC_QC_FLAGS"].str[flag_pos[ev.features]][in_event])
    assert {"6", "9"} & set(flags) and "1" in flags
    flagged = reports["NCDC_QC_FLAGS"].str[1:].str.contains("[69]")
    assert flagged.sum() <= sum(f in "69" for f in flags)  # only spiked reports are flagged


def test_drift_moves_away_then_snaps_back() -> None:
    reports, labels = synthesize(days=12, n_faults=3, fault_types=("drift",), seed=2)
    for ev in labels.itertuples():
        inside = _num(_track(reports, ev.track, ev.start, ev.end)[ev.features]) / 10
        before = (
            _num(
                _track(
                    reports,
                    ev.track,
                    ev.start - pd.Timedelta(hours=6),
                    ev.start - pd.Timedelta(minutes=1),
                )[ev.features]
            )
            / 10
        )
        moved = inside.iloc[-3:].mean() - before.mean()
        assert np.sign(moved) == np.sign(ev.magnitude) and abs(moved) >= 0.5 * abs(ev.magnitude)
        assert pd.Timedelta(hours=20) <= ev.end - ev.start <= pd.Timedelta(hours=72)


def test_labels_are_well_formed_and_after_event_start(
    with_events: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reports, labels = with_events
    assert tuple(labels.columns) == LABEL_COLUMNS
    assert list(labels["event_id"]) == list(range(1, 10))
    assert (labels["start"] >= EVENT_START).all()
    assert (labels["end"] < pd.Timestamp("2025-03-13")).all()
    assert (labels["start"] <= labels["end"]).all()
    assert set(labels["type"]) <= set(EVENT_TYPES)
    assert sorted(labels["type"]) == sorted(["storm"] * 3 + ["spike", "stuck", "drift"] * 2)
    assert set(labels["track"]) <= set(reports["STATION"])
    assert labels["track"].nunique() >= 3  # spread over platforms
    for _, group in labels.groupby("track"):  # never overlapping on one platform
        group = group.sort_values("start")
        assert (group["start"].iloc[1:].to_numpy() > group["end"].iloc[:-1].to_numpy()).all()


def test_events_change_nothing_outside_their_labels(
    with_events: tuple[pd.DataFrame, pd.DataFrame], normal: pd.DataFrame
) -> None:
    reports, labels = with_events
    a = reports[reports["DUP_STATUS"] != "4"].reset_index(drop=True)
    b = normal[normal["DUP_STATUS"] != "4"].reset_index(drop=True)
    dates = pd.to_datetime(a["DATE"], format=DATE_FORMAT)
    inside = np.zeros(len(a), dtype=bool)
    for ev in labels.itertuples():
        inside |= ((a["STATION"] == ev.track) & dates.between(ev.start, ev.end)).to_numpy()
    changed = (a != b).any(axis=1).to_numpy()
    assert changed.any() and not (changed & ~inside).any()
    assert dates[changed].min() >= EVENT_START


def test_demo_data_trains_on_normal_and_tests_on_the_continuation(tmp_path) -> None:
    paths = generate_demo_data(
        tmp_path / "demo", seed=1, days_train=6, days_test=4, n_storms=2, n_faults=3
    )
    assert paths == {k: tmp_path / "demo" / f"{k}.csv" for k in ("train", "test", "labels")}
    train, test = (
        pd.read_csv(paths[k], dtype=str, keep_default_na=False) for k in ("train", "test")
    )
    labels = pd.read_csv(paths["labels"], parse_dates=["start", "end"])
    assert labels["start"].dtype.kind == "M" and len(labels) == 5
    assert "T" in paths["labels"].read_text().split("\n")[1]
    assert train["DATE"].max() < "2025-03-07" <= test["DATE"].min()
    assert test["DATE"].min() < "2025-03-07T01"
    assert set(train["STATION"]) == set(test["STATION"])
    assert (labels["start"] >= pd.Timestamp("2025-03-07")).all()
    # train.csv is exactly the event-free simulation: no event leaked into it.
    plain = synthesize(days=10, seed=1)[0]
    plain = plain[plain["DATE"] < "2025-03-07"].reset_index(drop=True)
    pd.testing.assert_frame_equal(train, plain, check_dtype=False)
    # Ships carry on from where they were, at most ~10 knots (0.2 degree an hour) in between.
    for station in train.loc[train["PLATFORM_ID"] == "5", "STATION"].unique():
        last = train[train["STATION"] == station].iloc[-1]
        first = test[test["STATION"] == station].iloc[0]
        hours = (pd.Timestamp(first["DATE"]) - pd.Timestamp(last["DATE"])) / pd.Timedelta("1h")
        for col in ("LATITUDE", "LONGITUDE"):
            assert abs(float(last[col]) - float(first[col])) <= 0.2 * hours


def test_write_is_atomic(tmp_path, normal: pd.DataFrame) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    with pytest.raises(SquallError, match="cannot write .*box.csv"):  # one line, the target
        write_noaa_csv(normal, blocker / "box.csv")
    assert blocker.read_text() == "a file, not a directory"

    class Exploding(str):
        def replace(self, *args: object) -> str:
            raise RuntimeError("disk full")

    target = tmp_path / "box.csv"
    target.write_text("old")
    broken = normal.head(50).copy()
    broken.loc[40, "STATION"] = Exploding("SYN0001")
    with pytest.raises(RuntimeError):
        write_noaa_csv(broken, target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "box.csv"]
    with pytest.raises(SquallError, match="raw strings"):
        write_noaa_csv(normal.assign(AIR_TEMP=1.5), target)
    with pytest.raises(KeyError):
        write_labels(pd.DataFrame({"event_id": [1]}), tmp_path / "labels.csv")
    assert not (tmp_path / "labels.csv").exists()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"days": -1}, "days"),
        ({"days": float("nan")}, "days"),
        ({"days": "ten"}, "days"),
        ({"n_ships": -1}, "n_ships"),
        ({"n_buoys": 1.5}, "n_buoys"),
        ({"n_storms": -2}, "n_storms"),
        ({"n_faults": True}, "n_faults"),
        ({"seed": -1}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"event_start": "2024-01-01"}, "event_start"),
        ({"days": 5, "event_start": "2025-03-06"}, "event_start"),
        ({"fault_types": ("flood",)}, "fault_types"),
        ({"fault_types": ("storm",)}, "fault_types"),
        ({"fault_types": ()}, "fault_types"),
        ({"n_ships": 0, "n_buoys": 0}, "n_ships"),
        ({"days": 1, "n_storms": 30}, "n_storms"),
    ],
)
def test_invalid_arguments_are_named(kwargs: dict, name: str) -> None:
    with pytest.raises(SquallError, match=name) as err:
        synthesize(**kwargs)
    assert "got" in str(err.value)


def test_invalid_demo_arguments_are_named(tmp_path) -> None:
    with pytest.raises(SquallError, match="days_train.*got 0"):
        generate_demo_data(tmp_path, days_train=0)
    with pytest.raises(SquallError, match="days_test"):
        generate_demo_data(tmp_path, days_test=-3)
    assert not any(tmp_path.iterdir())


def test_a_month_of_eight_platforms_is_built_without_a_per_report_loop(monkeypatch) -> None:
    """Was a wall-clock bound; what it stood for: the reports are built as whole columns (no
    Python loop over reports, e.g. DataFrame row iteration), and the result is reproducible."""

    def per_row(*args, **kwargs):
        raise AssertionError("per-report Python loop used")

    for name in ("iterrows", "itertuples", "apply"):
        monkeypatch.setattr(pd.DataFrame, name, per_row)
    monkeypatch.setattr(pd.Series, "apply", per_row)
    reports, labels = synthesize(days=30, n_storms=4, n_faults=4, seed=0)
    assert reports["STATION"].nunique() == 8 and len(labels) == 8
    again, _ = synthesize(days=30, n_storms=4, n_faults=4, seed=0)
    pd.testing.assert_frame_equal(reports, again)
