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

from squall.bundle import Bundle
from squall.data import npzfile
from squall.data.noaa import CONVERSIONS
from squall.data.scaling import Scaler
from squall.errors import SquallError
from squall.io import read_json
from squall.limits import regular_file
from squall.model import Dense, Layer, Lstm, ModelSpec, Repeat, as_layers


def _expect(name: str, array: np.ndarray, shape: tuple[int, ...], source: str) -> np.ndarray:
    if tuple(array.shape) != shape:
        raise SquallError(f"{source}: {name} has shape {tuple(array.shape)}, expected {shape}")
    return array


def bundle_weights_from_keras(
    arrays: list[np.ndarray], layers, source: str = "keras weights"
) -> dict[str, np.ndarray]:
    """Map Keras arrays in layer order (per layer its weights in :meth:`Layer.weight_shapes`
    order, every 2-D one transposed: kernel, recurrent_kernel, bias per LSTM; kernel, bias per
    Dense) to the canonical layout."""
    layers = as_layers(layers)
    out: dict[str, np.ndarray] = {}
    it = iter(arrays)
    needed = sum(len(layer.weight_shapes()) for layer in layers)
    try:
        for i, layer in enumerate(layers):
            for key, shape in layer.weight_shapes().items():
                name = layer.keras_names.get(key, key)
                array = _expect(f"layer {i} {name}", next(it), shape[::-1], source)
                out[f"layers.{i}.{key}"] = array.T.copy()  # (in, out) -> (out, in)
    except StopIteration:
        raise SquallError(f"{source}: fewer arrays than the layer list needs ({needed})") from None
    left = sum(1 for _ in it)
    if left:
        raise SquallError(f"{source}: {left} more array(s) than the layer list needs")
    return out


def keras_layers(
    arrays: list[np.ndarray],
    length: int,
    repeat_after: int | None = None,
    source: str = "keras weights",
) -> tuple[Layer, ...]:
    """The layer list of a Keras LSTM / Dense stack in the seed's ``.npz`` layout, sizes read
    from the arrays: an LSTM is ``kernel (in, 4H), recurrent_kernel (H, 4H), bias (4H,)``, a
    Dense ``kernel (in, out), bias (out,)``, in model order.

    Keras' RepeatVector has no weights, so where it sits is not in the file: it follows the
    ``repeat_after``-th LSTM (0: no repeat, every LSTM returns sequences). By default
    (``None``) an even number of LSTMs whose sizes mirror (``64, 32, 32, 64``; ``8, 8``) is the
    seed's autoencoder, with the repeat in the middle; any other stack has none. The LSTM just
    before the repeat returns its last state only."""
    found: list[tuple[str, int, int]] = []
    k = 0
    while k < len(arrays):
        a = arrays[k]
        nxt = arrays[k + 1] if k + 1 < len(arrays) else None
        third = arrays[k + 2] if k + 2 < len(arrays) else None
        if (
            a.ndim == 2
            and a.shape[1] % 4 == 0
            and nxt is not None
            and third is not None
            and nxt.shape == (a.shape[1] // 4, a.shape[1])
            and third.shape == (a.shape[1],)
        ):
            found.append(("lstm", a.shape[0], a.shape[1] // 4))
            k += 3
        elif a.ndim == 2 and nxt is not None and nxt.shape == (a.shape[1],):
            found.append(("dense", a.shape[0], a.shape[1]))
            k += 2
        else:
            raise SquallError(
                f"{source}: arr_{k} of shape {tuple(a.shape)} starts neither an "
                f"LSTM (kernel (in, 4H), recurrent_kernel (H, 4H), bias (4H,)) "
                f"nor a Dense layer (kernel (in, out), bias (out,))"
            )
    if not found:
        raise SquallError(f"{source}: no arrays")
    hidden = [h for kind, _, h in found if kind == "lstm"]
    if repeat_after is None:
        half = len(hidden) // 2
        mirrored = hidden and len(hidden) % 2 == 0 and hidden[half:] == hidden[:half][::-1]
        repeat_after = half if mirrored else 0
    if not 0 <= repeat_after <= len(hidden):
        raise SquallError(
            f"repeat_after must be between 0 and the number of LSTM layers "
            f"({len(hidden)}), got {repeat_after}"
        )
    layers: list[Layer] = []
    lstms = 0
    for kind, n, m in found:
        if kind == "dense":
            layers.append(Dense(n, m))
            continue
        lstms += 1
        last_state = lstms == repeat_after
        layers.append(Lstm(n, m, not last_state))
        if last_state:
            layers.append(Repeat(int(length)))
    return tuple(layers)


def _keras_arrays(path: Path) -> list[np.ndarray]:
    """The float arrays of a Keras weights ``.npz`` in order (``arr_0``, ``arr_1``, ...), read
    with the size and dtype checks of :mod:`squall.data.npzfile`."""
    header = npzfile.members(path)
    for member in header.values():
        npzfile.check_kind(path, member, "f")
    keys = sorted(
        header, key=lambda k: int(k[4:]) if k.startswith("arr_") and k[4:].isdigit() else 10**9
    )
    data = npzfile.load(path, keys, header)
    return [data[k] for k in keys]


def import_keras(
    weights_path: str | os.PathLike[str],
    scaler_path: str | os.PathLike[str],
    length: int = 24,
    sizes: tuple[int, ...] | None = None,
    repeat_after: int | None = None,
) -> Bundle:
    """A Keras LSTM / Dense stack in the seed's layout (``.npz`` arrays ``arr_0..`` +
    scikit-learn MinMax ``scaler.json``) as a bundle; the layer sizes are read from the arrays
    and the repeat placed as :func:`keras_layers` says (``repeat_after``). ``sizes``, when
    given, must be the encoder's LSTM sizes found (a check).

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
        raise SquallError(
            f"{scaler_path}: expected a JSON object with features, data_min, data_max"
        )
    try:
        features = [str(f) for f in sc["features"]]
        lo = np.asarray(sc["data_min"], dtype=np.float64)
        hi = np.asarray(sc["data_max"], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SquallError(
            f"{scaler_path}: expected JSON with features, data_min, data_max ({exc})"
        ) from exc
    if sc.get("kind", "minmax") != "minmax" or list(sc.get("feature_range", [0, 1])) != [0, 1]:
        raise SquallError(
            f"{scaler_path}: only a MinMax scaler with feature_range [0, 1] is supported"
        )
    if not (len(lo) == len(hi) == len(features)):
        raise SquallError(f"{scaler_path}: features, data_min and data_max differ in length")
    factor = np.array([CONVERSIONS.get(f, (1.0, ""))[0] for f in features])
    layers = keras_layers(arrays, length, repeat_after, str(weights_path))
    first = layers[0].input_width()
    if first != len(features):
        raise SquallError(
            f"{weights_path}: the first layer takes {first} inputs, the scaler "
            f"{scaler_path} has {len(features)} features"
        )
    if sizes is not None:
        encoder = [
            lay.hidden
            for lay in layers[
                : next((k for k, lay in enumerate(layers) if isinstance(lay, Repeat)), len(layers))
            ]
            if isinstance(lay, Lstm)
        ]
        if encoder != [int(v) for v in sizes]:
            raise SquallError(
                f"{weights_path}: encoder LSTM sizes are {encoder}, not {list(sizes)}"
            )
    ModelSpec(layers, len(features), length)
    weights = bundle_weights_from_keras(arrays, layers, str(weights_path))
    scaler = Scaler.from_minmax(features, lo * factor, hi * factor)
    units = {f: CONVERSIONS.get(f, (1.0, ""))[1] for f in features}
    windows = {
        "length": length,
        "stride": 1,
        "mode": "pooled",
        "resample": None,
        "max_gap": None,
        "min_observed": 1.0,
    }
    provenance = {
        "source": "keras",
        "weights": str(weights_path),
        "scaler": str(scaler_path),
        "note": sc.get("note", ""),
    }
    return Bundle(layers, weights, features, units, windows, scaler, None, provenance).validate()


def torch_state_shapes(layers) -> dict[str, tuple[int, ...]]:
    """Key -> shape of :class:`squall.models.autoencoder.LSTMAutoencoder`'s state dict: each
    canonical weight under its layer's ``torch_names`` (an LSTM's bias is two arrays)."""
    return {
        f"layers.{i}.{name}": shape
        for i, layer in enumerate(as_layers(layers))
        for key, shape in layer.weight_shapes().items()
        for name in layer.torch_names.get(key, (key,))
    }


def torch_state_from_bundle(bundle: Bundle) -> dict[str, np.ndarray]:
    """Arrays named as :class:`squall.models.autoencoder.LSTMAutoencoder`'s state dict (same
    orientation; a weight PyTorch keeps as a sum of arrays goes to the first, zeros to the
    rest)."""
    state: dict[str, np.ndarray] = {}
    for i, layer in enumerate(bundle.layers):
        for key in layer.weight_shapes():
            value = bundle.weights[f"layers.{i}.{key}"]
            for k, name in enumerate(layer.torch_names.get(key, (key,))):
                state[f"layers.{i}.{name}"] = value if k == 0 else np.zeros_like(value)
    return state


def bundle_weights_from_torch(state: dict[str, np.ndarray], layers) -> dict[str, np.ndarray]:
    """Canonical weights from a PyTorch state dict (as numpy arrays); the two LSTM biases add.

    The key set and every shape are checked before anything is read: the first missing or
    unexpected key, or the first wrong shape, is a one-line error."""
    layers = as_layers(layers)
    shapes = torch_state_shapes(layers)
    missing = [k for k in shapes if k not in state]
    if missing:
        raise SquallError(
            f"torch state dict: missing key {missing[0]!r} ({len(missing)} "
            f"missing; the layer list needs {len(shapes)} keys)"
        )
    unexpected = [k for k in state if k not in shapes]
    if unexpected:
        raise SquallError(
            f"torch state dict: unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)"
        )
    for name, shape in shapes.items():
        _expect(name, np.asarray(state[name]), shape, "torch state dict")
    out: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        for key in layer.weight_shapes():
            names = layer.torch_names.get(key, (key,))
            total = np.asarray(state[f"layers.{i}.{names[0]}"])
            for name in names[1:]:
                total = total + np.asarray(state[f"layers.{i}.{name}"])
            out[f"layers.{i}.{key}"] = total
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
