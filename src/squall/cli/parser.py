"""Builds the ``squall`` argument parser from the commands the command modules add.

:data:`ORDER` is the order ``squall --help`` lists the commands in; each name's parser is added
by the function its module lists in ``PARSERS`` (``hw`` adds its own group of subcommands).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from squall.errors import SquallError

#: The commands, in the order ``squall --help`` lists them.
ORDER = (
    "train",
    "windows",
    "score",
    "detect",
    "extract",
    "plot",
    "report",
    "eda",
    "import-keras",
    "synth",
    "demo",
    "profile",
    "trace",
    "graph",
    "hw",
    "evaluate",
    "spectrum",
    "backtest",
    "forecast",
    "info",
)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (:class:`squall.errors.SquallError`), not
    the usage block."""

    def error(self, message: str) -> NoReturn:
        raise SquallError(f"{self.prog}: {message} (see {self.prog} --help)")


def adders() -> dict[str, Callable[[Any], None]]:
    """Command name -> the function that adds its parser, from every command module."""
    from squall.cli import data, detect, engine_tools, forecast, hw, model

    found: dict[str, Callable[[Any], None]] = {"hw": hw.register}
    for module in (data, model, detect, engine_tools, forecast):
        for name, add in module.PARSERS.items():
            if name in found:
                raise RuntimeError(f"command {name} is added by two modules")
            found[name] = add
    return found


def build() -> argparse.ArgumentParser:
    """The parser of the whole command line."""
    from squall import __version__

    parser = Parser(
        prog="squall", description="LSTM anomaly detection on marine and weather sensor data."
    )
    parser.add_argument("--version", action="version", version=f"squall {__version__}")
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=Parser,
        help="the command to run ('squall COMMAND --help' describes its options)",
    )
    add = adders()
    for name in ORDER:
        add[name](sub)
    return parser
