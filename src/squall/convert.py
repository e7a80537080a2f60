"""Converters between other libraries' weight layouts and the bundle's canonical layout.

Every transpose lives here and is stated once:

* Keras stores an LSTM ``kernel`` as (in, 4H) and ``recurrent_kernel`` as (H, 4H): the bundle's
  ``W`` (4H, in) and ``U`` (4H, H) are their transposes. One bias, same gate order i, f, g(c), o.
  A Dense ``kernel`` is (in, out): the bundle's ``W`` (out, in) is its transpose.
* PyTorch's ``nn.LSTM`` stores ``weight_ih_l0`` (4H, in) and ``weight_hh_l0`` (4H, H) already in
  the bundle's orientation, gate order i, f, g, o, and two biases that add. ``nn.Linear.weight``
  is (out, in), as the bundle.

Shapes are asserted against the layer list before anything is used, so a transposed or
mis-ordered array fails loudly instead of producing wrong numbers for weeks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from squall.bundle import Bundle, seed_layers, weight_shapes
from squall.data import npzfile
from squall.data.noaa import CONVERSIONS
from squall.data.scaling import Scaler
from squall.errors import SquallError
from squall.io import read_json
from squall.limits import regular_file


def _expect(name: str, array: np.ndarray, shape: tuple[int, ...], source: str) -> np.ndarray:
    if tuple(array.shape) != shape:
        raise SquallError(f"{source}: {name} has shape {tuple(array.shape)}, expected {shape}")
    return array


def bundle_weights_from_keras(arrays: list[np.ndarray], layers: list[dict],
                              source: str = "keras weights") -> dict[str, np.ndarray]:
    """Map Keras arrays in layer order (kernel, recurrent_kernel, bias per LSTM; kernel, bias per
    Dense) to the canonical layout."""
    out: dict[str, np.ndarray] = {}
    it = iter(arrays)
    try:
        for i, layer in enumerate(layers):
            if layer["type"] == "lstm":
                n, h = layer["input"], layer["hidden"]
                kernel = _expect(f"layer {i} kernel", next(it), (n, 4 * h), source)
                recurrent = _expect(f"layer {i} recurrent_kernel", next(it), (h, 4 * h), source)
                bias = _expect(f"layer {i} bias", next(it), (4 * h,), source)
                out[f"layers.{i}.W"] = kernel.T.copy()     # (in, 4H) -> (4H, in)
                out[f"layers.{i}.U"] = recurrent.T.copy()  # (H, 4H) -> (4H, H)
                out[f"layers.{i}.b"] = bias.copy()
            elif layer["type"] == "dense":
                kernel = _expect(f"layer {i} dense kernel", next(it),
                                 (layer["input"], layer["output"]), source)
                bias = _expect(f"layer {i} dense bias", next(it), (layer["output"],), source)
                out[f"layers.{i}.W"] = kernel.T.copy()     # (in, out) -> (out, in)
                out[f"layers.{i}.b"] = bias.copy()
    except StopIteration:
        raise SquallError(f"{source}: fewer arrays than the layer list needs "
                          f"({len(weight_shapes(layers))})") from None
    left = sum(1 for _ in it)
    if left:
        raise SquallError(f"{source}: {left} more array(s) than the layer list needs")
    return out


def _keras_arrays(path: Path) -> list[np.ndarray]:
    """The float arrays of a Keras weights ``.npz`` in order (``arr_0``, ``arr_1``, ...), read
    with the size and dtype checks of :mod:`squall.data.npzfile`."""
    header = npzfile.members(path)
    for member in header.values():
        npzfile.check_kind(path, member, "f")
    keys = sorted(header, key=lambda k: int(k[4:]) if k.startswith("arr_") and k[4:].isdigit()
                  else 10**9)
    data = npzfile.load(path, keys, header)
    return [data[k] for k in keys]


def import_keras(weights_path: str | os.PathLike[str], scaler_path: str | os.PathLike[str],
                 length: int = 24, sizes: tuple[int, ...] = (64, 32)) -> Bundle:
    """The seed model (Keras ``.npz`` arrays ``arr_0..`` + scikit-learn MinMax ``scaler.json``)
    as a bundle.

    The seed's scaler was fitted on raw CSV units (tenths); it is converted to the physical units
    the reader produces, so the bundle scales real data exactly as the seed did.
    """
    if length < 2:
        raise SquallError(f"window length must be at least 2, got {length}")
    weights_path = regular_file(weights_path, "Keras weights file")
    scaler_path = regular_file(scaler_path, "scaler file")
    arrays = _keras_arrays(weights_path)
    sc = read_json(scaler_path)
    if not isinstance(sc, dict):
        raise SquallError(f"{scaler_path}: expected a JSON object with features, data_min, "
                          f"data_max")
    try:
        features = [str(f) for f in sc["features"]]
        lo = np.asarray(sc["data_min"], dtype=np.float64)
        hi = np.asarray(sc["data_max"], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SquallError(f"{scaler_path}: expected JSON with features, data_min, data_max "
                          f"({exc})") from exc
    if sc.get("kind", "minmax") != "minmax" or list(sc.get("feature_range", [0, 1])) != [0, 1]:
        raise SquallError(f"{scaler_path}: only a MinMax scaler with feature_range [0, 1] is "
                          f"supported")
    if not (len(lo) == len(hi) == len(features)):
        raise SquallError(f"{scaler_path}: features, data_min and data_max differ in length")
    factor = np.array([CONVERSIONS.get(f, (1.0, ""))[0] for f in features])
    layers = seed_layers(len(features), length, sizes)
    weights = bundle_weights_from_keras(arrays, layers, str(weights_path))
    scaler = Scaler.from_minmax(features, lo * factor, hi * factor)
    units = {f: CONVERSIONS.get(f, (1.0, ""))[1] for f in features}
    windows = {"length": length, "stride": 1, "mode": "pooled", "resample": None,
               "max_gap": None, "min_observed": 1.0}
    provenance = {"source": "keras", "weights": str(weights_path), "scaler": str(scaler_path),
                  "note": sc.get("note", "")}
    return Bundle(layers, weights, features, units, windows, scaler, None, provenance).validate()


def torch_state_from_bundle(bundle: Bundle) -> dict[str, np.ndarray]:
    """Arrays named as :class:`squall.models.autoencoder.LSTMAutoencoder`'s state dict."""
    state: dict[str, np.ndarray] = {}
    for i, layer in enumerate(bundle.layers):
        w = bundle.weights
        if layer["type"] == "lstm":
            state[f"layers.{i}.weight_ih_l0"] = w[f"layers.{i}.W"]   # same orientation
            state[f"layers.{i}.weight_hh_l0"] = w[f"layers.{i}.U"]
            state[f"layers.{i}.bias_ih_l0"] = w[f"layers.{i}.b"]
            state[f"layers.{i}.bias_hh_l0"] = np.zeros_like(w[f"layers.{i}.b"])
        elif layer["type"] == "dense":
            state[f"layers.{i}.weight"] = w[f"layers.{i}.W"]
            state[f"layers.{i}.bias"] = w[f"layers.{i}.b"]
    return state


def bundle_weights_from_torch(state: dict[str, np.ndarray], layers: list[dict]
                              ) -> dict[str, np.ndarray]:
    """Canonical weights from a PyTorch state dict (as numpy arrays); the two biases add."""
    out: dict[str, np.ndarray] = {}
    shapes = weight_shapes(layers)
    for i, layer in enumerate(layers):
        if layer["type"] == "lstm":
            out[f"layers.{i}.W"] = state[f"layers.{i}.weight_ih_l0"]
            out[f"layers.{i}.U"] = state[f"layers.{i}.weight_hh_l0"]
            out[f"layers.{i}.b"] = state[f"layers.{i}.bias_ih_l0"] + state[f"layers.{i}.bias_hh_l0"]
        elif layer["type"] == "dense":
            out[f"layers.{i}.W"] = state[f"layers.{i}.weight"]
            out[f"layers.{i}.b"] = state[f"layers.{i}.bias"]
    for name, array in out.items():
        _expect(name, array, shapes[name], "torch state dict")
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
