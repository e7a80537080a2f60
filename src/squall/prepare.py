"""Data made ready for a bundle: read with its reader, windowed with its window settings and
scaled with its scaler, or a windows ``.npz`` checked to be made for it."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from squall.bundle import Bundle
from squall.data import windowset
from squall.data.observations import Observations
from squall.data.readers import ReaderConfig, read_data
from squall.data.windows import WindowSettings, make_windows
from squall.data.windowset import WindowSet
from squall.errors import NAME, ParameterError, SquallError
from squall.io import sha256_file

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _as_list(paths: Paths) -> list:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def read_new(bundle: Bundle, paths: Paths) -> Observations:
    """New data read with the bundle's reader (its features only)."""
    reader = ReaderConfig.from_dict(bundle.provenance.get("reader")).with_features(bundle.features)
    return read_data(paths, reader)


def make_windowset(bundle: Bundle, paths: Paths, obs: Observations | None = None) -> WindowSet:
    """Read new data with the bundle's reader (or take ``obs``, read by :func:`read_new`) and
    window settings, scale with its scaler."""
    reader = ReaderConfig.from_dict(bundle.provenance.get("reader")).with_features(bundle.features)
    if obs is None:
        obs = read_data(paths, reader)
    settings = WindowSettings(**bundle.windows)
    windows = make_windows(obs, settings)
    meta = {
        "windows": bundle.windows,
        "skipped": int(windows.skipped),
        "reader": reader.resolved(obs).to_dict(),
        "bundle": bundle.fingerprint(),
        "sources_sha256": [sha256_file(s) for s in obs.sources],
    }
    return windowset.build(windows, obs, bundle.scaler, meta)


def load_windows(bundle: Bundle, data: Paths) -> WindowSet:
    """A windows ``.npz`` as it is, or data files windowed and scaled for ``bundle``."""
    items = _as_list(data)
    if len(items) == 1 and str(items[0]).endswith(".npz"):
        ws = windowset.load(items[0])
        if ws.x.shape[1:] != (bundle.length, len(bundle.features)):
            raise SquallError(
                f"{items[0]} holds windows of shape {ws.x.shape[1:]}, the bundle "
                f"needs ({bundle.length}, {len(bundle.features)})"
            )
        if ws.traceable and ws.features != bundle.features:
            raise SquallError(
                f"{items[0]} has features {ws.features}, the bundle {bundle.features}"
            )
        made_for = ws.meta.get("bundle")
        if made_for is not None and made_for != bundle.fingerprint():
            raise SquallError(
                f"{items[0]} was made for another bundle (different scaler, "
                f"reader or window settings); rebuild it with: squall windows "
                f"BUNDLE DATA --out FILE.npz"
            )
        if not ws.traceable:  # a bare 'sequences' file: assume the bundle's feature order
            ws.features = list(bundle.features)
        return ws
    return make_windowset(bundle, items)


def parse_since(since: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """``since`` as a (naive, UTC) time, or a one-line error naming the parameter."""
    if since is None:
        return None
    try:
        value = pd.Timestamp(since)
    except (ValueError, TypeError):
        value = pd.NaT
    if value is pd.NaT or pd.isna(value):
        raise ParameterError(
            "since",
            f"{NAME}: cannot read {since!r} as a time (e.g. 2025-03-22 or 2025-03-22T06:00)",
        )
    return value.tz_convert(None) if value.tzinfo is not None else value


def windows_since(ws: WindowSet, since: pd.Timestamp | None) -> WindowSet:
    """The windows of ``ws`` that reach ``since`` (their last report at or after it): the only
    ones that can hold a step from ``since`` on; their earlier steps are the look-back."""
    if since is None:
        return ws
    if not ws.traceable:
        raise ParameterError("since", f"{NAME} needs data with times (not a bare sequences file)")
    keep = np.flatnonzero(np.asarray(ws.end, dtype="datetime64[ns]") >= np.datetime64(since, "ns"))
    if len(keep) == 0:
        last = pd.Timestamp(np.asarray(ws.end, dtype="datetime64[ns]").max()) if len(ws) else None
        raise ParameterError(
            "since",
            f"no windows reach {NAME} {since}"
            + (f": the data ends at {last}" if last is not None else ""),
        )
    return ws.subset(keep)
