"""The command-line package's structure and help: one module per command group, imports pointing
one way (main -> parser -> command modules -> common, options), no command module importing a
private name of the hw writers, help for every argument, one name for one meaning."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import squall.cli
from squall.cli import parser as cli_parser
from squall.cli.main import main
from squall.cli.options import DeprecatedAlias
from squall.evaluate.detectors import KINDS

CLI = Path(squall.cli.__file__).parent
COMMAND_MODULES = ("data.py", "model.py", "detect.py", "engine_tools.py", "forecast.py", "hw.py")


def _imports(name: str) -> set[tuple[str, str]]:
    """(module, name) of every ``from M import N`` in ``squall/cli/<name>``."""
    tree = ast.parse((CLI / name).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found |= {(node.module or "", alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {(alias.name, "") for alias in node.names}
    return found


def _modules(name: str) -> set[str]:
    return {m for m, _ in _imports(name)} | {
        f"{m}.{n}" for m, n in _imports(name) if m == "squall.cli"
    }


def test_imports_point_one_way():
    commands = {f"squall.cli.{m[:-3]}" for m in COMMAND_MODULES}
    for low in ("common.py", "options.py"):
        assert not _modules(low) & (commands | {"squall.cli.main", "squall.cli.parser"}), low
    for module in COMMAND_MODULES:
        assert not _modules(module) & {"squall.cli.main", "squall.cli.parser"}, module
        assert not _modules(module) & (commands - {f"squall.cli.{module[:-3]}"}), module
    assert not _modules("parser.py") & {"squall.cli.main"}
    assert ("squall.cli.common", "check_out") in _imports("hw.py")


def test_one_module_per_command_group_each_saying_its_job():
    """Every module's docstring starts with one line naming its job; main.py is the entry point
    only (no command functions), and every command is added by exactly one command module."""
    for path in sorted(CLI.glob("*.py")):
        if path.name == "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and doc.splitlines()[0].strip(), path.name
        assert len(path.read_text().splitlines()) < 800, f"{path.name} grew past one job"
    main_tree = ast.parse((CLI / "main.py").read_text())
    names = [n.name for n in main_tree.body if isinstance(n, ast.FunctionDef)]
    assert "main" in names and "run" in names
    assert not [n for n in names if n.startswith("cmd_") or n.startswith("add_")]
    assert set(cli_parser.adders()) == set(cli_parser.ORDER)


def test_entry_points_are_main_and_run():
    import tomllib

    from squall.cli.main import run

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["squall"] == "squall.cli.main:run" and callable(run)


def test_hw_commands_use_the_writers_public_predicates():
    names = _imports("hw.py")
    assert ("squall.hw.rtl", "replaceable") in names and (
        "squall.hw.export",
        "replaceable",
    ) in names
    assert not [n for m, n in names if m.startswith("squall.hw") and n.startswith("_")]


def _parsers(parser: argparse.ArgumentParser, path: str = "squall"):
    """(command path, parser) of the main parser and every subcommand, hw's included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


ALL = list(_parsers(cli_parser.build()))


def test_every_argument_of_every_command_has_help():
    assert len(ALL) > 25  # the commands and the hw subcommands were all found
    missing = []
    for path, p in ALL:
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, DeprecatedAlias):  # an old spelling, hidden on purpose
                assert action.help == argparse.SUPPRESS
                continue
            if not (isinstance(action.help, str) and action.help.strip()):
                missing.append(f"{path} {action.option_strings or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:  # each subcommand's one-line help
                    if not (choice.help or "").strip():
                        missing.append(f"{path} {choice.dest}")
    assert not missing, missing


def _action(command: str, option: str) -> argparse.Action:
    parser = dict(ALL)[command]
    return next(a for a in parser._actions if option in a.option_strings)


def test_score_and_detect_say_what_their_out_is():
    score, detect = _action("squall score", "--out"), _action("squall detect", "--out")
    assert "CSV" in score.help and "directory" in detect.help and score.help != detect.help


@pytest.mark.parametrize(
    "command, option, values",
    [
        ("squall score", "--engine", {"numpy", "torch", "pure", "fixed"}),
        ("squall detect", "--engine", {"numpy", "torch", "pure", "fixed"}),
        ("squall report", "--engine", {"numpy", "torch", "pure", "fixed"}),
        ("squall profile", "--engine", {"numpy", "torch", "pure", "fixed"}),
        ("squall train", "--scaler", {"minmax", "standard"}),
        ("squall train", "--mode", {"track", "pooled"}),
        ("squall train", "--qc", {"keep", "drop"}),
        ("squall evaluate", "--detector", set(KINDS)),
        ("squall evaluate", "--threshold-rule", {"sigma", "hundman", "pot", "quantile"}),
        ("squall evaluate", "--point", {"recon-median", "error-median", "error-mean"}),
        ("squall hw cost", "--boundary", {"step", "matvec", "layer", "window"}),
        ("squall hw cycles", "--simulator", {"icarus", "verilator"}),
    ],
)
def test_enumerations_are_choices_listed_by_help(capsys, command, option, values):
    assert set(_action(command, option).choices) == values
    with pytest.raises(SystemExit):
        main([*command.split()[1:], "--help"])
    text = capsys.readouterr().out
    assert "{" + ",".join(_action(command, option).choices) + "}" in text


def test_an_unknown_engine_names_the_available_ones(capsys):
    assert main(["score", "B", "D", "--out", "s.csv", "--engine", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "unknown engine 'bogus'" in err and "numpy, torch, pure, fixed" in err


def test_positional_names_are_the_same_everywhere():
    """BUNDLE and DATA in every command that takes them, hw's included; every positional in
    capitals (the metavar is what --help and the usage line show)."""
    for path, p in ALL:
        for action in p._actions:
            if action.option_strings or isinstance(action, argparse._SubParsersAction):
                continue
            shown = action.metavar or action.dest
            assert shown == shown.upper(), f"{path}: {shown}"
            if action.dest == "bundle":
                assert shown == "BUNDLE", path
            if action.dest == "data":
                assert shown == "DATA", path


def test_one_option_name_one_meaning():
    """--threshold is a number wherever it is a current option; --window is a window index
    (trace) and nowhere a fraction; evaluate names its threshold rule and its sliding windows
    for what they are."""
    for path, p in ALL:
        for action in p._actions:
            if isinstance(action, DeprecatedAlias):
                continue
            if "--threshold" in action.option_strings:
                assert action.type is not None and action.type("0.5") == 0.5, path
                assert action.choices is None, path
            if "--window" in action.option_strings:
                assert path == "squall trace", path
    assert _action("squall evaluate", "--threshold-window").metavar == "FRACTION"


def test_the_old_evaluate_spellings_still_work_with_a_warning(capsys):
    args = cli_parser.build().parse_args
    with pytest.warns(UserWarning, match="--threshold is now --threshold-rule"):
        a = args(["evaluate", "s.csv", "--labels", "l", "--out", "o", "--threshold", "pot"])
    assert a.threshold_rule == "pot"
    with pytest.warns(UserWarning, match="--window is now --threshold-window"):
        a = args(["evaluate", "s.csv", "--labels", "l", "--out", "o", "--window", "0.5"])
    assert a.threshold_window == 0.5
    a = args(["evaluate", "s.csv", "--labels", "l", "--out", "o", "--threshold-rule", "pot"])
    assert a.threshold_rule == "pot" and a.threshold_window is None


#: Commands that print progress or result messages on stderr, each with --quiet.
QUIET = {
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
    "evaluate",
    "spectrum",
    "backtest",
    "forecast",
}


def test_every_command_that_prints_progress_has_quiet():
    top = {path.split()[1]: p for path, p in ALL if len(path.split()) == 2}
    assert QUIET <= set(top)
    for name in QUIET:
        quiet = [a for a in top[name]._actions if "--quiet" in a.option_strings]
        assert quiet and "stderr" in quiet[0].help, name
    # the others print only results on stdout
    assert {"info", "hw"} == set(top) - QUIET


@pytest.mark.parametrize("command", ["train", "eda", "evaluate"])
def test_time_format_and_dayfirst_say_they_are_for_generic_csv_only(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--time-format FMT", "--dayfirst"):
        help_text = text[text.rindex(option) :][:300]  # the options block, not usage
        assert "generic CSV files only" in help_text and "ISO 8601" in help_text, help_text
