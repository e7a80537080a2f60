"""squall.data.noaa.read_noaa: NOAA Global Marine box CSVs -> physical-unit Observations.

Expected values are derived from the format rules in shared/docs/noaa-global-marine.md, never
from running the reader.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pandas as pd
import pytest

from squall.data.noaa import original_columns, read_noaa
from squall.errors import SquallError

#: The 14 positions of NCDC_QC_FLAGS, in the doc's order.
NCDC_POSITIONS = (
    "position",
    "wind",
    "visibility",
    "present weather",
    "past weather",
    "SLP",
    "air temperature",
    "wet bulb",
    "dew point",
    "SST",
    "cloud",
    "waves",
    "swell",
    "pressure tendency",
)
#: Which flag position belongs to which feature (doc: "Quality control columns").
FLAG_OF = {
    "WIND_SPEED": "wind",
    "SEA_LVL_PRES": "SLP",
    "AIR_TEMP": "air temperature",
    "SEA_SURF_TEMP": "SST",
    "WAVE_HGT": "waves",
    "WAVE_PERIOD": "waves",
}
SIX = ["AIR_TEMP", "SEA_SURF_TEMP", "SEA_LVL_PRES", "WIND_SPEED", "WAVE_HGT", "WAVE_PERIOD"]


def flags(default: str = "1", **at: str) -> str:
    """A 14-character NCDC_QC_FLAGS string, ``default`` everywhere except ``at`` (by name)."""
    chars = [default] * len(NCDC_POSITIONS)
    for name, char in at.items():
        chars[NCDC_POSITIONS.index(name.replace("_", " "))] = char
    return "".join(chars)


def report(station: str = "SHIP1", hour: int = 0, **values) -> dict:
    """One clean report (unique, all QC flags 'correct') with the given raw values."""
    row = {
        "STATION": station,
        "DATE": f"2025-03-01T{hour:02d}:00:00",
        "LATITUDE": "5.5",
        "LONGITUDE": "105.25",
        "PLATFORM_ID": "5",
        "DUP_STATUS": "0",
        "NCDC_QC_FLAGS": flags(),
    }
    row.update(values)
    return row


# --- units and special codes ---------------------------------------------------------------


def test_raw_values_are_converted_to_physical_units(noaa_csv):
    path = noaa_csv(
        [
            report(
                AIR_TEMP="257",
                SEA_SURF_TEMP="-12",
                SEA_LVL_PRES="10111",
                WIND_SPEED="75",
                WAVE_HGT="3",
                WAVE_PERIOD="8",
            )
        ]
    )
    obs = read_noaa(path, SIX)
    row = obs.frame.iloc[0]
    # doc: 0.1 degC, 0.1 hPa, 0.1 m/s, 0.5 m units, seconds
    assert row["AIR_TEMP"] == pytest.approx(25.7)
    assert row["SEA_SURF_TEMP"] == pytest.approx(-1.2)
    assert row["SEA_LVL_PRES"] == pytest.approx(1011.1)
    assert row["WIND_SPEED"] == pytest.approx(7.5)
    assert row["WAVE_HGT"] == pytest.approx(1.5)
    assert row["WAVE_PERIOD"] == pytest.approx(8.0)
    assert obs.units == {
        "AIR_TEMP": "degC",
        "SEA_SURF_TEMP": "degC",
        "SEA_LVL_PRES": "hPa",
        "WIND_SPEED": "m/s",
        "WAVE_HGT": "m",
        "WAVE_PERIOD": "s",
    }
    assert obs.features == SIX
    assert row["lat"] == pytest.approx(5.5) and row["lon"] == pytest.approx(105.25)
    assert row["track"] == "SHIP1"
    assert row["time"] == pd.Timestamp("2025-03-01T00:00:00")


def test_missing_values_are_nan_not_zero(noaa_csv):
    path = noaa_csv([report(AIR_TEMP="250"), report(hour=1, SEA_LVL_PRES="10100")])
    obs = read_noaa(path, ["AIR_TEMP", "SEA_LVL_PRES"])
    values = obs.values()
    assert values[0, 0] == pytest.approx(25.0) and np.isnan(values[0, 1])
    assert np.isnan(values[1, 0]) and values[1, 1] == pytest.approx(1010.0)
    assert obs.availability() == {"AIR_TEMP": 0.5, "SEA_LVL_PRES": 0.5}


def test_wave_period_99_is_missing_unless_keep_codes(noaa_csv):
    path = noaa_csv(
        [report(hour=0, WAVE_PERIOD="99"), report(hour=1, WAVE_PERIOD="7"), report(hour=2)]
    )
    got = read_noaa(path, ["WAVE_PERIOD"]).frame["WAVE_PERIOD"].to_numpy()
    assert np.isnan(got[0]) and got[1] == 7.0 and np.isnan(got[2])
    kept = read_noaa(path, ["WAVE_PERIOD"], keep_codes=True).frame["WAVE_PERIOD"].to_numpy()
    assert kept[0] == 99.0 and kept[1] == 7.0 and np.isnan(kept[2])


def test_wind_direction_as_unit_vector_with_calm_and_variable(noaa_csv):
    dirs = ["90", "180", "361", "362", None, "270"]
    path = noaa_csv([report(hour=h, WIND_DIR=d) for h, d in enumerate(dirs)])
    obs = read_noaa(path, ["WIND_DIR_SIN", "WIND_DIR_COS", "WIND_DIR"])
    sin = obs.frame["WIND_DIR_SIN"].to_numpy()
    cos = obs.frame["WIND_DIR_COS"].to_numpy()
    # 90 and 180 and 270 degrees; 361 calm -> zero vector; 362 variable and missing -> NaN
    np.testing.assert_allclose(sin[[0, 1, 2, 5]], [1.0, 0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(cos[[0, 1, 2, 5]], [0.0, -1.0, 0.0, 0.0], atol=1e-12)
    assert np.isnan(sin[[3, 4]]).all() and np.isnan(cos[[3, 4]]).all()
    # the raw direction: 361/362 are not directions
    direction = obs.frame["WIND_DIR"].to_numpy()
    assert direction[0] == 90.0 and direction[5] == 270.0
    assert np.isnan(direction[[2, 3, 4]]).all()
    assert obs.units["WIND_DIR_SIN"] == obs.units["WIND_DIR_COS"] == "1"


# --- header junk, column sets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix, suffix, footer",
    [
        ("```", "", ""),
        ("```", "```", ""),
        ("\ufeff", "", ""),
        ("\ufeff```", "```", ""),
        ("```\n", "", "```\n"),  # fenced: backtick lines before and after
        ("\ufeff```\n", "```", "```"),
    ],
    ids=[
        "backticks-before",
        "backticks-around",
        "bom",
        "bom-and-backticks",
        "fence-lines",
        "everything",
    ],
)
def test_header_junk_is_stripped_without_renaming_columns(noaa_csv, prefix, suffix, footer):
    rows = [
        report("A", 0, AIR_TEMP="250", NCDC_QC_FLAGS=flags(air_temperature="4")),
        report("B", 1, AIR_TEMP="260"),
    ]
    path = noaa_csv(rows, header_prefix=prefix, header_suffix=suffix, footer=footer)
    obs = read_noaa(path, ["AIR_TEMP"])
    # STATION (first column) and NCDC_QC_FLAGS (last column) are both found by their names
    assert obs.frame["track"].tolist() == ["A", "B"]
    assert obs.frame["flag_AIR_TEMP"].tolist() == ["4", "1"]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0, 26.0])
    assert obs.dropped == {}
    names = list(original_columns(path).columns)
    assert names[0] == "STATION" and names[-1] == "NCDC_QC_FLAGS"


def test_crlf_line_endings(noaa_csv):
    path = noaa_csv(
        [
            report("A", 0, AIR_TEMP="250", NCDC_QC_FLAGS=flags(air_temperature="5")),
            report("B", 1, AIR_TEMP="-5"),
        ],
        newline="\r\n",
    )
    obs = read_noaa(path, ["AIR_TEMP"])
    assert obs.frame["track"].tolist() == ["A", "B"]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0, -0.5])
    assert obs.frame["flag_AIR_TEMP"].tolist() == ["5", "1"]


def test_columns_are_found_by_name_in_any_order_and_any_column_set(noaa_csv):
    columns = [
        "NAME",
        "NCDC_QC_FLAGS",
        "AIR_TEMP",
        "DECK",
        "DATE",
        "SEA_LVL_PRES",
        "STATION",
        "ELEVATION",
    ]
    rows = [
        {
            "NAME": "x",
            "NCDC_QC_FLAGS": flags(SLP="3"),
            "AIR_TEMP": "301",
            "DECK": "926",
            "DATE": "2025-03-02T06:00:00",
            "SEA_LVL_PRES": "9985",
            "STATION": "BUOY7",
        }
    ]
    path = noaa_csv(rows, columns=columns)
    obs = read_noaa(path, ["SEA_LVL_PRES", "AIR_TEMP"])
    row = obs.frame.iloc[0]
    assert row["track"] == "BUOY7"
    assert row["time"] == pd.Timestamp("2025-03-02T06:00:00")
    assert row["SEA_LVL_PRES"] == pytest.approx(998.5)
    assert row["AIR_TEMP"] == pytest.approx(30.1)
    assert row["flag_SEA_LVL_PRES"] == "3" and row["flag_AIR_TEMP"] == "1"
    # no LATITUDE/LONGITUDE columns: position unknown, not an error
    assert np.isnan(row["lat"]) and np.isnan(row["lon"])
    assert obs.features == ["SEA_LVL_PRES", "AIR_TEMP"]


# --- duplicates and QC ------------------------------------------------------------------------


def test_worse_duplicates_are_dropped_and_counted(noaa_csv):
    statuses = ["0", "1", "2", "3", "13", "14", None]
    path = noaa_csv(
        [report(f"S{i}", i, DUP_STATUS=s, AIR_TEMP="250") for i, s in enumerate(statuses)]
    )
    obs = read_noaa(path, ["AIR_TEMP"])
    # doc: 0 unique, 1 best duplicate, 2 best with substitution: keep <= 2
    assert obs.frame["track"].tolist() == ["S0", "S1", "S2", "S6"]
    assert obs.frame["row"].tolist() == [0, 1, 2, 6]
    assert sum(obs.dropped.values()) == 3
    assert [v for k, v in obs.dropped.items() if "DUP_STATUS" in k] == [3]


def test_qc_keep_keeps_flagged_values_and_the_right_flag_characters(noaa_csv):
    # a different flag character on each position that matters, and on their neighbours
    first = flags("A", position="1", wind="2", SLP="3", air_temperature="4", SST="5", waves="6")
    second = flags("9", position="1")  # every value flagged erroneous: still kept under "keep"
    raw = dict(
        AIR_TEMP="280",
        SEA_SURF_TEMP="290",
        SEA_LVL_PRES="10100",
        WIND_SPEED="50",
        WAVE_HGT="4",
        WAVE_PERIOD="6",
    )
    path = noaa_csv(
        [report("A", 0, NCDC_QC_FLAGS=first, **raw), report("B", 1, NCDC_QC_FLAGS=second, **raw)]
    )
    obs = read_noaa(path, SIX, qc="keep")
    assert len(obs) == 2 and obs.dropped == {}
    assert not np.isnan(obs.values()).any()
    for feature in SIX:
        position = NCDC_POSITIONS.index(FLAG_OF[feature])
        assert obs.frame[f"flag_{feature}"].tolist() == [first[position], "9"], feature
    assert obs.frame.loc[0, "flag_AIR_TEMP"] == "4"
    assert obs.frame.loc[0, "flag_WAVE_HGT"] == "6"


def test_qc_is_keep_by_default(noaa_csv):
    path = noaa_csv([report(NCDC_QC_FLAGS=flags("9"), AIR_TEMP="250")])
    obs = read_noaa(path, ["AIR_TEMP"])
    assert len(obs) == 1 and obs.frame.loc[0, "AIR_TEMP"] == pytest.approx(25.0)


def test_qc_drop_drops_bad_positions_and_blanks_erroneous_values(noaa_csv):
    raw = dict(AIR_TEMP="280", SEA_LVL_PRES="10100")
    rows = [
        report("P7", 0, NCDC_QC_FLAGS=flags(position="7"), **raw),  # dropped
        report("P9", 1, NCDC_QC_FLAGS=flags(position="9"), **raw),  # dropped
        report("P8", 7, NCDC_QC_FLAGS=flags(position="8"), **raw),  # dropped
        report("P6", 2, NCDC_QC_FLAGS=flags(position="6"), **raw),  # kept: suspect only
        report("T8", 3, NCDC_QC_FLAGS=flags(air_temperature="8"), **raw),
        report("S9", 4, NCDC_QC_FLAGS=flags(SLP="9"), **raw),
        report("T7", 5, NCDC_QC_FLAGS=flags(air_temperature="7"), **raw),  # < 8: value kept
        report("NA", 6, NCDC_QC_FLAGS=None, **raw),  # no flags: nothing to drop
    ]
    path = noaa_csv(rows)
    obs = read_noaa(path, ["AIR_TEMP", "SEA_LVL_PRES"], qc="drop")
    frame = obs.frame.set_index("track")
    assert list(frame.index) == ["P6", "T8", "S9", "T7", "NA"]
    assert frame["row"].tolist() == [3, 4, 5, 6, 7]
    assert np.isnan(frame.loc["T8", "AIR_TEMP"])
    assert frame.loc["T8", "SEA_LVL_PRES"] == pytest.approx(1010.0)
    assert np.isnan(frame.loc["S9", "SEA_LVL_PRES"])
    assert frame.loc["S9", "AIR_TEMP"] == pytest.approx(28.0)
    for track in ("P6", "T7", "NA"):
        assert frame.loc[track, "AIR_TEMP"] == pytest.approx(28.0)
        assert frame.loc[track, "SEA_LVL_PRES"] == pytest.approx(1010.0)
    assert sum(obs.dropped.values()) == 3
    assert [v for k, v in obs.dropped.items() if "position" in k] == [3]
    # the same file under "keep" loses nothing
    kept = read_noaa(path, ["AIR_TEMP", "SEA_LVL_PRES"], qc="keep")
    assert len(kept) == len(rows) and not np.isnan(kept.values()).any()


def test_unknown_qc_policy_is_an_error(noaa_csv):
    path = noaa_csv([report(AIR_TEMP="250")])
    with pytest.raises(SquallError, match="qc"):
        read_noaa(path, ["AIR_TEMP"], qc="strict")


# --- tracing back: rows, sources --------------------------------------------------------------


def test_row_is_the_data_row_so_line_row_plus_2_is_the_report(noaa_csv):
    dups = ["0", "5", "1", "0", "14", "0", "2"]
    rows = [report(f"ST{i}", i, DUP_STATUS=d, AIR_TEMP=str(200 + i)) for i, d in enumerate(dups)]
    path = noaa_csv(rows)
    obs = read_noaa(path, ["AIR_TEMP"])
    lines = path.read_text().splitlines()
    assert len(obs) == 5
    for _, rep in obs.frame.iterrows():
        line = next(csv.reader([lines[rep["row"] + 2 - 1]]))  # 1-based line row + 2
        station, date = line[0], line[1]
        assert rep["track"] == station
        assert rep["time"] == pd.Timestamp(date)
        assert rep["AIR_TEMP"] == pytest.approx(0.1 * float(line[7]))


def test_several_files_and_a_glob_give_sources(noaa_csv, tmp_path):
    a = noaa_csv(
        [report("A1", 0, AIR_TEMP="250"), report("A2", 1, AIR_TEMP="251")], name="10_100_00_110.csv"
    )
    # the second box has a different column set and order
    b = noaa_csv(
        [
            {"DATE": "2025-03-01T05:00:00", "STATION": "B1", "AIR_TEMP": "260"},
            {"DATE": "2025-03-01T06:00:00", "STATION": "B2", "AIR_TEMP": "261"},
            {"DATE": "2025-03-01T07:00:00", "STATION": "B3", "AIR_TEMP": "262"},
        ],
        name="20_100_10_110.csv",
        columns=["DATE", "AIR_TEMP", "STATION"],
    )
    obs = read_noaa([b, a], ["AIR_TEMP"])
    assert obs.sources == [str(b), str(a)]
    assert obs.frame["source"].tolist() == [0, 0, 0, 1, 1]
    assert obs.frame["row"].tolist() == [0, 1, 2, 0, 1]
    assert obs.frame["track"].tolist() == ["B1", "B2", "B3", "A1", "A2"]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [26.0, 26.1, 26.2, 25.0, 25.1])
    # every report traces back to its own file
    for _, rep in obs.frame.iterrows():
        original = original_columns(obs.sources[rep["source"]])
        assert original.loc[rep["row"], "STATION"] == rep["track"]

    globbed = read_noaa(str(tmp_path / "*_110.csv"), ["AIR_TEMP"])
    assert globbed.sources == sorted([str(a), str(b)])
    assert len(globbed) == 5
    by_source = globbed.frame.groupby("source")["track"].apply(list).to_dict()
    assert by_source == {0: ["A1", "A2"], 1: ["B1", "B2", "B3"]}


def test_gzipped_file_reads_like_the_plain_one(noaa_csv, tmp_path):
    import gzip

    plain = noaa_csv(
        [report("A", 0, AIR_TEMP="250"), report("B", 1, AIR_TEMP="-30")], header_prefix="```"
    )
    packed = tmp_path / "box.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a = read_noaa(plain, ["AIR_TEMP"]).frame
    b = read_noaa(packed, ["AIR_TEMP"]).frame
    pd.testing.assert_frame_equal(a, b)


# --- errors -----------------------------------------------------------------------------------


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(SquallError, match="nope.csv"):
        read_noaa(tmp_path / "nope.csv")


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(SquallError, match=r"\*\.csv"):
        read_noaa(str(tmp_path / "*.csv"))


def test_file_without_station_or_date_is_an_error(noaa_csv):
    path = noaa_csv([{"A": "1", "B": "2"}], columns=["A", "B"])
    with pytest.raises(SquallError, match="STATION"):
        read_noaa(path, ["A"])
    path = noaa_csv([{"STATION": "X", "B": "2"}], name="nodate.csv", columns=["STATION", "B"])
    with pytest.raises(SquallError, match="DATE"):
        read_noaa(path, ["B"])


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"```\n", b"\xef\xbb\xbf"],
    ids=["empty", "blank-lines", "backticks-only", "bom-only"],
)
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(SquallError, match="empty"):
        read_noaa(path)


def test_missing_feature_column_is_an_error_naming_it(noaa_csv):
    path = noaa_csv(
        [report(AIR_TEMP="250")],
        columns=[
            "STATION",
            "DATE",
            "AIR_TEMP",
            "DUP_STATUS",
            "NCDC_QC_FLAGS",
            "LATITUDE",
            "LONGITUDE",
            "PLATFORM_ID",
        ],
    )
    with pytest.raises(SquallError, match="WAVE_HGT"):
        read_noaa(path, ["AIR_TEMP", "WAVE_HGT"])


def test_non_numeric_value_is_an_error_naming_column_and_value(noaa_csv):
    path = noaa_csv([report(hour=0, AIR_TEMP="250"), report(hour=1, AIR_TEMP="25.x")])
    with pytest.raises(SquallError, match=r"AIR_TEMP.*25\.x"):
        read_noaa(path, ["AIR_TEMP"])


def test_no_features_is_an_error(noaa_csv):
    path = noaa_csv([report(AIR_TEMP="250")])
    with pytest.raises(SquallError):
        read_noaa(path, [])


def test_delimiter_at_end_of_every_data_line(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text(
        '"STATION","DATE","AIR_TEMP"\n'
        '"5201768","2025-03-01T00:00:00","250",\n'
        '"5201769","2025-03-01T01:00:00","251",\n'
    )
    obs = read_noaa(path, ["AIR_TEMP"])
    assert obs.frame["track"].tolist() == ["5201768", "5201769"]
    assert obs.frame["row"].tolist() == [0, 1]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0, 25.1])


# --- the real box file ------------------------------------------------------------------------


@pytest.fixture
def real_box(shared_data):
    path = shared_data / "noaa" / "10_100_00_110.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path, read_noaa(path)


def test_real_file_counts_and_availability(real_box):
    path, obs = real_box
    # doc: 6,327 reports from 241 stations; DUP_STATUS only 0/1 in it, so nothing is dropped
    assert len(obs) == 6327
    assert obs.frame["track"].nunique() == 241
    assert sum(obs.dropped.values()) == 0
    doc = {
        "AIR_TEMP": 0.71,
        "SEA_SURF_TEMP": 0.34,
        "SEA_LVL_PRES": 0.88,
        "WIND_SPEED": 0.35,
        "WAVE_HGT": 0.12,
        "WAVE_PERIOD": 0.10,
    }  # whole percent in the doc
    got = obs.availability()
    for feature, share in doc.items():
        assert math.isclose(got[feature], share, abs_tol=0.0051), (feature, got[feature])
    # physical ranges: doc says SLP is valid 870.0-1074.6 hPa; tropical temperatures
    assert obs.frame["SEA_LVL_PRES"].dropna().between(870.0, 1074.6).all()
    assert obs.frame["AIR_TEMP"].dropna().between(-5, 45).all()
    names = list(original_columns(path).columns)
    assert names[0] == "STATION" and names[-1] == "IND_FOR_PRECIP" and len(names) == 67


def test_real_file_rows_map_back_to_text_lines(real_box):
    path, obs = real_box
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6327 + 1
    frame = obs.frame
    for i in (0, 1, 17, 2500, 4999, len(frame) - 1):
        rep = frame.iloc[i]
        assert rep["source"] == 0
        fields = next(csv.reader([lines[int(rep["row"]) + 1]]))
        assert rep["track"] == fields[0]
        assert rep["time"] == pd.Timestamp(fields[1])
        assert rep["lat"] == pytest.approx(float(fields[2]))
