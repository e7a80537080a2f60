"""Labelled anomaly windows: NAB's ``combined_windows.json`` and the synthetic ``labels.csv``.

Both become one table with columns ``series``, ``track``, ``start``, ``end``, ``type`` (times are
UTC without a zone, like the readers'; both ends inclusive). An empty ``series`` or ``track``
matches every series or track: NAB labels name a file (``realKnownCause/nyc_taxi.csv``) and have
no track, the synthetic generator's labels name a track (a station) and no file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from squall.errors import SquallError
from squall.io import read_json
from squall.limits import regular_file

COLUMNS = ("series", "track", "start", "end", "type")


def _times(values, what: str) -> pd.Series:
    times = pd.to_datetime(
        pd.Series(values, dtype=object), errors="coerce", utc=True, format="mixed"
    )
    if times.isna().any():
        bad = values[int(times.isna().to_numpy().nonzero()[0][0])]
        raise SquallError(f"{what}: cannot read {bad!r} as a time")
    return times.dt.tz_localize(None)


def read_nab_labels(
    path: str | os.PathLike[str],
) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """NAB's ``combined_windows.json``: ``{"dir/file.csv": [[start, end], ...]}`` -> the same
    keys with pairs of Timestamps (a file with no anomaly has an empty list)."""
    path = _labels_file(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise SquallError(
            f"{path}: expected an object of series -> [[start, end], ...] "
            f"(NAB's combined_windows.json format)"
        )
    out = {}
    for key, windows in data.items():
        if not isinstance(windows, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w)
            for w in windows
        ):
            raise SquallError(f"{path}: {key}: expected a list of [start, end] pairs")
        starts = _times([w[0] for w in windows], f"{path}: {key}")
        ends = _times([w[1] for w in windows], f"{path}: {key}")
        pairs = list(zip(starts, ends, strict=True))
        for s, e in pairs:
            if e < s:
                raise SquallError(f"{path}: {key}: window ends ({e}) before it starts ({s})")
        out[_norm(key)] = pairs
    return out


def _labels_file(path: str | os.PathLike[str]) -> Path:
    """A labels path that exists and is a regular file (:mod:`squall.limits`)."""
    return regular_file(path, "labels file", missing="no such labels file: {p}")


def _norm(name: str | os.PathLike[str]) -> str:
    return Path(str(name).replace("\\", "/")).as_posix()


def nab_frame(labels: dict, series: list[str] | None = None) -> pd.DataFrame:
    """The label table of ``series`` (default all) from :func:`read_nab_labels`' dict."""
    keys = list(labels) if series is None else [_norm(s) for s in series]
    rows = [(k, "", s, e, "anomaly") for k in keys for s, e in labels[k]]
    return _frame(rows)


def read_label_csv(path: str | os.PathLike[str], series: str = "") -> pd.DataFrame:
    """The synthetic generator's ``labels.csv`` (``event_id,type,track,start,end,...``), or any
    CSV with ``start`` and ``end`` (and optionally ``track``, ``type``, ``series``)."""
    path = _labels_file(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SquallError(f"cannot read {path} as CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("start", "end") if c not in raw]
    if missing:
        raise SquallError(
            f"{path}: no column {', '.join(missing)} (columns: "
            f"{', '.join(raw.columns)}); expected start and end"
        )
    starts = _times(raw["start"].tolist(), str(path))
    ends = _times(raw["end"].tolist(), str(path))
    if (ends < starts).any():
        i = int((ends < starts).to_numpy().nonzero()[0][0])
        raise SquallError(f"{path}: label at data row {i} ends before it starts")
    n = len(raw)
    frame = pd.DataFrame(
        {
            "series": raw["series"].map(_norm) if "series" in raw else [series] * n,
            "track": raw["track"].astype(str) if "track" in raw else [""] * n,
            "start": starts.to_numpy(),
            "end": ends.to_numpy(),
            "type": raw["type"].astype(str) if "type" in raw else ["anomaly"] * n,
        }
    )
    return frame


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    return frame.astype({"series": str, "track": str, "type": str})


def labels_for(labels: pd.DataFrame, series: str, track: str | None = None) -> pd.DataFrame:
    """The labels that apply to ``series`` (and ``track``): exact names or empty wildcards."""
    sel = (labels["series"] == "") | (labels["series"] == _norm(series))
    if track is not None:
        sel &= (labels["track"] == "") | (labels["track"] == str(track))
    return labels[sel]
