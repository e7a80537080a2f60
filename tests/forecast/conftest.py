"""The forecasting commands run through :func:`squall.cli.main.main`.

``squall.cli.parser`` lists them once tests/cli/test_cli_structure.py's QUIET set names them
(until then they are added here to the parser the tests build)."""

from __future__ import annotations

import argparse

import pytest

import squall.cli.main
from squall.cli import forecast, parser


def _build_with_forecast() -> argparse.ArgumentParser:
    built = parser.build()
    sub = next(a for a in built._actions if isinstance(a, argparse._SubParsersAction))
    for name, add in forecast.PARSERS.items():
        if name not in sub.choices:
            add(sub)
    return built


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli(*args)`` -> (exit status, stdout, stderr) of ``squall ARGS``."""
    monkeypatch.setattr(squall.cli.main, "build", _build_with_forecast)

    def run(*args: object) -> tuple[int, str, str]:
        code = squall.cli.main.main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
