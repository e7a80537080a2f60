"""The typed model description (squall.model): construction checks, JSON, the walk, the chain."""

import dataclasses
import subprocess
import sys

import pytest

from squall.errors import SquallError
from squall.limits import MAX_UNITS, MAX_WINDOW_LENGTH
from squall.model import (
    LAYER_TYPES,
    Conv1d,
    Dense,
    Gru,
    Lstm,
    ModelSpec,
    Repeat,
    as_layers,
    layer_from_json,
    seed_layers,
    walk_layers,
    weight_shapes,
)

#: The seed autoencoder's layer list exactly as bundle.json has always stored it.
SEED_JSON = [
    {"type": "lstm", "input": 6, "hidden": 64, "return_sequences": True},
    {"type": "lstm", "input": 64, "hidden": 32, "return_sequences": False},
    {"type": "repeat", "times": 24},
    {"type": "lstm", "input": 32, "hidden": 32, "return_sequences": True},
    {"type": "lstm", "input": 32, "hidden": 64, "return_sequences": True},
    {"type": "dense", "input": 64, "output": 6},
]


def test_the_module_imports_only_the_standard_library():
    code = (
        "import sys, squall.model; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'pandas', 'torch', 'safetensors')); print(bad); sys.exit(bool(bad))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Lstm(0, 4, True), "lstm: input must be a positive integer, got 0"),
        (lambda: Lstm(3, -1, True), "hidden must be a positive integer"),
        (lambda: Lstm(3, 2.0, True), "hidden must be a positive integer, got 2.0"),
        (lambda: Lstm(True, 4, True), "input must be a positive integer, got True"),
        (lambda: Lstm(3, MAX_UNITS + 1, True), f"at most {MAX_UNITS}"),
        (lambda: Lstm(3, 4, 1), "return_sequences must be true or false"),
        (lambda: Repeat(0), "repeat: times must be a positive integer"),
        (lambda: Repeat(MAX_WINDOW_LENGTH + 1), f"at most {MAX_WINDOW_LENGTH}"),
        (lambda: Dense(3, 0), "dense: output must be a positive integer"),
        (lambda: Dense(3, 2, "gelu"), "unknown activation 'gelu'"),
    ],
)
def test_construction_checks_every_field(make, message):
    with pytest.raises(SquallError, match=message) as err:
        make()
    assert "\n" not in str(err.value)


def test_layers_are_frozen_and_compare_by_value():
    layer = Lstm(3, 4, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.hidden = 5
    assert layer == Lstm(3, 4, True) != Lstm(3, 4, False)
    assert Dense(3, 2) == Dense(3, 2, "linear") and hash(Repeat(5)) == hash(Repeat(5))


def test_json_round_trip_keeps_the_on_disk_layer_list():
    layers = seed_layers(6, 24)
    assert [layer.to_json() for layer in layers] == SEED_JSON  # format 1, unchanged
    assert tuple(layer_from_json(d, i) for i, d in enumerate(SEED_JSON)) == layers
    assert as_layers(SEED_JSON) == layers and as_layers(layers) == layers
    assert "activation" not in Dense(4, 2).to_json()  # linear is not written
    assert set(LAYER_TYPES) == {"lstm", "repeat", "dense", "gru", "conv1d", "rfft", "decoder"}


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"type": "conv", "input": 3},
            "layer 4: unknown type 'conv' (known: lstm, repeat, dense, gru, conv1d, rfft, decoder)",
        ),
        ({"input": 3}, "layer 4: unknown type None"),
        (["lstm"], "layer 4: unknown type 'list'"),
        (
            {"type": "lstm", "input": 3, "hidden": 4, "return_sequences": True, "units": 4},
            "layer 4 (lstm): unknown field 'units'",
        ),
        ({"type": "lstm", "input": 3, "hidden": 4}, "layer 4 (lstm): return_sequences is missing"),
        ({"type": "dense", "input": 3}, "layer 4 (dense): output is missing"),
        ({"type": "repeat", "times": "24"}, "layer 4 (repeat): times must be a positive integer"),
        (
            {"type": "dense", "input": 3, "output": 10**9},
            "layer 4 (dense): output 1000000000 is beyond the limit",
        ),
    ],
)
def test_json_errors_are_one_line_and_name_the_layer(data, message):
    with pytest.raises(SquallError) as err:
        layer_from_json(data, 4)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_weight_shapes_per_layer_and_model():
    assert Lstm(6, 64, True).weight_shapes() == {"W": (256, 6), "U": (256, 64), "b": (256,)}
    assert Dense(64, 6).weight_shapes() == {"W": (6, 64), "b": (6,)}
    assert Repeat(24).weight_shapes() == {}
    shapes = weight_shapes(seed_layers(6, 24))
    assert list(shapes) == [
        "layers.0.W",
        "layers.0.U",
        "layers.0.b",
        "layers.1.W",
        "layers.1.U",
        "layers.1.b",
        "layers.3.W",
        "layers.3.U",
        "layers.3.b",
        "layers.4.W",
        "layers.4.U",
        "layers.4.b",
        "layers.5.W",
        "layers.5.b",
    ]
    assert shapes["layers.1.U"] == (128, 32) and shapes["layers.5.W"] == (6, 64)
    assert weight_shapes(SEED_JSON) == shapes


def test_walk_gives_widths_sequences_and_the_repeat():
    spec = ModelSpec(seed_layers(6, 24, (8, 4)), 6, 24)
    rows = [
        (s.index, s.layer.kind, s.in_width, s.out_width, s.sequence_in, s.sequence_out, s.repeated)
        for s in spec.walk()
    ]
    assert rows == [
        (0, "lstm", 6, 8, True, True, False),
        (1, "lstm", 8, 4, True, False, False),
        (2, "repeat", 4, 4, False, True, False),
        (3, "lstm", 4, 4, True, True, True),
        (4, "lstm", 4, 8, True, True, False),
        (5, "dense", 8, 6, True, True, False),
    ]
    # without a model check, the walk takes the first layer's input as the feature count
    assert [s.in_width for s in walk_layers([Dense(5, 3), Dense(3, 2)])] == [5, 3]


@pytest.mark.parametrize(
    "layers, message",
    [
        ([], "non-empty"),
        ([Lstm(5, 4, True)], "layer 0: input size 5 != previous output 3"),
        ([Repeat(6)], "layer 0: repeat needs a single vector"),
        (
            [Lstm(3, 4, False), Repeat(5), Dense(4, 3)],
            "must end with a sequence of 6 steps x 3 features, ends with a sequence of 5 steps",
        ),
        ([Lstm(3, 4, False), Dense(4, 3)], "ends with a vector of 3"),
        ([Lstm(3, 4, True)], "ends with a sequence of 6 steps x 4 features"),
        ([Lstm(3, 3, False)], "ends with a vector of 3"),
        ([Conv1d(3, 3, 7, "valid")], "layer 0: conv1d.3->3, k7, valid. leaves 0 steps of 6"),
        ([Gru(3, 4, False), Gru(4, 3, True)], "layer 1: gru after a layer that returned a single"),
    ],
)
def test_model_spec_checks_the_chain(layers, message):
    with pytest.raises(SquallError, match=message):
        ModelSpec(tuple(layers), 3, 6)


def test_model_spec_takes_json_layers_and_gives_them_back():
    spec = ModelSpec(SEED_JSON, 6, 24)
    assert spec.layers == seed_layers(6, 24) and spec.to_json() == SEED_JSON
    assert spec.weight_shapes() == weight_shapes(SEED_JSON)


def test_seed_layers_refuse_bad_sizes():
    with pytest.raises(SquallError, match="at most"):
        seed_layers(1, 4, (10**12,))
    with pytest.raises(SquallError, match="hidden sizes"):
        seed_layers(1, 4, ())
