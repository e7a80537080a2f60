"""Which reader reads a file, with which options: one typed reader configuration, built once.

:class:`ReaderConfig` holds every reader option (the NOAA reader's and the generic sensor CSV
reader's); :func:`read_data` dispatches to the right reader; :meth:`ReaderConfig.resolved`
turns a configuration and what it read into the concrete one stored in a bundle, so that data
read later is read exactly as the training data was.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from squall.data.noaa import DEFAULT_FEATURES, header_names, read_noaa
from squall.data.observations import Observations, expand_paths
from squall.data.sensor_csv import DAY_FIRST, read_sensor_csv
from squall.errors import SquallError

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
KINDS = ("auto", "noaa", "csv")
QC_MODES = ("keep", "drop")


@dataclass(frozen=True)
class ReaderConfig:
    """How data files are read.

    ``kind``: ``noaa`` (NOAA Global Marine CSV), ``csv`` (a generic sensor CSV) or ``auto``
    (``noaa`` when the header has STATION and DATE, else ``csv``). ``features``: the value
    columns (None: the reader's defaults, all numeric columns for a generic CSV).
    NOAA only: ``qc`` (``keep`` or ``drop`` values whose NCDC QC flag says erroneous) and
    ``keep_codes`` (keep special codes such as 99.9 as values). Generic CSV only:
    ``time_column``, ``track_column``, ``time_format`` (strftime format of the time column)
    and ``dayfirst`` (ambiguous dates are read day first). ``None`` means "not given", and so
    does an empty ``time_format`` (as a command line's ``--time-format ""``).
    """

    kind: str = "auto"
    features: tuple[str, ...] | None = None
    qc: str | None = None
    keep_codes: bool | None = None
    time_column: str | None = None
    track_column: str | None = None
    time_format: str | None = None
    dayfirst: bool | None = None

    def __post_init__(self) -> None:
        if self.time_format == "":
            object.__setattr__(self, "time_format", None)
        if self.kind not in KINDS:
            raise SquallError(f"data kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.features is not None:
            if isinstance(self.features, str) or not all(
                isinstance(f, str) and f for f in self.features
            ):
                raise SquallError(
                    f"reader features must be a list of column names, got {self.features!r}"[:200]
                )
            object.__setattr__(self, "features", tuple(self.features))
        if self.qc is not None and self.qc not in QC_MODES:
            raise SquallError(f"qc must be one of {', '.join(QC_MODES)}, got {self.qc!r}")
        for name in ("keep_codes", "dayfirst"):
            if getattr(self, name) not in (None, True, False):
                raise SquallError(
                    f"reader {name} must be true or false, got {getattr(self, name)!r}"[:200]
                )
        for name in ("time_column", "track_column", "time_format"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise SquallError(f"reader {name} must be a non-empty string, got {value!r}"[:200])

    @classmethod
    def from_dict(cls, data: object) -> ReaderConfig:
        """From a JSON object (a bundle's ``provenance.reader``); unknown keys are refused."""
        if isinstance(data, ReaderConfig):
            return data
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise SquallError(
                f"a reader configuration must be an object, got {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SquallError(f"reader configuration has unknown key {unknown[0]!r}")
        if data.get("kind") is None and "kind" in data:
            raise SquallError("reader kind must be a string (noaa, csv or auto)")
        return cls(**data)

    def to_dict(self) -> dict:
        """The JSON object stored in a bundle (unset options left out)."""
        out: dict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None or f.name in ("track_column", "time_format"):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        if self.kind == "noaa":
            for key in ("time_column", "track_column", "time_format", "dayfirst"):
                out.pop(key, None)
        return out

    def with_features(self, features: Sequence[str] | None) -> ReaderConfig:
        return replace(self, features=None if features is None else tuple(features))

    def kind_of(self, first: Path) -> str:
        """The concrete kind for files whose first one is ``first``."""
        if self.kind != "auto":
            return self.kind
        return "csv" if self.time_column else detect_kind(first)

    def resolved(self, obs: Observations) -> ReaderConfig:
        """The configuration to store in a bundle: concrete kind, features and date rule."""
        # the generic reader records one time format per file; the NOAA reader none (a generic
        # CSV's feature may well be called flag_something)
        noaa = not obs.time_formats and any(c.startswith("flag_") for c in obs.frame.columns)
        kind = "noaa" if noaa else "csv"
        if kind == "noaa":
            return ReaderConfig(
                "noaa", tuple(obs.features), qc=self.qc or "keep", keep_codes=bool(self.keep_codes)
            )
        # an inferred day-first format is recorded too: data read later whose days are all
        # <= 12 is ambiguous on its own and must be read as the training data was
        dayfirst = bool(self.dayfirst) or (
            not self.time_format and any(f in DAY_FIRST for f in obs.time_formats)
        )
        return ReaderConfig(
            "csv",
            tuple(obs.features),
            time_column=self.time_column or "timestamp",
            track_column=self.track_column,
            time_format=self.time_format,
            dayfirst=dayfirst,
        )


def _as_list(paths: Paths) -> list:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def detect_kind(path: Path) -> str:
    """``noaa`` when the header has STATION and DATE columns, else ``csv``."""
    try:
        names = header_names(path)
    except SquallError:
        return "csv"
    return "noaa" if {"STATION", "DATE"} <= set(names) else "csv"


def read_data(paths: Paths, reader: ReaderConfig | dict | None = None) -> Observations:
    """Read data files with a reader configuration (a :class:`ReaderConfig`, or its JSON
    object as stored in a bundle)."""
    config = ReaderConfig.from_dict(reader)
    files = expand_paths(_as_list(paths))
    kind = config.kind_of(files[0])
    if kind == "noaa":
        given = [k for k in ("time_format", "dayfirst") if getattr(config, k) not in (None, False)]
        if given:
            raise SquallError(
                f"{' and '.join(given)} do not apply to NOAA files (their DATE is "
                f"ISO 8601); leave them out"
            )
        return read_noaa(
            files,
            list(config.features or DEFAULT_FEATURES),
            qc=config.qc or "keep",
            keep_codes=bool(config.keep_codes),
        )
    return read_sensor_csv(
        files,
        time_column=config.time_column or "timestamp",
        features=None if config.features is None else list(config.features),
        track_column=config.track_column,
        time_format=config.time_format,
        dayfirst=bool(config.dayfirst),
    )
