"""Library errors name parameters; the command line shows its flags (issue 13 section 3)."""

import pytest

from squall import pipeline
from squall.cli.main import main
from squall.data.observations import parse_time
from squall.errors import ParameterError, SquallError


def test_library_message_names_the_parameter_not_a_flag():
    with pytest.raises(ParameterError) as info:
        parse_time("not a date", "until")
    assert str(info.value).startswith("until must be a date/time")
    assert "--" not in str(info.value)
    assert isinstance(info.value, SquallError) and isinstance(info.value, ValueError)
    assert info.value.for_option("--until").startswith("--until must be")


def test_check_number_names_the_parameter():
    with pytest.raises(ParameterError) as info:
        pipeline.check_number("val_fraction", 1.5, low=0, high=1, high_open=True)
    assert info.value.param == "val_fraction"
    assert info.value.option() == "--val-fraction"
    assert str(info.value).startswith("val_fraction must be in [0, 1)")


def test_command_line_translates_the_parameter_to_its_flag(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("time,value\n2025-01-01,1\n")
    status = main(["train", str(data), "--out", str(tmp_path / "b"), "--until", "someday"])
    err = capsys.readouterr().err
    assert status == 2
    assert "squall: error: --until must be a date/time" in err


def test_braces_in_a_value_are_kept_as_they_are():
    with pytest.raises(ParameterError) as info:
        pipeline.check_number("epochs", "{x}", low=1, integer=True)
    assert str(info.value) == "epochs must be an integer, got '{x}'"
    assert info.value.for_option("--epochs") == "--epochs must be an integer, got '{x}'"


def test_a_users_literal_name_token_is_kept(capsys, tmp_path):
    """The parameter's place is marked by a NUL-delimited token no user value can hold: a value
    that happens to read ``{name}`` is shown as the user typed it (review of 7babad2)."""
    data = tmp_path / "d.csv"
    data.write_text("time,value\n2025-01-01,1\n")
    status = main(["train", str(data), "--out", str(tmp_path / "b"), "--until", "{name}"])
    err = capsys.readouterr().err
    assert status == 2
    assert "--until must be a date/time" in err and "got '{name}'" in err


def test_a_flag_the_command_does_not_take_is_not_suggested(capsys, tmp_path):
    """``detect`` reads data with the bundle's reader settings and has no --time-column: a
    reader error names the setting and where it is set, not a flag detect would refuse."""
    import argparse

    from squall.cli.main import _shown
    from squall.errors import NAME

    exc = ParameterError("time_column", f"x.csv has no time column; set {NAME}")
    assert _shown(exc, argparse.Namespace(time_column=None)) == (
        "x.csv has no time column; set --time-column"
    )
    shown = _shown(exc, argparse.Namespace(bundle="b"))
    assert "--time-column" not in shown.split("(")[0]
    assert "set time_column (time_column is a reader setting kept in the bundle" in shown

    from tests.adversarial.test_outputs import small_bundle

    small_bundle().save(tmp_path / "bundle")
    data = tmp_path / "no-time.csv"
    data.write_text("when,value\n2025-01-01 00:00:00,1\n")
    assert main(["detect", str(tmp_path / "bundle"), str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error: ") and err.count("\n") == 1
    assert "a reader setting kept in the bundle" in err
