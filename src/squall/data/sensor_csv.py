"""Reader for any sensor table: a time column, numeric feature columns, optionally a track column.

``timestamp,value`` files such as the Numenta Anomaly Benchmark's are the simplest case: each file
without a track column becomes one track named after the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from squall.data.observations import Observations, concat, expand_paths
from squall.errors import SquallError


def read_raw(path) -> pd.DataFrame:
    """A CSV as text columns, indexed by 0-based data row (line ``row + 2``); blank lines are
    dropped but keep their place in the numbering. Also used to trace rows back."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False,
                          na_values=["", "nan", "NaN", "NA"], skip_blank_lines=False)
    except pd.errors.EmptyDataError as exc:
        raise SquallError(f"{path} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SquallError(f"{path}: malformed CSV ({str(exc).splitlines()[0]})") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw[raw.notna().any(axis=1)]


def read_sensor_csv(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                    time_column: str = "timestamp", features: Sequence[str] | None = None,
                    track_column: str | None = None) -> Observations:
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

    Notes
    -----
    Empty cells and ``nan`` are missing values; an infinite value is an error.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    parts = []
    chosen: list[str] | None = list(features) if features else None
    for source, path in enumerate(files):
        raw = read_raw(path)
        needed = [time_column] + ([track_column] if track_column else [])
        missing = [c for c in needed if c not in raw.columns]
        if missing:
            raise SquallError(f"{path}: no column {', '.join(missing)} (columns: "
                              f"{', '.join(raw.columns)}); set --time-column/--track-column")
        if chosen is None:
            chosen = [c for c in raw.columns if c not in needed]
            if not chosen:
                raise SquallError(f"{path}: no feature columns besides {', '.join(needed)}")
        absent = [c for c in chosen if c not in raw.columns]
        if absent:
            raise SquallError(f"{path}: no column {', '.join(absent)} (columns: "
                              f"{', '.join(raw.columns)})")
        times = pd.to_datetime(raw[time_column], errors="coerce", format="mixed", utc=True)
        if times.isna().any():
            row = int(np.flatnonzero(times.isna().to_numpy())[0])
            raise SquallError(f"{path}: cannot parse {time_column} value "
                              f"{raw[time_column].iloc[row]!r} at data row {row} as a time")
        times = times.dt.tz_localize(None)  # UTC; times without an offset are taken as UTC
        track = (raw[track_column].fillna("").to_numpy(dtype=object) if track_column
                 else np.full(len(raw), path.stem, dtype=object))
        frame = pd.DataFrame({"source": np.full(len(raw), source, dtype=np.int32),
                              "row": raw.index.to_numpy(dtype=np.int64),
                              "line": raw.index.to_numpy(dtype=np.int64) + 2, "track": track,
                              "time": times.to_numpy(), "lat": np.nan, "lon": np.nan})
        for name in chosen:
            values = pd.to_numeric(raw[name], errors="coerce")
            bad = raw[name].notna() & values.isna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise SquallError(f"{path}: column {name} has a non-numeric value "
                                  f"{raw[name].iloc[row]!r} at data row {row}")
            values = values.to_numpy(dtype=np.float64)
            if np.isinf(values).any():
                row = int(np.flatnonzero(np.isinf(values))[0])
                raise SquallError(f"{path}: column {name} has an infinite value at data row {row}")
            frame[name] = values
        parts.append(frame)
    assert chosen is not None
    frame = concat(parts, chosen)
    return Observations(frame, chosen, {f: "" for f in chosen}, [str(p) for p in files])
