"""Scaled windows ready for an engine, with everything needed to trace them back, as one ``.npz``.

The file holds plain arrays only (loaded with ``allow_pickle=False``):

``sequences`` (N, T, F) float32   scaled, missing cells filled (what engines take; same key as
                                  the seed pipeline's ``new_data_sequences.npz``)
``step_values`` (S, F) float64    the step table's physical values, NaN where missing (a
                                  window's values are ``step_values[steps[i]]``, its observed
                                  cells the non-NaN ones)
``steps``, ``step_time``, ``step_ptr``, ``step_obs``   the step table (see :class:`Windows`)
``track``, ``start``, ``end``     per window (times as int64 ns since the epoch, UTC)
``obs_*``                          source, row, track, time, lat, lon, QC flags of each report
``sources``, ``features``         file paths, feature names
``settings``, ``meta``            JSON: window settings (+ skipped count), free-form metadata

A bare ``.npz`` with only ``sequences`` (the seed's files) also loads, without tracing. So does
a file of the earlier format, with ``values`` (N, T, F) and ``mask`` instead of ``step_values``
(the step table is rebuilt from ``values`` and ``steps``).

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
  index ``sources``, ``obs_row``/``obs_line`` are >= 0, no integer array holds a value beyond
  int64 (a uint64 of 2**63 or more would wrap to a negative index later); per-window arrays
  have N entries, per-report arrays the same length, ``step_values`` one row per step;
- ``sequences`` beyond +-``SCALED_LIMIT`` are clipped to it as when windows are built (below),
  in bare files too: engines would otherwise score them as inf.

Scaled values are clipped to +-``SCALED_LIMIT`` (:mod:`squall.limits`, 1e6 scaler units) when
windows are built, with a ``SquallWarning`` counting the clipped cells: a value such as 1e308
would otherwise become infinite in the float32 file and the run's own outputs would be refused;
any value that far out is an anomaly whatever the bound, and scores stay finite.

Memory: a window set never holds its windows as (N, T, F) float64. :func:`build` scales the step
table (S, F) once and keeps it (``scaled_steps``); :meth:`WindowSet.inputs` gathers the windows
an engine or the scoring needs, a chunk at a time, and :meth:`WindowSet.save` writes
``sequences`` the same way. ``x`` (all windows at once) is for small sets only.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
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

#: Windows gathered at once by :meth:`WindowSet.save` (bounds its temporaries: 28 MB at
#: T = 24, F = 6).
CHUNK_WINDOWS = 16_384


@dataclass(kw_only=True)
class WindowSet(Windows):
    """Windows scaled for a bundle, plus the table of the reports behind them (``obs``).

    The scaled windows (scaler applied, missing cells filled by the scaler's fill) are what
    engines take. A set built from data keeps them as the scaled step table ``scaled_steps``
    (S, F) float64, gathered per window by :meth:`inputs`; a loaded set keeps the file's
    ``sequences`` (N, T, F) as stored (float32, or float64).
    """

    obs: pd.DataFrame
    sources: list[str]
    meta: dict = field(default_factory=dict)
    scaled_steps: np.ndarray | None = None
    sequences: np.ndarray | None = None

    @property
    def traceable(self) -> bool:
        return len(self.obs) > 0

    def inputs(self, idx) -> np.ndarray:
        """The scaled windows ``idx`` (indices or a slice), (len(idx), T, F): float64 for a
        built set (exactly its scaled step table's values), the stored dtype for a loaded one."""
        if self.scaled_steps is not None:
            return self.scaled_steps[self.steps[idx]]
        assert self.sequences is not None  # a set has its step table or its stored sequences
        return self.sequences[idx]

    @cached_property
    def x(self) -> np.ndarray:
        """All scaled windows (N, T, F) at once: for small sets (training, the report, hw
        tools); the large paths go through :meth:`inputs` a chunk at a time."""
        return self.inputs(slice(None))

    def subset(self, idx: np.ndarray) -> WindowSet:
        """The windows ``idx`` (the step and report tables are shared, not copied)."""
        return replace(
            self,
            steps=self.steps[idx],
            track=self.track[idx],
            start=self.start[idx],
            end=self.end[idx],
            sequences=None if self.sequences is None else self.sequences[idx],
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ``.npz`` of the module doc: ``sequences`` in float32, a chunk of windows at
        a time (never all of them in float64), the step table, and the other arrays one at a
        time (each report column is converted only while it is written)."""
        shape = (len(self), self.steps.shape[1], len(self.features))
        with (
            atomic_path(path) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
        ):
            with zf.open("sequences.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array_header_1_0(
                    out,
                    {
                        "descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                        "fortran_order": False,
                        "shape": shape,
                    },
                )
                for lo in range(0, len(self), CHUNK_WINDOWS):
                    part = self.inputs(slice(lo, lo + CHUNK_WINDOWS))
                    out.write(np.ascontiguousarray(part, dtype="<f4").tobytes())
            for name, value in self._arrays():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)

    def _arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """The arrays of the file besides ``sequences``, made one at a time."""
        yield "step_values", np.asarray(self.step_values, dtype=np.float64)
        yield "steps", self.steps
        yield "step_time", self.step_time.astype("datetime64[ns]").astype(np.int64)
        yield "step_ptr", self.step_ptr
        yield "step_obs", self.step_obs
        yield "track", self.track.astype(str)
        yield "start", _ns(self.start)
        yield "end", _ns(self.end)
        yield "sources", np.asarray(self.sources, dtype=str)
        yield "features", np.asarray(self.features, dtype=str)
        yield "meta", np.asarray(json.dumps(self.meta))
        yield (
            "settings",
            np.asarray(json.dumps(self.settings.to_dict() | {"skipped": self.skipped})),
        )
        for col in self.obs.columns:
            data = self.obs[col].to_numpy()
            if col == "time":
                data = _ns(data)
            elif data.dtype == object or str(self.obs[col].dtype).startswith(("str", "string")):
                data = np.asarray(self.obs[col].astype(str).to_numpy(), dtype=str)
            yield f"obs_{col}", data


def _ns(times: np.ndarray) -> np.ndarray:
    return np.asarray(times).astype("datetime64[ns]").astype(np.int64)


def build(
    windows: Windows, obs: Observations, scaler: Scaler, meta: dict | None = None
) -> WindowSet:
    """Scale ``windows`` with ``scaler`` (never refitted here) and attach the report table.

    The step table (S, F) is scaled, filled and clipped once; windows are gathered from it when
    used (:meth:`WindowSet.inputs`), so nothing of size (N, T, F) is made here."""
    if scaler.features != windows.features:
        raise SquallError(
            f"scaler features {scaler.features} != window features {windows.features}"
        )
    scaled = clip_scaled(scaler.fill(scaler.transform(windows.step_values)))
    if len(windows) and not np.isfinite(scaled).all():
        raise SquallError("scaled windows contain infinite values; check the input data")
    keep = [
        c
        for c in ("source", "row", "line", "track", "time", "lat", "lon")
        if c in obs.frame.columns
    ] + [
        c
        for c in obs.frame.columns
        if c.startswith(("flag_", "trim_", "excluded_")) or c == "platform"
    ]
    return WindowSet(
        **{f.name: getattr(windows, f.name) for f in fields(Windows)},
        scaled_steps=scaled,
        obs=obs.frame[keep].reset_index(drop=True),
        sources=[str(Path(s).resolve()) for s in obs.sources],
        meta=dict(meta or {}),
    )


def clip_scaled(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to +-SCALED_LIMIT (in place), with a ``SquallWarning`` counting the cells
    clipped (see the module doc for the rule and its reason). No temporary of ``x``'s size
    unless something is clipped."""
    if not x.size or (x.max() <= SCALED_LIMIT and x.min() >= -SCALED_LIMIT):
        return x  # NaN compares False: a NaN-only array is left alone too
    with np.errstate(invalid="ignore"):
        n = int(np.count_nonzero(x > SCALED_LIMIT)) + int(np.count_nonzero(x < -SCALED_LIMIT))
    if n:
        warnings.warn(
            f"{n} scaled value(s) beyond +-{SCALED_LIMIT:g} scaler units were clipped "
            f"to it (far outside the training range: anomalous whatever the bound)",
            SquallWarning,
            stacklevel=3,
        )
        np.clip(x, -SCALED_LIMIT, SCALED_LIMIT, out=x)
    return x


#: Arrays a traceable windows file must have (besides ``sequences``), with the dtype kinds each
#: may have (numpy kind letters) and its dimensions: N windows, T steps, F features, S steps of
#: the step table, P = S + 1, M step reports, K sources, R reports.
REQUIRED = {
    "step_values": ("f", "SF"),
    "steps": ("iu", "NT"),
    "step_time": ("iuM", "S"),
    "step_ptr": ("iu", "P"),
    "step_obs": ("iu", "M"),
    "track": ("U", "N"),
    "start": ("iuM", "N"),
    "end": ("iuM", "N"),
    "sources": ("U", "K"),
    "features": ("U", "F"),
    "meta": ("U", ""),
    "obs_source": ("iu", "R"),
    "obs_row": ("iu", "R"),
}
#: A file of the earlier format has these instead of ``step_values`` (:func:`_old_format`).
OLD_FORMAT = {"values": ("f", "NTF"), "mask": ("b", "NTF")}
#: Optional arrays and report columns: ``settings`` and the report table's known columns.
OPTIONAL = {
    "settings": ("U", ""),
    "obs_line": ("iu", "R"),
    "obs_track": ("U", "R"),
    "obs_time": ("iuM", "R"),
    "obs_lat": ("f", "R"),
    "obs_lon": ("f", "R"),
}
#: Any other ``obs_`` column (QC flags, platform): numbers, bools or text, one per report.
OBS_OTHER = ("biufU", "R")

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _old_format(header: dict[str, npzfile.Member]) -> bool:
    """A traceable file written before ``step_values`` (it has ``mask`` and ``values``)."""
    return "step_values" not in header and "mask" in header


def _specs(header: dict[str, npzfile.Member]) -> dict[str, tuple[str, str]]:
    """The (kinds, dims) of every array of a traceable file that will be read."""
    specs = dict(REQUIRED)
    if _old_format(header):
        del specs["step_values"]
        specs.update(OLD_FORMAT)
    specs.update({k: v for k, v in OPTIONAL.items() if k in header})
    specs.update({k: OBS_OTHER for k in header if k.startswith("obs_") and k not in specs})
    return specs


def _check_header(path: Path, header: dict[str, npzfile.Member]) -> dict[str, int]:
    """Dtype kinds and shapes of every array from the headers alone; returns the dimensions."""
    seq = header["sequences"]
    npzfile.check_kind(path, seq, "f")
    if len(seq.shape) != 3:
        raise SquallError(f"{path}: sequences must be (N, T, F), got shape {seq.shape}")
    if "step_values" not in header and "mask" not in header:
        return {}
    missing = [k for k in _specs(header) if k not in header and k not in OPTIONAL]
    if missing:
        raise SquallError(
            f"{path} is not a squall windows file: no {', '.join(missing)} "
            f"(write one with: squall windows BUNDLE DATA --out FILE.npz)"
        )
    n, t, f = seq.shape
    dims = {
        "N": n,
        "T": t,
        "F": f,
        "S": header["step_time"].shape[0] if header["step_time"].shape else -1,
        "M": header["step_obs"].shape[0] if header["step_obs"].shape else -1,
        "K": header["sources"].shape[0] if header["sources"].shape else -1,
        "R": header["obs_source"].shape[0] if header["obs_source"].shape else -1,
    }
    dims["P"] = dims["S"] + 1
    for name, (kinds, shape) in _specs(header).items():
        member = header[name]
        npzfile.check_kind(path, member, kinds)
        expected = tuple(dims[d] for d in shape)
        if member.shape != expected:
            raise SquallError(
                f"{path}: array {name!r} has shape {member.shape}, expected "
                f"{expected} ({', '.join(shape) or 'a single value'})"
            )
    return dims


INT64_MAX = int(np.iinfo(np.int64).max)


def _check_int64(path: Path, data: dict[str, np.ndarray]) -> None:
    """No integer array holds a value beyond int64: a uint64 of 2**63 or more passes ``>= 0``
    and would wrap to a negative index or time once converted."""
    for name, a in data.items():
        if a.dtype.kind == "u" and a.size and int(a.max()) > INT64_MAX:
            raise SquallError(f"{path}: {name} holds values beyond int64 (up to {int(a.max())})")


def _check_range(path: Path, name: str, a: np.ndarray, high: int) -> None:
    if a.size and (int(a.min()) < 0 or int(a.max()) >= high):
        raise SquallError(
            f"{path}: {name} holds indices outside [0, {high}) "
            f"(from {int(a.min())} to {int(a.max())})"
        )


def _check_indices(path: Path, data: dict[str, np.ndarray], dims: dict[str, int]) -> None:
    """Every index points where it should (see the module doc)."""
    _check_int64(path, data)
    _check_range(path, "steps", data["steps"], dims["S"])
    _check_range(path, "step_obs", data["step_obs"], dims["R"])
    _check_range(path, "obs_source", data["obs_source"], dims["K"])
    ptr = data["step_ptr"]
    if int(ptr[0]) != 0 or int(ptr[-1]) != dims["M"] or (np.diff(ptr.astype(np.int64)) < 0).any():
        raise SquallError(
            f"{path}: step_ptr must start at 0, never decrease and end at "
            f"len(step_obs) = {dims['M']}"
        )
    for name in ("obs_row", "obs_line"):
        if name in data and data[name].size and int(data[name].min()) < 0:
            raise SquallError(f"{path}: {name} holds negative row numbers")
    values = data["values" if "step_values" not in data else "step_values"]
    if np.isinf(values).any():
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
    if (
        not isinstance(shas, list)
        or len(shas) != sources
        or not all(isinstance(h, str) and _SHA256.fullmatch(h) for h in shas)
    ):
        raise SquallError(
            f"{path}: meta lacks the SHA-256 of each of its {sources} source "
            f"file(s) (meta.sources_sha256), so its sources cannot be checked "
            f"before they are opened; {hint}"
        )


def _settings(path: Path, data: dict[str, np.ndarray], length: int) -> tuple[WindowSettings, int]:
    """The stored window settings, checked like a bundle's, and the skipped count."""
    from squall.data.windows import check_window_settings

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
        check_window_settings(raw, resolved=True)
    except SquallError as exc:
        raise SquallError(f"{path}: {exc}") from None
    if raw.get("length") != length:
        raise SquallError(
            f"{path}: settings.length {raw.get('length')!r} != window length {length}"
        )
    return WindowSettings(**raw), skipped


def _bare(path: Path, x: np.ndarray) -> WindowSet:
    """A bare file of already scaled, complete windows: untraceable (its step table is the
    windows themselves, one step per window and time step)."""
    n, T, F = x.shape
    idx = np.arange(n * T).reshape(n, T)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return WindowSet(
        step_values=x.reshape(n * T, F),
        steps=idx,
        step_time=np.full(n * T, np.datetime64("NaT"), "M8[ns]"),
        step_ptr=np.zeros(n * T + 1, np.int64),
        step_obs=np.zeros(0, np.int64),
        track=np.full(n, "", dtype=object),
        start=nat,
        end=nat.copy(),
        features=[f"f{k}" for k in range(F)],
        settings=WindowSettings(length=T, mode="pooled", resample=None),
        sequences=x,
        obs=pd.DataFrame(),
        sources=[],
        meta={"source": str(path)},
    )


def _step_values(data: dict[str, np.ndarray], steps: int) -> np.ndarray:
    """The step table (S, F) of a file: stored, or (earlier format) rebuilt from the windows'
    ``values`` (N, T, F) and ``steps``; steps in no window stay missing (NaN)."""
    if "step_values" in data:
        return data["step_values"].astype(np.float64, copy=False)
    values = data["values"]
    table = np.full((steps, values.shape[2]), np.nan)
    table[data["steps"].reshape(-1)] = values.reshape(-1, values.shape[2])
    return table


def load(path: str | os.PathLike[str]) -> WindowSet:
    """Load a windows ``.npz`` written by :meth:`WindowSet.save` (or by the earlier format), or
    a bare ``sequences`` file, checked as the module doc says."""
    path = Path(path)
    header = npzfile.members(path)
    if "sequences" not in header:
        raise SquallError(
            f"{path} has no 'sequences' array (has: {', '.join(header) or 'nothing'})"
        )
    dims = _check_header(path, header)
    wanted = ["sequences", *(k for k in _specs(header) if k != "mask")] if dims else ["sequences"]
    data = npzfile.load(path, wanted, header)
    x = data["sequences"]
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)  # float16: widened, never narrowed
    if not np.isfinite(x).all():
        raise SquallError(f"{path}: sequences contain NaN or infinite values")
    x = clip_scaled(x)
    if not dims:
        return _bare(path, x)
    _check_indices(path, data, dims)
    meta = _json_object(path, data, "meta")
    _check_meta(path, meta, dims["K"])
    settings, skipped = _settings(path, data, dims["T"])
    obs = pd.DataFrame({k[4:]: v for k, v in data.items() if k.startswith("obs_")})
    if "time" in obs:
        obs["time"] = obs["time"].astype("datetime64[ns]")
    return WindowSet(
        step_values=_step_values(data, dims["S"]),
        steps=data["steps"],
        step_time=data["step_time"].astype("datetime64[ns]"),
        step_ptr=data["step_ptr"],
        step_obs=data["step_obs"],
        track=data["track"].astype(object),
        start=data["start"].astype("datetime64[ns]"),
        end=data["end"].astype("datetime64[ns]"),
        features=[str(f) for f in data["features"]],
        settings=settings,
        skipped=skipped,
        sequences=x,
        obs=obs,
        sources=[str(s) for s in data["sources"]],
        meta=meta,
    )
