"""Reader for any sensor table: a time column, numeric feature columns, optionally a track column.

``timestamp,value`` files such as the Numenta Anomaly Benchmark's are the simplest case: each file
without a track column becomes one track named after the file.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.noaa import (
    CLOCK_WORDS,
    as_bytes,
    check_fields,
    collect,
    column_list,
    count_lines,
    nonempty_blocks,
    open_text,
    padded_names,
    parse_error,
    read_errors,
    record_blocks,
    record_ends,
    record_lines,
    to_times,
)
from squall.data.observations import BASE_COLUMNS, Observations, concat, expand_paths
from squall.errors import NAME, ParameterError, SquallError, mark

#: Strings read as a missing value.
NA_VALUES = ["", "nan", "NaN", "NA"]

#: Candidate formats tried, in order, when a time column is not ISO 8601: (day-first,
#: month-first) pairs. A column is read with the one format that parses every value.
DAY_FIRST = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
MONTH_FIRST = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m.%d.%Y %H:%M:%S",
    "%m.%d.%Y %H:%M",
    "%m.%d.%Y",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",
)


def iter_raw(path: Path) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """A CSV as blocks of text columns, each indexed by 0-based data row, with the 1-based line
    on which each record starts (right across quoted fields that span lines; ``\n``, ``\r\n``
    and a lone ``\r`` each end a line). Blank lines are dropped but keep their place in the
    numbering, also before the header. A record with a value beyond the header's last column
    is refused, wherever it is (see :func:`squall.data.noaa.check_fields`). Also used to trace
    rows back."""
    with open_text(path, strict=True) as fh, read_errors(path):
        blocks = record_blocks(fh)
        first, skipped = next(blocks, "").lstrip("\ufeff"), 0
        while True:  # blank lines before the header are skipped (their lines still count)
            blank = _BLANK_LINES.match(first)
            cut = blank.end() if blank else 0
            skipped += count_lines(first[:cut])
            first = first[cut:]
            if first:
                break
            first = next(blocks, "")
            if not first:
                break
        end = _header_end(first)
        try:
            names = list(pd.read_csv(io.StringIO(first[:end]), nrows=0, dtype=str).columns)
        except pd.errors.EmptyDataError as exc:
            raise SquallError(f"{path} is empty") from exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise SquallError(f"{path}: malformed CSV ({str(exc).splitlines()[0]})") from exc
        names = [str(c).strip() for c in names]
        row, line, empty = 0, 1 + skipped + count_lines(first[:end]), True
        for block in nonempty_blocks([first[end:]], blocks):
            frame = _parse(block, names, path, line)
            lines = line + record_lines(block, len(frame))
            frame.index = pd.RangeIndex(row, row + len(frame))
            row, line = row + len(frame), line + count_lines(block)
            seen = frame.notna().any(axis=1).to_numpy()
            empty = False
            yield frame[seen], lines[seen]
        if empty:
            yield pd.DataFrame(columns=names, dtype=object), np.zeros(0, dtype=np.int64)


#: Whole lines of blanks only at the start of a text (before a generic CSV's header).
_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))+")


def _header_end(text: str) -> int:
    """Index just after the header record (its first newline outside quotes, as a CSV parser
    sees it: see :func:`squall.data.noaa.record_ends`)."""
    ends = record_ends(text)
    return int(ends[0]) + 1 if len(ends) else len(text)


def _parse(block: str, names: list[str], path: Path, first_line: int) -> pd.DataFrame:
    """``block`` (records from file line ``first_line`` on) as text columns ``names``."""
    if not block.strip():
        return pd.DataFrame(np.nan, index=range(count_lines(block)), columns=names, dtype=object)
    width = check_fields(block, len(names), path, first_line)
    try:
        frame = pd.read_csv(
            as_bytes(block),
            header=None,
            names=padded_names(names, width),
            dtype=str,
            keep_default_na=False,
            index_col=False,
            na_values=NA_VALUES,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise parse_error(path, block, first_line, exc) from exc
    return frame.iloc[:, : len(names)]


def read_raw(path) -> pd.DataFrame:
    """A CSV as text columns, indexed by 0-based data row (see :func:`iter_raw`)."""
    return collect(iter_raw(Path(path)))[0]


def infer_time_format(
    values: pd.Series, *, time_format: str | None = None, dayfirst: bool = False, where: str = ""
) -> str:
    """The one format every value of a time column is read with.

    Rules: the caller's ``time_format`` when given; else ISO 8601 (``2014-04-13 10:00``, with or
    without ``T``, fractions and offsets) when it parses every value; else the day-first and
    month-first candidates (:data:`DAY_FIRST`, :data:`MONTH_FIRST`) that parse every value. A
    column both parse (every day <= 12, e.g. ``01/04/2014``) is ambiguous and refused unless
    ``dayfirst=True`` picks day-first; ``format="mixed"`` is never used, because it decides per
    value and turns 13/04 into April and 12/04 into December without a word. Numbers (epoch
    seconds or milliseconds?) are refused: the unit cannot be told from the values.
    """
    if time_format:
        return time_format
    values = values[~values.isin(CLOCK_WORDS)]  # no evidence of a format: refused when parsed
    if len(values) == 0 or _parses(values, "ISO8601"):
        return "ISO8601"
    sample = repr(values.iloc[0])
    if pd.to_numeric(values, errors="coerce").notna().all():
        raise ParameterError(
            "time_format",
            f"{where}time column holds numbers ({sample}): epoch seconds and "
            f"milliseconds cannot be told apart; write times as ISO 8601 or give "
            f"{NAME}",
        )
    day = next((f for f in DAY_FIRST if _parses(values, f)), None)
    month = next((f for f in MONTH_FIRST if _parses(values, f)), None)
    if day and month and not dayfirst:
        raise ParameterError(
            "time_format",
            f"{where}time column is ambiguous ({sample} reads as {day} and as "
            f"{month}); read it day first ({mark('dayfirst')}) or give {NAME}",
        )
    if day and (dayfirst or not month):
        return day
    if month:
        return month
    if to_times(values, "ISO8601").notna().any():
        return "ISO8601"  # some values are ISO 8601: the caller names the first bad one
    raise ParameterError(
        "time_format",
        f"{where}cannot find one format for the time column ({sample}); give "
        f"{NAME} (e.g. %d/%m/%Y %H:%M)",
    )


def _parses(values: pd.Series, fmt: str) -> bool:
    try:
        return bool(to_times(values, fmt).notna().all())
    except (ValueError, TypeError, OverflowError):
        return False


def parse_times(values: pd.Series, fmt: str) -> pd.Series:
    """``values`` read with ``fmt`` as UTC, tz-naive (values without an offset are UTC, offsets
    are converted); NaT where a value does not parse, and for the words ``now`` and ``today``
    (see :func:`squall.data.noaa.to_times`)."""
    try:
        times = to_times(values, fmt)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(
            "time_format",
            f"{NAME} {fmt!r} is not a usable format: {exc}",
        ) from exc
    return times.dt.tz_localize(None)


def _check_reserved(path: Path, chosen: Sequence[str]) -> None:
    """Refuse a feature named like one of Observations' own columns (:data:`BASE_COLUMNS`:
    ``source``, ``row``, ``line``, ``track``, ``time``, ``lat``, ``lon``): its values would
    overwrite (or duplicate) that column. The message says how to rename or leave it out, or
    for ``track`` and ``time``, how to read it as what its name says."""
    clash = next((c for c in chosen if c in BASE_COLUMNS), None)
    if clash is None:
        return
    reserved = ", ".join(BASE_COLUMNS)
    other = {"track": "track_column", "time": "time_column"}.get(clash)
    instead = f"read it as the {clash} column ({mark(other)} {clash}), " if other else ""
    raise ParameterError(
        "features",
        f"{path}: column {clash!r} cannot be a feature: squall keeps its own {clash} column "
        f"beside the features (reserved names: {reserved}); {instead}rename the column in "
        f"the file, or choose the other features with {NAME}",
    )


def read_sensor_csv(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    time_column: str = "timestamp",
    features: Sequence[str] | None = None,
    track_column: str | None = None,
    time_format: str | None = None,
    dayfirst: bool = False,
) -> Observations:
    """Read generic sensor CSVs into Observations.

    Parameters
    ----------
    paths
        A file, a glob, or several of either.
    time_column
        Column holding the time stamp (parsed as UTC; time zones are converted).
    features
        Numeric columns to use; default: every column except the time and track columns.
    track_column
        Column naming the series each row belongs to; default: one track per file (its stem).
    time_format
        strftime format of the time column (e.g. ``%d/%m/%Y %H:%M``); default: inferred, one
        format per column and file (see :func:`infer_time_format`).
    dayfirst
        Read a column that parses both day-first and month-first as day-first.

    Notes
    -----
    Empty cells and ``nan`` are missing values; an infinite value is an error; a time that does
    not parse with the column's format is an error naming it (no row is dropped). Times without
    an offset are UTC; offsets are converted to UTC.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    fmt_given = time_format
    parts, formats = [], []
    chosen: list[str] | None = list(features) if features else None
    for source, path in enumerate(files):
        raw, lines = collect(iter_raw(path))
        needed = [time_column] + ([track_column] if track_column else [])
        missing = [c for c in needed if c not in raw.columns]
        if missing:  # the parameter naming the first missing column
            raise ParameterError(
                "time_column" if time_column in missing else "track_column",
                f"{path}: no column {', '.join(missing)} (columns: "
                f"{column_list(raw.columns)}); set {NAME}",
            )
        if chosen is None:
            chosen = [c for c in raw.columns if c not in needed]
            if not chosen:
                raise SquallError(f"{path}: no feature columns besides {', '.join(needed)}")
        _check_reserved(path, chosen)
        absent = [c for c in chosen if c not in raw.columns]
        if absent:
            raise SquallError(
                f"{path}: no column {', '.join(absent)} (columns: {column_list(raw.columns)})"
            )
        text = raw[time_column]
        fmt = infer_time_format(
            text.dropna(), time_format=fmt_given, dayfirst=dayfirst, where=f"{path}: "
        )
        formats.append(fmt)
        times = parse_times(text, fmt)
        if times.isna().any():
            k = int(np.flatnonzero(times.isna().to_numpy())[0])
            raise SquallError(
                f"{path}: cannot parse {time_column} value {text.iloc[k]!r} at "
                f"data row {raw.index[k]} (line {lines[k]}) as a time "
                f"({'ISO 8601' if fmt == 'ISO8601' else fmt})"
            )
        track = (
            raw[track_column].fillna("").to_numpy(dtype=object)
            if track_column
            else np.full(len(raw), path.stem, dtype=object)
        )
        frame = pd.DataFrame(
            {
                "source": np.full(len(raw), source, dtype=np.int32),
                "row": raw.index.to_numpy(dtype=np.int64),
                "line": lines,
                "track": track,
                "time": times.to_numpy(),
                "lat": np.nan,
                "lon": np.nan,
            }
        )
        for name in chosen:
            values = pd.to_numeric(raw[name], errors="coerce")
            bad = raw[name].notna() & values.isna()
            if bad.any():
                k = int(np.flatnonzero(bad.to_numpy())[0])
                raise SquallError(
                    f"{path}: column {name} has a non-numeric value "
                    f"{raw[name].iloc[k]!r} at data row {raw.index[k]} (line "
                    f"{lines[k]})"
                )
            values = values.to_numpy(dtype=np.float64)
            if np.isinf(values).any():
                k = int(np.flatnonzero(np.isinf(values))[0])
                raise SquallError(
                    f"{path}: column {name} has an infinite value at data row "
                    f"{raw.index[k]} (line {lines[k]})"
                )
            frame[name] = values
        parts.append(frame)
    assert chosen is not None
    frame = concat(parts, chosen)
    return Observations(
        frame, chosen, {f: "" for f in chosen}, [str(p) for p in files], time_formats=formats
    )
