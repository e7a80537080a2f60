"""The text rules of the readers (see the docstring of :mod:`squall.data.noaa`), whatever the
block size: junk before the header read in one pass and within a limit, records with values
beyond the header's last column refused wherever they are, quotes that never close refused
after reading at most :data:`~squall.data.noaa.MAX_RECORD_CHARS`, file line numbers that count
``\\n``, ``\\r\\n`` and a lone ``\\r`` alike, a header read as one CSV record, and ``now`` and
``today`` refused as dates.

Work and memory are checked by counting (characters read, characters scanned, calls made), never
by the clock. Expected line numbers come from Python's csv module, never from the readers.
"""

from __future__ import annotations

import csv
import io
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from squall.data import noaa
from squall.data.noaa import read_noaa, read_table, record_blocks
from squall.data.readers import read_data
from squall.data.sensor_csv import read_sensor_csv
from squall.errors import SquallError, SquallWarning

#: Block sizes: a record (or a bad row) falls in a later block, and in the first one.
SIZES = (1, 7, 64, 2 << 20)

HEAD = '"STATION","DATE","LATITUDE","LONGITUDE","NAME","AIR_TEMP","SEA_LVL_PRES"'


def _row(k: int, name: str = "ship") -> str:
    """Report ``k``: hour ``k`` of March 2025, AIR_TEMP 250 + k."""
    date = (pd.Timestamp("2025-03-01") + pd.Timedelta(hours=k)).isoformat()
    return f'"S{k % 3}","{date}","5.0","105.0","{name}","{250 + k}","10100"'


def _box(tmp_path, lines, eol="\n", prefix="", name="box.csv"):
    path = tmp_path / name
    path.write_bytes((prefix + eol.join(lines) + eol).encode())
    return path


def _expected_lines(text: str, skip: int = 1) -> list[int]:
    """1-based line on which each non-blank record starts, by the csv module, without the
    first ``skip`` records (the header)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, last = [], 0
    for record in reader:
        if record:
            starts.append(last + 1)
        last = reader.line_num
    return starts[skip:]


class _Counting:
    """A text file that counts the characters read from it."""

    def __init__(self, fh):
        self.fh, self.chars, self.reads = fh, 0, 0

    def read(self, n=-1):
        text = self.fh.read(n)
        self.chars += len(text)
        self.reads += 1
        return text

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def _count_reads(monkeypatch, module):
    """Make ``module.open_text`` hand out counting files; returns the list of them."""
    opened = []
    real = noaa.open_text

    def counting(path, strict=False):
        opened.append(_Counting(real(path, strict)))
        return opened[-1]

    monkeypatch.setattr(module, "open_text", counting)
    return opened


def _calls_in_noaa(read):
    """``read()`` and the Python and builtin calls made from the code of
    :mod:`squall.data.noaa` while it runs: work per line of the file shows up here, whatever
    the machine's speed."""
    count = 0
    source = noaa.__file__

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call") and frame.f_code.co_filename == source:
            count += 1

    sys.setprofile(profile)
    try:
        result = read()
    finally:
        sys.setprofile(None)
    return result, count


# --- 1. junk before the header: one pass, within a limit ---------------------------------------


def test_many_blank_lines_before_the_header_are_read_in_one_pass(tmp_path, monkeypatch):
    """200,000 blank and junk lines before the header: read right (lines counted from the
    file's start), the file read once, and the reader's work does not grow with the number of
    junk lines (the old header search re-sliced the rest of the text once per line)."""
    rows = [HEAD] + [_row(k) for k in range(6)]
    junk = ["", "```", "  ", "\t"] * 50_000
    many = _box(tmp_path, junk + rows, name="many.csv")
    few = _box(tmp_path, junk[:8] + rows, name="few.csv")
    opened = _count_reads(monkeypatch, noaa)

    _, calls_few = _calls_in_noaa(lambda: read_noaa(few, ["AIR_TEMP"]))
    obs, calls_many = _calls_in_noaa(lambda: read_noaa(many, ["AIR_TEMP"]))
    assert list(obs.frame["line"]) == [200_000 + 2 + k for k in range(6)]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0 + 0.1 * k for k in range(6)])
    assert opened[-1].chars == len(many.read_text())  # one pass over the file
    assert calls_many <= calls_few + 50, (calls_few, calls_many)
    # the auto-detected kind sees the same header (it used to look at the first 64 KiB only)
    assert read_data(many, {"features": ["AIR_TEMP"]}).frame["line"].iloc[0] == 200_002


@pytest.mark.parametrize(
    "before, what",
    [("\n" * 5000, "no header within the first 1,000 characters"), ("", "does not end within")],
    ids=["blank-lines", "open-quote-in-header"],
)
def test_no_header_within_the_limit_is_refused_after_reading_at_most_the_limit(
    tmp_path, monkeypatch, before, what
):
    monkeypatch.setattr(noaa, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(noaa, "BLOCK_CHARS", 64)
    header = HEAD if before else '"STATION","DATE","NAME' + ",x" * 3000
    path = _box(tmp_path, [header] + [_row(k) for k in range(200)], prefix=before)
    opened = _count_reads(monkeypatch, noaa)
    with pytest.raises(SquallError, match=rf"box\.csv: .*{what}"):
        read_noaa(path, ["AIR_TEMP"])
    assert opened[-1].chars <= 1000 + 64


def test_a_header_is_one_csv_record(tmp_path):
    """Quoted names may hold commas and line ends (the csv module's rules): the names are
    whole and the first report is on the line after the header's last."""
    head = '```"STATION","DATE","LAT, DEG","NOTE\nON TWO LINES","AIR_TEMP"```'
    rows = [f'"S{k}","2025-03-01T0{k}:00:00","5","x","{250 + k}"' for k in range(3)]
    path = _box(tmp_path, [head] + rows)
    table = read_table(path)
    assert list(table.columns) == ["STATION", "DATE", "LAT, DEG", "NOTE\nON TWO LINES", "AIR_TEMP"]
    assert list(table["LAT, DEG"]) == ["5"] * 3
    obs = read_noaa(path, ["AIR_TEMP"])
    assert list(obs.frame["line"]) == [3, 4, 5]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0, 25.1, 25.2])


# --- 2. values beyond the header's last column: one rule, file lines --------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_value_beyond_the_last_column_is_refused_in_any_block(tmp_path, monkeypatch, size):
    """Row 8 (file line 10) has an eighth field: refused by both NOAA readings, naming the
    file's line, wherever the block cut falls (the old reader dropped the value when it read
    only some columns or when the row began a block, and refused it naming a line within the
    block otherwise)."""
    monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
    rows = [_row(k) for k in range(12)]
    rows[8] += ',"oops"'
    path = _box(tmp_path, [HEAD] + rows)
    message = r"box\.csv: line 10 has 8 fields, the header 7"
    with pytest.raises(SquallError, match=message):
        read_noaa(path, ["AIR_TEMP"])
    with pytest.raises(SquallError, match=message):
        read_table(path)


@pytest.mark.parametrize("size", SIZES)
def test_empty_fields_beyond_the_last_column_are_ignored_in_any_block(tmp_path, monkeypatch, size):
    """A trailing delimiter on some lines only (the old reader refused it in the middle of a
    block when it read every column)."""
    monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
    rows = [_row(k) for k in range(12)]
    rows[3] += ","
    rows[9] += ',,"",  '
    path = _box(tmp_path, [HEAD] + rows)
    table = read_table(path)
    assert list(table.columns) == HEAD.replace('"', "").split(",")
    assert list(table["AIR_TEMP"]) == [str(250 + k) for k in range(12)]
    obs = read_noaa(path, ["AIR_TEMP"])
    assert list(obs.frame["line"]) == list(range(2, 14))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stray", [False, True], ids=["quoted", "stray-quote"])
def test_generic_value_beyond_the_last_column_is_refused_in_any_block(
    tmp_path, monkeypatch, size, stray
):
    monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
    rows = [f"2025-01-01 {k:02d}:00,n{k},{k}" for k in range(12)]
    rows[2] += ',""'  # an empty quoted field beyond the last column: ignored
    if stray:  # the csv module's reading of the block
        rows[4] = '2025-01-01 04:00,5" gun,4'
    path = tmp_path / "s.csv"
    path.write_text("timestamp,note,value\n" + "\n".join(rows) + "\n")
    assert list(read_sensor_csv(path, features=["value"]).frame["value"]) == list(range(12))
    rows[7] += ",oops"
    path.write_text("timestamp,note,value\n" + "\n".join(rows) + "\n")
    with pytest.raises(SquallError, match=r"s\.csv: line 9 has 4 fields, the header 3"):
        read_sensor_csv(path, features=["value"])


@pytest.mark.parametrize("size", SIZES)
def test_read_table_messages_name_file_lines(tmp_path, monkeypatch, size):
    """A quote still open at the end of the file and a bad number: both name the file line
    (pandas named a row within the block; the number had no line at all)."""
    monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
    rows = [_row(k) for k in range(12)]
    path = _box(tmp_path, [HEAD] + rows + ['"S1","2025-03-02T00:00:00","5.0","105.0","open'])
    with pytest.raises(SquallError, match=r"box\.csv: a quote opened .* on line 14 never closes"):
        read_table(path)
    rows[10] = _row(10).replace('"260"', '"2x0"')
    path = _box(tmp_path, [HEAD] + rows)
    with pytest.raises(SquallError, match=r"'2x0' at data row 10 \(line 12\)"):
        read_noaa(path, ["AIR_TEMP"])


# --- 3. a quote that never closes: refused at the limit, bounded work ----------------------------


def test_a_quote_that_never_closes_is_refused_after_at_most_the_limit(monkeypatch):
    """The record's length is checked before reading on: at most MAX_RECORD_CHARS characters of
    it are read and scanned (the old doubling reads overshot to twice the limit, i.e. 128 Mi
    characters and gigabytes with the default limit)."""
    limit = 1030  # doubling reads of 64 pass it at 2048
    monkeypatch.setattr(noaa, "MAX_RECORD_CHARS", limit)
    start = "timestamp,value\n2025-01-01,2\n"
    fh = _Counting(io.StringIO(start + '2025-01-02,"open\n' + "2025-01-03,5\n" * 2000))
    scanned = []
    real = noaa.record_ends
    monkeypatch.setattr(noaa, "record_ends", lambda t: scanned.append(len(t)) or real(t))
    with pytest.raises(csv.Error, match=r"no end of record within 1,030 characters from line 3 "):
        list(record_blocks(fh, 64))
    assert fh.chars <= len(start) + limit + 1
    assert max(scanned) <= limit + 1


def test_a_quote_that_never_closes_in_a_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(noaa, "MAX_RECORD_CHARS", 1030)
    monkeypatch.setattr(noaa, "BLOCK_CHARS", 64)
    rows = [_row(k) for k in range(3)] + ['"S1","2025-03-02T00:00:00","5.0","open']
    unquoted = [_row(k).replace('"', "") for k in range(200)]  # nothing closes the quote
    path = _box(tmp_path, [HEAD] + rows + unquoted)
    opened = _count_reads(monkeypatch, noaa)
    with pytest.raises(SquallError, match=r"box\.csv: no end of record .* from line 5 "):
        read_noaa(path, ["AIR_TEMP"])
    assert opened[-1].chars <= len("\n".join([HEAD] + rows[:3])) + 1030 + 64


# --- 4. line ends, dates ------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_lone_carriage_returns_count_lines_like_the_csv_module(tmp_path, monkeypatch, size):
    """An old Mac file (every line ends in a lone \\r, one NAME holds a quoted \\r) and a \\n
    file with a lone \\r inside an unquoted field (pandas ends the record there): both readers
    give the lines of the csv module."""
    monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
    rows = [_row(k, "two\rlines" if k == 4 else "ship") for k in range(8)]
    path = _box(tmp_path, [HEAD] + rows, eol="\r", name="mac.csv")
    text = path.read_bytes().decode()
    obs = read_noaa(path, ["AIR_TEMP"])
    assert list(obs.frame["line"]) == _expected_lines(text) == [2, 3, 4, 5, 6, 8, 9, 10]
    np.testing.assert_allclose(obs.frame["AIR_TEMP"], [25.0 + 0.1 * k for k in range(8)])

    generic = tmp_path / "s.csv"
    generic.write_bytes(
        b'timestamp,note,value\r2025-01-01 00:00,"a\rb",0\r\n2025-01-01 01:00,x,1\n'
        b"2025-01-01 02:00,y,2\r2025-01-01 03:00,z,3\n"
    )
    got = read_sensor_csv(generic, features=["value"]).frame
    assert list(got["line"]) == _expected_lines(generic.read_bytes().decode()) == [2, 4, 5, 6]
    assert list(got["value"]) == [0, 1, 2, 3]


def test_now_and_today_are_not_dates(tmp_path):
    """pandas reads them as the clock's time: a NOAA report dated 'now' is an unparseable
    DATE (dropped and warned about, naming its line), a generic time 'today' is refused."""
    rows = [_row(k) for k in range(200)]
    rows[5] = rows[5].replace('"2025-03-01T05:00:00"', '"now"')
    path = _box(tmp_path, [HEAD] + rows)
    with pytest.warns(
        SquallWarning, match=r"1 of 200 rows with unparseable DATE \(first on line 7"
    ):
        assert len(read_noaa(path, ["AIR_TEMP"])) == 199

    generic = tmp_path / "s.csv"
    generic.write_text("timestamp,value\n2025-01-01 00:00,1\ntoday,2\n")
    with pytest.raises(SquallError, match=r"'today' at data row 1 \(line 3\)"):
        read_sensor_csv(generic)
    generic.write_text("timestamp,value\n01/02/2025 00:00,1\n13/02/2025 00:00,2\nnow,3\n")
    with pytest.raises(SquallError, match=r"'now' at data row 2 \(line 4\)"):
        read_sensor_csv(generic)


def test_blocks_of_any_size_read_junk_and_headers_the_same(tmp_path, monkeypatch):
    """The header search and the first block meet anywhere: a CRLF cut between its \\r and
    its \\n, junk lines of every kind, a header over two lines."""
    head = '"STATION","DATE","NA\r\nME","AIR_TEMP"'
    rows = [f'"S{k}","2025-03-01T0{k}:00:00","n{k}","{250 + k}"' for k in range(5)]
    path = _box(tmp_path, ["", "```", "\t ", "\ufeff" + head] + rows, eol="\r\n")
    expected = read_noaa(path, ["AIR_TEMP"]).frame
    assert list(expected["line"]) == [6, 7, 8, 9, 10]
    for size in (1, 2, 3, 5, 7):
        monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pd.testing.assert_frame_equal(read_noaa(path, ["AIR_TEMP"]).frame, expected)
