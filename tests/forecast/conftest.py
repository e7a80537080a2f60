"""The forecasting commands run through :func:`squall.cli.main.main`."""

from __future__ import annotations

import pytest

import squall.cli.main


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` -> (exit status, stdout, stderr) of ``squall ARGS``."""

    def run(*args: object) -> tuple[int, str, str]:
        code = squall.cli.main.main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
