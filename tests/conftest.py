"""Shared fixtures and helpers for the squall test suite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

#: The shared NOAA/NAB/seed-model data, a sibling of the repository (``../shared/data``).
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: The column set :func:`write_noaa` writes by default (a subset of a real box file's 67).
NOAA_COLUMNS = (
    "STATION",
    "DATE",
    "LATITUDE",
    "LONGITUDE",
    "WIND_DIR",
    "WIND_SPEED",
    "SEA_LVL_PRES",
    "AIR_TEMP",
    "SEA_SURF_TEMP",
    "WAVE_PERIOD",
    "WAVE_HGT",
    "PLATFORM_ID",
    "DUP_STATUS",
    "TRIM_FLAG",
    "NCDC_QC_FLAGS",
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory; skips the test when it is not there.

    Session-scoped so module- and session-scoped fixtures can depend on it too.
    """
    if not SHARED.is_dir():
        pytest.skip(
            "../shared/data is not present (the shared NOAA/NAB/seed-model data); "
            "these tests need it"
        )
    return SHARED


def write_noaa(
    path: str | Path,
    rows: list[dict],
    header_prefix: str = "",
    *,
    columns: Sequence[str] = NOAA_COLUMNS,
    header_suffix: str = "",
    footer: str = "",
    newline: str = "\n",
) -> Path:
    """Write a small NOAA Global Marine box CSV as NOAA does.

    Every field is double-quoted; a missing value (key absent, ``None`` or ``""``) is an empty,
    unquoted field. ``header_prefix``/``header_suffix`` are written around the header line (e.g.
    the backticks of the shared sample, or a BOM), ``footer`` after the last data line.
    Keys of ``rows`` that are not in ``columns`` are an error (a typo in a test).
    """
    path = Path(path)
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"write_noaa: columns {sorted(unknown)} not in {list(columns)}")

    def field(value: object) -> str:
        return "" if value is None or value == "" else f'"{value}"'

    lines = [header_prefix + ",".join(f'"{c}"' for c in columns) + header_suffix]
    lines += [",".join(field(row.get(c)) for c in columns) for row in rows]
    text = newline.join(lines) + newline + footer
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def noaa_csv(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``noaa_csv(rows, name="box.csv", **write_noaa_options)`` -> path in tmp_path."""

    def make(rows: list[dict], name: str = "box.csv", header_prefix: str = "", **kw) -> Path:
        return write_noaa(tmp_path / name, rows, header_prefix, **kw)

    return make
