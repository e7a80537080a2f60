"""Option types and option groups shared by the commands (argparse only, no command here).

The ``type=`` functions check a value while the options are parsed, before any work; the option
groups (:func:`reader_options`, :func:`add_quiet`) give every command that has them the same
names, help and defaults.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence
from typing import Any

#: Metavars of the positional arguments most commands share (one name, one meaning).
BUNDLE = "BUNDLE"
DATA = "DATA"
BUNDLE_HELP = "bundle directory (written by 'squall train' or 'squall import-keras')"
DATA_HELP = "CSV files or globs, or one windows .npz (from 'squall windows' or 'squall detect')"


def csv_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def engine_names() -> list[str]:
    """The engines ``--engine`` accepts, for ``choices=`` (listed by ``--help``)."""
    from squall.engines import ENGINES

    return list(ENGINES)


def engine(text: str) -> str:
    """An engine name, checked when the options are parsed (before any data is read)."""
    names = engine_names()
    if text not in names:
        raise argparse.ArgumentTypeError(f"unknown engine {text!r}; available: {', '.join(names)}")
    return text


def add_engine(p: argparse.ArgumentParser | Any, default: str, help: str) -> None:
    """``--engine`` with the engine names as its choices (listed by ``--help``); an unknown name
    is refused by :func:`engine`, which names the available ones."""
    p.add_argument("--engine", type=engine, choices=engine_names(), default=default, help=help)


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in csv_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 64,32, got {text!r}") from None


def ranged(option: str, *, integer: bool = False, **bounds: Any) -> Callable[[str], float]:
    """An argparse type: a number (an int with ``integer``) within ``bounds`` (the keywords of
    :func:`squall.pipeline.check_number`, the one place the range rules live), checked while
    the options are parsed, before any work."""

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if integer else 'a number'}, got {text!r}"
            ) from None
        from squall.errors import SquallError
        from squall.pipeline import check_number

        try:  # a SquallError is a ValueError, which argparse would replace by its own text
            check_number(option, value, integer=integer, **bounds)
        except SquallError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return parse


QUANTILE: dict[str, Any] = {"low": 0, "high": 1, "low_open": True, "high_open": True}
COUNT: dict[str, Any] = {"low": 0}  # an integer >= 0 (--limit N: 0 means all)
POSITIVE: dict[str, Any] = {"low": 1}  # an integer >= 1


def positive_list(text: str) -> tuple[int, ...]:
    sizes = int_list(text)
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be integers >= 1, got {text!r}")
    return sizes


QUIET_HELP = (
    "no progress or result messages on stderr (tables and results printed on stdout, "
    "warnings and errors are kept)"
)


def add_quiet(p: argparse.ArgumentParser | Any) -> None:
    """``--quiet``, the same on every command that prints progress."""
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option, kept for one release: stores into the new option's
    ``dest`` and warns (``squall: warning: ...``) that it has been renamed. Hidden from
    ``--help``; ``new`` is the option to use instead."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str = "", **kw: Any):
        super().__init__(option_strings, dest, **kw)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from squall.errors import SquallWarning

        warnings.warn(
            SquallWarning(
                f"{parser.prog} {option_string} is now {self.new}; the old name will be "
                f"removed in the next release"
            ),
            stacklevel=2,
        )
        setattr(namespace, self.dest, values)


def reader_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading data")
    g.add_argument(
        "--features",
        type=csv_list,
        help="feature columns, comma-separated "
        "(NOAA default: AIR_TEMP,SEA_SURF_TEMP,SEA_LVL_PRES,WIND_SPEED,WAVE_HGT,"
        "WAVE_PERIOD; generic CSV default: every column but time/track)",
    )
    g.add_argument(
        "--time-column",
        help="generic CSV: the time column (default 'timestamp'); "
        "giving it selects the generic reader",
    )
    g.add_argument(
        "--track-column",
        help="generic CSV: column naming each series (default: one track per file)",
    )
    g.add_argument(
        "--qc",
        choices=["keep", "drop"],
        default="keep",
        help="NOAA QC flags: keep flagged values and report the flags (default), or "
        "drop them as ICOADS does (position flag 7-9 drops the report, value flag 8-9 "
        "the value)",
    )
    g.add_argument(
        "--keep-codes",
        action="store_true",
        help="NOAA: keep special codes (wave "
        "period 99, wind direction 361/362) as values, as the original pipeline did; "
        "only for reproducing it",
    )
    g.add_argument(
        "--time-format",
        metavar="FMT",
        help="strftime format of the time column, "
        "e.g. '%%d/%%m/%%Y %%H:%%M' (default: inferred, one format per column); for "
        "generic CSV files only (NOAA DATE is ISO 8601)",
    )
    g.add_argument(
        "--dayfirst",
        action="store_true",
        help="read ambiguous dates such as "
        "01/02/2014 day first; for generic CSV files only (NOAA DATE is ISO 8601)",
    )


def reader(a: argparse.Namespace, features: bool = True) -> dict[str, Any]:
    """The reader configuration of the reader options (the keys of
    :func:`squall.pipeline.read_data`); ``features=False`` leaves them out (``train`` passes
    them on its own)."""
    config: dict[str, Any] = {
        "kind": "csv" if a.time_column else "auto",
        "time_column": a.time_column,
        "track_column": a.track_column,
        "qc": a.qc,
        "keep_codes": a.keep_codes,
        "time_format": a.time_format,
        "dayfirst": a.dayfirst,
    }
    if features:
        config["features"] = a.features
    return config
