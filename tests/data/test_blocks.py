"""Reading a file a block at a time: the cut between blocks never changes what is read.

Blocks of 1, 7 and 64 characters must give the same frames and the same ``line`` numbers as one
big block, for LF and CRLF files, gzip files, quoted fields holding newlines and a stray ``"``
inside an unquoted field (not RFC 4180, but real files have them). The expected line of each
record comes from Python's csv module (``line_num``), never from the readers.
"""

from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pandas as pd
import pytest

from squall.data import noaa
from squall.data.noaa import read_noaa, record_blocks
from squall.data.sensor_csv import read_sensor_csv
from squall.errors import SquallError

SIZES = (1, 7, 64)


def _noaa_lines(eol: str, stray: bool) -> list[str]:
    """A NOAA box file's records (every field quoted, as NOAA writes), one with a quoted
    newline in NAME; with ``stray``, one record written unquoted with a ``"`` inside a field,
    before the quoted newline (the case that upset a quote-parity split)."""
    head = '"STATION","DATE","LATITUDE","LONGITUDE","NAME","AIR_TEMP"'
    rows = []
    for k in range(12):
        name = f"ship {k}"
        if k == 7:
            name = f"a two-line{eol}name"
        rows.append(f'"S{k % 3}","2025-03-01T{k:02d}:00:00","5.0","105.0","{name}","{250 + k}"')
    if stray:
        rows[3] = 'S0,2025-03-01T03:00:00,5.0,105.0,5" gun,253'
        rows[9] = 'S0,2025-03-01T09:00:00,5.0,105.0,ends",259'
    return [head] + rows


def _sensor_lines(eol: str, stray: bool) -> list[str]:
    rows = ["timestamp,note,value"]
    for k in range(12):
        note = f'"two{eol}lines"' if k == 7 else f"n{k}"
        if stray and k in (3, 9):
            note = '5" gun' if k == 3 else 'ends"'
        rows.append(f"2025-01-01 {k:02d}:00,{note},{k}")
    return rows


def _write(tmp_path, lines, eol, gz, name):
    text = eol.join(lines) + eol
    path = tmp_path / (name + (".csv.gz" if gz else ".csv"))
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path, text


def _expected_lines(text: str) -> list[int]:
    """1-based line on which each data record starts, by the csv module."""
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, last = [], 0
    for record in reader:
        if record:
            starts.append(last + 1)
        last = reader.line_num
    return starts[1:]  # without the header


CASES = [
    (eol, gz, stray) for eol in ("\n", "\r\n") for gz in (False, True) for stray in (False, True)
]


@pytest.mark.parametrize("eol, gz, stray", CASES)
def test_noaa_blocks_of_any_size_read_the_same(tmp_path, monkeypatch, eol, gz, stray):
    path, text = _write(tmp_path, _noaa_lines(eol, stray), eol, gz, "box")
    whole = read_noaa(path, ["AIR_TEMP"]).frame
    assert list(whole["line"]) == _expected_lines(text)
    assert list(whole["AIR_TEMP"]) == pytest.approx([25.0 + 0.1 * k for k in range(12)])
    for size in SIZES:
        monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
        pd.testing.assert_frame_equal(read_noaa(path, ["AIR_TEMP"]).frame, whole)
        table = noaa.read_table(path)
        assert list(table["NAME"].iloc[7:8]) == [f"a two-line{eol}name"]


@pytest.mark.parametrize("eol, gz, stray", CASES)
def test_generic_blocks_of_any_size_read_the_same(tmp_path, monkeypatch, eol, gz, stray):
    path, text = _write(tmp_path, _sensor_lines(eol, stray), eol, gz, "s")
    whole = read_sensor_csv(path, features=["value"]).frame
    assert list(whole["line"]) == _expected_lines(text)
    assert list(whole["value"]) == list(range(12))
    for size in SIZES:
        monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
        pd.testing.assert_frame_equal(read_sensor_csv(path, features=["value"]).frame, whole)


def test_block_size_is_read_when_called(monkeypatch):
    """``record_blocks`` takes BLOCK_CHARS at call time (a patched value is used)."""
    text = "".join(f"{k},x\n" for k in range(100))
    monkeypatch.setattr(noaa, "BLOCK_CHARS", 16)
    blocks = list(record_blocks(io.StringIO(text)))
    assert len(blocks) > 10 and "".join(blocks) == text


def test_record_ends_agree_with_the_csv_module():
    text = 'a,"b\nc"\nd,e"f\n"g\nh",i\n,"j""\n"\nk,"l"m\n'
    expected = [k - 1 for k in _csv_ends(text)]
    newline = [i for i, ch in enumerate(text) if ch == "\n"]
    assert list(noaa.record_ends(text)) == [newline[k] for k in expected]


def _csv_ends(text):
    reader = csv.reader(io.StringIO(text, newline=""))
    return [reader.line_num for _ in reader]


def test_a_stray_quote_does_not_make_reading_quadratic(monkeypatch):
    """After a stray quote the carried text does not grow block after block: the characters
    scanned for boundaries stay within a small multiple of the text read."""
    text = 'a,5" gun\n' + "".join(f'{k},"x"\n' for k in range(3000))
    scanned = []
    real = noaa.record_ends
    monkeypatch.setattr(noaa, "record_ends", lambda t: scanned.append(len(t)) or real(t))
    blocks = list(record_blocks(io.StringIO(text), 64))
    assert "".join(blocks) == text and len(blocks) > 100
    assert sum(scanned) < 3 * len(text)


def test_a_long_record_is_read_in_doubling_reads(monkeypatch):
    """A record far longer than a read (a long quoted field) is scanned a bounded number of
    times, not once per read."""
    text = 'a,"' + "x\n" * 5000 + '"\nb,c\n'
    scanned = []
    real = noaa.record_ends
    monkeypatch.setattr(noaa, "record_ends", lambda t: scanned.append(len(t)) or real(t))
    assert "".join(record_blocks(io.StringIO(text), 7)) == text
    assert sum(scanned) < 5 * len(text)


def test_a_quote_that_never_closes_is_refused_in_one_line(tmp_path, monkeypatch):
    """Instead of reading the rest of the file into one record (memory): refused beyond
    MAX_RECORD_CHARS, naming the file and the line where the record starts."""
    monkeypatch.setattr(noaa, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(noaa, "BLOCK_CHARS", 64)
    path = tmp_path / "s.csv"
    path.write_text('timestamp,value\n2025-01-01,2\n2025-01-02,"open\n' + "2025-01-03,5\n" * 1000)
    with pytest.raises(SquallError, match=r"s\.csv: no end of record .* from line 3 "):
        read_sensor_csv(path)


def test_a_lone_carriage_return_ends_a_line_in_the_csv_fallback_too():
    """A lone \\r ends a line (and, outside quotes, a record) as for the csv module and pandas,
    also after a stray quote; inside quotes it is part of the field."""
    text = 'a,5" gun\nb,x\ry\nc,"d\re"\n'
    assert list(noaa.record_ends(text)) == [8, 12, 14, 22]
    assert _csv_ends(text) == [1, 2, 3, 5]  # the csv module's line_num: the \r counts a line


def test_lines_of_a_block_with_a_stray_quote_and_a_quoted_newline():
    block = '1,"a\nb"\n2,x"y\n3,"c\nd"\n4,e\n'
    np.testing.assert_array_equal(noaa.record_lines(block, 4), [0, 2, 3, 5])


def test_noaa_backticks_around_the_header_in_small_blocks(tmp_path, monkeypatch):
    """The shared sample's backtick lines before the header (and after the last report): a first
    block of junk only reads on to the header."""
    lines = _noaa_lines("\n", stray=True)
    path, text = _write(tmp_path, ["```", ""] + lines + ["```"], "\n", False, "box")
    whole = read_noaa(path, ["AIR_TEMP"]).frame
    assert list(whole["line"]) == [k + 2 for k in _expected_lines("\n".join(lines) + "\n")]
    for size in SIZES:
        monkeypatch.setattr(noaa, "BLOCK_CHARS", size)
        pd.testing.assert_frame_equal(read_noaa(path, ["AIR_TEMP"]).frame, whole)
