"""The fixed engine: the numpy int64 backend equals the plain-int reference bit for bit, one step
equals a hand computation, the tables follow their index rule, accumulators stay in their
stated width, and the configuration is a JSON value."""

import json
import math
import random
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.engines import get_engine
from squall.engines.fixed import (
    PRESETS,
    Activation,
    ActivationSpec,
    FixedConfig,
    FixedEngine,
    FixedModel,
    error_budget,
    parity_tolerance,
    requantizer,
    resolve_config,
    with_formats,
)
from squall.engines.fixedpoint import FixedType, signed_bits
from squall.errors import SquallError


def _lstm(n, h, seq):
    return {"type": "lstm", "input": n, "hidden": h, "return_sequences": seq}


BUNDLES = {
    "seed-shaped-small": lambda: random_bundle(seed_layers(3, 8, (8, 4)), 3, 8),
    "lstm-last": lambda: random_bundle([_lstm(2, 5, True), _lstm(5, 2, True)], 2, 6, seed=3),
    "large-weights": lambda: random_bundle(seed_layers(2, 6, (6,)), 2, 6, seed=5, scale=1.5),
}
MODES = {  # other rounding and overflow modes exercise the generic requantizer path
    "conv-wrap": with_formats(
        PRESETS["16"],
        data="Q4.12/rnd_conv/wrap",
        preact="Q4.12/trn",
        cell="Q4.12/rnd_inf/wrap",
        weight="Q2.14/trn_zero",
    ),
    "zero-trn": with_formats(PRESETS["12"], data="Q4.8/rnd_zero", cell="Q3.9/trn"),
}


@pytest.mark.parametrize("config", [*PRESETS, *MODES])
@pytest.mark.parametrize("bundle", list(BUNDLES))
def test_numpy_backend_is_bit_exact(bundle, config):
    b = BUNDLES[bundle]()
    cfg = MODES.get(config) or PRESETS[config]
    x = np.random.default_rng(2).uniform(-1.5, 2.5, (5, b.length, len(b.features)))
    x[0, 0, 0] = 100.0  # saturates at the input
    model = FixedModel(b, cfg)
    codes = model.quantize_windows(x)
    fast = model.run_codes(codes)
    slow = [model.reconstruct_codes(w) for w in codes.tolist()]
    assert fast.dtype == np.int64 and fast.tolist() == slow
    assert np.array_equal(
        get_engine("fixed", b, config=cfg, backend="python").reconstruct(x),
        get_engine("fixed", b, config=cfg).reconstruct(x),
    )


def test_no_floats_inside():
    """Every intermediate of a run is a Python int of its format's range."""
    b = BUNDLES["seed-shaped-small"]()
    model = FixedModel(b, PRESETS["16"])
    codes = model.quantize_windows(np.random.default_rng(0).uniform(0, 1, (1, 8, 3)))[0]
    trace: list = []
    out = model.reconstruct_codes(codes.tolist(), trace)
    cfg = model.config
    assert all(type(v) is int and cfg.data.fits(v) for row in out for v in row)
    for rec in trace:
        if rec["kind"] == "lstm":
            assert all(type(v) is int and cfg.data.fits(v) for v in rec["h"] + rec["x"])
            assert all(type(v) is int and cfg.cell.fits(v) for v in rec["c"])
    weights = [v for L in model.layers if not isinstance(L, int) for row in L.W for v in row]
    assert all(type(v) is int and cfg.weight.fits(v) for v in weights)


def test_one_step_by_hand():
    """A 1-input, 1-unit LSTM step computed with exact fractions and the stated rules."""
    layers = [_lstm(1, 1, True)]
    b = random_bundle(layers, 1, 2)
    b.weights.update(
        {
            "layers.0.W": np.array([[0.5], [1.25], [-0.75], [0.3]], np.float32),
            "layers.0.U": np.array([[0.1], [-0.2], [0.6], [0.05]], np.float32),
            "layers.0.b": np.array([0.0, 1.0, 0.1, -0.1], np.float32),
        }
    )
    cfg = PRESETS["16"]
    m = FixedModel(b, cfg)
    x, h, c = [cfg.data.quantize(0.7)], [cfg.data.quantize(-0.3)], [cfg.cell.quantize(1.1)]
    got_h, got_c = m.lstm_step(m.layers[0], x, h, c)
    w = [cfg.weight.quantize(float(v)) for v in b.weights["layers.0.W"].ravel()]
    u = [cfg.weight.quantize(float(v)) for v in b.weights["layers.0.U"].ravel()]
    bias = [cfg.bias.quantize(float(v)) for v in b.weights["layers.0.b"]]
    z = []
    for r in range(4):  # exact value, then round half up and saturate to Q4.12
        acc = Fraction(w[r] * x[0] + u[r] * h[0], 2**26) + Fraction(bias[r], 2**14)
        z.append(min(max(math.floor(acc * 2**12 + Fraction(1, 2)), -32768), 32767))

    def table(fn, spec, out, code):  # index rule of the module docstring
        shift = int(math.log2(spec.hi - spec.lo)) + 12 - int(math.log2(spec.size))
        lo = int(spec.lo * 4096)
        k = (min(max(code, lo), lo + (spec.size << shift) - 1) - lo) >> shift
        centre = spec.lo + (k + 0.5) * (spec.hi - spec.lo) / spec.size - 2**-13
        return out.quantize(fn(centre))

    sig = lambda v: table(lambda t: 1 / (1 + math.exp(-t)), cfg.sigmoid_fn, cfg.sigmoid, v)  # noqa: E731
    th = lambda v: table(math.tanh, cfg.tanh_fn, cfg.tanh, v)  # noqa: E731
    i, f, g, o = sig(z[0]), sig(z[1]), th(z[2]), sig(z[3])
    c_exact = Fraction(f * c[0], 2**27) + Fraction(i * g, 2**30)
    c_new = min(max(math.floor(c_exact * 2**12 + Fraction(1, 2)), -32768), 32767)
    h_new = math.floor(Fraction(o * th(c_new), 2**30) * 2**12 + Fraction(1, 2))
    assert (got_h, got_c) == ([h_new], [c_new])
    # and it is close to the float step
    zf = [
        0.5 * 0.7 + 0.1 * -0.3,
        1.25 * 0.7 - 0.2 * -0.3 + 1,
        -0.75 * 0.7 + 0.6 * -0.3 + 0.1,
        0.3 * 0.7 + 0.05 * -0.3 - 0.1,
    ]
    s = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    cf = s(zf[1]) * 1.1 + s(zf[0]) * math.tanh(zf[2])
    assert abs(c_new / 4096 - cf) < 0.01 and abs(h_new / 4096 - s(zf[3]) * math.tanh(cf)) < 0.01


@pytest.mark.parametrize(
    "spec",
    [
        ActivationSpec("lut", 1024, -8, 8),
        ActivationSpec("lut", 64, -4, 4),
        ActivationSpec("pwl", 256, -8, 8, "Q2.14"),
        ActivationSpec("pwl", 32, -4, 4, "Q1.15"),
    ],
)
def test_activation_tables_follow_the_index_rule(spec):
    inp, out = FixedType.parse("Q4.12"), FixedType.parse("Q1.15")
    act = Activation("tanh", spec, out, inp)
    unit = act.unit(inp)
    codes = np.arange(inp.min_code, inp.max_code + 1, dtype=np.int64)
    # the expanded table (numpy) equals the hardware's computation (plain ints) on every code
    assert unit.array.tolist() == [unit.direct(c) for c in codes.tolist()]
    per_bin = (1 << (spec.span_bits + 12)) // spec.size
    lo = int(spec.lo * 4096)
    assert unit.shift == per_bin.bit_length() - 1
    assert unit.index(lo) == 0 and unit.index(lo + per_bin - 1) == 0
    assert unit.index(lo + per_bin) == 1
    assert unit.index(inp.min_code) == 0 and unit.index(inp.max_code) == spec.size - 1
    if spec.method == "lut":
        assert unit(lo + 5 * per_bin + 3) == act.table[5]
    else:  # breakpoints are exact table values
        assert unit(lo + 5 * per_bin) == act.table[5]
    # monotone and close to tanh
    assert np.all(np.diff(unit.array) >= 0)
    err = np.abs(unit.array / 2**15 - np.tanh(codes / 4096)).max()
    step = (spec.hi - spec.lo) / spec.size
    bound = (step / 2 + 2**-13 if spec.method == "lut" else step**2 / 8 * 0.8) + 2**-15
    assert err <= bound + (1 - math.tanh(spec.hi) if spec.hi < 8 else 0) + 2**-14


def test_requantizer_fast_paths_equal_the_general_one():
    rng = random.Random(1)
    values = [rng.randint(-(1 << 40), 1 << 40) for _ in range(2000)] + [0, 1 << 13, -(1 << 13)]
    for spec in ("Q4.12/rnd/sat", "Q4.12/trn/sat", "Q4.12/rnd_conv/wrap", "UQ1.15/rnd/sat"):
        t = FixedType.parse(spec)
        rq = requantizer(26, t)
        assert [rq(v) for v in values] == [t.requantize(v, 26) for v in values]


def test_accumulators_stay_within_the_stated_width():
    """Extreme inputs (every x, h at the format's limits with the sign of the weight) reach
    close to the bound but never past it."""
    b = BUNDLES["large-weights"]()
    cfg = PRESETS["16"]
    m = FixedModel(b, cfg)
    L = m.layers[0]
    assert L.acc_bits == 16 + 16 + math.ceil(math.log2(L.inputs + L.hidden + 1))
    worst = 0
    for row, bias in zip(L.WU, L.b_acc, strict=True):
        for sign in (1, -1):
            v = [cfg.data.min_code if (w * sign) < 0 else cfg.data.max_code for w in row]
            worst = max(worst, signed_bits(sum(w * x for w, x in zip(row, v, strict=True)) + bias))
    assert worst <= L.acc_bits
    assert m.cell_bits == 36  # f c << 3 (35 bits) + i g (32 bits), plus the carry


def test_config_is_a_json_value(tmp_path):
    for name, cfg in PRESETS.items():
        text = json.dumps(cfg.to_dict())
        assert FixedConfig.from_dict(json.loads(text)) == cfg, name
    path = tmp_path / "cfg.json"
    custom = replace(PRESETS["16"], name="mine", tanh_fn=ActivationSpec("pwl", 128, -8, 8))
    path.write_text(json.dumps(custom.to_dict()))
    assert resolve_config(str(path)) == custom
    assert "Q4.12" in custom.describe() and "pwl 128 segments" in custom.describe()
    with pytest.raises(SquallError, match="presets"):
        resolve_config("17")
    with pytest.raises(SquallError, match="lacks"):
        FixedConfig.from_dict({"name": "x"})
    with pytest.raises(SquallError, match="power of two"):
        ActivationSpec("lut", 1000)
    with pytest.raises(SquallError, match="finer"):
        FixedModel(
            BUNDLES["lstm-last"](), replace(PRESETS["12"], sigmoid_fn=ActivationSpec("lut", 8192))
        )
    with pytest.raises(SquallError, match="backend"):
        FixedEngine(BUNDLES["lstm-last"](), backend="verilog")


def test_error_budget_and_tolerances():
    e = error_budget("16")
    assert e["u_data"] == 2**-13 and 0.0037 < e["e_tanh"] < 0.0040  # step 1/128: 2**-8
    assert e["e_sigmoid"] < e["e_tanh"] and parity_tolerance("16") == 0.13
    assert error_budget("16-pwl")["e_tanh"] < 2e-4 and parity_tolerance("16-pwl") == 0.0077


@pytest.fixture(scope="module")
def seed(shared_data):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    bundle = import_keras(d / "lstm_weights.npz", d / "scaler.json")
    return bundle, np.load(d / "new_data_sequences.npz")["sequences"]


def test_seed_model_vectorised_and_exact(seed, monkeypatch):
    """Was a wall-clock bound; what it stood for: the default backend runs all windows as
    arrays (never the per-window Python path) and gives the Python backend's integers."""
    from squall.engines.fixed import FixedModel

    bundle, x = seed
    engine = get_engine("fixed", bundle)
    python_path = FixedModel.reconstruct_codes

    def per_window(*args, **kwargs):
        raise AssertionError("per-window Python path used")

    monkeypatch.setattr(FixedModel, "reconstruct_codes", per_window)
    out = engine.reconstruct(x)  # all 273 windows
    monkeypatch.setattr(FixedModel, "reconstruct_codes", python_path)
    ref = get_engine("numpy", bundle, dtype="float64").reconstruct(x)
    assert np.abs(out - ref).max() < 0.01  # observed 0.0074
    python = get_engine("fixed", bundle, backend="python").reconstruct(x[:3])
    assert np.array_equal(python, out[:3])
