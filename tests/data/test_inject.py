"""Storms and sensor faults injected into NOAA box files (``squall.data.inject``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squall.data.inject import FAULT_SIZES, inject_events, inject_file
from squall.data.noaa import read_noaa, read_table
from squall.errors import SquallError

START = "2025-03-07"  # test period of the hand-made file: its last 6 of 12 days
FEATURES = ["AIR_TEMP", "SEA_SURF_TEMP", "SEA_LVL_PRES", "WIND_SPEED", "WAVE_HGT", "WAVE_PERIOD"]
FACTOR = {
    "AIR_TEMP": 0.1,
    "SEA_SURF_TEMP": 0.1,
    "SEA_LVL_PRES": 0.1,
    "WIND_SPEED": 0.1,
    "WAVE_HGT": 0.5,
    "WAVE_PERIOD": 1.0,
}


def _rows() -> list[dict]:
    """Four hourly platforms over 12 days (each reporting a different set of features), one
    6-hourly ship with too few reports for events, a worse duplicate and a period code 99."""
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2025-03-01")
    rows = []
    kinds = {
        "SHIPA": ("slp", "air", "wind", "waves"),
        "SHIPB": ("slp", "air", "halfwind"),
        "BUOYC": ("slp", "sst"),
        "BUOYD": ("sst", "air"),
    }
    for k, (station, has) in enumerate(kinds.items()):
        for h in range(12 * 24):
            t = t0 + pd.Timedelta(hours=h)
            row = {
                "STATION": station,
                "DATE": t.strftime("%Y-%m-%dT%H:%M:%S"),
                "LATITUDE": f"{2 + k + h / 500:.2f}",
                "LONGITUDE": "104.50",
                "PLATFORM_ID": "5" if station.startswith("SHIP") else "6",
                "DUP_STATUS": "0",
                "TRIM_FLAG": "111111",
                "NCDC_QC_FLAGS": "11AAA11A1AAAAA",
            }
            if "slp" in has:
                row["SEA_LVL_PRES"] = str(
                    10100 + round(12 * np.cos(h / 12 * np.pi) + rng.normal(0, 3))
                )
            if "air" in has:
                row["AIR_TEMP"] = str(270 + round(10 * np.sin(h / 12 * np.pi) + rng.normal(0, 2)))
            if "sst" in has:
                row["SEA_SURF_TEMP"] = str(
                    285 + round(3 * np.sin(h / 12 * np.pi) + rng.normal(0, 1))
                )
            if "wind" in has or ("halfwind" in has and h % 2 == 0):
                row["WIND_SPEED"] = str(max(0, 55 + round(rng.normal(0, 15))))
                row["WIND_DIR"] = "40"
            if "waves" in has and h % 3 == 0:
                row["WAVE_HGT"] = str(2 + int(rng.integers(0, 2)))
                row["WAVE_PERIOD"] = "99" if h % 27 == 0 else str(5 + int(rng.integers(0, 3)))
            rows.append(row)
    for h in range(0, 12 * 24, 6):  # a 6-hourly ship: 24 reports in the period, 1 too few
        if h < 6 * 24 + 6:
            continue
        rows.append(
            {
                "STATION": "SPARSE",
                "DATE": (t0 + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S"),
                "SEA_LVL_PRES": "10080",
                "AIR_TEMP": "280",
                "DUP_STATUS": "0",
            }
        )
    dup = dict(rows[7 * 24 + 5], DUP_STATUS="4", SEA_LVL_PRES="10000")  # a worse duplicate
    rows.append(dup)
    rows.sort(key=lambda r: (r["DATE"], r["STATION"]))
    return rows


@pytest.fixture
def box(noaa_csv) -> Path:
    return noaa_csv(_rows(), name="box.csv")


def _inject(box: Path, tmp_path: Path, name: str = "out", **options) -> tuple[Path, pd.DataFrame]:
    out = tmp_path / f"{name}.csv"
    labels = inject_file(box, out, tmp_path / f"{name}-labels.csv", start=START, **options)
    return out, labels


def _values(path: Path) -> pd.DataFrame:
    """Reports as the reader sees them, by (track, time)."""
    frame = read_noaa(path, FEATURES).frame
    return frame.set_index(["track", "time"])[FEATURES].sort_index()


def _changed_cells(a: pd.DataFrame, b: pd.DataFrame) -> list[tuple[int, str]]:
    assert a.shape == b.shape and list(a.columns) == list(b.columns)
    diff = ~((a == b) | (a.isna() & b.isna()))
    return [
        (int(r), str(c))
        for r, c in zip(*np.nonzero(diff.to_numpy()), strict=True)
        for c in [a.columns[c]]
    ]


def _check_only_labelled_cells_changed(
    orig: pd.DataFrame, new: pd.DataFrame, labels: pd.DataFrame
) -> int:
    """Every changed text cell is a value of a labelled feature, on the labelled track, inside
    the labelled interval; no missing value appears or disappears. Returns the number changed."""
    changed = _changed_cells(orig, new)
    times = pd.to_datetime(orig["DATE"])
    for r, col in changed:
        assert orig[col].notna().iloc[r] and new[col].notna().iloc[r], (r, col)
        ok = labels[
            (labels["track"] == orig["STATION"].iloc[r])
            & (pd.to_datetime(labels["start"]) <= times.iloc[r])
            & (pd.to_datetime(labels["end"]) >= times.iloc[r])
        ]
        assert any(col in str(f).split(",") for f in ok["features"]), (r, col)
    return len(changed)


def test_storms_fall_by_the_labelled_magnitude(box, tmp_path):
    out, labels = _inject(box, tmp_path, n_storms=3, seed=1)
    assert list(labels["type"]) == ["storm"] * 3
    before, after = _values(box), _values(out)
    for lb in labels.itertuples():
        assert -30.0 <= lb.magnitude <= -10.0 and lb.unit == "hPa"
        assert 12 <= (lb.end - lb.start) / pd.Timedelta(hours=1) <= 72
        span = (lb.track, slice(lb.start, lb.end))
        dev = after.loc[span, :] - before.loc[span, :]
        slp = dev["SEA_LVL_PRES"].dropna()
        assert slp.min() == pytest.approx(lb.magnitude, abs=1e-6)  # the fall, to the 0.1 hPa
        assert (slp <= 1e-9).all()  # pressure only falls
        # the lowest pressure is between the labelled start and end, not at the edges
        low = slp.idxmin()[1]
        assert lb.start < low < lb.end
        feats = lb.features.split(",")
        assert feats[0] == "SEA_LVL_PRES"
        for f in ("WIND_SPEED", "WAVE_HGT", "WAVE_PERIOD"):
            d = dev[f].dropna()
            assert (d >= 0).all()  # wind and waves only rise
            assert (f in feats) == bool((d > 0).any())
        outside = after.drop(index=after.loc[span, :].index)
        pd.testing.assert_frame_equal(
            outside.loc[[lb.track]], before.drop(index=before.loc[span, :].index).loc[[lb.track]]
        )
    ship = labels[labels["track"] == "SHIPA"]
    if len(ship):  # the ship with waves: its storm raises them
        assert "WAVE_HGT" in ship["features"].iloc[0]


@pytest.mark.parametrize("seed", [0, 3])
def test_faults_do_what_they_say(box, tmp_path, seed):
    out, labels = _inject(box, tmp_path, n_faults=8, seed=seed)
    assert sorted(labels["type"]) == ["drift"] * 2 + ["offset"] * 2 + ["spike"] * 2 + ["stuck"] * 2
    before, after = _values(box), _values(out)
    for lb in labels.itertuples():
        (feat,) = lb.features.split(",")
        span = (lb.track, slice(lb.start, lb.end))
        old, new = before.loc[span, feat].dropna(), after.loc[span, feat].dropna()
        assert old.index.equals(new.index)  # missing stays missing
        dev = (new - old).round(6)
        assert dev.iloc[[0, -1]].ne(0).all()  # labels end at changes
        assert dev.abs().max() == pytest.approx(abs(lb.magnitude), abs=1e-6)
        others = [f for f in FEATURES if f != feat]
        pd.testing.assert_frame_equal(after.loc[span, others], before.loc[span, others])
        if lb.type == "spike":
            hit = dev[dev != 0]
            assert 1 <= len(hit) <= 3
            lo, hi, _ = FAULT_SIZES["spike"][feat]
            assert (hit.abs() >= 0.8 * lo - 0.1).all() and (hit.abs() <= 1.2 * hi + 0.1).all()
            assert len(set(np.sign(hit))) == 1
        elif lb.type == "stuck":
            track = before.loc[lb.track, feat].dropna()
            last = track[track.index < lb.start].iloc[-1]
            assert (new == last).all()  # the last value before
            assert (dev != 0).sum() >= 2
        elif lb.type == "drift":
            ramp = dev.to_numpy() / lb.magnitude
            assert (np.diff(ramp) >= -0.02).all() and ramp[-1] == pytest.approx(1.0)
            assert 0 < ramp[0] < 0.5
        else:  # offset: the same bias on every report
            assert dev.nunique() == 1 and dev.iloc[0] == pytest.approx(lb.magnitude)
            lo, hi, _ = FAULT_SIZES["offset"][feat]
            assert lo - 0.1 <= abs(lb.magnitude) <= hi + 0.1


def test_faults_only_on_features_the_track_reports(box, tmp_path):
    _, labels = _inject(box, tmp_path, n_faults=8, seed=5)
    table = read_table(box)
    period = pd.to_datetime(table["DATE"]) >= pd.Timestamp(START)
    for lb in labels.itertuples():
        rows = table[period & (table["STATION"] == lb.track)]
        assert rows[lb.features].notna().mean() >= 0.5, (lb.track, lb.features)
    assert "SPARSE" not in set(labels["track"])  # too few reports


def test_nothing_outside_the_labels_changes(box, tmp_path):
    for name, options in (("storms", {"n_storms": 3}), ("faults", {"n_faults": 8})):
        out, labels = _inject(box, tmp_path, name, seed=2, **options)
        orig, new = read_table(box), read_table(out)
        assert list(orig.index) == list(new.index)
        n = _check_only_labelled_cells_changed(orig, new, labels)
        assert n >= len(labels)
        # the worse duplicate (dropped by the reader) is never touched
        dup = orig["DUP_STATUS"] == "4"
        pd.testing.assert_frame_equal(orig[dup], new[dup])


def test_same_seed_same_result_and_period_only(box, tmp_path):
    a, la = _inject(box, tmp_path, "a", n_storms=2, n_faults=4, seed=11)
    b, lb = _inject(box, tmp_path, "b", n_storms=2, n_faults=4, seed=11)
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a-labels.csv").read_bytes() == (tmp_path / "b-labels.csv").read_bytes()
    pd.testing.assert_frame_equal(la, lb)
    _, lc = _inject(box, tmp_path, "c", n_storms=2, n_faults=4, seed=12)
    assert not la.equals(lc)
    # period_only writes the test period's reports of the same injection, nothing else
    p, lp = _inject(box, tmp_path, "p", n_storms=2, n_faults=4, seed=11, period_only=True)
    pd.testing.assert_frame_equal(lp, la)
    full, part = read_table(a), read_table(p)
    keep = pd.to_datetime(full["DATE"]) >= pd.Timestamp(START)
    pd.testing.assert_frame_equal(full[keep].reset_index(drop=True), part.reset_index(drop=True))


def test_labels_only_in_the_test_period(box, tmp_path):
    end = "2025-03-12"
    out, labels = _inject(box, tmp_path, n_storms=2, n_faults=4, seed=4, end=end)
    assert (labels["start"] >= pd.Timestamp(START)).all()
    assert (labels["end"] < pd.Timestamp(end)).all()
    saved = pd.read_csv(tmp_path / "out-labels.csv")
    assert list(saved.columns) == [
        "event_id",
        "type",
        "track",
        "start",
        "end",
        "features",
        "magnitude",
        "unit",
    ]
    orig, new = read_table(box), read_table(out)
    times = pd.to_datetime(orig["DATE"])
    outside = (times < pd.Timestamp(START)) | (times >= pd.Timestamp(end))
    pd.testing.assert_frame_equal(orig[outside], new[outside])


def test_errors(box, tmp_path):
    table = read_table(box)
    with pytest.raises(SquallError, match="STATION"):
        inject_events(table.drop(columns=["STATION"]), start=START, n_storms=1)
    with pytest.raises(SquallError, match="n_storms"):
        inject_events(table, start=START, n_storms=-1)
    with pytest.raises(SquallError, match="fault_types"):
        inject_events(table, start=START, n_faults=1, fault_types=["melt"])
    with pytest.raises(SquallError, match="fault_types"):
        inject_events(table, start=START, n_faults=1, fault_types="spike")
    with pytest.raises(SquallError, match="start"):
        inject_events(table, start="not a date", n_storms=1)
    with pytest.raises(SquallError, match="after start"):
        inject_events(table, start=START, end="2025-03-02", n_storms=1)
    with pytest.raises(SquallError, match="no reports"):
        inject_events(table, start="2026-01-01", n_storms=1)
    with pytest.raises(SquallError, match="min_reports"):
        inject_events(table, start=START, n_storms=1, min_reports=10_000)
    with pytest.raises(SquallError, match="do not fit"):
        inject_events(table, start=START, n_storms=20)
    with pytest.raises(SquallError, match="max_gap_hours"):
        inject_events(table, start=START, n_storms=1, max_gap_hours=0)
    other = tmp_path / "x.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(SquallError, match="not a NOAA"):
        inject_file(other, tmp_path / "y.csv", start=START, n_storms=1)
    assert not (tmp_path / "y.csv").exists()
    # zero events is allowed: the table comes back unchanged
    same, labels = inject_events(table, start=START)
    assert labels.empty
    pd.testing.assert_frame_equal(same, table)


@pytest.fixture(scope="module")
def real_box(shared_data) -> Path:
    return shared_data / "noaa" / "10_100_00_110.csv"


def test_real_box_last_week(real_box, tmp_path):
    start = "2025-03-25"
    storms, ls = _inject_real(real_box, tmp_path, "storms", start, n_storms=10, seed=0)
    faults, lf = _inject_real(real_box, tmp_path, "faults", start, n_faults=12, seed=0)
    orig = read_table(real_box)
    for out, labels in ((storms, ls), (faults, lf)):
        assert (labels["start"] >= pd.Timestamp(start)).all()
        new = read_table(out)
        _check_only_labelled_cells_changed(orig, new, labels)
        # every event is on a track with at least a day of hourly reports in the week
        period = pd.to_datetime(orig["DATE"]) >= pd.Timestamp(start)
        counts = orig[period].groupby("STATION").size()
        assert (counts.reindex(labels["track"]) >= 24).all()
    assert set(lf["type"]) == {"spike", "stuck", "drift", "offset"}
    before, after = _values(real_box), _values(storms)
    for lb in ls.itertuples():
        span = (lb.track, slice(lb.start, lb.end))
        slp = (after.loc[span, "SEA_LVL_PRES"] - before.loc[span, "SEA_LVL_PRES"]).dropna()
        assert slp.min() == pytest.approx(lb.magnitude, abs=1e-6)
        assert -30 <= lb.magnitude <= -10


def _inject_real(path: Path, tmp_path: Path, name: str, start: str, **options):
    out = tmp_path / f"{name}.csv"
    return out, inject_file(path, out, start=start, **options)


def test_dates_mixing_offsets_are_read_as_the_reader_reads_them(box, tmp_path):
    """NOAA DATEs mixing naive and +07:00 values: inject parses them as the reader does (one
    UTC time line), no traceback; the injected file reads back with the same times."""
    table = read_table(box)
    shifted = table.copy()
    t = pd.to_datetime(shifted["DATE"]) + pd.Timedelta(hours=7)
    odd = np.arange(len(shifted)) % 2 == 1
    shifted.loc[odd, "DATE"] = t[odd].dt.strftime("%Y-%m-%dT%H:%M:%S+07:00")
    mixed, labels = inject_events(shifted, start=START, n_storms=1, seed=3)
    plain, plain_labels = inject_events(table, start=START, n_storms=1, seed=3)
    pd.testing.assert_frame_equal(labels, plain_labels)
    with pytest.raises(SquallError):  # dates that are not text: one line, no traceback
        inject_events(table.assign(DATE=[object()] * len(table)), start=START, n_storms=1)
