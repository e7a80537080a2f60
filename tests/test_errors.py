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
