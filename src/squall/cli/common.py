"""Helpers shared by the command modules (:mod:`squall.cli.main`, :mod:`squall.cli.hw`).

Imports point one way: ``main`` -> ``hw`` -> ``common``; nothing here imports a command module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


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
    print(message, file=sys.stderr)
