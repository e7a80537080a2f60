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
    assert main(["import-keras", str(d / "lstm_weights.npz"), "--scaler",
                 str(d / "scaler.json"), "--out", str(root / "seed")]) == 0
    return root / "seed", d / "new_data_sequences.npz"


def test_profile_writes_a_prof_and_counts_steps(seed, tmp_path, capsys):
    bundle, windows = seed
    out = tmp_path / "run.prof"
    assert main(["profile", str(bundle), str(windows), "--limit", "6", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    stats = pstats.Stats(str(out))          # what snakeviz opens
    calls = {fn[2]: st[1] for fn, st in stats.stats.items()}
    assert calls["lstm_step"] == 6 * 24 * 4     # windows x steps x LSTM layers
    assert calls["gates"] == 6 * 24 * 5         # + the dense layer's steps
    assert "cumulative" in text and "lstm_step" in text
    assert "0:lstm(6->64) 144" in text and "5:dense(64->6) 144" in text
    assert "lstm_step (cProfile): 576" in text
    assert f"snakeviz {out}" in text


def test_profile_lines(seed, tmp_path, capsys):
    pytest.importorskip("line_profiler")
    bundle, windows = seed
    assert main(["profile", str(bundle), str(windows), "--limit", "2", "--out",
                 str(tmp_path / "p.prof"), "--lines"]) == 0
    text = capsys.readouterr().out
    assert "Line #" in text and "def lstm_step" in text and "Hits" in text


def test_trace_csv_and_json(seed, tmp_path):
    import squall

    bundle, windows = seed
    assert main(["trace", str(bundle), str(windows), "--window", "7", "--out",
                 str(tmp_path / "t.csv")]) == 0
    assert main(["trace", str(bundle), str(windows), "--window", "7", "--out",
                 str(tmp_path / "t.json")]) == 0
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
    assert {r["quantity"] for r in rows} >= {"pre_i", "pre_f", "pre_g", "pre_o", "c", "h",
                                             "output"}
    h = [r for r in rows if r["layer"] == "0" and r["step"] == "3" and r["quantity"] == "h"]
    assert len(h) == 64
    assert float(h[5]["value"]) == first[3]["h"][5]


def test_trace_window_out_of_range(seed, tmp_path, capsys):
    bundle, windows = seed
    assert main(["trace", str(bundle), str(windows), "--window", "999", "--out",
                 str(tmp_path / "t.csv")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_graph(seed, tmp_path):
    import shutil

    bundle, _ = seed
    assert main(["graph", str(bundle), "--out", str(tmp_path / "m.dot")]) == 0
    dot = (tmp_path / "m.dot").read_text()
    assert dot.startswith("digraph")
    # parameters and MACs from the layer sizes: 4H(in + H) + 4H, MACs per step 4H(in + H)
    assert "LSTM 6->64" in dot and "params 18,176" in dot and "MACs/step 17,920" in dot
    assert "MACs/window 102,400" in dot      # after repeat: 4*32*32 once + 24 * 4*32*32
    assert "64,134 parameters" in dot
    assert "6,144 B/window" in dot            # 24 x 64 float32 between the first two LSTMs
    if shutil.which("dot"):
        assert (tmp_path / "m.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
