"""The one table every reader produces and every later step consumes."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from squall.errors import NAME, ParameterError, SquallError
from squall.limits import regular_file

#: Columns every Observations frame has, before the feature columns.
BASE_COLUMNS = ("source", "row", "line", "track", "time", "lat", "lon")


@dataclass
class Observations:
    """Reports from one or more files, in physical units, one row per kept report.

    Attributes
    ----------
    frame
        One row per report, in file order. Columns: ``source`` (index into ``sources``), ``row``
        (0-based data row of that file, header excluded), ``line`` (its 1-based line number in
        the file, as a text editor shows it), ``track`` (platform / series id), ``time`` (UTC,
        tz-naive), ``lat``,
        ``lon`` (NaN when unknown), one float column per feature (physical units, NaN =
        missing) and, for NOAA data, per feature the NCDC QC flag character (``flag_``), the
        TRIM_FLAG character (``trim_``) and the SOURCE_EXCLUSION_FLAG bit (``excluded_``).
    features
        Feature column names, in model order.
    units
        Physical unit of each feature.
    sources
        Paths of the files read, in ``source`` order.
    dropped
        Counts of reports removed while reading, by reason (e.g. worse duplicates).
    """

    frame: pd.DataFrame
    features: list[str]
    units: dict[str, str]
    sources: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    #: Time formats the generic reader inferred, one per file (empty for NOAA files): a bundle
    #: records whether they were day-first, so later reads settle ambiguous dates the same way.
    time_formats: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    def values(self) -> np.ndarray:
        """Feature values as a float64 array (n, F), NaN where missing."""
        return self.frame[self.features].to_numpy(dtype=np.float64)

    def availability(self) -> dict[str, float]:
        """Fraction of reports in which each feature is observed."""
        if len(self.frame) == 0:
            return {f: 0.0 for f in self.features}
        return {f: float(self.frame[f].notna().mean()) for f in self.features}

    def select(self, features: Sequence[str]) -> Observations:
        """The same reports restricted to ``features`` (in that order)."""
        missing = [f for f in features if f not in self.frame.columns]
        if missing:
            raise SquallError(
                f"feature(s) {', '.join(missing)} not in the data; available: "
                f"{', '.join(self.features)}"
            )
        units = {f: self.units.get(f, "") for f in features}
        return Observations(
            self.frame,
            list(features),
            units,
            self.sources,
            dict(self.dropped),
            list(self.time_formats),
        )

    def until(self, date: str | pd.Timestamp | None) -> Observations:
        """Reports strictly before ``date`` (all reports when ``date`` is None)."""
        if date is None:
            return self
        cut = parse_time(date, "until")
        return Observations(
            self.frame[self.frame["time"] < cut].reset_index(drop=True),
            self.features,
            self.units,
            self.sources,
            dict(self.dropped),
            list(self.time_formats),
        )


def parse_time(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    """Parse a user-given time as UTC (tz-naive), with an error naming the parameter ``name``."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            name,
            f"{NAME} must be a date/time such as 2025-03-20 or 2025-03-20T12:00, got {value!r}",
        ) from exc
    if ts is pd.NaT:
        raise ParameterError(name, f"{NAME} must be a date/time such as 2025-03-20, got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand globs and check every file exists and is a regular file (see
    :func:`squall.limits.regular_file`: a device or FIFO is refused before it is opened); order
    is kept, duplicates removed."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text))
            if not matches:
                raise SquallError(f"no file matches {text!r}")
            out.extend(regular_file(m, "data file") for m in matches)
        else:
            out.append(regular_file(text, "data file"))
    if not out:
        raise SquallError("no data files given")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def concat(parts: list[pd.DataFrame], features: list[str]) -> pd.DataFrame:
    """Concatenate per-file frames, keeping the column order BASE_COLUMNS + features + rest."""
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    first = [c for c in (*BASE_COLUMNS, *features) if c in frame.columns]
    rest = [c for c in frame.columns if c not in first]
    return frame[first + rest]
