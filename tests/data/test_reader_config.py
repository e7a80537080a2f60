"""The typed reader configuration (squall.data.readers.ReaderConfig) and the reader dispatch."""

import pandas as pd
import pytest

from squall.data.readers import ReaderConfig, read_data
from squall.errors import SquallError


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "xls"},
        {"features": "value"},
        {"qc": "maybe"},
        {"keep_codes": "yes"},
        {"time_column": ""},
        {"colour": "red"},
        {"kind": None},
    ],
)
def test_bad_reader_options_are_one_line_errors(bad):
    with pytest.raises(SquallError):
        ReaderConfig.from_dict(bad)


def test_resolved_configuration_round_trips_through_json(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(
        {
            "timestamp": ["13/04/2014 10:00", "14/04/2014 10:00", "15/04/2014 10:00"],
            "value": [1.0, 2.0, 3.0],
        }
    ).to_csv(path, index=False)
    config = ReaderConfig(time_column="timestamp")
    obs = read_data(path, config)
    resolved = config.resolved(obs)
    # the inferred day-first date rule is stored, so later data with days <= 12 reads the same
    assert resolved.kind == "csv" and resolved.dayfirst is True
    assert resolved.features == ("value",)
    assert ReaderConfig.from_dict(resolved.to_dict()) == resolved
    assert set(resolved.to_dict()) == {
        "kind",
        "features",
        "time_column",
        "track_column",
        "time_format",
        "dayfirst",
    }


def test_noaa_refuses_generic_csv_date_options(shared_data):
    box = shared_data / "noaa" / "10_100_00_110.csv"
    with pytest.raises(SquallError, match="do not apply to NOAA"):
        read_data(box, {"dayfirst": True})
    resolved = ReaderConfig().resolved(read_data(box, ReaderConfig(features=("AIR_TEMP",))))
    assert resolved.to_dict() == {
        "kind": "noaa",
        "features": ["AIR_TEMP"],
        "qc": "keep",
        "keep_codes": False,
    }


def test_an_empty_time_format_means_not_given(tmp_path, shared_data):
    """``time_format=""`` (a command line's ``--time-format ""``) is no format: NOAA files are
    read (it used to be refused as not a non-empty string), generic ones infer their format."""
    assert ReaderConfig(time_format="").time_format is None
    assert ReaderConfig.from_dict({"time_format": ""}) == ReaderConfig()
    box = shared_data / "noaa" / "10_100_00_110.csv"
    obs = read_data(box, {"time_format": "", "features": ["AIR_TEMP"]})
    assert len(obs) == 6327
    path = tmp_path / "d.csv"
    path.write_text("timestamp,value\n13/04/2014 10:00,1\n14/04/2014 10:00,2\n")
    config = ReaderConfig(time_column="timestamp", time_format="")
    resolved = config.resolved(read_data(path, config))
    assert resolved.time_format is None and resolved.dayfirst is True
