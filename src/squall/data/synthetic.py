"""Synthetic NOAA Global Marine box files (box 0-10 N, 100-110 E) with injected, labelled events.

Raw ICOADS integer units, missing values, duplicates and QC flags follow ``noaa-global-marine.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.observations import parse_time
from squall.errors import SquallError
from squall.io import atomic_path, check_output, output_files, write_csv

FEATURES = ("AIR_TEMP", "SEA_SURF_TEMP", "SEA_LVL_PRES", "WIND_SPEED", "WAVE_HGT", "WAVE_PERIOD")
EVENT_TYPES = ("storm", "spike", "stuck", "drift")
FAULT_TYPES = ("spike", "stuck", "drift")
COLUMNS = (
    "STATION",
    "DATE",
    "LATITUDE",
    "LONGITUDE",
    "ID_IND",
    "WIND_DIR",
    "WIND_SPD_IND",
    "WIND_SPEED",
    "SEA_LVL_PRES",
    "AIR_TEMP",
    "DEW_PT_TEMP",
    "SEA_SURF_TEMP",
    "WAVE_PERIOD",
    "WAVE_HGT",
    "PLATFORM_ID",
    "DUP_STATUS",
    "TRIM_FLAG",
    "NCDC_QC_FLAGS",
    "SOURCE_EXCLUSION_FLAG",
)
LABEL_COLUMNS = ("event_id", "type", "track", "start", "end", "features", "magnitude", "unit")
UNITS = {
    "AIR_TEMP": "degC",
    "SEA_SURF_TEMP": "degC",
    "SEA_LVL_PRES": "hPa",
    "WIND_SPEED": "m/s",
    "WAVE_HGT": "m",
    "WAVE_PERIOD": "s",
}
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_KNOT = 0.5144  # m/s
_GAP_HOURS = 12.0  # normal time kept between two events on one platform
# Character of each value in NCDC_QC_FLAGS (position, wind, visibility, wx, wx, SLP, AT, WBT, DPT,
# SST, cloud, waves, swell, tendency) and the TRIM_FLAG order (SST, AT, wind U, V, SLP, humidity).
_QC_POS = {
    "WIND_SPEED": 1,
    "SEA_LVL_PRES": 5,
    "AIR_TEMP": 6,
    "DEW_PT_TEMP": 8,
    "SEA_SURF_TEMP": 9,
    "WAVE_HGT": 11,
}
_TRIM_ORDER = (
    "SEA_SURF_TEMP",
    "AIR_TEMP",
    "WIND_SPEED",
    "WIND_SPEED",
    "SEA_LVL_PRES",
    "DEW_PT_TEMP",
)
_SPIKE = {
    "SEA_LVL_PRES": (15.0, 40.0, True),
    "AIR_TEMP": (6.0, 10.0, True),
    "WIND_SPEED": (12.0, 18.0, False),
    "SEA_SURF_TEMP": (4.0, 7.0, True),
}  # lo, hi, signed
_DRIFT = {"SEA_SURF_TEMP": (2.5, 4.0), "SEA_LVL_PRES": (6.0, 10.0), "AIR_TEMP": (4.0, 6.0)}


@dataclass(frozen=True)
class Platform:
    """One ship or moored buoy of the synthetic box (buoys keep their start position)."""

    station: str  # ship call sign ("SYN0001") or WMO buoy id ("5300101")
    kind: str  # "ship" or "buoy"
    interval_hours: float  # ships 3 or 6 h, buoys 1 or 0.5 h
    lat: float  # start position, decimal degrees
    lon: float
    heading_deg: float = 0.0  # initial course of a ship
    speed_knots: float = 0.0
    has_waves: bool = False
    has_air_temp: bool = True
    minute_offset: int = 0  # minutes past the start of the first report
    wind_in_knots: bool = False  # WIND_SPD_IND 4: converted from whole knots


@dataclass
class _Track:
    """Simulated values of one platform on its regular report grid (before outages are removed)."""

    platform: Platform
    minutes: np.ndarray  # report times, minutes after the start
    lat: np.ndarray
    lon: np.ndarray
    keep: np.ndarray  # False inside reporting outages
    phys: dict[str, np.ndarray]  # physical values (deg C, hPa, m/s, m, s, degrees)
    present: dict[str, np.ndarray]
    noise: dict[str, np.ndarray]
    qc: dict[str, np.ndarray]  # NCDC flag character per value
    event: np.ndarray  # True from the first to the last deviating report of an event
    busy: list[tuple[float, float]] = field(default_factory=list)  # event hours with margins


def _ou(rng: np.random.Generator, n: int, dt: float, tau: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series (discretised Ornstein-Uhlenbeck): std ``sd``, time scale ``tau``."""
    phi = math.exp(-dt / tau)
    eps = rng.normal(0.0, sd * math.sqrt(1.0 - phi * phi), n)
    eps[:1] /= math.sqrt(1.0 - phi * phi)  # start in the stationary distribution
    ar1 = np.frompyfunc(lambda x, e: phi * x + e, 2, 1)
    return ar1.accumulate(eps.astype(object)).astype(float) if n else eps


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect an unbounded coordinate into ``[lo, hi]``: a track bouncing off the box edges."""
    return hi - np.abs((x - lo) % (2.0 * (hi - lo)) - (hi - lo))


def _make_platforms(rng: np.random.Generator, n_ships: int, n_buoys: int) -> list[Platform]:
    ships = [
        Platform(
            station=f"SYN{k + 1:04d}",
            kind="ship",
            interval_hours=3.0 if k == 0 or rng.random() < 0.6 else 6.0,
            lat=round(rng.uniform(1.0, 9.0), 2),
            lon=round(rng.uniform(101.0, 109.0), 2),
            heading_deg=rng.uniform(0.0, 360.0),
            speed_knots=rng.uniform(4.0, 10.0),
            has_waves=True,
            wind_in_knots=bool(rng.random() < 0.4),
        )
        for k in range(n_ships)
    ]
    buoys = [
        Platform(
            station=f"53001{k + 1:02d}",
            kind="buoy",
            interval_hours=1.0 if rng.random() < 0.75 else 0.5,
            lat=round(rng.uniform(1.0, 9.0), 2),
            lon=round(rng.uniform(101.0, 109.0), 2),
            has_air_temp=bool(rng.random() < 0.7),
            minute_offset=int(rng.choice([0, 20])),
        )
        for k in range(n_buoys)
    ]
    return ships + buoys


def _simulate(rng: np.random.Generator, p: Platform, t0: pd.Timestamp, days: float) -> _Track:
    """Normal behaviour of one platform: positions, true values, sensor noise, gaps, missing."""
    step = round(p.interval_hours * 60)
    minutes = np.arange(p.minute_offset % step, days * 1440, step).astype(np.int64)
    n, dt, hours = len(minutes), p.interval_hours, minutes / 60.0
    keep = np.ones(n, dtype=bool)  # outages: buoys 6-24 h now and then, ships skip 1-3 reports
    for _ in range(rng.poisson(days / (12.0 if p.kind == "buoy" else 4.0))):
        s = rng.uniform(0.0, days * 24)
        length = rng.uniform(6.0, 24.0) if p.kind == "buoy" else dt * rng.integers(1, 4)
        keep &= ~((hours >= s) & (hours < s + length))
    lat, lon = np.full(n, p.lat), np.full(n, p.lon)
    if p.kind == "ship":  # steady speed, slowly turning course
        course = np.radians(p.heading_deg + np.cumsum(rng.normal(0.0, 5.0, n)))
        deg = p.speed_knots * dt / 60.0  # degrees of latitude per report
        lat = _fold(p.lat + deg * np.r_[0.0, np.cumsum(np.cos(course))[:-1]], 0.2, 9.8)
        dlon = deg * np.sin(course) / np.cos(np.radians(lat))
        lon = _fold(p.lon + np.r_[0.0, np.cumsum(dlon)[:-1]], 100.2, 109.8)
    local = (t0.hour + t0.minute / 60.0 + hours + lon / 15.0) % 24.0  # ~UTC+7 in this box
    # Daily cycles peak mid-afternoon; the semidiurnal atmospheric tide peaks near 10 and 22 h.
    air = (
        27.6
        + rng.normal(0, 0.4)
        + 1.3 * np.cos(np.pi * (local - 14.5) / 12)
        + _ou(rng, n, dt, 48, 0.5)
        + rng.normal(0, 0.15, n)
    )
    phys = {
        "AIR_TEMP": air,
        "DEW_PT_TEMP": air - 3.2 - _ou(rng, n, dt, 24, 0.6),
        "SEA_SURF_TEMP": (
            28.6
            + rng.normal(0, 0.2)
            + 0.25 * np.cos(np.pi * (local - 15) / 12)
            + _ou(rng, n, dt, 120, 0.15)
            + rng.normal(0, 0.08, n)
        ),
        "SEA_LVL_PRES": (
            1010.0
            + rng.normal(0, 0.6)
            + 1.2 * np.cos(np.pi * (local - 10) / 6)
            + _ou(rng, n, dt, 72, 1.0)
        ),
        "WIND_SPEED": 5.5 + _ou(rng, n, dt, 12, 1.8),
        "WIND_DIR": 40.0 + rng.normal(0, 20) + _ou(rng, n, dt, 48, 25) + rng.normal(0, 12, n),
    }
    noise: dict[str, np.ndarray] = {
        k: rng.standard_normal(n) for k in ("slp", "wind", "hgt", "per")
    }
    noise["p99"] = rng.random(n) < 0.03  # WAVE_PERIOD 99: not determinable
    if p.kind == "ship":
        miss = {
            "SEA_SURF_TEMP": rng.uniform(0.3, 0.5),
            "WAVE_HGT": rng.uniform(0.4, 0.6),
            "WIND_SPEED": rng.uniform(0.05, 0.15),
            "SEA_LVL_PRES": 0.04,
            "AIR_TEMP": 0.04,
            "DEW_PT_TEMP": 0.2,
        }
    else:
        miss = {
            "SEA_SURF_TEMP": 0.01,
            "WAVE_HGT": 1.0,
            "WIND_SPEED": 0.01,
            "SEA_LVL_PRES": 0.005,
            "AIR_TEMP": 0.01 if p.has_air_temp else 1.0,
            "DEW_PT_TEMP": 0.05,
        }
    present = {k: rng.random(n) >= q for k, q in miss.items()}
    present["DEW_PT_TEMP"] &= present["AIR_TEMP"]
    present["WAVE_PERIOD"] = present["WAVE_HGT"]
    qc = {k: np.full(n, "1", dtype="<U1") for k in _QC_POS}
    return _Track(p, minutes, lat, lon, keep, phys, present, noise, qc, np.zeros(n, dtype=bool))


def _place(rng: np.random.Generator, tr: _Track, length: int, first_h: float) -> int | None:
    """Start of ``length`` uninterrupted reports after ``first_h``, clear of other events."""
    hours = tr.minutes / 60.0
    lo, hi = max(1, int(np.searchsorted(hours, first_h))), len(hours) - length - 1
    for _ in range(100 if hi > lo else 0):
        i0 = int(rng.integers(lo, hi))
        a, b = hours[i0] - _GAP_HOURS, hours[i0 + length - 1] + _GAP_HOURS
        if tr.keep[i0 - 1 : i0 + length + 1].all() and all(b < s or a > e for s, e in tr.busy):
            tr.busy.append((a, b))
            return i0
    return None


def _inject(rng: np.random.Generator, tr: _Track, kind: str, first_h: float) -> dict | None:
    """Draw, place and apply one event on ``tr``; return its label data, or None if it is full."""
    p, dt, ph = tr.platform, tr.platform.interval_hours, tr.phys
    usable = ["SEA_LVL_PRES", "WIND_SPEED"] + ["AIR_TEMP"] * p.has_air_temp  # ~always reported
    usable += ["SEA_SURF_TEMP"] * (p.kind == "buoy")
    feat = str(
        rng.choice(
            [
                f
                for f in usable
                if kind in ("storm", "stuck") or f in (_SPIKE if kind == "spike" else _DRIFT)
            ]
        )
    )
    if kind == "storm":  # pressure falls over 12-48 h, recovers over 12-24 h; wind rises
        nf, nr = max(2, round(rng.uniform(12, 48) / dt)), max(2, round(rng.uniform(12, 24) / dt))
        depth, gust = rng.uniform(12.0, 30.0), rng.uniform(8.0, 20.0)
        offsets = np.arange(nf + nr - 1)
    elif kind == "spike":  # 1-3 isolated reports; NOAA QC flags only some of them
        offsets = np.cumsum(np.r_[0, rng.integers(2, 7, rng.integers(0, 3))])
        lo, hi, signed = _SPIKE[feat]
        dev = rng.uniform(lo, hi) * rng.uniform(0.8, 1.2, len(offsets))
        dev *= rng.choice([-1.0, 1.0]) if signed else 1.0
        flags = np.where(rng.random(len(offsets)) < 0.5, rng.choice(["6", "9"], len(offsets)), "1")
    else:  # stuck for 12-36 h, or a linear drift over 1-3 days that then snaps back
        lo, hi = (12.0, 36.0) if kind == "stuck" else (24.0, 72.0)
        offsets = np.arange(max(2, round(rng.uniform(lo, hi) / dt)))
        if kind == "drift":
            ramp = (offsets + 1) / len(offsets)
            dev = rng.uniform(*_DRIFT[feat]) * rng.choice([-1.0, 1.0]) * ramp
    i0 = _place(rng, tr, int(offsets[-1]) + 1, first_h)
    if i0 is None:
        return None
    idx = i0 + offsets
    if kind == "storm":
        x = (offsets + 1).astype(float)  # report steps since the last undisturbed report
        shape = np.where(
            x <= nf, np.sin(0.5 * np.pi * x / nf) ** 2, np.cos(0.5 * np.pi * (x - nf) / nr) ** 2
        )
        ph["SEA_LVL_PRES"][idx] -= depth * shape
        ph["WIND_SPEED"][idx] += gust * shape
        tr.present["SEA_LVL_PRES"][idx] = tr.present["WIND_SPEED"][idx] = True
        feats = ["SEA_LVL_PRES", "WIND_SPEED"] + ["WAVE_HGT", "WAVE_PERIOD"] * p.has_waves
        return dict(idx=idx, features=feats, magnitude=-depth, unit="hPa")
    if kind == "stuck":  # the sensor keeps sending its last good value
        dev = ph[feat][i0 - 1] - ph[feat][idx]
    if kind == "spike":
        tr.qc[feat][idx] = flags
    ph[feat][idx] += dev
    tr.present[feat][idx] = True
    return dict(
        idx=idx, features=[feat], magnitude=float(dev[np.argmax(np.abs(dev))]), unit=UNITS[feat]
    )


def _finish(tr: _Track) -> None:
    """Sensor noise and the wave field, from the (possibly storm-disturbed) true values."""
    ph, z = tr.phys, tr.noise
    wind = np.clip(ph["WIND_SPEED"], 0.0, None)
    ph["WAVE_HGT"] = np.clip(0.35 + 0.16 * wind + 0.15 * z["hgt"], 0.0, None)
    ph["WAVE_PERIOD"] = np.clip(3.2 + 0.6 * wind + 0.6 * z["per"], 2.0, 20.0)
    ph["SEA_LVL_PRES"] = ph["SEA_LVL_PRES"] + 0.15 * z["slp"]
    wind = np.clip(wind + 0.3 * z["wind"], 0.0, None)
    ph["WIND_SPEED"] = np.rint(wind / _KNOT) * _KNOT if tr.platform.wind_in_knots else wind


def _encode(tr: _Track, t0: pd.Timestamp) -> dict[str, np.ndarray]:
    """Raw NOAA strings of the kept reports ('' for missing), plus the ``_event`` mask."""
    k, p, ph, n = tr.keep, tr.platform, tr.phys, int(tr.keep.sum())
    pres = {f: m[k] for f, m in tr.present.items()}

    def col(ints: np.ndarray, feat: str) -> np.ndarray:
        return np.where(pres[feat], ints.astype(np.int64).astype(str), "")

    tenths = {
        f: np.rint(ph[f][k] * 10)
        for f in ("WIND_SPEED", "SEA_LVL_PRES", "AIR_TEMP", "DEW_PT_TEMP", "SEA_SURF_TEMP")
    }
    wdir = np.where(tenths["WIND_SPEED"] == 0, 361, (np.rint(ph["WIND_DIR"][k]) - 1) % 360 + 1)
    period = np.where(tr.noise["p99"][k], 99, np.rint(ph["WAVE_PERIOD"][k]))
    trim = np.where(np.stack([pres[f] for f in _TRIM_ORDER], axis=1), "1", "F").astype("<U1")
    ncdc = np.full((n, 14), "A", dtype="<U1")
    ncdc[:, 0] = "1"
    for f, pos in _QC_POS.items():
        ncdc[:, pos] = np.where(pres[f], tr.qc[f][k], "A")
    ship = p.kind == "ship"
    ids = {"ID_IND": "1" if ship else "11", "PLATFORM_ID": "5" if ship else "6"}  # 6 moored buoy
    out = {
        "STATION": np.full(n, p.station),
        **{c: np.full(n, v) for c, v in ids.items()},
        "DATE": (t0 + pd.to_timedelta(tr.minutes[k], unit="min")).strftime(DATE_FORMAT).values,
        "LATITUDE": np.char.mod("%.2f", tr.lat[k]),
        "LONGITUDE": np.char.mod("%.2f", tr.lon[k]),
        "WIND_DIR": col(wdir, "WIND_SPEED"),
        "WAVE_PERIOD": col(period, "WAVE_PERIOD"),
        "WIND_SPD_IND": np.where(pres["WIND_SPEED"], "4" if p.wind_in_knots else "1", ""),
        "WAVE_HGT": col(np.rint(ph["WAVE_HGT"][k] / 0.5), "WAVE_HGT"),  # 0.5 m units
        "TRIM_FLAG": trim.view("<U6").ravel(),
        "NCDC_QC_FLAGS": ncdc.view("<U14").ravel(),
        "SOURCE_EXCLUSION_FLAG": np.full(n, ""),
        "_event": tr.event[k],
    }
    return out | {f: col(v, f) for f, v in tenths.items()}


def _check(name: str, value: object, days: bool = False) -> None:
    kinds = (int, float, np.integer, np.floating) if days else (int, np.integer)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if days else value < 0):  # type: ignore[operator]  # ok: a number
        expected = "a positive number of days" if days else "a non-negative integer"
        raise SquallError(f"{name} must be {expected}, got {value!r}")


def synthesize(
    start: str = "2025-03-01",
    days: float = 30,
    *,
    n_ships: int = 4,
    n_buoys: int = 4,
    n_storms: int = 0,
    n_faults: int = 0,
    seed: int = 0,
    event_start: str | None = None,
    fault_types: Sequence[str] = FAULT_TYPES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate synthetic box-file reports with injected, labelled events.

    Parameters
    ----------
    start, days : str, float
        First report time (UTC) and length of the period (reports end before ``start + days``).
    n_ships, n_buoys, n_storms, n_faults : int
        Platforms (at least one) and events: round-robin over platforms reporting at least 3-hourly
        (then 6-hourly ships), never overlapping on one; faults cycle through ``fault_types``.
    seed : int
        Same arguments and seed give identical frames.
    event_start : str, optional
        No event deviates before this time (default: ``start``).

    Returns
    -------
    reports : pandas.DataFrame
        One row per report in time order, columns ``COLUMNS``, raw NOAA strings ('' = missing),
        including a few exact duplicates carrying ``DUP_STATUS`` 4.
    labels : pandas.DataFrame
        Columns ``LABEL_COLUMNS``: ``start``/``end`` are the first and last deviating report,
        ``magnitude`` the signed largest deviation from the undisturbed value, in ``unit``.

    Raises
    ------
    SquallError
        On an invalid argument, or when the events do not fit in the period.
    """
    t0 = parse_time(start, "start")
    _check("days", days, days=True)
    for name, value in (
        ("n_ships", n_ships),
        ("n_buoys", n_buoys),
        ("n_storms", n_storms),
        ("n_faults", n_faults),
        ("seed", seed),
    ):
        _check(name, value)
    if n_ships + n_buoys == 0:
        raise SquallError("n_ships + n_buoys must be at least 1, got 0")
    if isinstance(fault_types, str) or not fault_types or set(fault_types) - set(FAULT_TYPES):
        raise SquallError(
            f"fault_types must be a non-empty sequence of {FAULT_TYPES}, got {fault_types!r}"
        )
    t_end, first_h = t0 + pd.Timedelta(days=days), 0.0
    if event_start is not None:
        ev = parse_time(event_start, "event_start")
        if not t0 <= ev < t_end:
            raise SquallError(f"event_start must be within [{t0}, {t_end}), got {event_start!r}")
        first_h = (ev - t0) / pd.Timedelta(hours=1)
    # Independent streams: events and duplicates never change the normal signal of a seed.
    sig_rng, evt_rng, dup_rng = map(np.random.default_rng, np.random.SeedSequence(seed).spawn(3))
    tracks = [_simulate(sig_rng, p, t0, days) for p in _make_platforms(sig_rng, n_ships, n_buoys)]
    shuffled = [tracks[i] for i in evt_rng.permutation(len(tracks))]
    fast = [tr for tr in shuffled if tr.platform.interval_hours <= 3.0]  # never empty
    slow = [tr for tr in shuffled if tr.platform.interval_hours > 3.0]

    def spread(k: int, kind: str) -> tuple[_Track, str, dict]:
        # Round-robin over the platforms reporting at least 3-hourly; 6-hourly ships if all full.
        for tr in [fast[(k + j) % len(fast)] for j in range(len(fast))] + slow:
            row = _inject(evt_rng, tr, kind, first_h)
            if row is not None:
                tr.event[row["idx"][0] : row["idx"][-1] + 1] = True
                return tr, kind, row
        raise SquallError(
            f"n_storms + n_faults must fit without overlap in {days} days after "
            f"event_start, got {n_storms + n_faults} events ({kind} {k + 1} failed)"
        )

    events = [spread(k, "storm") for k in range(n_storms)]
    for tr in tracks:  # storms change the weather, then faults change the noisy readings
        _finish(tr)
    events += [spread(n_storms + k, fault_types[k % len(fault_types)]) for k in range(n_faults)]
    cols = [_encode(tr, t0) for tr in tracks]
    reports = pd.DataFrame(
        {
            c: np.concatenate([d[c] for d in cols]).astype(object)
            for c in COLUMNS
            if c != "DUP_STATUS"
        }
    )
    n, in_event = len(reports), np.concatenate([d["_event"] for d in cols])
    dup = np.where((reports["PLATFORM_ID"] == "5") & (dup_rng.random(n) < 0.3), "1", "0")
    copies = dup_rng.choice(n, size=min(n, max(1, round(0.004 * n))), replace=False)
    copies = copies[~in_event[copies]]  # duplicates stay out of the labelled events
    dup[copies] = "1"
    reports.insert(COLUMNS.index("DUP_STATUS"), "DUP_STATUS", dup.astype(object))
    reports = pd.concat([reports, reports.iloc[copies].assign(DUP_STATUS="4")], ignore_index=True)
    reports = reports.sort_values(["DATE", "STATION"], kind="stable", ignore_index=True)
    rows = [
        (
            kind,
            tr.platform.station,
            t0 + pd.Timedelta(minutes=int(tr.minutes[r["idx"][0]])),
            t0 + pd.Timedelta(minutes=int(tr.minutes[r["idx"][-1]])),
            ",".join(r["features"]),
            round(float(r["magnitude"]), 2),
            r["unit"],
        )
        for tr, kind, r in events
    ]
    labels = pd.DataFrame(sorted(rows, key=lambda r: (r[2], r[1])), columns=LABEL_COLUMNS[1:])
    labels.insert(0, "event_id", np.arange(1, len(labels) + 1, dtype=np.int64))
    return reports, labels.astype(
        {"start": "datetime64[ns]", "end": "datetime64[ns]", "magnitude": float}
    )


def write_noaa_csv(reports: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a NOAA box file atomically: values double-quoted, missing ones empty and unquoted."""
    values = [reports[c].to_numpy(dtype=object) for c in reports.columns]
    bad = next((v for col in values for v in col if not isinstance(v, str)), "")
    if bad != "":
        raise SquallError(f"reports must hold raw strings ('' for missing), got {bad!r}")

    def quote(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if v else ""

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(quote(str(c)) for c in reports.columns) + "\n")
        fh.writelines(",".join(map(quote, row)) + "\n" for row in zip(*values, strict=True))


def write_labels(labels: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write event labels (``LABEL_COLUMNS``) as CSV with ISO times, atomically."""
    with atomic_path(path) as tmp:
        labels.loc[:, list(LABEL_COLUMNS)].to_csv(tmp, index=False, date_format=DATE_FORMAT)


#: The files :func:`generate_demo_data` writes (``squall synth``).
DEMO_DATA_OUTPUTS = ("train.csv", "test.csv", "labels.csv")


def generate_demo_data(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    days_train: float = 28,
    days_test: float = 14,
    n_ships: int = 4,
    n_buoys: int = 4,
    n_storms: int = 6,
    n_faults: int = 6,
    start: str = "2025-03-01",
) -> dict[str, Path]:
    """Write ``train.csv`` (normal only), ``test.csv`` (events) and ``labels.csv`` to ``out_dir``.

    One simulation over ``days_train + days_test`` with events after the training period is split
    in time, so the test file continues the same stations in time and position. Returns the paths
    as ``{"train": ..., "test": ..., "labels": ...}``. ``out_dir`` is a run directory
    (:func:`squall.io.output_files`), checked before the simulation: new, empty or an earlier
    one; the files are listed in its manifest and other files there are left alone.
    """
    _check("days_train", days_train, days=True)
    _check("days_test", days_test, days=True)
    check_output(out_dir, directory=True)
    split = (parse_time(start, "start") + pd.Timedelta(days=days_train)).strftime(DATE_FORMAT)
    reports, labels = synthesize(
        start,
        days_train + days_test,
        n_ships=n_ships,
        n_buoys=n_buoys,
        n_storms=n_storms,
        n_faults=n_faults,
        seed=seed,
        event_start=split,
    )
    is_train = reports["DATE"].to_numpy(dtype=str) < split  # ISO strings sort in time order
    with output_files(out_dir, DEMO_DATA_OUTPUTS, "synth") as tmp:
        write_noaa_csv(reports[is_train], tmp / "train.csv")
        write_noaa_csv(reports[~is_train], tmp / "test.csv")
        write_labels(labels, tmp / "labels.csv")
    return {name.removesuffix(".csv"): Path(out_dir) / name for name in DEMO_DATA_OUTPUTS}


#: The files :func:`generate_harmonics` writes (``squall synth --kind harmonics``).
HARMONICS_OUTPUTS = ("harmonics.csv", "components.csv")
#: Columns of ``components.csv``: the true sinusoids of each track.
COMPONENT_COLUMNS = ("track", "component", "period_steps", "amplitude", "phase")


def harmonic_signals(
    *,
    components: int = 5,
    tracks: int = 4,
    steps: int = 1000,
    periods: tuple[int, int] = (2, 100),
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Signals made of harmonics (seed 001's data set): each track is the sum of a random number
    (uniform in ``1..components``) of sinusoids ``a sin(2 pi t / T + phi)`` with integer periods
    ``T`` uniform in ``periods`` (inclusive, in steps), phases uniform in ``[0, 2 pi)`` and
    amplitudes uniform in ``[0, 1)`` scaled to sum to 1, plus Gaussian noise of standard
    deviation ``noise``. Returns the values ``(tracks, steps)`` and the components table
    (:data:`COMPONENT_COLUMNS`); the same arguments give the same numbers."""
    for name, value, low in (("components", components, 1), ("tracks", tracks, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise SquallError(f"{name} must be an integer >= {low}, got {value!r}")
    if not isinstance(steps, int) or not 2 <= steps <= 10_000_000:
        raise SquallError(f"steps must be an integer in [2, 10000000], got {steps!r}")
    lo, hi = periods
    if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi):
        raise SquallError(f"periods must be two integers 2 <= low <= high, got {periods!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise SquallError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float64)
    values = np.zeros((tracks, steps))
    rows = []
    for k in range(tracks):
        n = int(rng.integers(1, components + 1))
        period = rng.integers(lo, hi + 1, n)
        phase = rng.uniform(0.0, 2.0 * math.pi, n)
        amplitude = rng.uniform(0.0, 1.0, n)
        amplitude /= amplitude.sum()
        for j in range(n):
            values[k] += amplitude[j] * np.sin(2.0 * math.pi * t / period[j] + phase[j])
            rows.append((f"h{k + 1:03d}", j + 1, int(period[j]), amplitude[j], phase[j]))
        values[k] += rng.normal(0.0, noise, steps) if noise > 0 else 0.0
    return values, pd.DataFrame(rows, columns=list(COMPONENT_COLUMNS))


def generate_harmonics(
    out_dir: str | os.PathLike[str],
    *,
    components: int = 5,
    tracks: int = 4,
    steps: int = 1000,
    periods: tuple[int, int] = (2, 100),
    noise: float = 0.1,
    seed: int = 0,
    start: str = "2025-01-01",
    interval: str = "1h",
) -> dict[str, Path]:
    """Write :func:`harmonic_signals` to ``out_dir``: ``harmonics.csv`` (columns ``timestamp,
    track, value``; one row per step, ``interval`` apart from ``start``; read it with
    ``--track-column track``) and ``components.csv`` (the true sinusoids). A run directory as
    :func:`generate_demo_data`'s, checked before any work."""
    check_output(out_dir, directory=True)
    t0 = parse_time(start, "start")
    try:
        step = pd.Timedelta(interval)
    except ValueError:
        raise SquallError(f"interval must be a duration such as 1h, got {interval!r}") from None
    if step <= pd.Timedelta(0):
        raise SquallError(f"interval must be positive, got {interval!r}")
    values, table = harmonic_signals(
        components=components,
        tracks=tracks,
        steps=steps,
        periods=periods,
        noise=noise,
        seed=seed,
    )
    times = pd.date_range(t0, periods=steps, freq=step).strftime(DATE_FORMAT)
    frame = pd.DataFrame(
        {
            "timestamp": np.tile(np.asarray(times, dtype=object), tracks),
            "track": np.repeat([f"h{k + 1:03d}" for k in range(tracks)], steps),
            "value": values.reshape(-1),
        }
    )
    with output_files(out_dir, HARMONICS_OUTPUTS, "synth") as tmp:
        write_csv(frame, tmp / "harmonics.csv")
        write_csv(table, tmp / "components.csv")
    return {name.removesuffix(".csv"): Path(out_dir) / name for name in HARMONICS_OUTPUTS}
