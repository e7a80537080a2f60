"""squall.data.sensor_csv.read_sensor_csv: generic time/value tables -> Observations."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from squall.data.sensor_csv import read_sensor_csv
from squall.errors import ParameterError, SquallError


def write(path, text: str):
    path.write_text(text)
    return path


def test_nab_file_is_one_track_named_after_the_file(shared_data):
    path = shared_data / "nab" / "realKnownCause" / "ambient_temperature_system_failure.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    assert header == ["timestamp", "value"]
    obs = read_sensor_csv(path)
    assert len(obs) == len(data)
    assert obs.features == ["value"]
    assert set(obs.frame["track"]) == {"ambient_temperature_system_failure"}
    assert obs.sources == [str(path)]
    assert (obs.frame["source"] == 0).all()
    assert obs.frame["row"].tolist() == list(range(len(data)))
    for i in (0, 1, len(data) // 2, len(data) - 1):
        assert obs.frame["time"].iloc[i] == pd.Timestamp(data[i][0])
        assert obs.frame["value"].iloc[i] == pytest.approx(float(data[i][1]))
    assert obs.frame["lat"].isna().all() and obs.frame["lon"].isna().all()


def test_several_files_are_separate_tracks_with_sources(tmp_path):
    a = write(tmp_path / "pump_a.csv", "timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:05,2\n")
    b = write(tmp_path / "pump_b.csv", "timestamp,value\n2024-01-01 00:00,7\n")
    obs = read_sensor_csv(str(tmp_path / "pump_*.csv"))
    assert obs.sources == [str(a), str(b)]
    assert obs.frame["track"].tolist() == ["pump_a", "pump_a", "pump_b"]
    assert obs.frame["source"].tolist() == [0, 0, 1]
    assert obs.frame["row"].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(obs.frame["value"], [1.0, 2.0, 7.0])


def test_track_column_and_default_features(tmp_path):
    path = write(
        tmp_path / "stations.csv",
        "wind,time,station,temp\n"
        "3.5,2024-05-01T00:00:00,north,12.0\n"
        "4.0,2024-05-01T00:00:00,south,15.5\n"
        "4.5,2024-05-01T01:00:00,north,11.0\n",
    )
    obs = read_sensor_csv(path, time_column="time", track_column="station")
    assert obs.features == ["wind", "temp"]  # every other column, in file order
    assert obs.frame["track"].tolist() == ["north", "south", "north"]
    assert obs.frame["time"].tolist() == [
        pd.Timestamp("2024-05-01 00:00"),
        pd.Timestamp("2024-05-01 00:00"),
        pd.Timestamp("2024-05-01 01:00"),
    ]
    np.testing.assert_array_equal(obs.values(), [[3.5, 12.0], [4.0, 15.5], [4.5, 11.0]])
    assert "station" not in obs.features and "time" not in obs.features


def test_chosen_features_in_the_given_order(tmp_path):
    path = write(tmp_path / "s.csv", "timestamp,a,b,c\n2024-01-01,1,2,3\n2024-01-02,4,5,6\n")
    obs = read_sensor_csv(path, features=["c", "a"])
    assert obs.features == ["c", "a"]
    np.testing.assert_array_equal(obs.values(), [[3.0, 1.0], [6.0, 4.0]])
    with pytest.raises(SquallError, match="nope"):
        read_sensor_csv(path, features=["a", "nope"])


def test_time_zones_are_converted_to_utc(tmp_path):
    path = write(
        tmp_path / "tz.csv",
        "timestamp,value\n2024-01-01T12:00:00+02:00,1\n2024-01-01T15:30:00+02:00,2\n",
    )
    obs = read_sensor_csv(path)
    assert obs.frame["time"].tolist() == [
        pd.Timestamp("2024-01-01T10:00:00"),
        pd.Timestamp("2024-01-01T13:30:00"),
    ]
    assert obs.frame["time"].dt.tz is None  # UTC, tz-naive


def test_z_suffix_is_utc(tmp_path):
    path = write(tmp_path / "z.csv", "timestamp,value\n2024-01-01T12:00:00Z,1\n")
    assert read_sensor_csv(path).frame["time"].tolist() == [pd.Timestamp("2024-01-01T12:00")]


def test_time_zones_with_different_offsets_are_converted_to_utc(tmp_path):
    # Central European time across the 2024-03-31 change from +01:00 to +02:00
    path = write(
        tmp_path / "dst.csv",
        "timestamp,value\n2024-03-31T01:30:00+01:00,1\n2024-03-31T03:30:00+02:00,2\n",
    )
    obs = read_sensor_csv(path)
    assert obs.frame["time"].tolist() == [
        pd.Timestamp("2024-03-31T00:30:00"),
        pd.Timestamp("2024-03-31T01:30:00"),
    ]


def test_empty_cells_and_nan_are_missing(tmp_path):
    path = write(
        tmp_path / "gaps.csv",
        "timestamp,a,b\n2024-01-01,,1\n2024-01-02,nan,NaN\n2024-01-03,NA,2.5\n2024-01-04,-1e3,\n",
    )
    obs = read_sensor_csv(path)
    assert len(obs) == 4  # missing values do not drop reports
    values = obs.values()
    assert np.isnan(values[:3, 0]).all() and values[3, 0] == -1000.0
    assert values[0, 1] == 1.0 and np.isnan(values[1, 1]) and values[2, 1] == 2.5
    assert np.isnan(values[3, 1])
    assert obs.availability() == {"a": 0.25, "b": 0.5}


@pytest.mark.parametrize("bad", ["inf", "-inf", "Infinity"])
def test_infinite_value_is_an_error(tmp_path, bad):
    path = write(tmp_path / "inf.csv", f"timestamp,value\n2024-01-01,1\n2024-01-02,{bad}\n")
    with pytest.raises(SquallError, match="infinite"):
        read_sensor_csv(path)


def test_non_numeric_value_is_an_error(tmp_path):
    path = write(tmp_path / "text.csv", "timestamp,value\n2024-01-01,1\n2024-01-02,high\n")
    with pytest.raises(SquallError, match="high"):
        read_sensor_csv(path)


def test_missing_time_column_is_an_error_naming_it(tmp_path):
    path = write(tmp_path / "s.csv", "when,value\n2024-01-01,1\n")
    with pytest.raises(SquallError, match="timestamp"):
        read_sensor_csv(path)
    with pytest.raises(SquallError, match="datetime"):
        read_sensor_csv(path, time_column="datetime")


def test_missing_track_column_is_an_error_naming_it(tmp_path):
    path = write(tmp_path / "s.csv", "timestamp,value\n2024-01-01,1\n")
    with pytest.raises(SquallError, match="sensor_id"):
        read_sensor_csv(path, track_column="sensor_id")


def test_empty_file_is_an_error(tmp_path):
    path = write(tmp_path / "empty.csv", "")
    with pytest.raises(SquallError, match="empty"):
        read_sensor_csv(path)


@pytest.mark.parametrize("stamp", ["not a time", "2024-13-45 25:00"])
def test_unparseable_time_is_an_error(tmp_path, stamp):
    path = write(tmp_path / "t.csv", f"timestamp,value\n2024-01-01,1\n{stamp},2\n")
    with pytest.raises(SquallError, match="timestamp") as info:
        read_sensor_csv(path)
    assert stamp in str(info.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(SquallError, match="absent.csv"):
        read_sensor_csv(tmp_path / "absent.csv")


def test_delimiter_at_end_of_every_line(tmp_path):
    path = write(
        tmp_path / "trailing.csv",
        "timestamp,value\n2024-01-01 00:00:00,1.5,\n2024-01-01 01:00:00,2.5,\n",
    )
    obs = read_sensor_csv(path)
    assert obs.features == ["value"]
    assert obs.frame["time"].tolist() == [
        pd.Timestamp("2024-01-01 00:00"),
        pd.Timestamp("2024-01-01 01:00"),
    ]
    np.testing.assert_array_equal(obs.frame["value"], [1.5, 2.5])


# --- messages name parameters (the command line shows its flags) ------------------------------


@pytest.mark.parametrize(
    "stamps, message",
    [
        (["1400000000", "1400003600"], "write times as ISO 8601 or give time_format"),
        (["01/04/2014 10:00", "02/04/2014 10:00"], r"read it day first \(dayfirst\) or give "),
        (["2014/04/13 10h", "2014/04/14 10h"], r"give time_format \(e\.g\. %d/%m/%Y %H:%M\)"),
    ],
    ids=["numbers", "ambiguous", "no-format"],
)
def test_time_format_messages_name_the_parameter(tmp_path, stamps, message):
    """A ParameterError for ``time_format``, never the flag ``--time-format`` spelled in the
    library; the file name is kept as written, braces and all."""
    path = write(tmp_path / "d{1}.csv", "timestamp,value\n" + "".join(f"{s},1\n" for s in stamps))
    with pytest.raises(ParameterError, match=message) as info:
        read_sensor_csv(path)
    error = info.value
    assert error.param == "time_format" and "--" not in str(error)
    assert str(error).startswith(f"{path}: ")
    flagged = error.for_option("--time-format")
    assert "--time-format" in flagged and flagged.startswith(f"{path}: ")


def test_an_unusable_time_format_names_the_parameter(tmp_path):
    path = write(tmp_path / "s.csv", "timestamp,value\n2024-01-01,1\n")
    with pytest.raises(ParameterError, match=r"^time_format '%Q' is not a usable format") as info:
        read_sensor_csv(path, time_format="%Q")
    assert info.value.for_option("--time-format").startswith("--time-format '%Q' ")


@pytest.mark.parametrize(
    "options, param", [({}, "time_column"), ({"track_column": "sensor"}, "track_column")]
)
def test_a_missing_time_or_track_column_names_the_parameter(tmp_path, options, param):
    path = write(tmp_path / "s.csv", "when,value\n2024-01-01,1\n")
    if param == "track_column":
        path = write(tmp_path / "s.csv", "timestamp,value\n2024-01-01,1\n")
    with pytest.raises(ParameterError, match=rf"no column .*; set {param}$") as info:
        read_sensor_csv(path, **options)
    assert info.value.param == param


@pytest.mark.parametrize("block", [1, 4, 1 << 21])
def test_blank_lines_before_the_header_are_skipped_and_counted(tmp_path, monkeypatch, block):
    """Auto-detection skips blank lines before a header; the generic reader must too (it said
    "is empty"), and the file lines it reports still count them."""
    from squall.data import noaa
    from squall.data.sensor_csv import iter_raw

    monkeypatch.setattr(noaa, "BLOCK_CHARS", block)
    path = tmp_path / "blank.csv"
    path.write_text("\n \n\r\ntimestamp,value\n2025-01-01,1\n\n2025-01-02,2\n")
    parts = list(iter_raw(path))
    values = [v for frame, _ in parts for v in frame["value"]]
    lines = [int(n) for _, ln in parts for n in ln]
    assert values == ["1", "2"] and lines == [5, 7]


@pytest.mark.parametrize("name", ["track", "lat", "lon", "row", "line", "source", "time"])
def test_a_feature_named_like_a_base_column_is_refused_naming_it(tmp_path, name):
    """A feature column named like one of Observations' own columns overwrote or duplicated it
    (a traceback later: 'track' is not unique, or arrays that do not broadcast)."""
    path = write(tmp_path / "s.csv", f"timestamp,value,{name}\n2024-01-01,1,5\n2024-01-02,2,6\n")
    with pytest.raises(ParameterError, match=rf"column '{name}' cannot be a feature") as info:
        read_sensor_csv(path)
    assert info.value.param == "features"
    text = info.value.for_option("--features")
    assert "rename the column in the file, or choose the other features with --features" in text
    assert ("track_column" in str(info.value)) == (name == "track")
    with pytest.raises(ParameterError, match=rf"column '{name}' cannot be a feature"):
        read_sensor_csv(path, features=[name])
    obs = read_sensor_csv(path, features=["value"])  # the way out the message names
    assert obs.features == ["value"] and obs.values()[:, 0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("command", ["spectrum", "backtest", "train"])
def test_a_reserved_feature_name_is_one_line_on_the_command_line(tmp_path, capsys, command):
    from squall.cli.main import main

    rows = [f"2025-01-01T{h:02d}:00,{h % 7},{h % 5}" for h in range(24)]
    path = write(tmp_path / "s.csv", "timestamp,value,lat\n" + "\n".join(rows) + "\n")
    extra = ["--lookback", "8", "--horizon", "2"] if command == "backtest" else []
    code = main([command, str(path), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "column 'lat' cannot be a feature" in err and "--features" in err
    assert not (tmp_path / "out").exists()


def test_a_generic_feature_named_flag_something_stays_a_generic_csv(tmp_path):
    """The reader stored in a bundle was taken for NOAA's when a generic CSV had a column
    whose name starts with flag_ (what the NOAA reader calls its QC flag columns)."""
    from squall.data.readers import ReaderConfig, read_data

    path = write(tmp_path / "s.csv", "timestamp,flag_count\n2024-01-01,1\n2024-01-02,2\n")
    obs = read_data(path)
    resolved = ReaderConfig().resolved(obs)
    assert resolved.kind == "csv" and resolved.features == ("flag_count",)
    again = read_data(path, resolved.to_dict())  # as a bundle reads it later
    assert again.values()[:, 0].tolist() == [1.0, 2.0]
