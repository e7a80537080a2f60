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

Rules of a loaded file (every break is a one-line ``SquallError``), because a windows file says
which files to open and which of their rows to copy into ``anomaly_windows.csv``:

- sizes and dtypes are checked from the headers before anything is read (:mod:`npzfile`); only
  the arrays used are read, ``sequences`` in its stored float32/float64 (no float64 copy);
- a traceable file must name the bundle it was made for (``meta.bundle``) and the SHA-256 of
  every source (``meta.sources_sha256``, one per source): sources are opened only when their
  hash matches, so a crafted file cannot make squall read ``/etc/passwd``. A file without them
  is refused (rebuild it with ``squall windows``);
- every index is in range: ``steps`` index the step table, ``step_ptr`` starts at 0, never
  decreases and ends at ``len(step_obs)``, ``step_obs`` index the report table, ``obs_source``
  index ``sources``, ``obs_row``/``obs_line`` are >= 0; per-window arrays have N entries,
  per-report arrays the same length.

Scaled values are clipped to +-``SCALED_LIMIT`` (:mod:`squall.limits`, 1e6 scaler units) when
windows are built, with a ``SquallWarning`` counting the clipped cells: a value such as 1e308
would otherwise become infinite in the float32 file and the run's own outputs would be refused;
any value that far out is an anomaly whatever the bound, and scores stay finite.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data import npzfile
from squall.data.observations import Observations
from squall.data.scaling import Scaler
from squall.data.windows import Windows, WindowSettings
from squall.errors import SquallError, SquallWarning
from squall.io import atomic_path, parse_json
from squall.limits import SCALED_LIMIT


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
    x = clip_scaled(scaler.fill(scaler.transform(windows.values)))
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


def clip_scaled(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to +-SCALED_LIMIT (in place), with a ``SquallWarning`` counting the cells
    clipped (see the module doc for the rule and its reason)."""
    with np.errstate(invalid="ignore"):
        out = np.abs(x) > SCALED_LIMIT
    n = int(np.count_nonzero(out))
    if n:
        warnings.warn(f"{n} scaled value(s) beyond +-{SCALED_LIMIT:g} scaler units were clipped "
                      f"to it (far outside the training range: anomalous whatever the bound)",
                      SquallWarning, stacklevel=3)
        np.clip(x, -SCALED_LIMIT, SCALED_LIMIT, out=x)
    return x


#: Arrays a traceable windows file must have (besides ``sequences`` and ``mask``), with the
#: dtype kinds each may have (numpy kind letters) and its dimensions: N windows, T steps,
#: F features, S steps of the step table, P = S + 1, M step reports, K sources, R reports.
REQUIRED = {"values": ("f", "NTF"), "steps": ("iu", "NT"), "step_time": ("iuM", "S"),
            "step_ptr": ("iu", "P"), "step_obs": ("iu", "M"), "track": ("U", "N"),
            "start": ("iuM", "N"), "end": ("iuM", "N"), "sources": ("U", "K"),
            "features": ("U", "F"), "meta": ("U", ""), "obs_source": ("iu", "R"),
            "obs_row": ("iu", "R")}
#: Optional arrays and report columns: ``settings`` and the report table's known columns.
OPTIONAL = {"settings": ("U", ""), "obs_line": ("iu", "R"), "obs_track": ("U", "R"),
            "obs_time": ("iuM", "R"), "obs_lat": ("f", "R"), "obs_lon": ("f", "R")}
#: Any other ``obs_`` column (QC flags, platform): numbers, bools or text, one per report.
OBS_OTHER = ("biufU", "R")

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _specs(header: dict[str, npzfile.Member]) -> dict[str, tuple[str, str]]:
    """The (kinds, dims) of every array of a traceable file that will be read."""
    specs = dict(REQUIRED)
    specs.update({k: v for k, v in OPTIONAL.items() if k in header})
    specs.update({k: OBS_OTHER for k in header if k.startswith("obs_") and k not in specs})
    return specs


def _check_header(path: Path, header: dict[str, npzfile.Member]) -> dict[str, int]:
    """Dtype kinds and shapes of every array from the headers alone; returns the dimensions."""
    seq = header["sequences"]
    npzfile.check_kind(path, seq, "f")
    if len(seq.shape) != 3:
        raise SquallError(f"{path}: sequences must be (N, T, F), got shape {seq.shape}")
    if "mask" not in header:
        return {}
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise SquallError(f"{path} is not a squall windows file: no {', '.join(missing)} "
                          f"(write one with: squall windows BUNDLE DATA --out FILE.npz)")
    mask = header["mask"]
    npzfile.check_kind(path, mask, "b")
    n, t, f = seq.shape
    dims = {"N": n, "T": t, "F": f, "S": header["step_time"].shape[0] if
            header["step_time"].shape else -1, "M": header["step_obs"].shape[0] if
            header["step_obs"].shape else -1, "K": header["sources"].shape[0] if
            header["sources"].shape else -1, "R": header["obs_source"].shape[0] if
            header["obs_source"].shape else -1}
    dims["P"] = dims["S"] + 1
    if mask.shape != seq.shape:
        raise SquallError(f"{path}: mask has shape {mask.shape}, sequences {seq.shape}")
    for name, (kinds, shape) in _specs(header).items():
        member = header[name]
        npzfile.check_kind(path, member, kinds)
        expected = tuple(dims[d] for d in shape)
        if member.shape != expected:
            raise SquallError(f"{path}: array {name!r} has shape {member.shape}, expected "
                              f"{expected} ({', '.join(shape) or 'a single value'})")
    return dims


def _check_range(path: Path, name: str, a: np.ndarray, high: int) -> None:
    if a.size and (int(a.min()) < 0 or int(a.max()) >= high):
        raise SquallError(f"{path}: {name} holds indices outside [0, {high}) "
                          f"(from {int(a.min())} to {int(a.max())})")


def _check_indices(path: Path, data: dict[str, np.ndarray], dims: dict[str, int]) -> None:
    """Every index points where it should (see the module doc)."""
    _check_range(path, "steps", data["steps"], dims["S"])
    _check_range(path, "step_obs", data["step_obs"], dims["R"])
    _check_range(path, "obs_source", data["obs_source"], dims["K"])
    ptr = data["step_ptr"]
    if int(ptr[0]) != 0 or int(ptr[-1]) != dims["M"] or (np.diff(ptr.astype(np.int64)) < 0).any():
        raise SquallError(f"{path}: step_ptr must start at 0, never decrease and end at "
                          f"len(step_obs) = {dims['M']}")
    for name in ("obs_row", "obs_line"):
        if name in data and data[name].size and int(data[name].min()) < 0:
            raise SquallError(f"{path}: {name} holds negative row numbers")
    if np.isinf(data["values"]).any():
        raise SquallError(f"{path}: values contain infinite numbers")


def _json_object(path: Path, data: dict[str, np.ndarray], name: str) -> dict:
    if name not in data:
        return {}
    value = parse_json(str(data[name]), f"{path}: {name}")
    if not isinstance(value, dict):
        raise SquallError(f"{path}: {name} must be a JSON object, got {type(value).__name__}")
    return value


def _check_meta(path: Path, meta: dict, sources: int) -> None:
    """The bundle fingerprint and one SHA-256 per source must be there (module doc)."""
    hint = "rebuild it with: squall windows BUNDLE DATA --out FILE.npz"
    if not isinstance(meta.get("bundle"), str) or not meta["bundle"]:
        raise SquallError(f"{path}: meta names no bundle fingerprint (meta.bundle); {hint}")
    shas = meta.get("sources_sha256")
    if not isinstance(shas, list) or len(shas) != sources or not all(
            isinstance(h, str) and _SHA256.fullmatch(h) for h in shas):
        raise SquallError(f"{path}: meta lacks the SHA-256 of each of its {sources} source "
                          f"file(s) (meta.sources_sha256), so its sources cannot be checked "
                          f"before they are opened; {hint}")


def _settings(path: Path, data: dict[str, np.ndarray], length: int
              ) -> tuple[WindowSettings, int]:
    """The stored window settings, checked like a bundle's, and the skipped count."""
    from squall.bundle import check_window_settings

    if "settings" not in data:
        return WindowSettings(length=length), 0
    raw = _json_object(path, data, "settings")
    skipped = raw.pop("skipped", 0)
    if not isinstance(skipped, int) or isinstance(skipped, bool) or skipped < 0:
        raise SquallError(f"{path}: settings.skipped must be a count, got {skipped!r}")
    unknown = set(raw) - set(WindowSettings.__dataclass_fields__)
    if unknown:
        raise SquallError(f"{path}: settings have unknown keys {sorted(unknown)}")
    try:
        check_window_settings(raw)
    except SquallError as exc:
        raise SquallError(f"{path}: {exc}") from None
    if raw.get("length") != length:
        raise SquallError(f"{path}: settings.length {raw.get('length')!r} != window length "
                          f"{length}")
    return WindowSettings(**raw), skipped


def _bare(path: Path, x: np.ndarray) -> WindowSet:
    """A bare file of already scaled, complete windows: untraceable."""
    n, T, F = x.shape
    idx = np.arange(n * T).reshape(n, T)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return WindowSet(values=x.astype(np.float64), steps=idx,
                     step_time=np.full(n * T, np.datetime64("NaT"), "M8[ns]"),
                     step_ptr=np.zeros(n * T + 1, np.int64), step_obs=np.zeros(0, np.int64),
                     track=np.full(n, "", dtype=object), start=nat, end=nat.copy(),
                     features=[f"f{k}" for k in range(F)],
                     settings=WindowSettings(length=T, mode="pooled", resample=None),
                     x=x, obs=pd.DataFrame(), sources=[], meta={"source": str(path)})


def load(path: str | os.PathLike[str]) -> WindowSet:
    """Load a windows ``.npz`` written by :meth:`WindowSet.save`, or a bare ``sequences`` file,
    checked as the module doc says."""
    path = Path(path)
    header = npzfile.members(path)
    if "sequences" not in header:
        raise SquallError(f"{path} has no 'sequences' array (has: "
                          f"{', '.join(header) or 'nothing'})")
    dims = _check_header(path, header)
    wanted = ["sequences", *_specs(header)] if dims else ["sequences"]
    data = npzfile.load(path, wanted, header)
    x = data["sequences"]
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)  # float16: widened, never narrowed
    if not np.isfinite(x).all():
        raise SquallError(f"{path}: sequences contain NaN or infinite values")
    if not dims:
        return _bare(path, x)
    _check_indices(path, data, dims)
    meta = _json_object(path, data, "meta")
    _check_meta(path, meta, dims["K"])
    settings, skipped = _settings(path, data, dims["T"])
    obs = pd.DataFrame({k[4:]: v for k, v in data.items() if k.startswith("obs_")})
    if "time" in obs:
        obs["time"] = obs["time"].astype("datetime64[ns]")
    return WindowSet(values=data["values"].astype(np.float64, copy=False), steps=data["steps"],
                     step_time=data["step_time"].astype("datetime64[ns]"),
                     step_ptr=data["step_ptr"], step_obs=data["step_obs"],
                     track=data["track"].astype(object),
                     start=data["start"].astype("datetime64[ns]"),
                     end=data["end"].astype("datetime64[ns]"),
                     features=[str(f) for f in data["features"]],
                     settings=settings, skipped=skipped, x=x, obs=obs,
                     sources=[str(s) for s in data["sources"]], meta=meta)
