"""Scaled windows ready for an engine, with everything needed to trace them back, as one ``.npz``.

The file holds plain arrays only (loaded with ``allow_pickle=False``):

``sequences`` (N, T, F) float32   scaled, missing cells filled (what engines take; same key as
                                  the seed pipeline's ``new_data_sequences.npz``)
``mask`` (N, T, F) bool           observed cells
``values`` (N, T, F) float64      physical values, NaN where missing
``steps``, ``step_time``, ``step_ptr``, ``step_obs``   the step table (see :class:`Windows`)
``track``, ``start``, ``end``     per window (times as int64 ns since the epoch, UTC)
``obs_*``                          source, row, track, time, lat, lon, QC flags of each report
``sources``, ``features``         file paths, feature names
``settings``, ``meta``            JSON: window settings (+ skipped count), free-form metadata

A bare ``.npz`` with only ``sequences`` (the seed's files) also loads, without tracing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.observations import Observations
from squall.data.scaling import Scaler
from squall.data.windows import Windows, WindowSettings
from squall.errors import SquallError
from squall.io import atomic_path


@dataclass(kw_only=True)
class WindowSet(Windows):
    """Windows scaled for a bundle (``x``), plus the table of the reports behind them (``obs``).

    ``x`` is what engines take: scaled values with missing cells filled by the scaler's fill.
    """

    x: np.ndarray
    obs: pd.DataFrame
    sources: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def traceable(self) -> bool:
        return len(self.obs) > 0

    def subset(self, idx: np.ndarray) -> WindowSet:
        """The windows ``idx`` (the step and report tables are shared, not copied)."""
        return replace(self, values=self.values[idx], steps=self.steps[idx],
                       track=self.track[idx], start=self.start[idx], end=self.end[idx],
                       x=self.x[idx])

    def save(self, path: str | os.PathLike[str]) -> None:
        arrays = {
            "sequences": self.x.astype(np.float32), "mask": self.mask, "values": self.values,
            "steps": self.steps, "step_time": self.step_time.astype("datetime64[ns]").astype(
                np.int64), "step_ptr": self.step_ptr, "step_obs": self.step_obs,
            "track": self.track.astype(str), "start": _ns(self.start), "end": _ns(self.end),
            "sources": np.asarray(self.sources, dtype=str),
            "features": np.asarray(self.features, dtype=str),
            "meta": np.asarray(json.dumps(self.meta)),
            "settings": np.asarray(json.dumps(self.settings.to_dict()
                                              | {"skipped": self.skipped})),
        }
        for col in self.obs.columns:
            data = self.obs[col].to_numpy()
            if col == "time":
                data = _ns(data)
            elif data.dtype == object or str(self.obs[col].dtype).startswith(("str", "string")):
                data = np.asarray(self.obs[col].astype(str).to_numpy(), dtype=str)
            arrays[f"obs_{col}"] = data
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _ns(times: np.ndarray) -> np.ndarray:
    return np.asarray(times).astype("datetime64[ns]").astype(np.int64)


def build(windows: Windows, obs: Observations, scaler: Scaler, meta: dict | None = None
          ) -> WindowSet:
    """Scale ``windows`` with ``scaler`` (never refitted here) and attach the report table."""
    if scaler.features != windows.features:
        raise SquallError(f"scaler features {scaler.features} != window features "
                          f"{windows.features}")
    scaled = scaler.transform(windows.values)
    x = scaler.fill(scaled)
    if len(x) and not np.isfinite(x).all():
        raise SquallError("scaled windows contain infinite values; check the input data")
    keep = [c for c in ("source", "row", "line", "track", "time", "lat", "lon")
            if c in obs.frame.columns] + [
        c for c in obs.frame.columns
        if c.startswith(("flag_", "trim_", "excluded_")) or c == "platform"]
    return WindowSet(**{f.name: getattr(windows, f.name) for f in fields(Windows)}, x=x,
                     obs=obs.frame[keep].reset_index(drop=True),
                     sources=[str(Path(s).resolve()) for s in obs.sources],
                     meta=dict(meta or {}))


#: Arrays a traceable windows file must have (besides ``sequences``).
REQUIRED = ("values", "steps", "step_time", "step_ptr", "step_obs", "track", "start", "end",
            "sources", "features", "meta", "obs_source", "obs_row")


def load(path: str | os.PathLike[str]) -> WindowSet:
    """Load a windows ``.npz`` written by :meth:`WindowSet.save`, or a bare ``sequences`` file."""
    path = Path(path)
    if not path.is_file():
        raise SquallError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise SquallError(f"{path} is not a readable .npz of plain arrays ({exc})") from exc
    if "sequences" not in data:
        raise SquallError(f"{path} has no 'sequences' array (has: {', '.join(data) or 'nothing'})")
    x = np.asarray(data["sequences"], dtype=np.float64)
    if x.ndim != 3:
        raise SquallError(f"{path}: sequences must be (N, T, F), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise SquallError(f"{path}: sequences contain NaN or infinite values")
    n, T, F = x.shape
    if "mask" not in data:  # a bare file of already scaled, complete windows
        idx = np.arange(n * T).reshape(n, T)
        nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        return WindowSet(values=x.copy(), steps=idx,
                         step_time=np.full(n * T, np.datetime64("NaT"), "M8[ns]"),
                         step_ptr=np.zeros(n * T + 1, np.int64), step_obs=np.zeros(0, np.int64),
                         track=np.full(n, "", dtype=object), start=nat, end=nat.copy(),
                         features=[f"f{k}" for k in range(F)],
                         settings=WindowSettings(length=T, mode="pooled", resample=None),
                         x=x, obs=pd.DataFrame(), sources=[], meta={"source": str(path)})
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise SquallError(f"{path} is not a squall windows file: no {', '.join(missing)} "
                          f"(write one with: squall windows BUNDLE DATA --out FILE.npz)")
    obs = pd.DataFrame({k[4:]: v for k, v in data.items() if k.startswith("obs_")})
    if "time" in obs:
        obs["time"] = obs["time"].astype("datetime64[ns]")
    try:
        meta = json.loads(str(data["meta"]))
        settings = json.loads(str(data["settings"])) if "settings" in data else {}
        skipped = int(settings.pop("skipped", 0))
        settings = WindowSettings(**settings)
    except (ValueError, TypeError) as exc:
        raise SquallError(f"{path}: malformed settings or metadata ({exc})") from exc
    if data["values"].shape != x.shape or data["steps"].shape != x.shape[:2]:
        raise SquallError(f"{path}: arrays of inconsistent shapes")
    return WindowSet(values=data["values"], steps=data["steps"],
                     step_time=data["step_time"].astype("datetime64[ns]"),
                     step_ptr=data["step_ptr"], step_obs=data["step_obs"],
                     track=data["track"].astype(object),
                     start=data["start"].astype("datetime64[ns]"),
                     end=data["end"].astype("datetime64[ns]"),
                     features=[str(f) for f in data["features"]],
                     settings=settings, skipped=skipped, x=x, obs=obs,
                     sources=[str(s) for s in data["sources"]], meta=meta)
