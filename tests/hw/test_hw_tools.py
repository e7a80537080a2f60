"""squall profile, trace and graph through the command line."""

import csv
import json
import pstats

import numpy as np
import pytest

from squall.cli.main import main


@pytest.fixture(scope="module")
def seed(shared_data, tmp_path_factory):
    d = shared_data / "seed-model"
    root = tmp_path_factory.mktemp("hw")
    assert (
        main(
            [
                "import-keras",
                str(d / "lstm_weights.npz"),
                "--scaler",
                str(d / "scaler.json"),
                "--out",
                str(root / "seed"),
            ]
        )
        == 0
    )
    return root / "seed", d / "new_data_sequences.npz"


def test_profile_writes_a_prof_and_counts_steps(seed, tmp_path, capsys):
    bundle, windows = seed
    out = tmp_path / "run.prof"
    assert main(["profile", str(bundle), str(windows), "--limit", "6", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    stats = pstats.Stats(str(out))  # what snakeviz opens
    calls = {fn[2]: st[1] for fn, st in stats.stats.items()}
    assert calls["lstm_step"] == 6 * 24 * 4  # windows x steps x LSTM layers
    assert calls["gates"] == 6 * (24 * 5 + 1)  # + the dense steps + W v once after repeat
    assert "cumulative" in text and "lstm_step" in text
    assert "0:lstm(6->64) 144" in text and "5:dense(64->6) 144" in text
    assert "lstm_step (cProfile): 576" in text
    assert f"snakeviz {out}" in text


def test_profile_run_counts_the_profiled_windows(seed, tmp_path):
    """Per-layer counts come from counting the same windows, not from one window times N, and
    the counted LSTM steps are checked against cProfile's lstm_step calls."""
    import squall
    from squall.engines.tools.costs import window_costs
    from squall.engines.tools.profiling import layer_names, profile_run

    bundle_dir, windows = seed
    b = squall.load_bundle(bundle_dir)
    x = np.load(windows)["sequences"][:5]
    r = profile_run(b, x, tmp_path / "r.prof")
    assert r.windows == 5 and r.lines is None and r.notes == []
    assert r.step_calls == {"lstm_step (cProfile)": 5 * 24 * 4, "lstm_step (counters)": 480}
    assert r.steps_agree is True
    assert r.step_check == (
        "lstm_step (cProfile): 480; LSTM steps counted by the engine: 480 (agree)"
    )
    names = layer_names(b)
    for c in window_costs(b.layers, b.length):
        if c.kind != "repeat":
            assert r.counters["macs"][names[c.index]] == 5 * c.macs
            assert r.counters["state_bytes_in"][names[c.index]] == 5 * c.state_bytes_in
    assert sum(r.counters["macs"].values()) == 5 * 1_426_432
    other = profile_run(b, x[:2], tmp_path / "n.prof", engine="numpy")
    assert (
        other.steps_agree is None and other.counters == {} and "only the pure" in other.step_check
    )
    # a disagreement is reported, not hidden
    r.step_calls["lstm_step (counters)"], r.steps_agree = 479, False
    assert r.step_check.endswith("(DISAGREE)")


def test_profile_lines_without_line_profiler(seed, tmp_path, monkeypatch):
    import sys

    import squall
    from squall.engines.tools.profiling import LineProfilerMissing, line_profile, profile_run

    monkeypatch.setitem(sys.modules, "line_profiler", None)  # import fails
    bundle_dir, windows = seed
    b = squall.load_bundle(bundle_dir)
    x = np.load(windows)["sequences"][:2]
    with pytest.raises(LineProfilerMissing, match="pip install"):
        line_profile(b, x)
    r = profile_run(b, x, tmp_path / "p.prof", lines=True)
    assert (tmp_path / "p.prof").is_file() and r.lines is None
    assert len(r.notes) == 1 and "pip install line_profiler" in r.notes[0]


def test_profile_lines(seed, tmp_path, capsys):
    pytest.importorskip("line_profiler")
    bundle, windows = seed
    assert (
        main(
            [
                "profile",
                str(bundle),
                str(windows),
                "--limit",
                "2",
                "--out",
                str(tmp_path / "p.prof"),
                "--lines",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "Line #" in text and "def lstm_step" in text and "Hits" in text


def test_profile_run_lines(seed, tmp_path):
    pytest.importorskip("line_profiler")
    import squall
    from squall.engines.tools.profiling import profile_run

    bundle_dir, windows = seed
    x = np.load(windows)["sequences"][:2]
    r = profile_run(squall.load_bundle(bundle_dir), x, tmp_path / "p.prof", lines=True)
    assert r.notes == [] and "def lstm_step" in r.lines and "def gates" in r.lines


def test_trace_csv_and_json(seed, tmp_path):
    import squall

    bundle, windows = seed
    assert (
        main(
            ["trace", str(bundle), str(windows), "--window", "7", "--out", str(tmp_path / "t.csv")]
        )
        == 0
    )
    assert (
        main(
            ["trace", str(bundle), str(windows), "--window", "7", "--out", str(tmp_path / "t.json")]
        )
        == 0
    )
    doc = json.loads((tmp_path / "t.json").read_text())
    x = np.load(windows)["sequences"][7]
    assert doc["window"] == 7 and np.allclose(doc["input"], x)
    records = doc["records"]
    assert len([r for r in records if r["kind"] == "lstm"]) == 4 * 24
    # the dense outputs are the reconstruction the numpy engine computes
    b = squall.load_bundle(bundle)
    recon = squall.reconstruct(b, x[None], engine="numpy")[0]
    dense = np.array([r["output"] for r in records if r["kind"] == "dense"])
    np.testing.assert_allclose(dense, recon, atol=1e-5)
    # every gate of the first layer saw non-zero inputs (a skipped transpose shows up here)
    first = [r for r in records if r["layer"] == 0]
    assert all(np.abs(r["pre_g"]).max() > 0 for r in first)
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["quantity"] for r in rows} >= {"pre_i", "pre_f", "pre_g", "pre_o", "c", "h", "output"}
    h = [r for r in rows if r["layer"] == "0" and r["step"] == "3" and r["quantity"] == "h"]
    assert len(h) == 64
    assert float(h[5]["value"]) == first[3]["h"][5]


def test_trace_window_out_of_range(seed, tmp_path, capsys):
    bundle, windows = seed
    assert (
        main(
            [
                "trace",
                str(bundle),
                str(windows),
                "--window",
                "999",
                "--out",
                str(tmp_path / "t.csv"),
            ]
        )
        == 2
    )
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_graph(seed, tmp_path):
    import shutil

    bundle, _ = seed
    assert main(["graph", str(bundle), "--out", str(tmp_path / "m.dot")]) == 0
    dot = (tmp_path / "m.dot").read_text()
    assert dot.startswith("digraph")
    # parameters and MACs from the layer sizes: 4H(in + H) + 4H, MACs per step 4H(in + H)
    # ">" is escaped in a record label
    assert "LSTM 6-\\>64" in dot and "params 18,176" in dot and "MACs/step 17,920" in dot
    assert "MACs/window 430,080" in dot  # 24 * 4*64*(6 + 64)
    assert "MACs/window 102,400" in dot  # after repeat: 4*32*32 once + 24 * 4*32*32
    assert "MACs/step 4,096 (+4,096 once)" in dot
    assert "64,134 parameters, 1,426,432 MACs per window" in dot
    assert "6,144 B/window" in dot  # 24 x 64 float32 between the first two LSTMs
    if shutil.which("dot"):
        assert (tmp_path / "m.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_graph_numbers_are_the_cost_model(seed):
    import squall
    from squall.engines.tools.costs import window_costs
    from squall.engines.tools.graph import layer_costs

    b = squall.load_bundle(seed[0])
    rows = layer_costs(b)
    costs = window_costs(b.layers, b.length)
    assert [r["macs_window"] for r in rows] == [c.macs for c in costs]
    assert [r["params"] for r in rows] == [c.params for c in costs]
    assert [r["out_shape"] for r in rows] == [
        (24, 64),
        (32,),
        (24, 32),
        (24, 32),
        (24, 64),
        (24, 6),
    ]
    assert rows[2]["label"] == "repeat x24" and rows[2]["params"] == 0


def test_cost_model_word_size_and_unknown_layers():
    from squall.bundle import seed_layers
    from squall.engines.tools.costs import as_tables, window_costs
    from squall.errors import SquallError

    layers = seed_layers(6, 24, (64, 32))
    four, eight = window_costs(layers, 24), window_costs(layers, 24, word_bytes=8)
    for a, b in zip(four, eight, strict=True):
        assert (b.macs, b.step_calls, b.params) == (a.macs, a.step_calls, a.params)
        assert (b.weight_bytes, b.state_bytes_in, b.state_bytes_out, b.out_bytes) == (
            2 * a.weight_bytes,
            2 * a.state_bytes_in,
            2 * a.state_bytes_out,
            2 * a.out_bytes,
        )
    tables = as_tables(four)
    assert 2 not in tables["macs"] and 5 not in tables["activations"]  # repeat; dense
    with pytest.raises(SquallError, match="unknown type"):
        window_costs([{"type": "conv"}], 24)


def test_profile_lines_without_line_profiler_is_a_note(seed, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "line_profiler", None)  # import fails
    bundle, windows = seed
    assert (
        main(
            [
                "profile",
                str(bundle),
                str(windows),
                "--limit",
                "2",
                "--out",
                str(tmp_path / "p.prof"),
                "--lines",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "note: --lines needs line_profiler" in captured.err
    assert "(agree)" in captured.out
    assert (tmp_path / "p.prof").is_file()
