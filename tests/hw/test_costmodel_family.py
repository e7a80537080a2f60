"""``squall hw cost`` on every layer type and task: per-step costs pinned by hand, each layer's
own steps (a forecaster's lookback and horizon), totals equal to the pure engine's counters."""

import json

import numpy as np
import pytest

from squall.bundle import random_bundle
from squall.cli.main import main
from squall.engines import get_engine
from squall.engines.pure import Counters
from squall.errors import SquallError
from squall.hw.costmodel import Compute, boundary_costs, bundle_cost
from squall.model import Conv1d, Decoder, Dense, Gru, Lstm, Repeat, Rfft
from squall.models import catalog


def rows(layers, length, boundary="step", offload="all"):
    return {r.index: r for r in boundary_costs(layers, length, boundary, 32, offload=offload)}


# ---------------------------------------------------------------- per step, by hand (4-byte words)


def test_gru_step_by_hand():
    r = rows([Gru(3, 2, False)], 5)[0]
    assert r.params == 3 * 2 * (3 + 2) + 2 * 3 * 2  # W, U; b and bh apart: 42
    assert r.macs_per_step == 3 * 2 * (3 + 2)  # 30
    assert (r.bytes_in, r.bytes_out) == ((3 + 2) * 4, 2 * 4)  # x, h in; h out
    assert (r.calls_per_window, r.steps) == (5, 5)
    m = rows([Gru(3, 2, False)], 5, "matvec")[0]
    assert m.bytes_out == 4 * 2 * 4  # r and z summed, n's two parts apart: 4H
    lay = rows([Gru(3, 2, False)], 5, "layer")[0]
    assert (lay.bytes_in, lay.bytes_out, lay.macs_per_call) == (5 * 3 * 4, 2 * 4, 5 * 30)


def test_conv1d_step_by_hand():
    valid = rows([Conv1d(2, 3, 2, "valid")], 5)[0]
    assert valid.params == 3 * 2 * 2 + 3
    assert valid.macs_per_step == 3 * 2 * 2  # m k c
    assert (valid.bytes_in, valid.bytes_out) == (2 * 2 * 4, 3 * 4)  # k steps of c in; m out
    assert (valid.calls_per_window, valid.steps) == (5 - 2 + 1, 4)  # L - k + 1 output steps
    causal = rows([Conv1d(2, 3, 2, "causal")], 5)[0]
    assert causal.calls_per_window == 5
    lay = rows([Conv1d(2, 3, 2, "valid")], 5, "layer")[0]
    assert (lay.bytes_in, lay.bytes_out, lay.macs_per_call) == (5 * 2 * 4, 4 * 3 * 4, 4 * 12)


def test_rfft_by_hand():
    r = rows([Rfft(2, 6)], 6)[0]  # K = 6 // 2 + 1 = 4 bins
    assert (r.params, r.weight_bytes) == (0, 0)
    assert r.macs_per_call == 2 * 2 * 4 * 6  # 2 F K L = 96
    assert (r.calls_per_window, r.bytes_in, r.bytes_out) == (1, 6 * 2 * 4, 2 * 2 * 4 * 4)
    appended = rows([Rfft(2, 6, append=True)], 6, "layer")[0]
    assert appended.bytes_out == 6 * (2 + 2 * 2 * 4) * 4  # the steps with the spectrum appended
    assert rows([Rfft(2, 6)], 6, offload="recurrent")[0].offloaded is False


def test_dense_activation_and_repeat_by_hand():
    compute = Compute(macs=16, act_latency=10)
    tanh = rows([Dense(4, 3, "tanh")], 5)[0]
    assert (tanh.macs_per_step, tanh.bytes_in, tanh.bytes_out) == (12, 16, 12)
    assert tanh.calls_per_window == 5
    assert compute.cycles(tanh.stages) == 1 + 10  # ceil(12 / 16) + the activation latency
    assert compute.cycles(rows([Dense(4, 3)], 5)[0].stages) == 1  # linear: no activation
    chain = rows([Lstm(2, 4, False), Repeat(3), Dense(4, 2, "relu")], 6)
    assert chain[1].calls_per_window == 0 and chain[1].kind == "repeat"
    assert chain[2].calls_per_window == 1  # the repeated vector: computed once


def test_decoder_step_by_hand():
    gru = rows([Gru(2, 2, False), Decoder(2, 2, 1, 3, "gru")], 4)[1]
    assert gru.macs_per_step == 3 * 2 * (1 + 2) + 1 * 2  # cell on y, h; then Wo h: 20
    assert (gru.bytes_in, gru.bytes_out) == ((1 + 2) * 4, (2 + 1) * 4)  # y, h in; h, y out
    assert (gru.calls_per_window, gru.steps) == (3, 3)  # the horizon, not the encoder's 4
    assert gru.params == 3 * 2 * 1 + 3 * 2 * 2 + 2 * 3 * 2 + 1 * 2 + 1
    lstm = rows([Gru(2, 2, False), Decoder(2, 2, 1, 3, "lstm")], 4)[1]
    assert lstm.macs_per_step == 4 * 2 * (1 + 2) + 1 * 2  # 26
    assert (lstm.bytes_in, lstm.bytes_out) == ((1 + 4) * 4, (4 + 1) * 4)  # y, h, c; h, c, y
    proj = rows([Gru(2, 3, False), Decoder(3, 2, 1, 3, "gru")], 4, "layer")[1]
    assert proj.macs_per_call == 2 * 3 + 3 * 20  # P v once, then 3 steps
    for boundary, layers in (
        ("step", [Gru(2, 3, False), Decoder(3, 2, 1, 3)]),
        ("matvec", [Gru(2, 2, False), Decoder(2, 2, 1, 3)]),
    ):
        with pytest.raises(SquallError, match="layer 1: a decoder") as err:
            rows(layers, 4, boundary)
        assert "\n" not in str(err.value)


def test_lstm_forecaster_steps_lookback_and_horizon():
    # lookback 8, horizon 3: the encoder runs 8 steps, the decoder LSTM after repeat(3) 3
    layers = catalog.layers("lstm-forecaster", inputs=2, targets=1, length=8, horizon=3, sizes=(4,))
    r = rows(layers, 8)
    assert (r[0].steps, r[0].calls_per_window) == (8, 8)
    assert (r[2].steps, r[2].calls_per_window) == (3, 3)
    assert r[3].calls_per_window == 3  # dense per horizon step
    whole = rows(layers, 8, "window")[None]
    assert (whole.values_in, whole.values_out) == (8 * 2, 3 * 1)  # lookback in, horizon out


# ---------------------------------------------------------------- the catalog vs the counters


def catalog_bundle(name, L=8, H=3, F=2):
    if name == "autoencoder":
        layers = catalog.layers(name, inputs=F, targets=F, length=L + H, sizes=(4, 3))
        return random_bundle(layers, F, L + H)
    layers = catalog.layers(name, inputs=F, targets=1, length=L, horizon=H, sizes=(4, 3))
    task = {
        "kind": "forecast",
        "lookback": L,
        "horizon": H,
        "inputs": ["f0", "f1"],
        "targets": ["f1"],
    }
    return random_bundle(layers, F, L + H, task=task)


def counted_macs(bundle, x):
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.run(x)
    return engine.model.counters.macs


@pytest.mark.parametrize("name", catalog.MODELS)
def test_catalog_totals_equal_the_counted_macs(name):
    b = catalog_bundle(name)
    full = np.random.default_rng(1).uniform(0, 1, (3, b.length, 2))
    spec = b.model
    x = full[:, : spec.length][:, :, : spec.features]
    macs = counted_macs(b, x)
    for boundary in ("layer", "window"):
        rep = bundle_cost(b, x=full, boundary=boundary, offload="all")
        assert rep.calls_check["agree"] is True
        assert rep.as_dict()["totals"]["macs"] == sum(macs.values())
    # the step accelerator recomputes a repeated vector's W v at every step
    extra = 0
    for w in spec.walk():
        if w.repeated and isinstance(w.layer, (Lstm, Gru)):
            G = 4 if isinstance(w.layer, Lstm) else 3
            extra += 3 * (w.in_length - 1) * G * w.layer.hidden * w.layer.input
    rep = bundle_cost(b, x=full, boundary="step", offload="all")
    assert rep.calls_check["agree"] is True
    assert rep.as_dict()["totals"]["macs"] == sum(macs.values()) + extra
    assert (extra > 0) == (name != "seq2seq-gru-fft")


# ---------------------------------------------------------------- the command line


def test_cli_on_a_forecasting_bundle(tmp_path, capsys):
    b = catalog_bundle("seq2seq-gru-fft")
    b.save(tmp_path / "b")
    assert main(["hw", "cost", str(tmp_path / "b"), "--windows", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["lookback"], doc["horizon"], doc["length"]) == (8, 3, 8)
    steps = {r["name"]: (r["steps"], r["calls"]) for r in doc["layers"]}
    assert steps["1:gru(22->4)"] == (8, 3 * 8)  # the encoder over the lookback
    assert steps["3:decoder(gru, 3->3->1, x3)"] == (3, 3 * 3)  # the decoder over the horizon
    assert steps["0:rfft(2x8, 5 bins, append)"] == (1, 0)  # on the host by default
    assert main(["hw", "cost", str(tmp_path / "b"), "--windows", "3"]) == 0
    text = capsys.readouterr().out
    assert "task forecast: lookback 8 steps in, horizon 3 steps out" in text
    assert "3 windows of lookback 8 steps in -> horizon 3 out" in text
    # counted on whole windows (lookback + horizon): the model reads the lookback
    np.savez(tmp_path / "w.npz", sequences=np.random.default_rng(3).uniform(0, 1, (4, 11, 2)))
    assert (
        main(["hw", "cost", str(tmp_path / "b"), "--data", str(tmp_path / "w.npz"), "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["calls_check"] == {"analytic": 4 * (8 + 3), "counted": 44, "agree": True}


def test_trace_and_graph_of_a_forecaster(tmp_path, capsys):
    """squall trace reads a forecaster's whole windows (lookback + horizon) as its lookback
    (it refused them: shape (1, 11, 2) for a model of 8 steps); every layer type is traced and
    drawn."""
    b = catalog_bundle("seq2seq-gru-fft")
    b.save(tmp_path / "b")
    np.savez(tmp_path / "w.npz", sequences=np.random.default_rng(3).uniform(0, 1, (2, 11, 2)))
    out = tmp_path / "t.json"
    args = ["trace", str(tmp_path / "b"), str(tmp_path / "w.npz"), "--window", "1"]
    assert main([*args, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    kinds = [r["kind"] for r in doc["records"]]
    assert kinds == ["rfft"] + ["gru"] * 8 + ["dense"] + ["decoder"] * 3
    prof = ["profile", str(tmp_path / "b"), str(tmp_path / "w.npz"), "--out"]
    assert main([*prof, str(tmp_path / "p.prof"), "--quiet"]) == 0  # refused the same way
    assert "step calls per layer: 0:rfft" in capsys.readouterr().out
    assert main(["graph", str(tmp_path / "b"), "--out", str(tmp_path / "g.dot")]) == 0
    dot = (tmp_path / "g.dot").read_text()
    for label in ("rfft 2x8", "GRU 22->4", "dense 4->3 tanh", "decoder GRU 3->3->1 x3"):
        assert label.replace(">", "\\>") in dot  # Graphviz record labels escape >
    one = np.load(tmp_path / "w.npz")["sequences"][:1, :8]
    assert f"{sum(counted_macs(b, one).values()):,} MACs per window" in dot
