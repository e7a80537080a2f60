"""Issue 12, readers and reports: real-size files, silently wrong dates, quoted newlines,
tracebacks. One test (or parametrized case) per point; each fails on the code before the fix."""

from __future__ import annotations

import csv
import gzip
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from squall.data.noaa import read_noaa
from squall.data.sensor_csv import read_sensor_csv
from squall.errors import ParameterError, SquallError, SquallWarning

HEADER = ["STATION", "DATE", "LATITUDE", "LONGITUDE", "NAME", "AIR_TEMP", "SEA_LVL_PRES"]


def noaa_file(path, rows, header=HEADER):
    """A NOAA box CSV, every field quoted as NOAA writes them (fields may hold newlines)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def reports(n, station="S", start="2025-03-01T00:00:00", **extra):
    t0 = pd.Timestamp(start)
    return [
        {
            "STATION": f"{station}{k % 3}",
            "DATE": (t0 + pd.Timedelta(hours=k)).isoformat(),
            "LATITUDE": "5.0",
            "LONGITUDE": "105.0",
            "AIR_TEMP": str(250 + k % 7),
            "SEA_LVL_PRES": str(10100 + k % 11),
            **extra,
        }
        for k in range(n)
    ]


def text_lines(path):
    return path.read_text().split("\n")


# --- section 4: quoted newlines keep `line` and the traced row right ------------------------


def test_noaa_line_numbers_after_a_quoted_newline(tmp_path):
    rows = reports(6)
    rows[1]["NAME"] = "a ship\nwith a two-line\nname"
    path = noaa_file(tmp_path / "box.csv", rows)
    obs = read_noaa(path, ["AIR_TEMP"])
    lines = text_lines(path)
    for rep in obs.frame.itertuples():  # each report's line starts with its own station
        assert lines[rep.line - 1].startswith(f'"{rep.track}","{rep.time.isoformat()}')


def test_generic_line_numbers_after_a_quoted_newline(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        'timestamp,note,value\n2025-01-01 00:00,"two\nlines",1\n'
        '2025-01-01 01:00,plain,2\n2025-01-01 02:00,"x",3\n'
    )
    obs = read_sensor_csv(path, features=["value"])
    lines = text_lines(path)
    assert [lines[k - 1][:16] for k in obs.frame["line"]] == [
        "2025-01-01 00:00",
        "2025-01-01 01:00",
        "2025-01-01 02:00",
    ]


def _bundle(features, length=4):
    from squall.bundle import Bundle, seed_layers, weight_shapes
    from squall.data.scaling import Scaler

    layers = seed_layers(len(features), length, (4, 2))
    rng = np.random.default_rng(0)
    weights = {
        k: rng.normal(0, 0.3, s).astype(np.float32) for k, s in weight_shapes(layers).items()
    }
    return Bundle(
        layers,
        weights,
        list(features),
        dict.fromkeys(features, ""),
        {
            "length": length,
            "stride": 1,
            "mode": "track",
            "resample": None,
            "max_gap": "1D",
            "min_observed": 0.25,
        },
        Scaler.from_minmax(list(features), [0] * len(features), [1] * len(features)),
        {"method": "value", "value": -1.0},  # every window flagged
        {"reader": {"kind": "noaa", "features": list(features), "qc": "keep", "keep_codes": False}},
    )


def test_traced_rows_are_the_right_stations_after_quoted_newlines(tmp_path):
    from squall import pipeline

    rows = reports(24)
    for k in (2, 9):
        rows[k]["NAME"] = "line one\nline two"
    path = noaa_file(tmp_path / "box.csv", rows)
    pipeline.detect(_bundle(["AIR_TEMP"]), path, tmp_path / "out", plot=False)
    traced = pd.read_csv(tmp_path / "out" / "anomaly_windows.csv", dtype=str)
    assert len(traced)
    lines = text_lines(path)
    for rep in traced.itertuples():
        # the original columns are the station's, and `line` is where its record starts
        assert rep.STATION == rep.track
        assert lines[int(rep.line) - 1].startswith(f'"{rep.STATION}","{rep.DATE}"')


# --- section 4: generic CSV dates, one format per column --------------------------------------


def _series(tmp_path, stamps, name="d.csv"):
    path = tmp_path / name
    path.write_text("timestamp,value\n" + "".join(f"{t},{k}\n" for k, t in enumerate(stamps)))
    return path


def test_day_first_dates_are_not_read_as_months(tmp_path):
    path = _series(tmp_path, ["12/04/2014 10:00", "13/04/2014 10:00", "14/04/2014 10:00"])
    times = read_sensor_csv(path).frame["time"]
    assert list(times.dt.month) == [4, 4, 4] and list(times.dt.day) == [12, 13, 14]


def test_ambiguous_dates_are_refused(tmp_path):
    """The message names both remedies: parameters in Python, flags on the command line."""
    path = _series(tmp_path, ["01/04/2014 10:00", "02/04/2014 10:00"])
    with pytest.raises(ParameterError, match=r"ambiguous.*\(dayfirst\) or give time_format") as e:
        read_sensor_csv(path)
    assert e.value.param == "time_format"
    assert e.value.params() == ["time_format", "dayfirst"]
    assert e.value.render(e.value.option).endswith("(--dayfirst) or give --time-format")


def test_dayfirst_reads_an_ambiguous_column(tmp_path):
    path = _series(tmp_path, ["01/04/2014 10:00", "02/04/2014 10:00"])
    times = read_sensor_csv(path, dayfirst=True).frame["time"]
    assert list(times.dt.month) == [4, 4] and list(times.dt.day) == [1, 2]


def test_time_format_is_used_as_given(tmp_path):
    path = _series(tmp_path, ["01/04/2014 10:00", "02/04/2014 10:00"])
    times = read_sensor_csv(path, time_format="%m/%d/%Y %H:%M").frame["time"]
    assert list(times.dt.month) == [1, 2] and list(times.dt.day) == [4, 4]


def test_numeric_epoch_times_are_refused(tmp_path):
    path = _series(tmp_path, ["1400000000", "1400003600"])
    with pytest.raises(SquallError, match="holds numbers.*epoch seconds"):
        read_sensor_csv(path)


# --- section 4: NOAA rows without a readable DATE ------------------------------------------


def test_unparseable_noaa_dates_are_warned_about(tmp_path):
    rows = reports(200)
    rows[5]["DATE"] = "not a date"
    path = noaa_file(tmp_path / "box.csv", rows)
    with pytest.warns(
        SquallWarning,
        match=r"dropped 1 of 200 rows with unparseable DATE "
        r"\(first on line 7: DATE 'not a date'\)",
    ):
        obs = read_noaa(path, ["AIR_TEMP"])
    assert len(obs) == 199


def test_too_many_unparseable_noaa_dates_are_refused(tmp_path):
    rows = reports(50)
    for k in range(0, 50, 10):
        rows[k]["DATE"] = "01/03/2025 00:00"
    path = noaa_file(tmp_path / "box.csv", rows)
    with pytest.raises(SquallError, match=r"5 of 50 data rows .* more than the 1% allowed"):
        read_noaa(path, ["AIR_TEMP"])


def test_all_noaa_dates_bad_says_why(tmp_path):
    rows = reports(5)
    for row in rows:
        row["DATE"] = "March 1st"
    path = noaa_file(tmp_path / "box.csv", rows)
    with pytest.raises(SquallError, match=r"no report has a readable DATE.*'March 1st'"):
        read_noaa(path, ["AIR_TEMP"])


# --- section 5: tracebacks ---------------------------------------------------------------------


def test_noaa_dates_mixing_naive_and_offsets_are_utc(tmp_path):
    rows = reports(2)
    rows[0]["DATE"] = "2025-03-01T07:00:00+07:00"  # 00:00 UTC
    rows[1]["DATE"] = "2025-03-01T01:00:00"  # naive = UTC
    path = noaa_file(tmp_path / "box.csv", rows)
    times = read_noaa(path, ["AIR_TEMP"]).frame["time"]
    assert list(times) == [pd.Timestamp("2025-03-01T00:00"), pd.Timestamp("2025-03-01T01:00")]


def test_truncated_gzip_is_one_line_naming_the_file(tmp_path):
    body = "timestamp,value\n" + "".join(
        f"2025-01-01T{h % 24:02d}:00:00,{h}\n" for h in range(5000)
    )
    path = tmp_path / "s.csv.gz"
    data = gzip.compress(body.encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SquallError, match=r"cannot read .*s\.csv\.gz"):
        read_sensor_csv(path)


def test_eda_histograms_with_1e308(tmp_path):
    from squall.report.eda import eda_of
    from squall.report.plots import histograms_figure, save_figure

    path = tmp_path / "s.csv"
    path.write_text(
        "timestamp,value\n"
        + "".join(
            f"2025-01-01T{h:02d}:00:00,{1e308 if h == 5 else 20 + 0.1 * h:.6g}\n" for h in range(24)
        )
    )
    result = eda_of(read_sensor_csv(path))
    fig = histograms_figure(result.values, result.units)
    save_figure(fig, tmp_path / "h.png")
    title = fig.axes[0].get_title()
    assert "1 outside" in title and (tmp_path / "h.png").stat().st_size > 0


# --- section 3: linear time, bounded memory ------------------------------------------------------


def _windowset(tmp_path, n=48):
    from squall import pipeline

    path = noaa_file(tmp_path / "box.csv", reports(n))
    return pipeline.make_windowset(_bundle(["AIR_TEMP"]), [path])


def test_anomaly_windows_and_positions_need_no_per_window_loop(tmp_path, monkeypatch):
    from squall.data.windowset import WindowSet
    from squall.report import tables

    ws = _windowset(tmp_path)
    reference = [ws.rows(i) for i in range(len(ws))]

    def per_window(self, i):
        raise AssertionError("per-window Python path used")

    monkeypatch.setattr(WindowSet, "rows", per_window)
    frame = tables.anomaly_windows_frame(ws, np.arange(len(ws)))
    assert len(frame) == sum(len(r) for r in reference)
    pos = tables._positions(ws)
    assert np.isfinite(pos).all()


def test_anomaly_windows_streams_to_a_file(tmp_path):
    from squall.report.tables import anomaly_windows_frame, write_anomaly_windows

    ws = _windowset(tmp_path)
    idx = np.arange(0, len(ws), 3)
    n = write_anomaly_windows(ws, idx, tmp_path / "aw.csv")
    written = pd.read_csv(tmp_path / "aw.csv", dtype=str)
    framed = anomaly_windows_frame(ws, idx)
    assert n == len(written) == len(framed)
    assert list(written["STATION"]) == list(framed["STATION"])


def test_noaa_reader_memory_does_not_grow_with_unused_text(tmp_path):
    # 60 MB of a column nobody reads: the old reader held the whole text (and parsed it)
    rows = reports(3000, NAME="x" * 20_000)
    path = noaa_file(tmp_path / "box.csv", rows)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obs = read_noaa(path, ["AIR_TEMP"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(obs) == 3000
    assert peak < size / 2, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"


def test_generic_csv_that_is_not_utf8_is_refused_not_merged(tmp_path):
    """Two stations spelled in Latin-1 must not become one track of replacement characters."""
    from squall.data.sensor_csv import read_sensor_csv
    from squall.errors import SquallError as Error

    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"timestamp,track,value\n2014-01-01T00:00,Z\xfcrich,1\n2014-01-01T01:00,Z\xe4rich,2\n"
    )
    with pytest.raises(Error, match="not UTF-8"):
        read_sensor_csv(path, track_column="track")


def test_an_inferred_day_first_format_is_kept_for_later_reads(tmp_path):
    """Trained on unambiguous day-first dates, a bundle reads later files whose days are all
    <= 12 day-first too, instead of refusing them as ambiguous."""
    from squall import pipeline
    from squall.data.sensor_csv import read_sensor_csv

    train = tmp_path / "train.csv"
    train.write_text(
        "timestamp,value\n" + "".join(f"{d:02d}/03/2014 10:00,{d}\n" for d in range(1, 29))
    )
    obs = read_sensor_csv(train)
    config = pipeline.reader_config(obs, {"kind": "csv", "time_column": "timestamp"})
    assert config["dayfirst"] is True and config["time_format"] is None
    later = tmp_path / "april.csv"
    later.write_text(
        "timestamp,value\n" + "".join(f"{d:02d}/04/2014 10:00,{d}\n" for d in range(1, 13))
    )
    times = pipeline.read_data(later, config).frame["time"]
    assert times.iloc[1] == pd.Timestamp("2014-04-02 10:00")


# --- review of issue 12 ------------------------------------------------------------------------


@pytest.mark.parametrize("option", [{"time_format": "%d/%m/%Y"}, {"dayfirst": True}])
def test_date_options_are_refused_for_noaa_files(tmp_path, option):
    from squall import pipeline

    path = noaa_file(tmp_path / "box.csv", reports(5))
    with pytest.raises(SquallError, match=r"do not apply to NOAA files"):
        pipeline.read_data(path, {"kind": "auto", **option})
    assert (
        len(
            pipeline.read_data(
                path, {"time_format": None, "dayfirst": False, "features": ["AIR_TEMP"]}
            )
        )
        == 5
    )


@pytest.mark.parametrize(
    "bad, what", [("abc", "non-numeric value 'abc'"), ("inf", "infinite value")]
)
def test_generic_numeric_errors_name_the_file_line(tmp_path, bad, what):
    """After a blank line and a quoted newline, the bad value's message names its own line."""
    path = tmp_path / "s.csv"
    path.write_text(
        'timestamp,note,value\n2025-01-01 00:00,"two\nlines",1\n\n'
        f"2025-01-01 01:00,plain,2\n2025-01-01 02:00,x,{bad}\n"
    )
    assert text_lines(path)[5].endswith(bad)  # line 6 of the file
    with pytest.raises(SquallError, match=rf"{what} at data row 3 \(line 6\)"):
        read_sensor_csv(path, features=["value"])


def test_a_row_with_data_but_no_date_is_a_date_fault_not_junk(tmp_path):
    """A row without DATE whose only values are in columns not read (NAME, AIR_TEMP when
    reading SEA_LVL_PRES) is a report with a date fault: counted and warned, not dropped
    silently as junk; a blank line and a STATION-only row stay junk."""
    rows = reports(200)
    rows[5].update(DATE="", LATITUDE="", LONGITUDE="", SEA_LVL_PRES="", NAME="a ship")
    path = noaa_file(tmp_path / "box.csv", rows)
    with open(path, "a") as fh:
        fh.write('\n"S9","","","","","",""\n')
    with pytest.warns(
        SquallWarning,
        match=r"dropped 1 of 200 rows with no DATE \(first on "
        r"line 7: empty DATE\)",
    ):
        obs = read_noaa(path, ["SEA_LVL_PRES"])
    assert len(obs) == 199


def test_many_rows_with_data_but_no_date_are_refused(tmp_path):
    rows = reports(50)
    for k in range(0, 50, 10):
        rows[k].update(DATE="", LATITUDE="", LONGITUDE="", SEA_LVL_PRES="")
    path = noaa_file(tmp_path / "box.csv", rows)
    with pytest.raises(
        SquallError,
        match=r"5 of 50 data rows .* more than the 1% allowed "
        r"\(5 no DATE \(first on line 2: empty DATE\)\)",
    ):
        read_noaa(path, ["SEA_LVL_PRES"])


def _hist(values):
    from squall.report.plots import _histogram, new_figure

    ax = new_figure(4, 3).add_subplot()
    note = _histogram(ax, np.asarray(values, dtype=np.float64))
    edges = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    return note, (min(e[0] for e in edges), max(e[1] for e in edges)) if edges else None


def test_histograms_keep_the_real_tails():
    """One spike among 2000 values (a NAB anomaly) is shown at its true value, not clipped to a
    quantile: the true min and max are inside the drawn range and nothing is 'outside'."""
    values = np.r_[np.random.default_rng(0).random(2000), 5.0, -3.0]
    note, (left, right) = _hist(values)
    assert note == "" and left <= -3.0 and right >= 5.0


@pytest.mark.parametrize(
    "extra", [[1e308], [-1e308, 1e308], [1.7e308] * 5, [-1e308] * 600 + [1e308] * 600]
)
def test_histograms_of_absurd_values_have_a_finite_range(extra):
    values = np.r_[np.random.default_rng(1).normal(20, 2, 1000), extra]
    note, span = _hist(values)
    if span is not None:
        assert np.isfinite(span).all() and span[1] - span[0] < 1e6
        assert f"{len(extra)} outside" in note
