"""The command-line package's structure and help: imports point one way (main -> hw ->
common), no command module imports a private name of the hw writers, and the reader options
say what they apply to."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import squall.cli
from squall.cli.main import main

CLI = Path(squall.cli.__file__).parent


def _imports(name: str) -> set[tuple[str, str]]:
    """(module, name) of every ``from M import N`` in ``squall/cli/<name>``."""
    tree = ast.parse((CLI / name).read_text())
    return {
        (node.module or "", alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_imports_point_one_way():
    assert not {m for m, _ in _imports("hw.py")} & {"squall.cli.main"}
    assert not {m for m, _ in _imports("common.py")} & {"squall.cli.main", "squall.cli.hw"}
    assert ("squall.cli.common", "check_out") in _imports("hw.py")


def test_hw_commands_use_the_writers_public_predicates():
    names = _imports("hw.py")
    assert ("squall.hw.rtl", "replaceable") in names and (
        "squall.hw.export",
        "replaceable",
    ) in names
    assert not [n for m, n in names if m.startswith("squall.hw") and n.startswith("_")]


@pytest.mark.parametrize("command", ["train", "eda", "evaluate"])
def test_time_format_and_dayfirst_say_they_are_for_generic_csv_only(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--time-format FMT", "--dayfirst"):
        help_text = text[text.rindex(option) :][:300]  # the options block, not usage
        assert "generic CSV files only" in help_text and "ISO 8601" in help_text, help_text
