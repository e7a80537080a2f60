"""Reader for NOAA NCEI "Global Marine Observations" box CSVs (reformatted ICOADS reports).

Every rule of the data here comes from the ICOADS IMMA1 schema and code tables as summarised in
the project's ``shared/docs/noaa-global-marine.md``; the comment on each rule says which part.

The text rules, shared with the generic reader (:mod:`squall.data.sensor_csv`), are the same
wherever a record falls in the file (files are read a block at a time):

- Lines end with ``\n``, ``\r\n`` or a lone ``\r`` (old Mac files), one line each, as for the
  csv module and pandas. Every line number, in a message or a ``line`` column, is the file's
  (1-based), never one counted within a block.
- Before the header, blank lines, lines of junk (spaces, tabs, backticks) and a byte order mark
  are skipped; the header is one CSV record, quoted names may hold commas and line ends
  (:func:`read_header`).
- A record with fewer fields than the header has the others missing. Fields beyond the
  header's last column that hold no value (a trailing delimiter) are ignored; a record with a
  value beyond the last column is refused, naming its line (:func:`check_fields`).
- A record, and the text from the file's start to the end of its header, are at most
  :data:`MAX_RECORD_CHARS` characters: beyond (a quote that never closes, a file of blank
  lines) the file is refused after reading no more than that, in memory in proportion to it.
- ``now`` and ``today`` are not dates (pandas reads them as the clock's time):
  :func:`to_times`.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.observations import Observations, concat, expand_paths
from squall.errors import SquallError, SquallWarning

#: The six features of the original pipeline, the default.
DEFAULT_FEATURES = (
    "AIR_TEMP",
    "SEA_SURF_TEMP",
    "SEA_LVL_PRES",
    "WIND_SPEED",
    "WAVE_HGT",
    "WAVE_PERIOD",
)

#: Raw CSV integer -> physical unit: (factor, unit). IMMA1: temperatures and pressures in tenths,
#: wind speed always in 0.1 m/s (knot reports already converted), wave heights in 0.5 m units.
CONVERSIONS: dict[str, tuple[float, str]] = {
    "AIR_TEMP": (0.1, "degC"),
    "SEA_SURF_TEMP": (0.1, "degC"),
    "DEW_PT_TEMP": (0.1, "degC"),
    "WET_BULB_TEMP": (0.1, "degC"),
    "SEA_LVL_PRES": (0.1, "hPa"),
    "AMT_PRES_TEND": (0.1, "hPa"),
    "WIND_SPEED": (0.1, "m/s"),
    "WAVE_HGT": (0.5, "m"),
    "SWELL_HGT": (0.5, "m"),
    "WAVE_PERIOD": (1.0, "s"),
    "SWELL_PERIOD": (1.0, "s"),
    "WIND_DIR": (1.0, "deg"),
}

#: Derived features: the wind direction as a unit vector (a direction is not a scalar to scale).
DERIVED = {"WIND_DIR_SIN": "1", "WIND_DIR_COS": "1"}

#: Special codes that are not values. IMMA1: period 99 = not determinable; wind direction
#: 361 = calm, 362 = variable (neither is a direction).
SPECIAL_CODES: dict[str, tuple[int, ...]] = {
    "WAVE_PERIOD": (99,),
    "SWELL_PERIOD": (99,),
    "WIND_DIR": (361, 362),
}

#: Position of each feature's flag in the 14-character NCDC_QC_FLAGS string.
NCDC_FLAG_INDEX = {
    "position": 0,
    "WIND_SPEED": 1,
    "WIND_DIR": 1,
    "WIND_DIR_SIN": 1,
    "WIND_DIR_COS": 1,
    "VISIBILITY": 2,
    "SEA_LVL_PRES": 5,
    "AIR_TEMP": 6,
    "WET_BULB_TEMP": 7,
    "DEW_PT_TEMP": 8,
    "SEA_SURF_TEMP": 9,
    "WAVE_HGT": 11,
    "WAVE_PERIOD": 11,
    "SWELL_HGT": 12,
    "SWELL_PERIOD": 12,
    "AMT_PRES_TEND": 13,
}

#: Position of each feature's character in the 6-character TRIM_FLAG (SST, air temperature,
#: wind U, wind V, SLP, humidity; 1 = within 2.8 sigma of climatology, 2-7 increasingly far
#: outside, B/C limits missing, D landlocked, E unusable, F value missing). Wind speed takes U's.
TRIM_FLAG_INDEX = {
    "SEA_SURF_TEMP": 0,
    "AIR_TEMP": 1,
    "WIND_SPEED": 2,
    "WIND_DIR": 2,
    "WIND_DIR_SIN": 2,
    "WIND_DIR_COS": 2,
    "SEA_LVL_PRES": 4,
}

#: SOURCE_EXCLUSION_FLAG bits: a set bit excludes the value from ICOADS statistics.
EXCLUSION_BITS = {
    "SEA_SURF_TEMP": 16,
    "AIR_TEMP": 8,
    "WIND_SPEED": 4,
    "WIND_DIR": 4,
    "WIND_DIR_SIN": 4,
    "WIND_DIR_COS": 4,
    "SEA_LVL_PRES": 2,
}

#: Valid ranges of the IMMA1 encoding (physical units); a value outside cannot be a real report.
VALID_RANGE = {"SEA_LVL_PRES": (870.0, 1074.6)}

#: QC policies. "keep" (the default) removes nothing and keeps every flag beside its value: an
#: anomaly detector must not silently throw away the extreme values it exists to find, and a
#: NOAA flag is useful context in an anomaly report. "drop" applies ICOADS practice: a report
#: whose position flag is 7-9 is dropped, a value whose flag is 8 or 9 becomes missing.
QC_POLICIES = ("keep", "drop")

REQUIRED = ("STATION", "DATE")

#: Text read per block (a block always ends at a record boundary): the memory of a read is a
#: few blocks, whatever the size of the file.
BLOCK_CHARS = 2 << 20

#: Largest share of a file's data rows that may be dropped for a missing or unparseable DATE
#: before the file is refused: a few damaged rows are reported and skipped, more than 1 % means
#: the DATE column is not in the ISO 8601 form NOAA writes, and the windows left would be a
#: silently different data set.
MAX_BAD_DATE_SHARE = 0.01


def open_text(path: Path, strict: bool = False):
    """``path`` as text (gzip when it ends in .gz), newlines kept as written.

    NOAA files are decoded leniently (a damaged byte in a free-text column must not lose the
    report); ``strict`` (the generic reader) refuses bytes that are not UTF-8, since replacing
    them would merge tracks such as 'Zürich' and 'Zärich' written in another encoding."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        return opener(
            path, "rt", encoding="utf-8", errors="strict" if strict else "replace", newline=""
        )
    except OSError as exc:
        raise SquallError(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def read_errors(path: Path):
    """Turn a truncated or corrupt gzip stream, an unreadable file or a record that never ends
    (see :func:`record_blocks`) into one line naming it."""
    try:
        yield
    except csv.Error as exc:
        raise SquallError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SquallError(
            f"cannot read {path}: not UTF-8 text (byte {exc.object[exc.start]:#x} "
            f"of a block at offset {exc.start}); convert it to UTF-8"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SquallError(f"cannot read {path}: {what} (truncated or corrupt file?)") from exc


def count_lines(text: str) -> int:
    """Line ends in ``text``: ``\\n``, ``\\r\\n`` and a lone ``\\r`` count one each (the rule of
    the csv module, pandas and every line number squall reports)."""
    cr = text.count("\r")
    return text.count("\n") + (cr and cr - text.count("\r\n"))


def record_blocks(
    fh, size: int | None = None, *, head: str = "", first_line: int = 1
) -> Iterator[str]:
    """Text blocks of ``fh`` that each end at a record boundary (``size``: characters read at a
    time, default :data:`BLOCK_CHARS` as set when called).

    ``head`` is text already read from ``fh`` (it comes first; it starts at a record boundary)
    and ``first_line`` the file line it starts on, so that messages name file lines.
    Boundaries are the line ends outside quoted fields, as a CSV parser sees them (see
    :func:`record_ends`); a ``\\r`` that ends a read waits for the next one (it may be half of a
    ``\\r\\n``). A text without a boundary (a record longer than a read) is read on in doubling
    reads, so every character is scanned a bounded number of times (linear time). Records are
    limited to :data:`MAX_RECORD_CHARS` characters: the length is checked before reading on,
    so a quote that never closes is refused after at most that many characters are held
    (memory in proportion to the limit, not to the file). A quote still open at the end of the
    file is refused too, naming the line where its record starts.
    """
    size = BLOCK_CHARS if size is None else size
    limit = MAX_RECORD_CHARS
    carry, pending, line, want = "", "", first_line, size
    while True:
        chunk, head = head or fh.read(want), ""  # the text already read is the first read
        if not chunk:  # a short last line stays with its block
            if carry and not len(record_ends(carry + "\n")):  # read_errors adds the file's name
                raise csv.Error(
                    f"a quote opened in the record on line {line + count_lines(pending)} "
                    f"never closes"
                )
            if pending + carry:
                yield pending + carry
            return
        text = carry + chunk
        ends = record_ends(text)
        if len(ends) and ends[-1] == len(text) - 1 and text[-1] == "\r":
            ends = ends[:-1]  # the first half of a \r\n, or a lone \r: the next read says
        if not len(ends):
            if len(text) > limit:
                raise csv.Error(
                    f"no end of record within {limit:,} characters from line "
                    f"{line + count_lines(pending)} (a quote that never closes?)"
                )
            # read on, doubling (linear in the record), never past the limit (bounded memory)
            carry, want = text, min(max(size, len(text)), limit + 1 - len(text))
            continue
        cut = int(ends[-1])
        if pending:
            line += count_lines(pending)
            yield pending
        pending, carry, want = text[: cut + 1], text[cut + 1 :], size


#: Longest record :func:`record_blocks` reads on for before refusing the file; also the most
#: text :func:`read_header` reads looking for the header (junk before it and the header).
MAX_RECORD_CHARS = 64 << 20

_QUOTE, _NEWLINE, _CR, _COMMA = ord('"'), ord("\n"), ord("\r"), ord(",")


def _codes(text: str) -> np.ndarray:
    """The code points of ``text``, one uint32 each."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _line_end_positions(codes: np.ndarray) -> np.ndarray:
    """Index of the last character of each line end in ``codes``: every ``\\n``, and every
    ``\\r`` not followed by a ``\\n`` (a ``\\r`` at the very end counts; see
    :func:`record_blocks` for a read that ends in one)."""
    ends = codes == _NEWLINE
    cr = codes == _CR
    ends[:-1] |= cr[:-1] & ~ends[1:]
    ends[-1:] |= cr[-1:]
    return np.flatnonzero(ends)


def _quotes_pair_up(codes: np.ndarray, quotes: np.ndarray) -> bool:
    """Whether every quote with an even count before it stands at a field start (after a
    comma, a line end or the start, or right after the previous quote: ``""``), so that the
    quotes pair up and a character is inside a quoted field exactly when an odd number of
    ``"`` comes before it."""
    opens = quotes[0::2]
    before = codes[np.maximum(opens - 1, 0)]
    ok = (opens == 0) | (before == _COMMA) | (before == _NEWLINE) | (before == _CR)
    ok[1:] |= opens[1:] - 1 == quotes[1::2][: len(opens) - 1]
    return bool(ok.all())


def record_ends(text: str) -> np.ndarray:
    """Positions (character indices) of the line ends of ``text`` that end a record (the
    ``\\n`` of a ``\\r\\n``; a lone ``\\r`` ends a line, as for the csv module and pandas).

    ``text`` starts at a record boundary. The CSV rule (Python's csv module and pandas): a ``"``
    opens a quoted field only at the start of a field, ``""`` inside quotes is an escaped quote,
    and a ``"`` elsewhere (inside an unquoted field, which RFC 4180 does not allow but real files
    have) is a plain character. Fast path (:func:`_quotes_pair_up`): a line end ends a record
    exactly when an even number of ``"`` comes before it. Otherwise (a stray quote) the csv
    module reads the text for its ``line_num`` (see :func:`_csv_record_ends`).
    """
    codes = _codes(text)
    quotes = np.flatnonzero(codes == _QUOTE)
    line_ends = _line_end_positions(codes)
    if _quotes_pair_up(codes, quotes):
        return line_ends[np.searchsorted(quotes, line_ends) % 2 == 0]
    return line_ends[_csv_record_ends(text, len(line_ends))]


def _lines_of(text: str) -> list[str]:
    """``text`` cut after each line end (``\\n``, ``\\r\\n``, lone ``\\r``), the ends kept."""
    pieces = re.split(r"(?<=\n)|(?<=\r)(?!\n)", text)
    return pieces if pieces[-1] else pieces[:-1]


@contextlib.contextmanager
def _long_fields(longest: int):
    """Let the csv module read fields up to ``longest`` characters (restored after)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, longest + 1))
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _csv_records(text: str) -> Iterator[tuple[list[str], int]]:
    """The records of ``text`` as the csv module reads them, each with the number of lines
    read so far (its ``line_num``). A sentinel empty line ends the text, so a last record
    without a line end is read too (one still in a quote absorbs the sentinel)."""
    reader = csv.reader(iter([*_lines_of(text), "\n"]), strict=False)
    with _long_fields(len(text)):  # a quoted field may be long
        try:
            for record in reader:
                yield record, reader.line_num
        except csv.Error as exc:  # read_errors adds the file's name
            raise csv.Error(f"malformed CSV ({exc})") from exc


def _csv_record_ends(text: str, line_ends: int) -> np.ndarray:
    """Indices (among the ``line_ends`` line ends of ``text``) of those ending a record, as the
    csv module reads it: after each record, its ``line_num`` says how many lines it took. A
    record still open at the end of the text has no end."""
    ends = [n - 1 for _, n in _csv_records(text) if n <= line_ends]
    return np.asarray(ends, dtype=np.int64)


def record_lines(block: str, records: int) -> np.ndarray:
    """0-based line, within ``block``, on which each of its ``records`` records starts.

    Records end at the line ends of :func:`record_ends`; a quoted field holding line ends makes
    its record span several lines, and every later record starts that much further down. A
    block with as many lines as records (the common case) costs a few ``str.count``.
    """
    lines = count_lines(block) + (not block.endswith(("\n", "\r")))
    if lines <= records:
        return np.arange(records, dtype=np.int64)
    ends = record_ends(block)
    line_ends = _line_end_positions(_codes(block)) if len(ends) else ends
    boundary = np.searchsorted(line_ends, ends)  # line index of each record's last line end
    starts = np.concatenate([[0], boundary + 1])[:records]
    if len(starts) < records:  # the parser saw more records than boundaries
        starts = np.concatenate([starts, starts[-1] + 1 + np.arange(records - len(starts))])
    return starts.astype(np.int64)


#: Junk around a header (the shared sample has backticks before it), skipped with the blank
#: lines before it, and a byte order mark.
_JUNK = " \t`\ufeff"


def read_header(fh, path: Path, size: int | None = None) -> tuple[list[str], str, int, int]:
    """Read ``fh`` up to the end of its header record.

    Returns the column names, the text read past the header (the start of the body, for
    :func:`record_blocks`), the header's 1-based line and the line the body starts on.

    Rules: blank lines, lines of junk only (spaces, tabs, backticks) and a byte order mark
    before the header are skipped, and junk before the header's first name and after its last
    is stripped (the shared sample starts ```` ```"STATION" ````); the header is one CSV record
    (quoted names may hold commas and line ends), its names stripped of blanks. The text before
    the header's end is at most :data:`MAX_RECORD_CHARS` characters, else the file is refused.
    One pass: the junk is looked at once a character and not kept (memory of one read), the
    header is read in doubling reads like any record.
    """
    size = BLOCK_CHARS if size is None else size
    limit = MAX_RECORD_CHARS
    skipped, lines, last = 0, 0, ""  # junk read so far, its line ends, its last character
    while True:
        chunk = fh.read(size)
        if not chunk:
            raise SquallError(f"{path} is empty (no header line)")
        junk = len(chunk) - len(chunk.lstrip(_JUNK + "\r\n"))
        lines += count_lines(chunk[:junk]) - (last == "\r" and chunk[0] == "\n")
        skipped += junk
        if junk < len(chunk):
            text = chunk[junk:]
            break
        if skipped > limit:
            raise SquallError(
                f"{path}: no header within the first {limit:,} characters (only blank or "
                f"junk lines)"
            )
        last = chunk[-1]
    header_line = lines + 1
    eof = False
    while True:  # the header record: read on in doubling reads until it ends
        ends = record_ends(text)
        if len(ends) and not (ends[0] == len(text) - 1 and text[-1] == "\r" and not eof):
            end = int(ends[0]) + 1
            break
        if eof:
            end = len(text)
            break
        if skipped + len(text) > limit:
            raise SquallError(
                f"{path}: the header on line {header_line} does not end within {limit:,} "
                f"characters of the file's start (a quote that never closes?)"
            )
        chunk = fh.read(min(max(size, len(text)), limit + 1 - skipped - len(text)))
        eof = not chunk
        text += chunk
    header = text[:end].rstrip("\r\n").rstrip(_JUNK)
    with _long_fields(len(header)):
        try:
            names = next(csv.reader([header], strict=False), [])
        except csv.Error as exc:
            raise SquallError(f"{path}: malformed header on line {header_line} ({exc})") from exc
    names = [n.strip() for n in names]
    return names, text[end:], header_line, header_line + count_lines(text[:end])


def header_names(path: Path) -> list[str]:
    """Column names of a file (to tell NOAA files from others; see :func:`read_header`)."""
    with open_text(path) as fh, read_errors(path):
        return read_header(fh, path, 1 << 16)[0]


def iter_table(
    path: Path, columns: Iterable[str] | None = None
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """A NOAA box file as blocks of text columns (missing = NaN), read a block at a time.

    ``columns``: the columns wanted (those the file has are read; all when None). Yields each
    block's frame, indexed by 0-based data row (blank lines keep their place in the numbering),
    with the 1-based file line on which each record starts, right also when quoted fields span
    lines. Blank lines and trailing junk (e.g. closing backticks) are dropped: they have no
    DATE and no value besides STATION. The header: :func:`read_header`; field counts:
    :func:`check_fields`. Memory: a few blocks, whatever the file's size.
    """
    with open_text(path) as fh, read_errors(path):
        names, body, _, line = read_header(fh, path)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise SquallError(
                f"{path} is not a NOAA Global Marine CSV: no "
                f"{', '.join(missing)} column (header starts "
                f"{column_list(names[:5])})"
            )
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SquallError(
                f"{path}: column {column_list(twice)} appears more than once in the header"
            )
        usecols = None if columns is None else [n for n in names if n in set(columns)]
        row = 0
        empty = True
        for block in record_blocks(fh, head=body, first_line=line):
            frame = _parse_block(block, names, usecols, path, line)
            lines = line + record_lines(block, len(frame))
            frame.index = pd.RangeIndex(row, row + len(frame))
            row += len(frame)
            junk = _junk(frame, block, names, usecols, path, line)
            line += count_lines(block)
            if junk.any():
                frame, lines = frame[~junk], lines[~junk]
            empty = False
            yield frame, lines
        if empty:  # a header without records: one empty block, with the columns
            yield pd.DataFrame(columns=usecols or names, dtype=object), np.zeros(0, np.int64)


def _junk(
    frame: pd.DataFrame,
    block: str,
    names: list[str],
    usecols: list[str] | None,
    path: Path,
    first_line: int,
) -> np.ndarray:
    """Rows of ``frame`` (a block read with ``usecols``) that are empty besides STATION in the
    whole file row (blank lines, trailing junk such as closing backticks). A row with data but
    no DATE is not junk: it is a report with a date fault. When only some columns were read,
    the candidates are checked against the block read with every column (rare: a block that
    has candidates)."""
    junk = (frame["DATE"].isna() & frame.drop(columns=["STATION"]).isna().all(axis=1)).to_numpy(
        dtype=bool, copy=True
    )
    if junk.any() and usecols is not None and len(usecols) < len(names):
        full = _parse_block(block, names, None, path, first_line)
        junk &= full.drop(columns=["STATION"]).isna().all(axis=1).to_numpy()
    return junk


def column_list(names: Iterable[str]) -> str:
    """Column names for a one-line message: a name with a newline or other control character
    (a quoted header can hold one) is shown as its repr."""
    return ", ".join(n if str(n).isprintable() else repr(n) for n in names)


def nonempty_blocks(*parts: Iterable[str]) -> Iterator[str]:
    """The blocks of ``parts`` in turn, leaving out empty ones (a header without a body)."""
    for part in parts:
        yield from (block for block in part if block)


#: Characters of a field beyond the header's that holds no value (see :func:`check_fields`).
_NO_VALUE = ' \t"\r\n'
_NO_VALUE_CODES = [ord(c) for c in _NO_VALUE + ","]


def check_fields(block: str, width: int, path: Path, first_line: int) -> int:
    """The most fields a record of ``block`` has, at least ``width`` (the header's): the parser
    is given that many names, so every record is read the same wherever it falls in the file.

    Rule: fields beyond the header's last column that hold no value (nothing, blanks or quotes
    only: a trailing delimiter, as some exports write on every line) are ignored; a record with
    a value beyond the header's last column is refused, naming its file line (``block`` starts
    on line ``first_line``): its values cannot be matched to columns, since an unquoted comma
    in one field moves every later value. Records are those of :func:`record_ends` (fast path:
    only the records with at least ``width`` commas, quoted or not, are looked at closely);
    with a stray quote the csv module reads the block.
    """
    codes = _codes(block)
    commas = np.flatnonzero(codes == _COMMA)
    if len(commas) < width:  # no record can have more than `width` fields
        return width
    quotes = np.flatnonzero(codes == _QUOTE)
    if not _quotes_pair_up(codes, quotes):
        return _check_fields_csv(block, width, path, first_line)
    line_ends = _line_end_positions(codes)
    ends = line_ends[np.searchsorted(quotes, line_ends) % 2 == 0]
    starts = np.concatenate([[0], ends + 1])
    starts = starts[starts < len(codes)]
    bounds = np.searchsorted(commas, np.append(starts, len(codes)))
    maybe = np.diff(bounds) >= width  # records with `width` commas or more, quoted ones too
    if not maybe.any():
        return width
    record = np.searchsorted(ends, commas)  # the record of each comma (non-decreasing)
    commas, record = commas[maybe[record]], record[maybe[record]]
    outside = np.searchsorted(quotes, commas) % 2 == 0
    commas, record = commas[outside], record[outside]
    fields = np.bincount(record, minlength=len(starts)) + 1
    long = np.flatnonzero(fields > width)
    if not len(long):
        return width
    extra = commas[np.searchsorted(record, long) + width - 1] + 1  # first character beyond
    stop = np.append(ends, len(codes))[long]
    valued = np.concatenate([[0], np.cumsum(~np.isin(codes, _NO_VALUE_CODES), dtype=np.int64)])
    bad = long[valued[stop] - valued[extra] > 0]
    if len(bad):
        r = int(bad[0])
        line = first_line + (int(np.searchsorted(line_ends, ends[r - 1])) + 1 if r else 0)
        raise _too_many_fields(path, line, int(fields[r]), width)
    return int(fields.max())


def _check_fields_csv(block: str, width: int, path: Path, first_line: int) -> int:
    """:func:`check_fields` by the csv module (a block with a stray quote)."""
    most, lines = width, 0
    for record, line_num in _csv_records(block):
        if len(record) > width:
            if any(f.strip(_NO_VALUE) for f in record[width:]):
                raise _too_many_fields(path, first_line + lines, len(record), width)
            most = max(most, len(record))
        lines = line_num
    return most


def _too_many_fields(path: Path, line: int, fields: int, width: int) -> SquallError:
    return SquallError(
        f"{path}: line {line} has {fields} fields, the header {width}: a value beyond the "
        f"last column (an unquoted comma?); quote the field or remove the value"
    )


def padded_names(names: list[str], width: int) -> list[str]:
    """``names`` and placeholder names up to ``width`` (for fields beyond the header's)."""
    return names + [f"\x00beyond {k}" for k in range(width - len(names))]


def parse_error(path: Path, block: str, first_line: int, exc: Exception) -> SquallError:
    """A pandas error reading ``block`` (from file line ``first_line``) as one line naming the
    block's file lines: pandas counts lines within the block, so its own number is left out."""
    what = re.sub(r",? (?:in|at|starting at) (?:line|row) \d+", "", str(exc).splitlines()[0])
    last = first_line + max(count_lines(block) - block.endswith(("\n", "\r")), 0)
    return SquallError(f"{path}: malformed CSV in lines {first_line}-{last} ({what})")


def _parse_block(
    block: str, names: list[str], usecols: list[str] | None, path: Path, first_line: int
) -> pd.DataFrame:
    """``block`` (records from file line ``first_line`` on) as text columns, only ``usecols``
    when given. Fields beyond the header's: :func:`check_fields`."""
    if not block.strip():  # blank lines only: pandas would see no columns at all
        return pd.DataFrame(
            np.nan, index=range(count_lines(block)), columns=usecols or names, dtype=object
        )
    width = check_fields(block, len(names), path, first_line)
    options = dict(
        header=None,
        names=padded_names(names, width),
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        index_col=False,
        skip_blank_lines=False,
    )
    try:
        # index_col=False: a trailing comma on every line must not turn STATION into the index;
        # skip_blank_lines=False keeps a blank line's place in the data row numbering.
        try:
            frame = pd.read_csv(as_bytes(block), usecols=usecols, **options)
        except ValueError:  # pandas refuses usecols when every line is shorter than the header
            if usecols is None:
                raise
            return pd.read_csv(as_bytes(block), **options)[usecols]
    except (pd.errors.ParserError, ValueError) as exc:
        raise parse_error(path, block, first_line, exc) from exc
    return frame if usecols is not None else frame.iloc[:, : len(names)]


def collect(blocks: Iterable[tuple[pd.DataFrame, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray]:
    """The blocks of :func:`iter_table` (or of the generic reader; at least one, possibly
    empty) as one frame and its lines."""
    parts = list(blocks)
    frame = pd.concat([f for f, _ in parts]) if len(parts) > 1 else parts[0][0]
    return frame, np.concatenate([lines for _, lines in parts])


def as_bytes(block: str) -> io.BytesIO:
    """``block`` for pandas as UTF-8 bytes: a StringIO would hold four bytes per character."""
    return io.BytesIO(block.encode("utf-8", "replace"))


def read_table(path: Path) -> pd.DataFrame:
    """One NOAA box file as text columns, every column (for small files and tracing back),
    indexed by 0-based data row (see :func:`iter_table`)."""
    return collect(iter_table(path))[0]


def _numeric(column: pd.Series, name: str, path: Path, lines: np.ndarray) -> pd.Series:
    """A text column as numbers; a value that is not a finite number is refused, naming its
    data row and file line (``lines``: the line of each row)."""
    values = pd.to_numeric(column, errors="coerce").astype(np.float64)
    bad = (column.notna() & values.isna()) | np.isinf(values)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise SquallError(
            f"{path}: column {name} has a non-numeric or infinite value "
            f"{column.iloc[first]!r} at data row {column.index[first]} (line {lines[first]})"
        )
    return values


def _flag_column(flags: pd.Series | None, index: int, n: int) -> np.ndarray:
    if flags is None:
        return np.full(n, "", dtype=object)
    return flags.fillna("").str.slice(index, index + 1).to_numpy(dtype=object)


def _convert(
    raw: pd.DataFrame, lines: np.ndarray, features: Sequence[str], path: Path, keep_codes: bool
) -> dict:
    out: dict[str, np.ndarray] = {}
    for name in features:
        if name in DERIVED:
            continue
        if name not in raw.columns:
            raise SquallError(
                f"{path}: no column {name} (features must be NOAA column names, "
                f"e.g. {', '.join(DEFAULT_FEATURES)})"
            )
        values = _numeric(raw[name], name, path, lines)
        if not keep_codes:
            for code in SPECIAL_CODES.get(name, ()):
                values[values == code] = np.nan
        factor = CONVERSIONS.get(name, (1.0, ""))[0]
        physical = values.to_numpy() * factor
        if name in VALID_RANGE and not keep_codes:
            lo, hi = VALID_RANGE[name]
            physical[(physical < lo) | (physical > hi)] = np.nan
        out[name] = physical
    if any(f in DERIVED for f in features):
        if "WIND_DIR" not in raw.columns:
            raise SquallError(f"{path}: no WIND_DIR column to derive WIND_DIR_SIN/COS from")
        direction = _numeric(raw["WIND_DIR"], "WIND_DIR", path, lines).to_numpy()
        rad = np.deg2rad(direction)
        sin, cos = np.sin(rad), np.cos(rad)
        calm = direction == 361  # calm: the wind vector is zero (ICOADS u/v practice)
        sin[calm], cos[calm] = 0.0, 0.0
        bad = ~((direction >= 1) & (direction <= 360)) & ~calm  # 362 variable, or missing
        sin[bad], cos[bad] = np.nan, np.nan
        out["WIND_DIR_SIN"], out["WIND_DIR_COS"] = sin, cos
    return out


#: Columns read besides the features (everything else in a box file is never looked at).
READ_COLUMNS = (
    "STATION",
    "DATE",
    "LATITUDE",
    "LONGITUDE",
    "NCDC_QC_FLAGS",
    "TRIM_FLAG",
    "SOURCE_EXCLUSION_FLAG",
    "PLATFORM_ID",
    "DUP_STATUS",
    "WIND_DIR",
)

#: Reasons a report is dropped for a fault of the file (warned about, refused above
#: :data:`MAX_BAD_DATE_SHARE`), as opposed to NOAA practice (duplicates, ``qc="drop"``).
DATE_FAULTS = ("no DATE", "unparseable DATE")


#: Words pandas reads as the clock's time whatever the format: never a time of the data.
CLOCK_WORDS = ("now", "today")


def to_times(text: pd.Series, fmt: str) -> pd.Series:
    """``text`` read with ``fmt`` (``"ISO8601"`` or a strftime format) as UTC, tz-aware; NaT
    where a value does not parse, and for :data:`CLOCK_WORDS` (pandas reads ``now`` and
    ``today`` as the time of the run, which would put a report at the moment it is read).
    Errors in ``fmt`` itself are the caller's to report."""
    times = pd.to_datetime(text, errors="coerce", format=fmt, utc=True)
    clock = text.isin(CLOCK_WORDS).to_numpy()
    if clock.any():
        times = times.mask(clock)
    return times


def parse_dates(text: pd.Series) -> pd.Series:
    """ISO 8601 DATE values as UTC, tz-naive (NaT where unparseable, see :func:`to_times`).

    Rule: a value without an offset is UTC (NOAA writes UTC without one); a value with an offset
    (``+07:00``, ``Z``) is converted to UTC, so a column mixing both is one time line.
    """
    return to_times(text, "ISO8601").dt.tz_localize(None)


def read_noaa(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    features: Sequence[str] = DEFAULT_FEATURES,
    *,
    qc: str = "keep",
    keep_codes: bool = False,
) -> Observations:
    """Read NOAA Global Marine box CSVs into physical-unit Observations.

    Parameters
    ----------
    paths
        A file, a glob, or several of either.
    features
        NOAA column names to convert (plus ``WIND_DIR_SIN``/``WIND_DIR_COS``).
    qc
        ``"keep"`` (default): nothing is removed for its QC flags, which are kept in
        ``flag_<FEATURE>`` columns. ``"drop"``: ICOADS practice, reports with a position flag
        of 7-9 are dropped and values flagged 8-9 become missing.
    keep_codes
        Keep special codes (wave period 99, wind direction 361/362) as if they were values.
        Only for reproducing the original pipeline, which did so; never the right choice otherwise.

    Returns
    -------
    Observations
        Reports in file order; worse duplicates (``DUP_STATUS > 2``) removed and counted.

    Notes
    -----
    Dates: see :func:`parse_dates`. Reports without a DATE or with one that does not parse are
    dropped with one ``SquallWarning`` per reason (count and first example); a file where they
    are more than :data:`MAX_BAD_DATE_SHARE` of the data rows, or all of them, is refused.
    Files are read a block at a time, only the columns used, and converted at once to numbers
    and flag characters, so memory grows with the reports kept, not with the text.
    """
    if qc not in QC_POLICIES:
        raise SquallError(f"qc must be one of {', '.join(QC_POLICIES)}, got {qc!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    features = list(features)
    if not features:
        raise SquallError("no features given")
    wanted = set(READ_COLUMNS) | set(features)
    parts = []
    dropped = {
        "duplicate (DUP_STATUS > 2)": 0,
        "no DATE": 0,
        "bad position flag": 0,
        "unparseable DATE": 0,
    }
    for source, path in enumerate(files):
        faults = DateFaults(path)
        for raw, lines in iter_table(path, wanted):
            frame, counts = _reports(raw, lines, source, features, path, qc, keep_codes, faults)
            parts.append(frame)
            for reason, n in counts.items():
                dropped[reason] += n
        faults.check()
    frame = concat(parts, features).reset_index(drop=True)
    frame["track"] = _shared_strings(frame["track"])
    units = {f: DERIVED.get(f) or CONVERSIONS.get(f, (1.0, ""))[1] for f in features}
    return Observations(
        frame, features, units, [str(p) for p in files], {k: v for k, v in dropped.items() if v}
    )


class DateFaults:
    """Rows of one file dropped for a missing or unparseable DATE: counts, first example, and
    the rule (warn below :data:`MAX_BAD_DATE_SHARE` of the data rows, refuse above or when no
    row is left)."""

    def __init__(self, path: Path):
        self.path, self.rows = path, 0
        self.count: dict[str, int] = {}
        self.example: dict[str, tuple[int, object]] = {}

    def add(self, reason: str, bad: np.ndarray, raw: pd.DataFrame, lines: np.ndarray) -> None:
        n = int(bad.sum())
        if n:
            self.count[reason] = self.count.get(reason, 0) + n
            k = int(np.flatnonzero(bad)[0])
            self.example.setdefault(reason, (int(lines[k]), raw["DATE"].iloc[k]))

    def check(self) -> None:
        total = sum(self.count.values())
        if not total:
            return
        lines = "; ".join(
            f"{n} {reason} (first on line {self.example[reason][0]}: "
            f"{_date_text(self.example[reason][1])})"
            for reason, n in self.count.items()
        )
        if total >= self.rows:
            raise SquallError(
                f"{self.path}: no report has a readable DATE ({lines}); NOAA "
                f"writes ISO 8601 such as 2025-03-01T06:00:00"
            )
        if total > MAX_BAD_DATE_SHARE * self.rows:
            raise SquallError(
                f"{self.path}: {total} of {self.rows} data rows "
                f"({total / self.rows:.1%}) have no readable DATE, more than "
                f"the {MAX_BAD_DATE_SHARE:.0%} allowed ({lines})"
            )
        for reason, n in self.count.items():
            line, value = self.example[reason]
            warnings.warn(
                f"{self.path}: dropped {n} of {self.rows} rows with {reason} (first "
                f"on line {line}: {_date_text(value)})",
                SquallWarning,
                stacklevel=4,
            )


def _date_text(value: object) -> str:
    """A DATE value for a message: ``empty DATE`` when missing, else ``DATE '...'``."""
    return "empty DATE" if not isinstance(value, str) else f"DATE {value!r}"


def _reports(
    raw: pd.DataFrame,
    lines: np.ndarray,
    source: int,
    features: list[str],
    path: Path,
    qc: str,
    keep_codes: bool,
    faults: DateFaults,
) -> tuple[pd.DataFrame, dict]:
    """One block of text rows -> the reports kept (numbers, flag characters) and drop counts."""
    n = len(raw)
    faults.rows += n
    frame = pd.DataFrame(
        {
            "source": np.full(n, source, dtype=np.int32),
            "row": raw.index.to_numpy(dtype=np.int64),
            "line": lines,
            "track": raw["STATION"].fillna("").to_numpy(dtype=object),
            "time": parse_dates(raw["DATE"]).to_numpy(),
        }
    )
    for col, name in (("lat", "LATITUDE"), ("lon", "LONGITUDE")):
        frame[col] = (
            _numeric(raw[name], name, path, lines).to_numpy() if name in raw.columns else np.nan
        )
    for name, values in _convert(raw, lines, features, path, keep_codes).items():
        frame[name] = values
    flags = raw["NCDC_QC_FLAGS"] if "NCDC_QC_FLAGS" in raw.columns else None
    trim = raw["TRIM_FLAG"] if "TRIM_FLAG" in raw.columns else None
    excl = (
        _numeric(raw["SOURCE_EXCLUSION_FLAG"], "SOURCE_EXCLUSION_FLAG", path, lines)
        .fillna(0)
        .to_numpy()
        .astype(np.int64)
        if "SOURCE_EXCLUSION_FLAG" in raw.columns
        else np.zeros(n, np.int64)
    )
    for name in features:
        frame[f"flag_{name}"] = _flag_column(flags, NCDC_FLAG_INDEX.get(name, 99), n)
        frame[f"trim_{name}"] = _flag_column(trim, TRIM_FLAG_INDEX.get(name, 99), n)
        frame[f"excluded_{name}"] = (excl & EXCLUSION_BITS.get(name, 0)) > 0
    if "PLATFORM_ID" in raw.columns:
        frame["platform"] = _shared_strings(raw["PLATFORM_ID"].fillna(""))

    counts = dict.fromkeys(("duplicate (DUP_STATUS > 2)", *DATE_FAULTS, "bad position flag"), 0)
    keep = np.ones(n, dtype=bool)
    if "DUP_STATUS" in raw.columns:  # 0 unique, 1-2 best duplicate, 3-13 worse, 14 rejected
        worse = _numeric(raw["DUP_STATUS"], "DUP_STATUS", path, lines).to_numpy() > 2
        counts["duplicate (DUP_STATUS > 2)"] += int(worse.sum())
        keep &= ~worse
    no_date = raw["DATE"].isna().to_numpy()
    bad_date = frame["time"].isna().to_numpy() & ~no_date
    for reason, bad in zip(DATE_FAULTS, (no_date & keep, bad_date & keep), strict=True):
        counts[reason] += int(bad.sum())
        faults.add(reason, bad, raw, lines)
    keep &= ~no_date & ~bad_date
    if qc == "drop":
        bad_pos = np.isin(_flag_column(flags, 0, n), ["7", "8", "9"])
        counts["bad position flag"] += int((bad_pos & keep).sum())
        keep &= ~bad_pos
        for name in features:
            erroneous = np.isin(frame[f"flag_{name}"].to_numpy(), ["8", "9"])
            frame.loc[erroneous, name] = np.nan
    return frame[keep], counts


def _shared_strings(column: pd.Series) -> np.ndarray:
    """The same text values as an object array whose equal strings are one object (a station
    id repeated in a million reports is stored once, not a million times)."""
    codes, uniques = pd.factorize(column)
    out = (
        np.asarray(uniques, dtype=object)[codes]
        if len(uniques)
        else np.full(len(codes), "", dtype=object)
    )
    return out


def original_columns(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Every original column of one file, as text, indexed by data row (for tracing back)."""
    return read_table(Path(path))
