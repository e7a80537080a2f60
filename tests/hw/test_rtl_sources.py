"""The RTL generator's sources without a simulator: the SystemVerilog templates are package data
(read with importlib.resources), every field of each is filled, and an unfilled one is refused."""

import re
from importlib import resources

import pytest

from squall.bundle import random_bundle, seed_layers
from squall.hw.design import TOPS, RtlDesign
from squall.hw.rtl import design_files
from squall.hw.svgen import fill, template


@pytest.mark.parametrize("name", TOPS)
def test_every_top_module_has_its_template(name):
    source = resources.files("squall.hw").joinpath("sv", f"{name}.sv")
    assert source.is_file()
    text = template(name)
    assert text.startswith("\n") and f"module {name} (" in text and text.endswith("endmodule\n")


def test_generated_files_have_no_template_fields_left():
    d = RtlDesign(random_bundle(seed_layers(3, 8, (8, 4)), 3, 8), lanes=5)
    files = design_files(d)
    for name in TOPS:
        text = files[f"{name}.sv"]
        assert not re.search(r"@[A-Z_]+@", text), name
        assert text.startswith(f"// {name}: ")


def test_an_unfilled_field_is_refused():
    with pytest.raises(AssertionError, match="unfilled template field"):
        fill("wire [@DW@-1:0] x; wire [@AW@-1:0] y; always @(posedge clk) q <= d;", {"DW": 16})
