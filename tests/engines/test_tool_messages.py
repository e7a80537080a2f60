"""Library messages of the engine tools name their parameter; the command line shows its flag
(:class:`squall.errors.ParameterError`)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from squall.bundle import Bundle, seed_layers, weight_shapes
from squall.data.scaling import Scaler
from squall.errors import ParameterError


def _bundle(features: int = 2, length: int = 4) -> Bundle:
    layers = seed_layers(features, length, (3,))
    rng = np.random.default_rng(0)
    weights = {k: rng.uniform(-0.5, 0.5, s) for k, s in weight_shapes(layers).items()}
    names = [f"f{i}" for i in range(features)]
    windows = {
        "length": length,
        "stride": 1,
        "mode": "pooled",
        "resample": None,
        "max_gap": None,
        "min_observed": 0.5,
    }
    scaler = Scaler.from_minmax(names, [0] * features, [1] * features)
    return Bundle(
        layers, weights, names, {n: "" for n in names}, windows=windows, scaler=scaler
    ).validate()


def test_trace_names_its_path_parameter(tmp_path):
    from squall.engines.tools.trace import write_trace

    target = tmp_path / "trace{1}.txt"  # braces are not a template's
    with pytest.raises(ParameterError) as info:
        write_trace(_bundle(), np.zeros((4, 2)), 0, target)
    assert info.value.param == "path"
    assert str(info.value) == f"path must end in .csv or .json, got {target}"
    assert info.value.for_option("--out") == f"--out must end in .csv or .json, got {target}"
    assert not target.exists()


def test_a_missing_line_profiler_names_the_lines_parameter(tmp_path, monkeypatch):
    from squall.engines.tools.profiling import LineProfilerMissing, line_profile, profile_run

    monkeypatch.setitem(sys.modules, "line_profiler", None)  # import fails
    bundle, x = _bundle(), np.zeros((2, 4, 2))
    with pytest.raises(LineProfilerMissing) as info:
        line_profile(bundle, x)
    assert isinstance(info.value, ParameterError) and info.value.param == "lines"
    assert str(info.value).startswith("lines needs line_profiler: pip install")
    assert info.value.for_option(info.value.option()).startswith("--lines needs line_profiler")
    # the note is printed as it is by the command line: it names the flag
    r = profile_run(bundle, x, tmp_path / "p.prof", lines=True)
    assert r.lines is None and r.notes == [info.value.for_option("--lines")]
