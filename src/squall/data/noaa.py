"""Reader for NOAA NCEI "Global Marine Observations" box CSVs (reformatted ICOADS reports).

Every rule here comes from the ICOADS IMMA1 schema and code tables as summarised in the project's
``shared/docs/noaa-global-marine.md``; the comment on each rule says which part.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.observations import Observations, concat, expand_paths
from squall.errors import SquallError

#: The six features of the original pipeline, the default.
DEFAULT_FEATURES = ("AIR_TEMP", "SEA_SURF_TEMP", "SEA_LVL_PRES", "WIND_SPEED", "WAVE_HGT",
                    "WAVE_PERIOD")

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
    "position": 0, "WIND_SPEED": 1, "WIND_DIR": 1, "WIND_DIR_SIN": 1, "WIND_DIR_COS": 1,
    "VISIBILITY": 2, "SEA_LVL_PRES": 5, "AIR_TEMP": 6, "WET_BULB_TEMP": 7, "DEW_PT_TEMP": 8,
    "SEA_SURF_TEMP": 9, "WAVE_HGT": 11, "WAVE_PERIOD": 11, "SWELL_HGT": 12, "SWELL_PERIOD": 12,
    "AMT_PRES_TEND": 13,
}

#: Position of each feature's character in the 6-character TRIM_FLAG (SST, air temperature,
#: wind U, wind V, SLP, humidity; 1 = within 2.8 sigma of climatology, 2-7 increasingly far
#: outside, B/C limits missing, D landlocked, E unusable, F value missing). Wind speed takes U's.
TRIM_FLAG_INDEX = {"SEA_SURF_TEMP": 0, "AIR_TEMP": 1, "WIND_SPEED": 2, "WIND_DIR": 2,
                   "WIND_DIR_SIN": 2, "WIND_DIR_COS": 2, "SEA_LVL_PRES": 4}

#: SOURCE_EXCLUSION_FLAG bits: a set bit excludes the value from ICOADS statistics.
EXCLUSION_BITS = {"SEA_SURF_TEMP": 16, "AIR_TEMP": 8, "WIND_SPEED": 4, "WIND_DIR": 4,
                  "WIND_DIR_SIN": 4, "WIND_DIR_COS": 4, "SEA_LVL_PRES": 2}

#: Valid ranges of the IMMA1 encoding (physical units); a value outside cannot be a real report.
VALID_RANGE = {"SEA_LVL_PRES": (870.0, 1074.6)}

#: QC policies. "keep" (the default) removes nothing and keeps every flag beside its value: an
#: anomaly detector must not silently throw away the extreme values it exists to find, and a
#: NOAA flag is useful context in an anomaly report. "drop" applies ICOADS practice: a report
#: whose position flag is 7-9 is dropped, a value whose flag is 8 or 9 becomes missing.
QC_POLICIES = ("keep", "drop")

REQUIRED = ("STATION", "DATE")


def _read_text(path: Path, limit: int = -1) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            return fh.read(limit)
    except (OSError, EOFError) as exc:
        raise SquallError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def _clean_header(text: str, path: Path) -> tuple[list[str], str, int]:
    """Split off the header line, stripping junk around it (the shared sample has backticks).

    Returns the column names, the text after the header and the header's 1-based line number
    (data row ``r`` of the file is then on line ``header_line + 1 + r``).
    """
    text = text.lstrip("\ufeff")
    header_line = 1
    while True:  # skip blank or junk-only lines before the header
        header, sep, body = text.partition("\n")
        if header.strip(" `\r\t") or not sep:
            break
        text = body
        header_line += 1
    if not header.strip(" `\r\t"):
        raise SquallError(f"{path} is empty (no header line)")
    first, last = header.find('"'), header.rfind('"')
    if first >= 0 and last > first:
        header = header[first:last + 1]
    else:
        header = header.strip(" `\r\t")
    names = [n.strip().strip('"').strip() for n in header.split(",")]
    return names, body, header_line


def header_names(path: Path) -> list[str]:
    """Column names of a file, from its first 64 KiB only (to tell NOAA files from others)."""
    return _clean_header(_read_text(path, 1 << 16), path)[0]


def read_table(path: Path) -> pd.DataFrame:
    """One NOAA box file as text columns (missing = NaN), columns by header name.

    The index is the 0-based data row; ``frame.attrs["header_line"]`` the header's line number.
    """
    names, body, header_line = _clean_header(_read_text(path), path)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise SquallError(f"{path} is not a NOAA Global Marine CSV: no {', '.join(missing)} column "
                          f"(header starts {', '.join(names[:5])})")
    if not body.strip():
        empty = pd.DataFrame(columns=names, dtype=str)
        empty.attrs["header_line"] = header_line
        return empty
    try:
        # index_col=False: a trailing comma on every line must not turn STATION into the index;
        # skip_blank_lines=False keeps the data row numbers equal to the file's lines - 2.
        frame = pd.read_csv(io.StringIO(body), header=None, names=names, dtype=str,
                            keep_default_na=False, na_values=[""], index_col=False,
                            skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise SquallError(f"{path}: malformed CSV ({str(exc).splitlines()[0]})") from exc
    # Blank lines and trailing junk (e.g. closing backticks) have no DATE: they are not reports.
    junk = frame["DATE"].isna() & frame.drop(columns=["STATION"]).isna().all(axis=1)
    frame = frame[~junk]
    frame.attrs["header_line"] = header_line
    return frame


def _numeric(column: pd.Series, name: str, path: Path) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce").astype(np.float64)
    bad = (column.notna() & values.isna()) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SquallError(f"{path}: column {name} has a non-numeric or infinite value "
                          f"{column.iloc[row]!r} at data row {row}")
    return values


def _flag_column(flags: pd.Series | None, index: int, n: int) -> np.ndarray:
    if flags is None:
        return np.full(n, "", dtype=object)
    return flags.fillna("").str.slice(index, index + 1).to_numpy(dtype=object)


def _convert(raw: pd.DataFrame, features: Sequence[str], path: Path, keep_codes: bool) -> dict:
    out: dict[str, np.ndarray] = {}
    for name in features:
        if name in DERIVED:
            continue
        if name not in raw.columns:
            raise SquallError(f"{path}: no column {name} (features must be NOAA column names, "
                              f"e.g. {', '.join(DEFAULT_FEATURES)})")
        values = _numeric(raw[name], name, path)
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
        direction = _numeric(raw["WIND_DIR"], "WIND_DIR", path).to_numpy()
        rad = np.deg2rad(direction)
        sin, cos = np.sin(rad), np.cos(rad)
        calm = direction == 361  # calm: the wind vector is zero (ICOADS u/v practice)
        sin[calm], cos[calm] = 0.0, 0.0
        bad = ~((direction >= 1) & (direction <= 360)) & ~calm  # 362 variable, or missing
        sin[bad], cos[bad] = np.nan, np.nan
        out["WIND_DIR_SIN"], out["WIND_DIR_COS"] = sin, cos
    return out


def read_noaa(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
              features: Sequence[str] = DEFAULT_FEATURES, *, qc: str = "keep",
              keep_codes: bool = False) -> Observations:
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
    """
    if qc not in QC_POLICIES:
        raise SquallError(f"qc must be one of {', '.join(QC_POLICIES)}, got {qc!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand_paths(paths)
    features = list(features)
    if not features:
        raise SquallError("no features given")
    parts, dropped = [], {"duplicate (DUP_STATUS > 2)": 0, "no DATE": 0, "bad position flag": 0,
                          "unparseable DATE": 0}
    for source, path in enumerate(files):
        raw = read_table(path)
        frame = pd.DataFrame({"source": np.full(len(raw), source, dtype=np.int32),
                              "row": raw.index.to_numpy(dtype=np.int64),
                              "track": raw["STATION"].fillna("").to_numpy(dtype=object)})
        frame["line"] = frame["row"] + raw.attrs["header_line"] + 1
        times = pd.to_datetime(raw["DATE"], errors="coerce", format="ISO8601")
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        frame["time"] = times.to_numpy()
        for col, name in (("lat", "LATITUDE"), ("lon", "LONGITUDE")):
            frame[col] = (_numeric(raw[name], name, path).to_numpy() if name in raw.columns
                          else np.nan)
        for name, values in _convert(raw, features, path, keep_codes).items():
            frame[name] = values
        flags = raw["NCDC_QC_FLAGS"] if "NCDC_QC_FLAGS" in raw.columns else None
        trim = raw["TRIM_FLAG"] if "TRIM_FLAG" in raw.columns else None
        excl = (_numeric(raw["SOURCE_EXCLUSION_FLAG"], "SOURCE_EXCLUSION_FLAG", path)
                .fillna(0).to_numpy().astype(np.int64)
                if "SOURCE_EXCLUSION_FLAG" in raw.columns else np.zeros(len(raw), np.int64))
        for name in features:
            frame[f"flag_{name}"] = _flag_column(flags, NCDC_FLAG_INDEX.get(name, 99), len(raw))
            frame[f"trim_{name}"] = _flag_column(trim, TRIM_FLAG_INDEX.get(name, 99), len(raw))
            frame[f"excluded_{name}"] = (excl & EXCLUSION_BITS.get(name, 0)) > 0
        if "PLATFORM_ID" in raw.columns:
            frame["platform"] = raw["PLATFORM_ID"].fillna("").to_numpy(dtype=object)

        keep = np.ones(len(raw), dtype=bool)
        if "DUP_STATUS" in raw.columns:  # 0 unique, 1-2 best duplicate, 3-13 worse, 14 rejected
            dup = _numeric(raw["DUP_STATUS"], "DUP_STATUS", path).to_numpy()
            worse = dup > 2
            dropped["duplicate (DUP_STATUS > 2)"] += int(worse.sum())
            keep &= ~worse
        no_date = raw["DATE"].isna().to_numpy()
        bad_date = frame["time"].isna().to_numpy() & ~no_date
        dropped["no DATE"] += int((no_date & keep).sum())
        dropped["unparseable DATE"] += int((bad_date & keep).sum())
        keep &= ~no_date & ~bad_date
        if qc == "drop":
            position = _flag_column(flags, 0, len(raw))
            bad_pos = np.isin(position, ["7", "8", "9"])
            dropped["bad position flag"] += int((bad_pos & keep).sum())
            keep &= ~bad_pos
            for name in features:
                erroneous = np.isin(frame[f"flag_{name}"].to_numpy(), ["8", "9"])
                frame.loc[erroneous, name] = np.nan
        parts.append(frame[keep])
    frame = concat(parts, features).reset_index(drop=True)
    units = {f: DERIVED.get(f) or CONVERSIONS.get(f, (1.0, ""))[1] for f in features}
    return Observations(frame, features, units, [str(p) for p in files],
                        {k: v for k, v in dropped.items() if v})


def original_columns(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Every original column of one file, as text, indexed by data row (for tracing back)."""
    return read_table(Path(path))
