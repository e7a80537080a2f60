"""The clocks file of ``squall hw cycles``: written and read back by the same module, refused
when it is something else."""

import json

import pytest

from squall.bundle import random_bundle, seed_layers
from squall.errors import SquallError
from squall.hw.clocks import cycles_summary, measured_cycles, write_clocks
from squall.hw.costmodel import check_measured
from squall.hw.design import RtlDesign


def test_written_clocks_read_back(tmp_path):
    b = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8)
    d = RtlDesign(b, lanes=5)
    matvec = {str(r.index): [d.predicted_cycles(r.index)["matvec"]] for r in d.layers}
    step = {
        str(r.index): [d.predicted_cycles(r.index)["step"]] for r in d.layers if r.kind == "lstm"
    }
    path = tmp_path / "clocks.json"
    write_clocks(path, cycles_summary(d, matvec, step))
    m = measured_cycles(path)
    assert m["lanes"] == 5 and m["source"] == f"simulation ({path})"
    assert m["matvec"] == {k: v[0] for k, v in matvec.items()}
    assert m["step"] == {k: v[0] for k, v in step.items()}
    assert check_measured(m, b, None) == 5
    with pytest.raises(SquallError, match="another bundle"):
        check_measured(m, random_bundle(seed_layers(3, 8, (8, 4)), 3, 8, seed=1), None)


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "squall-hw-export"}))
    with pytest.raises(SquallError, match="not a clocks file"):
        measured_cycles(path)
    path.write_text(json.dumps({"format": "squall-rtl-cycles", "layers": [{"layer": 0}]}))
    with pytest.raises(SquallError, match="damaged clocks file"):
        measured_cycles(path)
