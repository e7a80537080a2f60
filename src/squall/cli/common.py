"""Helpers the command modules share at run time: output checks, messages, reading a CSV argument.

Imports point one way: ``main`` -> ``parser`` -> the command modules (``data``, ``model``,
``detect``, ``engine_tools``, ``hw``) -> ``common`` and ``options``; nothing here imports a
command module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from squall.errors import SquallError

__all__ = [
    "check_out",
    "check_run_inputs",
    "data_inputs",
    "log",
    "messages",
    "read_csv_arg",
]


def data_inputs(data: Sequence[str] | None) -> list:
    """The data files named on the command line, globs expanded and each checked to be a
    regular file (:func:`squall.data.observations.expand_paths`)."""
    if not data:
        return []
    from squall.data.observations import expand_paths

    return expand_paths(data)


def check_out(
    a: argparse.Namespace, inputs: Sequence = (), data: Sequence[str] | None = None, **rules
) -> Path:
    """``--out`` checked before any work against every input (:func:`squall.io.check_output`
    holds the rules: extension, not an input, a directory squall may write into)."""
    from squall.io import check_output

    files = data_inputs(data)
    final = check_output(a.out, inputs=[*inputs, *files], **rules)
    _check_runs(files)
    return final


def check_run_inputs(data: Sequence | None) -> None:
    """A windows file (``.npz``) named as data that lies in a run directory (a detect run's
    ``windows.npz``) must be the file that complete run wrote (:func:`squall.io.check_run_file`,
    as ``extract`` and ``report --from`` check it): an interrupted run or a file of another run
    is refused before it is read. CSV data is the user's to edit and is not checked."""
    _check_runs(data_inputs(data))


def _check_runs(files: Sequence[Path]) -> None:
    from squall.io import check_run_file

    for path in files:
        if str(path).endswith(".npz"):
            check_run_file(path)


def log(message: str) -> None:
    """Progress and results for the user, on stderr (stdout stays for tables)."""
    print(message, file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    pass


def messages(a: argparse.Namespace) -> Callable[[str], None]:
    """Where a command's progress and result messages go: :func:`log` (stderr), or nowhere
    with ``--quiet``. Tables and results printed on stdout are not messages: they stay."""
    return _silent if getattr(a, "quiet", False) else log


def read_csv_arg(path: str, column: str) -> Any:
    """A CSV the user names on the command line, with ``column`` required."""
    import pandas as pd

    from squall.limits import regular_file

    try:
        table = pd.read_csv(regular_file(path, "CSV file"))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SquallError(f"cannot read {path} as CSV ({str(exc).splitlines()[0]})") from None
    if column not in table:
        raise SquallError(f"{path} has no '{column}' column (expected a table squall wrote)")
    return table
