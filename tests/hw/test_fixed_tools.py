"""``squall hw ranges`` and ``squall hw accuracy``: the signal tracer against the pure engine, the
format rule, the accuracy report, and both commands."""

import json

import numpy as np
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.cli.main import main
from squall.engines.numpy_engine import LSTM_SIGNALS
from squall.engines.tools.trace import trace_window
from squall.hw.accuracy import accuracy
from squall.hw.ranges import int_bits, measure, recommend, trace_signals


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    b = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8)
    root = tmp_path_factory.mktemp("fx")
    b.save(root / "bundle")
    x = np.random.default_rng(4).uniform(-0.2, 1.2, (30, 8, 3))
    np.savez(root / "windows.npz", sequences=x)
    return b, x, root


def test_signals_match_the_pure_engine_trace(small):
    b, x, _ = small
    pure = trace_window(b, x[3])
    mine = {i: s for i, _, s in trace_signals(b, x[2:5])}
    names = {
        "pre_i": "z_i",
        "pre_f": "z_f",
        "pre_g": "z_g",
        "pre_o": "z_o",
        "i": "i",
        "f": "f",
        "g": "g",
        "o": "o",
        "c": "c",
        "h": "h",
        "input": "x",
    }
    checked = 0
    for rec in pure:
        s = mine[rec["layer"]]
        if rec["kind"] == "lstm":
            for theirs, ours in names.items():
                np.testing.assert_allclose(s[ours][1, rec["step"]], rec[theirs], atol=1e-12)
            checked += 1
        else:
            np.testing.assert_allclose(s["y"][1, rec["step"]], rec["output"], atol=1e-12)
    assert checked == 8 * 4
    for i, kind, s in trace_signals(b, x[:2]):
        if kind == "lstm":
            H = s["h"].shape[-1]
            z = np.concatenate([s[k] for k in ("z_i", "z_f", "z_g", "z_o")], axis=-1)
            np.testing.assert_allclose(
                s["Wx"] + s["Uh"] + b.weights[f"layers.{i}.b"], z, atol=1e-12
            )
            np.testing.assert_allclose(s["fc"] + s["ig"], s["c"], atol=1e-15)
            assert s["x"].shape[:2] == (2, 8) and H in (8, 4) and set(s) == set(LSTM_SIGNALS)


def test_format_rule():
    assert [int_bits(v) for v in (0.3, 0.99, 1.0, 1.06, 3.9, 4.0, 8.76, 0)] == [
        1,
        1,
        2,
        2,
        3,
        4,
        5,
        1,
    ]
    assert recommend("W", 0.397, 16, constant=True)[0] == "Q1.15"
    assert recommend("b", 1.06, 16, constant=True)[0] == "Q2.14"
    assert recommend("x", 1.96, 16)[0] == "Q3.13"  # 2 x 1.96 = 3.9
    assert recommend("h", 2.5, 12)[0] == "Q4.8"
    fmt, why = recommend("z_o", 4.38, 16)  # 8.76 -> 5 bits, capped at 4
    assert fmt == "Q4.12" and "capped" in why
    assert recommend("z_g", 4.38, 16)[0] == "Q3.13"  # tanh flat beyond 3.8
    assert recommend("c", 8.1, 16)[0] == "Q6.10"  # a state: never capped
    assert recommend("f", 0.9, 16)[0] == "UQ1.15" and recommend("g", 0.9, 8)[0] == "Q1.7"


def test_ranges_report_and_command(small, tmp_path, capsys):
    b, x, root = small
    r = measure(b, x, percentiles=(1, 50, 99))
    rows = {row.name: row for row in r.rows}
    w = np.asarray(b.weights["layers.0.U"], np.float64)
    assert rows["layers.0.U"].max == float(w.max()) and rows["layers.0.U"].count == w.size
    h = rows["layer0.h"]
    assert h.min <= h.percentiles["p1"] <= h.percentiles["p50"] <= h.percentiles["p99"] <= h.max
    assert rows["layer3.x"].count == 30 * 8 * 4  # after the repeat: latent each step
    assert set(r.groups) >= {"weights", "vectors", "cell state c", "sigmoid outputs"}
    assert (
        main(
            [
                "hw",
                "ranges",
                str(root / "bundle"),
                str(root / "windows.npz"),
                "--limit",
                "10",
                "--out",
                str(tmp_path / "r.csv"),
                "--percentiles",
                "5,95",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "recommended formats" in out and "layer0.z_f" in out and "p95" in out
    head = (tmp_path / "r.csv").read_text().splitlines()[0]
    assert head.startswith("name,layer,signal,kind,count,min,max,absmax,p5,p95,format")
    assert (
        main(
            [
                "hw",
                "ranges",
                str(root / "bundle"),
                str(root / "windows.npz"),
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["windows"] == 30 and "guard bit" in doc["rule"] and doc["signals"]
    assert (
        main(
            [
                "hw",
                "ranges",
                str(root / "bundle"),
                str(root / "windows.npz"),
                "--out",
                str(tmp_path / "r.txt"),
            ]
        )
        == 2
    )
    assert (
        main(["hw", "ranges", str(root / "bundle"), str(root / "windows.npz"), "--bits", "2"]) == 2
    )


def test_accuracy_report_and_command(small, tmp_path, capsys):
    from squall.engines import get_engine

    b, x, root = small
    r = accuracy(b, x, configs=("16", "8w"))
    assert r.threshold["q"] == 0.95 and r.float_flags.sum() == 2  # 5% of 30 windows
    ref = get_engine("numpy", b, dtype="float64").reconstruct(x)
    fx = get_engine("fixed", b, config="16").reconstruct(x)
    c16 = r.configs[0]
    np.testing.assert_array_equal(c16.max_error, np.abs(fx - ref).max(axis=(1, 2)))
    np.testing.assert_allclose(c16.scores, ((fx - x) ** 2).mean(axis=(1, 2)))
    s = r.as_dict()["configs"]
    assert max(s[0]["max_abs_output_error"], s[1]["max_abs_output_error"]) < 0.05
    assert s[0]["flags_changed"] == len(s[0]["changed_windows"])
    fixed_thr = accuracy(b, x, configs=("16",), threshold=0.0).as_dict()
    assert fixed_thr["float_flagged"] == 30 and fixed_thr["configs"][0]["flags_changed"] == 0
    assert (
        main(
            [
                "hw",
                "accuracy",
                str(root / "bundle"),
                str(root / "windows.npz"),
                "--config",
                "12",
                "--out",
                str(tmp_path / "a.csv"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "max |out err|" in out and "12: data Q4.8" in out
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == "window,score_float,flag_float,score_12,score_diff_12,max_error_12,flag_12"
    assert len(lines) == 31
    assert (
        main(["hw", "accuracy", str(root / "bundle"), str(root / "windows.npz"), "--config", "99"])
        == 2
    )


@pytest.fixture(scope="module")
def seed(shared_data):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    return (
        import_keras(d / "lstm_weights.npz", d / "scaler.json"),
        np.load(d / "new_data_sequences.npz")["sequences"],
    )


def test_seed_ranges_reproduce_the_users_formats(seed):
    bundle, x = seed
    g = measure(bundle, x[:60]).groups
    assert g["vectors"]["format"] == "Q4.12" and g["weights"]["format"] == "Q2.14"
    assert g["sigmoid outputs"]["format"] == "UQ1.15" and g["W, U only"]["format"] == "Q1.15"


def test_seed_accuracy(seed):
    """The measured numbers quoted in the docs (all 273 windows, about 1.5 s)."""
    bundle, x = seed
    s = {c["config"]: c for c in accuracy(bundle, x).as_dict()["configs"]}
    assert s["16"]["max_abs_output_error"] < 0.008 and s["12"]["max_abs_output_error"] < 0.013
    assert s["8w"]["max_abs_output_error"] < 0.035
    assert s["16"]["flags_changed"] <= 1 and s["16"]["saturations"].get("c", 0) > 0
