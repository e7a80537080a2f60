"""Labelled weather events and sensor faults injected into real NOAA Global Marine reports.

The injection works on the raw text table of a box file as :func:`squall.data.noaa.read_table`
returns it (every column a string, missing = NaN) and writes a NOAA-format CSV again, so a
benchmark reads the result through the normal reader (:func:`squall.data.noaa.read_noaa`) and
exercises the same unit conversions, special codes and duplicate rules as real use. Only the
value cells of the chosen reports change, always as raw NOAA integers (``noaa-global-marine.md``:
temperatures and pressure in tenths, wind speed in 0.1 m/s, wave height in 0.5 m units, wave
period in seconds); every other row and cell is written back exactly as read. Only text around
the header and the data (the backticks of the shared sample) is not copied; the reader ignores it.

Events:

``storm``
    Sea-level pressure falls by 10-30 hPa over 12-48 h (a ``sin^2`` descent) to its lowest value at
    one of the track's pressure reports, then recovers over 12-24 h (``cos^2``). The wind speed
    rises by 8-20 m/s with the same shape, wave height by ``0.16 m`` and wave period by ``0.6 s``
    per m/s of extra wind (the wind-sea relation of :mod:`squall.data.synthetic`); wind and waves
    change only in reports that carry them (a wave period coded 99 stays 99; the wind direction
    is left as reported). The label's magnitude is the pressure fall at its lowest point
    (negative, hPa).
``spike``
    1-3 isolated reports of one feature, 2-6 of its reports apart, off by a large amount.
``stuck``
    For 12-36 h the feature repeats the last value reported before the fault.
``drift``
    A linear drift over 24-72 h that reaches its full size at the last report, then snaps back.
``offset``
    A constant bias over 12-48 h.

Rules: an event lies inside the test period ``[start, end)`` and changes only reports in it; it
goes on a track (``STATION``) with at least ``min_reports`` usable reports in the period (a valid
``DATE`` and ``DUP_STATUS`` <= 2, the reports the reader keeps); it changes only a feature the track
actually reports (in at least half of its period reports) and only the reports carrying it;
inside the event that feature is reported at least every ``max_gap_hours`` and at least
``MIN_EVENT_REPORTS`` times. Events on one track are at least ``margin_hours`` apart. The same
table, arguments and seed give the same result.

Labels (columns ``LABEL_COLUMNS``, as the synthetic generator's ``labels.csv``): ``start``/``end``
are the first and last report whose text changed, ``features`` the columns that changed,
``magnitude`` the signed largest change of the primary feature (the pressure for storms) in
physical ``unit``, computed from the raw integers actually written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.noaa import CONVERSIONS, SPECIAL_CODES, VALID_RANGE, parse_dates, read_table
from squall.data.observations import parse_time
from squall.data.synthetic import LABEL_COLUMNS, UNITS, write_labels, write_noaa_csv
from squall.errors import SquallError

EVENT_TYPES = ("storm", "spike", "stuck", "drift", "offset")
FAULT_TYPES = ("spike", "stuck", "drift", "offset")

#: Columns an event may change (storms: pressure, wind and waves; faults: the FAULT_FEATURES).
STORM_FEATURES = ("SEA_LVL_PRES", "WIND_SPEED", "WAVE_HGT", "WAVE_PERIOD")

#: Fault sizes in physical units, (low, high, signed): a value drawn uniformly in [low, high],
#: with a random sign when ``signed``. Spikes and drifts as in :mod:`squall.data.synthetic`;
#: offsets are a miscalibration of a few hPa / deg C / m/s. Wind faults only add (a negative
#: wind speed is no reading).
FAULT_SIZES: dict[str, dict[str, tuple[float, float, bool]]] = {
    "spike": {
        "SEA_LVL_PRES": (15.0, 40.0, True),
        "AIR_TEMP": (6.0, 10.0, True),
        "WIND_SPEED": (12.0, 18.0, False),
        "SEA_SURF_TEMP": (4.0, 7.0, True),
    },
    "drift": {
        "SEA_LVL_PRES": (6.0, 10.0, True),
        "AIR_TEMP": (4.0, 6.0, True),
        "SEA_SURF_TEMP": (2.5, 4.0, True),
    },
    "offset": {
        "SEA_LVL_PRES": (5.0, 10.0, True),
        "AIR_TEMP": (3.0, 5.0, True),
        "SEA_SURF_TEMP": (2.0, 3.5, True),
        "WIND_SPEED": (4.0, 8.0, False),
    },
    "stuck": {
        "SEA_LVL_PRES": (0, 0, False),
        "AIR_TEMP": (0, 0, False),
        "SEA_SURF_TEMP": (0, 0, False),
        "WIND_SPEED": (0, 0, False),
    },
}

#: Durations in hours, drawn uniformly: storm fall and recovery, the faults that last.
STORM_FALL_HOURS = (12.0, 48.0)
STORM_RECOVERY_HOURS = (12.0, 24.0)
STORM_DEPTH_HPA = (10.0, 30.0)
STORM_WIND_MS = (8.0, 20.0)
FAULT_HOURS = {"stuck": (12.0, 36.0), "drift": (24.0, 72.0), "offset": (12.0, 48.0)}
#: Wave response to extra wind (m and s per m/s), the synthetic generator's wind-sea relation.
WAVE_PER_WIND = {"WAVE_HGT": 0.16, "WAVE_PERIOD": 0.6}

#: Least number of reports of the changed feature inside one event.
MIN_EVENT_REPORTS = 4
_TRIES = 60  # random placements tried per track before the next track is tried


@dataclass
class _Track:
    """Usable reports of one station in the test period, in time order."""

    station: str
    rows: np.ndarray  # positions (0-based) in the table
    hours: np.ndarray  # hours after the period start
    times: np.ndarray  # report times (datetime64)
    raw: dict[str, np.ndarray]  # raw integers as float, NaN where missing or a special code
    busy: list[tuple[float, float]] = field(default_factory=list)

    def reports(self, feature: str) -> np.ndarray:
        """Indices (into ``rows``) of the reports carrying ``feature``."""
        return np.flatnonzero(~np.isnan(self.raw[feature]))

    def free(self, a: float, b: float, margin: float) -> bool:
        return all(b + margin < s or a - margin > e for s, e in self.busy)


def _times(table: pd.DataFrame) -> pd.Series:
    """Report times as the reader parses them (:func:`squall.data.noaa.parse_dates`: UTC,
    tz-naive, offsets converted; NaT when unparseable)."""
    try:
        return parse_dates(table["DATE"])
    except (ValueError, TypeError, OverflowError) as exc:
        raise SquallError(
            f"cannot read the DATE column as times: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc


def _raw_values(table: pd.DataFrame, name: str) -> np.ndarray:
    """A value column as raw integers (float, NaN = missing, special code or invalid)."""
    if name not in table.columns:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan
    for code in SPECIAL_CODES.get(name, ()):
        values[values == code] = np.nan
    if name in VALID_RANGE:
        lo, hi = VALID_RANGE[name]
        factor = CONVERSIONS[name][0]
        values[(values * factor < lo) | (values * factor > hi)] = np.nan
    return values


def _tracks(
    table: pd.DataFrame,
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    min_reports: int,
    features: Sequence[str],
) -> list[_Track]:
    times = _times(table)
    usable = times.notna().to_numpy() & (times >= t0).to_numpy() & (times < t1).to_numpy()
    if "DUP_STATUS" in table.columns:  # the reader drops worse duplicates (DUP_STATUS > 2)
        dup = pd.to_numeric(table["DUP_STATUS"], errors="coerce").to_numpy()
        usable &= ~(dup > 2)
    station = table["STATION"].fillna("").astype(str).to_numpy(dtype=object)
    usable &= station != ""
    hours = ((times - t0) / pd.Timedelta(hours=1)).to_numpy(dtype=np.float64)
    stamps = times.to_numpy(dtype="datetime64[ns]")
    values = {f: _raw_values(table, f) for f in features}
    out = []
    for name in sorted(set(station[usable])):
        pos = np.flatnonzero(usable & (station == name))
        if len(pos) < min_reports:
            continue
        pos = pos[np.argsort(hours[pos], kind="stable")]
        out.append(
            _Track(name, pos, hours[pos], stamps[pos], {f: v[pos] for f, v in values.items()})
        )
    return out


def _covered(hours: np.ndarray, a: float, b: float, max_gap: float) -> bool:
    """``hours`` (sorted report times) cover ``[a, b]`` with no gap longer than ``max_gap``."""
    inside = hours[(hours >= a) & (hours <= b)]
    if len(inside) < MIN_EVENT_REPORTS:
        return False
    edges = np.concatenate([[a], inside, [b]])
    return bool(np.diff(edges).max() <= max_gap)


def _reported(tr: _Track, feature: str) -> bool:
    return bool(np.mean(~np.isnan(tr.raw[feature])) >= 0.5)


def _size(rng: np.random.Generator, kind: str, feature: str) -> float:
    lo, hi, signed = FAULT_SIZES[kind][feature]
    return float(rng.uniform(lo, hi)) * (float(rng.choice([-1.0, 1.0])) if signed else 1.0)


def _storm(rng: np.random.Generator, tr: _Track, span: float, opts: dict) -> dict | None:
    """Place a storm on ``tr``: new raw values per feature (indices into ``tr.rows``)."""
    fall = float(rng.uniform(*STORM_FALL_HOURS))
    rise = float(rng.uniform(*STORM_RECOVERY_HOURS))
    depth = round(float(rng.uniform(*STORM_DEPTH_HPA)), 1)
    gust = float(rng.uniform(*STORM_WIND_MS))
    slp = tr.reports("SEA_LVL_PRES")
    h = tr.hours[slp]
    peaks = slp[(h - fall >= 0) & (h + rise < span)]
    if not len(peaks):
        return None
    for _ in range(_TRIES):
        tp = float(tr.hours[rng.choice(peaks)])
        a, b = tp - fall, tp + rise
        if not (tr.free(a, b, opts["margin"]) and _covered(h, a, b, opts["max_gap"])):
            continue
        x = tr.hours
        shape = np.where(
            x <= tp,
            np.sin(0.5 * np.pi * (x - a) / fall) ** 2,
            np.cos(0.5 * np.pi * (x - tp) / rise) ** 2,
        )
        shape[(x <= a) | (x >= b)] = 0.0
        dev = {"SEA_LVL_PRES": -depth * shape, "WIND_SPEED": gust * shape}
        dev.update({f: k * gust * shape for f, k in WAVE_PER_WIND.items()})
        return {
            "a": a,
            "b": b,
            "feature": "SEA_LVL_PRES",
            "new": {f: _shifted(tr, f, d) for f, d in dev.items()},
        }
    return None


def _shifted(tr: _Track, feature: str, dev: np.ndarray) -> np.ndarray:
    """Raw values of ``feature`` shifted by ``dev`` (physical units), where reported."""
    factor = CONVERSIONS[feature][0]
    old = tr.raw[feature]
    new = old + np.rint(dev / factor)
    if feature in ("WIND_SPEED", "WAVE_HGT"):
        new = np.maximum(new, 0.0)
    if feature in ("WAVE_PERIOD", "SWELL_PERIOD"):
        new = np.clip(new, 0.0, 98.0)  # 99 is the code for "not determinable"
    if feature in VALID_RANGE:
        lo, hi = (v / factor for v in VALID_RANGE[feature])
        new = np.clip(new, math.ceil(lo), math.floor(hi))
    return new


def _fault(rng: np.random.Generator, kind: str, tr: _Track, span: float, opts: dict) -> dict | None:
    """Place a fault of ``kind`` on ``tr`` (on a feature it reports), or None."""
    features = [f for f in FAULT_SIZES[kind] if f in tr.raw and _reported(tr, f)]
    if not features:
        return None
    feature = str(rng.choice(features))
    size = _size(rng, kind, feature)
    idx = tr.reports(feature)
    h = tr.hours[idx]
    if len(idx) < MIN_EVENT_REPORTS + 1:
        return None
    if kind == "spike":
        steps = np.cumsum(np.r_[0, rng.integers(2, 7, int(rng.integers(0, 3)))])
        factors = rng.uniform(0.8, 1.2, len(steps))
    else:
        hours = float(rng.uniform(*FAULT_HOURS[kind]))
    for _ in range(_TRIES):
        k0 = int(rng.integers(1, len(idx) - 1))  # a report before the fault is always kept
        dev = np.zeros(len(tr.hours))
        if kind == "spike":
            ks = k0 + steps
            if ks[-1] + 1 >= len(idx):
                continue
            a, b = float(h[ks[0]]), float(h[ks[-1]])
            # the spiked reports sit among normal ones: neighbours within max_gap
            if not (
                tr.free(a, b, opts["margin"])
                and np.diff(h[ks[0] - 1 : ks[-1] + 2]).max() <= opts["max_gap"]
            ):
                continue
            dev[idx[ks]] = size * factors
            new = _shifted(tr, feature, dev)
        else:
            a, b = float(h[k0]), float(h[k0]) + hours
            if b >= span or not (
                tr.free(a, b, opts["margin"]) and _covered(h, a, b, opts["max_gap"])
            ):
                continue
            inside = idx[(h >= a) & (h <= b)]
            if kind == "stuck":
                new = tr.raw[feature].copy()
                new[inside] = tr.raw[feature][idx[k0 - 1]]  # the last value before the fault
                changed = int((new[inside] != tr.raw[feature][inside]).sum())
                if changed < max(2, len(inside) // 4):  # a flat stretch is no stuck sensor
                    continue
            else:
                if kind == "drift":  # from zero at the report before to full size at the last
                    before, last = float(h[k0 - 1]), float(tr.hours[inside[-1]])
                    dev[inside] = size * (tr.hours[inside] - before) / (last - before)
                else:
                    dev[inside] = size
                new = _shifted(tr, feature, dev)
        return {"a": a, "b": b, "feature": feature, "new": {feature: new}}
    return None


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise SquallError(f"{name} must be a non-negative integer, got {value!r}")


def inject_events(
    table: pd.DataFrame,
    *,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    n_storms: int = 0,
    n_faults: int = 0,
    fault_types: Sequence[str] = FAULT_TYPES,
    seed: int = 0,
    min_reports: int = 24,
    max_gap_hours: float = 6.0,
    margin_hours: float = 12.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inject storms and sensor faults into the reports of a NOAA box table.

    Parameters
    ----------
    table : pandas.DataFrame
        Raw text table of one box file, as :func:`squall.data.noaa.read_table` returns it
        (string cells, NaN for missing; needs ``STATION`` and ``DATE``).
    start, end : str or pandas.Timestamp
        The test period ``[start, end)`` (UTC); ``end`` defaults to just after the last report.
        Events lie entirely inside it.
    n_storms, n_faults : int
        Number of storms and of sensor faults; faults cycle through ``fault_types``. Events
        are spread over the eligible tracks (a track with fewer events first, ties at random).
    fault_types : sequence of str
        Fault kinds from :data:`FAULT_TYPES`.
    seed : int
        The same table, arguments and seed give identical results.
    min_reports : int
        Least number of usable reports a track needs in the period to take events.
    max_gap_hours : float
        Longest time between two reports of the changed feature inside an event.
    margin_hours : float
        Least time between two events on one track.

    Returns
    -------
    table : pandas.DataFrame
        A copy of ``table`` with the changed cells (raw NOAA integers as strings).
    labels : pandas.DataFrame
        One row per event, columns :data:`LABEL_COLUMNS`, sorted by start time.

    Raises
    ------
    SquallError
        On an invalid argument, a table without ``STATION``/``DATE``, or when the events do not
        fit on the eligible tracks of the period.
    """
    for col in ("STATION", "DATE"):
        if col not in table.columns:
            raise SquallError(f"the table has no {col} column: not a NOAA Global Marine table")
    for name, value in (
        ("n_storms", n_storms),
        ("n_faults", n_faults),
        ("seed", seed),
        ("min_reports", min_reports),
    ):
        _check_count(name, value)
    if isinstance(fault_types, str) or not fault_types or set(fault_types) - set(FAULT_TYPES):
        raise SquallError(
            f"fault_types must be a non-empty sequence of {FAULT_TYPES}, got {fault_types!r}"
        )
    hours: tuple[tuple[str, object], ...] = (
        ("max_gap_hours", max_gap_hours),
        ("margin_hours", margin_hours),
    )
    for name, amount in hours:
        if not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
            raise SquallError(f"{name} must be a non-negative number of hours, got {amount!r}")
    if max_gap_hours <= 0:
        raise SquallError(f"max_gap_hours must be positive, got {max_gap_hours!r}")
    t0 = parse_time(start, "start")
    times = _times(table)
    if end is None:
        last = times.max()
        if pd.isna(last) or last < t0:
            raise SquallError(f"no reports at or after start {t0}")
        t1 = last + pd.Timedelta(seconds=1)
    else:
        t1 = parse_time(end, "end")
    if t1 <= t0:
        raise SquallError(f"end must be after start, got start {t0}, end {t1}")
    span = (t1 - t0) / pd.Timedelta(hours=1)
    features = sorted(set(STORM_FEATURES) | {f for v in FAULT_SIZES.values() for f in v})
    tracks = _tracks(table, t0, t1, min_reports, features)
    kinds = ["storm"] * n_storms + [fault_types[k % len(fault_types)] for k in range(n_faults)]
    if kinds and not tracks:
        raise SquallError(
            f"no track has {min_reports} usable reports in [{t0}, {t1}); "
            f"lower min_reports or choose another period"
        )
    rng = np.random.default_rng(seed)
    opts = {"max_gap": float(max_gap_hours), "margin": float(margin_hours)}
    out = table.copy()
    columns = {f: out.columns.get_loc(f) for f in features if f in out.columns}
    rows = []
    for k, kind in enumerate(kinds):
        shuffled = rng.permutation(len(tracks))
        order = sorted(shuffled, key=lambda i: len(tracks[i].busy))  # stable: random among ties
        for i in order:
            tr = tracks[i]
            if kind == "storm":
                placed = (
                    _storm(rng, tr, span, opts)
                    if "SEA_LVL_PRES" in columns and _reported(tr, "SEA_LVL_PRES")
                    else None
                )
            else:
                placed = _fault(rng, kind, tr, span, opts)
            if placed is not None:
                break
        else:
            raise SquallError(
                f"the events do not fit in [{t0}, {t1}): {kind} {k + 1} of "
                f"{len(kinds)} found no track with room (tracks with at least "
                f"{min_reports} reports: {len(tracks)})"
            )
        tr.busy.append((placed["a"], placed["b"]))
        changed_rows, changed_features, primary = np.zeros(len(tr.rows), bool), [], None
        for feature, new in placed["new"].items():
            if feature not in columns:
                continue
            diff = np.where(np.isnan(tr.raw[feature]), 0.0, new - tr.raw[feature])
            if not diff.any():
                continue
            hit = diff != 0
            changed_rows |= hit
            changed_features.append(feature)
            out.iloc[tr.rows[hit], columns[feature]] = [str(int(v)) for v in new[hit]]
            tr.raw[feature] = np.where(hit, new, tr.raw[feature])
            if feature == placed["feature"]:
                primary = diff[np.argmax(np.abs(diff))] * CONVERSIONS[feature][0]
        if primary is None:  # cannot happen for placed events; guards against silent labels
            raise SquallError(f"{kind} on {tr.station} changed no {placed['feature']} value")
        when = tr.times[changed_rows]
        rows.append(
            (
                kind,
                tr.station,
                pd.Timestamp(when.min()),
                pd.Timestamp(when.max()),
                ",".join(changed_features),
                round(float(primary), 2),
                UNITS[placed["feature"]],
            )
        )
    labels = pd.DataFrame(sorted(rows, key=lambda r: (r[2], r[1])), columns=LABEL_COLUMNS[1:])
    labels.insert(0, "event_id", np.arange(1, len(labels) + 1, dtype=np.int64))
    labels = labels.astype({"start": "datetime64[ns]", "end": "datetime64[ns]", "magnitude": float})
    return out, labels


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a raw text table as a NOAA box file (every value quoted, missing empty), atomically."""
    frame = table.astype(object).where(table.notna(), "")
    write_noaa_csv(frame.astype(str), path)


def inject_file(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    period_only: bool = False,
    **options,
) -> pd.DataFrame:
    """Inject events into one NOAA box file and write the result and its labels.

    Parameters
    ----------
    path : path-like
        A NOAA Global Marine box CSV (read with :func:`squall.data.noaa.read_table`).
    out : path-like
        Where to write the NOAA-format CSV with the injected events.
    labels : path-like, optional
        Where to write the labels CSV (default: none written).
    start, end : str or pandas.Timestamp
        The test period, as in :func:`inject_events`.
    period_only : bool
        Write only the reports of the test period (the data a detector is to score); by default
        every report of the file is written, in file order.
    **options
        ``n_storms``, ``n_faults``, ``fault_types``, ``seed``, ``min_reports``,
        ``max_gap_hours``, ``margin_hours`` of :func:`inject_events`.

    Returns
    -------
    pandas.DataFrame
        The labels.

    Raises
    ------
    SquallError
        When the file cannot be read or the events do not fit (see :func:`inject_events`).
    """
    table = read_table(Path(path))
    injected, labelled = inject_events(table, start=start, end=end, **options)
    if period_only:
        times = _times(injected)
        keep = times >= parse_time(start, "start")
        if end is not None:
            keep &= times < parse_time(end, "end")
        injected = injected[keep.to_numpy()]
    write_table(injected, out)
    if labels is not None:
        write_labels(labelled, labels)
    return labelled
