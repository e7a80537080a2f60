"""Issue 12, section 8: generated CSVs fed to the readers give a result or a one-line
``SquallError``, never another exception, in bounded memory.

The files mix what broke the readers: random headers, quoted fields with newlines and quotes,
bad dates, dates with and without offsets, day-first dates, huge and non-finite numbers, empty
files and (truncated) gzip. Deterministic (``derandomize=True``).
"""

from __future__ import annotations

import gzip
import tracemalloc
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall import pipeline
from squall.data.noaa import read_noaa
from squall.data.sensor_csv import read_sensor_csv
from squall.errors import SquallError

#: Largest traced allocation peak (bytes) allowed for reading one generated file (a few KB).
MEMORY_BOUND = 64 << 20

DATES = st.sampled_from(
    [
        "2025-03-01T00:00:00",
        "2025-03-01T07:00:00+07:00",
        "2025-03-01 01:00",
        "2025-03-01T02:00Z",
        "13/04/2014 10:00",
        "01/04/2014 10:00",
        "1400000000",
        "not a date",
        "",
        "2025-02-30T00:00",
        "9999-12-31T23:59:59",
        "0001-01-01",
        "2025-03-01T00:00:00-25:00",
    ]
)
NUMBERS = st.sampled_from(
    [
        "1",
        "-2.5",
        "1e308",
        "-1e308",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "",
        "1e400",
        "0x10",
        "12,5",
        "abc",
        "99",
        "361",
        "  3 ",
    ]
)
TEXT = st.text(alphabet=st.sampled_from(list('ab,"\n\r `\ufeff')), max_size=8)
NAMES = st.sampled_from(
    [
        "STATION",
        "DATE",
        "timestamp",
        "value",
        "AIR_TEMP",
        "SEA_LVL_PRES",
        "LATITUDE",
        "DUP_STATUS",
        "NCDC_QC_FLAGS",
        "track",
        "x",
    ]
)


def _field(kind: str):
    return {"date": DATES, "number": NUMBERS, "text": TEXT}[kind]


def _quote(value: str, always: bool) -> str:
    if always or any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw, required: tuple[str, ...] = ()):
    """(bytes of a file, its suffix); the header starts with ``required`` (shuffled in)."""
    header = list(required) + draw(st.lists(NAMES, min_size=0, max_size=6))
    header = draw(st.permutations(header)) if header else header
    kinds = [
        "date"
        if h in ("DATE", "timestamp")
        else draw(st.sampled_from(["number", "text"]))
        if h in ("x", "track", "STATION", "NCDC_QC_FLAGS")
        else "number"
        for h in header
    ]
    always = draw(st.booleans())  # NOAA quotes every field
    lines = [",".join(_quote(h, always) for h in header)] if header else []
    for _ in range(draw(st.integers(0, 12))):
        n = len(header) + draw(st.integers(-1, 2))  # short and long rows too
        row = [draw(_field(kinds[k] if k < len(kinds) else "text")) for k in range(max(n, 0))]
        lines.append(",".join(_quote(v, always) for v in row))
    prefix = draw(st.sampled_from(["", "```", "\ufeff", "\n\n"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = (prefix + newline.join(lines) + draw(st.sampled_from(["", newline, "```"]))).encode()
    packing = draw(st.sampled_from(["plain", "gz", "truncated-gz"]))
    if packing == "plain":
        return data, ".csv"
    packed = gzip.compress(data)
    return (packed if packing == "gz" else packed[: max(1, len(packed) // 2)]), ".csv.gz"


#: Each reader, and the columns its files always have (else nearly every file is refused at
#: the header and the rest of the reader is never reached).
READERS = {
    "sensor_csv": (lambda p: read_sensor_csv(p), ("timestamp",)),
    "sensor_csv_track": (
        lambda p: read_sensor_csv(p, track_column="track", dayfirst=True),
        ("timestamp", "track"),
    ),
    "noaa": (lambda p: read_noaa(p, ["AIR_TEMP"]), ("STATION", "DATE", "AIR_TEMP")),
    "read_data": (lambda p: pipeline.read_data(p), ()),
}


@pytest.mark.parametrize("reader", list(READERS))
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(draw=st.data())
def test_generated_csv_is_read_or_refused_in_one_line(tmp_path, reader, draw):
    read, required = READERS[reader]
    data, suffix = draw.draw(csv_files(required))
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read(path)
            except SquallError as exc:
                assert "\n" not in str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND


@pytest.mark.parametrize("reader", ["sensor_csv", "noaa"])
@settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(draw=st.data())
def test_generated_csv_reads_the_same_in_blocks_of_any_size(tmp_path, monkeypatch, reader, draw):
    """Blocks of 1, 7 and 64 characters give the same observations (values, rows, lines) as
    one big block, or the same refusal."""
    from squall.data import noaa

    read, required = READERS[reader]
    data, suffix = draw.draw(csv_files(required))
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)

    def outcome():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return read(path).frame
            except SquallError as exc:
                return type(exc)

    monkeypatch.setattr(noaa, "BLOCK_CHARS", 2 << 20)
    whole = outcome()
    for size in (1, 7, 64):
        monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
        got = outcome()
        if isinstance(whole, type):
            assert got is whole
        else:
            assert not isinstance(got, type)
            pd.testing.assert_frame_equal(got, whole)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(text=st.text(alphabet=st.sampled_from(list('ab,"\n ')), max_size=40))
def test_record_ends_are_the_csv_modules(text):
    """Record ends (newlines outside quoted fields, quotes special only at a field start) are
    where Python's csv module ends its records, stray quotes and all."""
    import csv
    import io

    from squall.data import noaa

    newline = [i for i, ch in enumerate(text) if ch == "\n"]
    reader = csv.reader(io.StringIO(text + "\n", newline=""))
    expected = [newline[reader.line_num - 1] for _ in reader if reader.line_num <= len(newline)]
    assert list(noaa.record_ends(text)) == expected
