"""The bundle: one directory that every engine, tool and language can read.

Layout (format version 2; version 1, without ``task``, still loads as a reconstruct bundle)::

    BUNDLE_DIR/
      bundle.json           model layer list, task, features and units, window settings,
                            scaler, threshold, detector (optional), provenance (plain JSON)
      weights.safetensors   every weight, canonical layout below (safe to load: no pickle;
                            a JSON header plus raw little-endian arrays)
      history.csv           training loss per epoch (when trained here)

The layer list is :mod:`squall.model`'s typed layers (``Bundle.layers``); the canonical weight
layout and the LSTM equations are documented once there. ``bundle.json`` stores each layer as
its JSON object (:meth:`squall.model.Layer.to_json`), the same list format 1 always had, and an
optional ``detector`` section (:attr:`Bundle.detector`: what :mod:`squall.detect` saves; this
module only checks that it is plain JSON). Version 2 adds ``task`` (:class:`squall.model.Task`:
``{"kind": "reconstruct"}``, ``{"kind": "forecast", "lookback": L, "horizon": H, "inputs":
[...], "targets": [...]}`` or ``{"kind": "classify", "classes": [...]}``), which sets the
model's input and output shapes; version-1 bundles are reconstruct bundles.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squall.data.scaling import Scaler
from squall.errors import SquallError
from squall.io import atomic_dir, parse_json, written_by
from squall.limits import (
    MAX_STRIDE,
    MAX_WINDOW_LENGTH,
    directory,
    is_number,
    regular_file,
)
from squall.model import Layer, ModelSpec, Task, as_layers, seed_layers, weight_shapes

__all__ = [
    "FORMAT",
    "READ_VERSIONS",
    "VERSION",
    "Bundle",
    "check_detector",
    "check_layers",
    "load_bundle",
    "random_bundle",
    "seed_layers",
    "weight_shapes",
]

FORMAT = "squall-bundle"
#: The format version written; :data:`READ_VERSIONS` are the versions read (1: no ``task``).
VERSION = 2
READ_VERSIONS = (1, 2)
#: Weight dtypes a bundle may hold. Engines compute in float32 or float64; bool, integer and
#: complex weights would be silently cast (bool flags every window, complex loses its imaginary
#: part) and float16/bfloat16 would be widened to a model nobody trained, so they are refused:
#: convert such weights to float32 on purpose (``squall import-keras`` does for the Keras seed
#: weights; otherwise ``array.astype(numpy.float32)`` before saving) rather than by accident.
WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Largest weight magnitude. Trained LSTM weights are of order 1 (the seed model's largest is
#: 1.06); 1e6 leaves six orders of margin, and with inputs within +-SCALED_LIMIT (1e6) every
#: product stays near 1e12 times the fan-in: finite in float32 engines and in the pure engine's
#: squares. Larger weights would become inf when a float64 bundle runs in float32.
WEIGHT_LIMIT = 1e6
#: Keys of ``provenance.reader`` and the JSON types of their values (``None`` allowed for all
#: but ``kind``): what :func:`squall.pipeline.read_data` takes.
READER_KEYS = {
    "kind": (str,),
    "features": (list,),
    "qc": (str,),
    "keep_codes": (bool,),
    "time_column": (str,),
    "track_column": (str,),
    "time_format": (str,),
    "dayfirst": (bool,),
}


def check_layers(layers: object, features: int, length: int) -> None:
    """Check that ``layers`` (typed, or their JSON objects) are a valid chain from ``features``
    back to ``features`` (:class:`squall.model.ModelSpec`)."""
    ModelSpec(as_layers(layers), features, length)


def check_window_settings(windows: dict[str, Any]) -> None:
    """Check stored (resolved) window settings: types, ranges and durations."""
    import pandas as pd

    from squall.data.windows import MODES, WindowSettings

    if not isinstance(windows, dict):
        raise SquallError("bundle window settings must be a JSON object")
    unknown = set(windows) - set(WindowSettings.__dataclass_fields__)
    if unknown:
        raise SquallError(f"bundle window settings have unknown keys {sorted(unknown)}")
    s = WindowSettings(**windows)
    if s.mode not in MODES:
        raise SquallError(f"bundle window mode must be one of {', '.join(MODES)}, got {s.mode!r}")
    for name, value, low, top in (
        ("length", s.length, 2, MAX_WINDOW_LENGTH),
        ("stride", s.stride, 1, MAX_STRIDE),
    ):
        if not is_number(value, integer=True) or value < low:
            raise SquallError(
                f"bundle window {name} must be an integer >= {low}, got {value!r}"[:200]
            )
        if value > top:
            raise SquallError(
                f"bundle window {name} {value} is beyond the limit: at most {top} "
                f"steps (see squall.limits)"[:200]
            )
    if not is_number(s.min_observed) or not 0 < s.min_observed <= 1:
        raise SquallError(f"bundle min_observed must be in (0, 1], got {s.min_observed!r}")
    for name, duration in (("resample", s.resample), ("max_gap", s.max_gap)):
        if duration is None:
            continue
        if not isinstance(duration, str):
            raise SquallError(f"bundle window {name} must be a duration string, got {duration!r}")
        try:
            ok = pd.Timedelta(duration) > pd.Timedelta(0)
        except (ValueError, TypeError, OverflowError):
            ok = False
        if not ok:
            raise SquallError(f"bundle window {name} {duration!r} is not a positive duration")
    if s.mode == "track" and s.max_gap is None:
        raise SquallError("bundle window settings lack max_gap (resolved at training time)")


def _is_finite(value: object) -> bool:
    """A finite JSON number (an integer too large for a float is not)."""
    try:
        return is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:
        return False


def check_threshold(threshold: object) -> None:
    """A stored threshold is absent (``null``) or an object whose ``value`` is a finite number;
    its other entries are JSON scalars (``method``/``fitted_on`` strings, ``q``, ``n`` ...)."""
    if threshold is None:
        return
    if not isinstance(threshold, dict):
        raise SquallError(
            f"bundle threshold must be an object with a 'value' (or null), got {threshold!r}"[:200]
        )
    value = threshold.get("value")
    if not _is_finite(value):
        raise SquallError(f"bundle threshold value must be a finite number, got {value!r}"[:200])
    for key in ("method", "fitted_on"):
        if key in threshold and not isinstance(threshold[key], str):
            raise SquallError(f"bundle threshold {key} must be a string")
    for key, item in threshold.items():
        if isinstance(item, (dict, list)) or (is_number(item) and not _is_finite(item)):
            raise SquallError(f"bundle threshold {key} must be a finite number or a string")


def check_reader(reader: object) -> None:
    """``provenance.reader`` is absent or an object of the keys in :data:`READER_KEYS`."""
    if reader is None:
        return
    if not isinstance(reader, dict):
        raise SquallError(
            f"bundle provenance.reader must be an object, got {type(reader).__name__}"
        )
    for key, item in reader.items():
        if key not in READER_KEYS:
            raise SquallError(f"bundle provenance.reader has unknown key {key!r}")
        if not isinstance(item, READER_KEYS[key]) and not (item is None and key != "kind"):
            raise SquallError(
                f"bundle provenance.reader.{key} has the wrong type ({type(item).__name__})"
            )
    if not all(isinstance(f, str) for f in reader.get("features") or []):
        raise SquallError("bundle provenance.reader.features must be a list of names")


def check_names(features: object, units: object) -> None:
    """Features are a non-empty list of distinct strings; units map names to strings."""
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) and f for f in features)
    ):
        raise SquallError("bundle features must be a non-empty list of names")
    if len(set(features)) != len(features):
        raise SquallError(f"bundle features repeat a name: {features}")
    if not isinstance(units, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in units.items()
    ):
        raise SquallError("bundle units must be an object of feature name -> unit string")


def check_weight(name: str, array: object, shape: tuple[int, ...]) -> None:
    """One weight: a float32/float64 array (:data:`WEIGHT_DTYPES`) of ``shape``, finite and
    within +-:data:`WEIGHT_LIMIT`."""
    if not isinstance(array, np.ndarray):
        raise SquallError(f"weight {name} is a {type(array).__name__}, not an array")
    if array.dtype not in WEIGHT_DTYPES:
        raise SquallError(
            f"weight {name} has dtype {array.dtype}; bundles hold float32 or float64 weights only"
        )
    if tuple(array.shape) != shape:
        raise SquallError(
            f"weight {name} has shape {tuple(array.shape)}, the layer list needs {shape}"
        )
    if not np.isfinite(array).all():
        raise SquallError(f"weight {name} contains NaN or infinite values")
    if array.size and np.abs(array).max() > WEIGHT_LIMIT:
        raise SquallError(
            f"weight {name} reaches {np.abs(array).max():.3g}, beyond "
            f"+-{WEIGHT_LIMIT:g} (no trained LSTM has such weights)"
        )


def _finite_or_null(value: object) -> object:
    """``value`` with every non-finite float (in nested dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_detector(detector: object) -> None:
    """A stored detector section is absent (``None``) or a JSON object whose values are finite
    numbers, strings, booleans, ``null``, or lists and objects of those (string keys). What it
    means belongs to :mod:`squall.detect`; the bundle only keeps it plain, strict JSON."""
    if detector is None:
        return
    if not isinstance(detector, dict):
        raise SquallError(f"bundle detector must be a JSON object, got {type(detector).__name__}")
    _check_json_value(detector, "detector", 0)


def _check_json_value(value: object, where: str, depth: int) -> None:
    if depth > 32:
        raise SquallError(f"bundle {where} is nested more than 32 levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SquallError(f"bundle {where} has a non-string key {k!r}"[:200])
            _check_json_value(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for k, v in enumerate(value):
            _check_json_value(v, f"{where}[{k}]", depth + 1)
    elif value is None or isinstance(value, (str, bool)):
        return
    elif is_number(value):
        if not _is_finite(value):
            raise SquallError(f"bundle {where} is {value!r}, not a finite number"[:200])
    else:
        raise SquallError(
            f"bundle {where} is of type {type(value).__name__}; a detector "
            f"section holds numbers, strings, booleans, null, lists and objects "
            f"only"[:200]
        )


@dataclass
class Bundle:
    """A trained model and everything needed to use it on new data.

    ``layers`` are :mod:`squall.model`'s typed layers (a list of their JSON objects is read into
    them on construction); ``detector`` is the optional detector section that
    :mod:`squall.detect` saves and reads (plain JSON, not interpreted here)."""

    layers: tuple[Layer, ...]
    weights: dict[str, np.ndarray]
    features: list[str]
    units: dict[str, str]
    windows: dict[str, Any]
    scaler: Scaler
    threshold: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    detector: dict[str, Any] | None = None
    task: Task = field(default_factory=Task)

    def __post_init__(self) -> None:
        self.layers = as_layers(self.layers)
        if not isinstance(self.task, Task):
            self.task = Task.from_json(self.task, self.features)

    @property
    def model(self) -> ModelSpec:
        """The checked model description: layers, input (steps, features) and output shape,
        as the task says (:meth:`squall.model.Task.model`)."""
        return self.task.model(self.layers, self.features, self.length)

    @property
    def length(self) -> int:
        return int(self.windows["length"])

    def validate(self) -> Bundle:
        """Check every field's type and value (see the ``check_*`` functions)."""
        check_names(self.features, self.units)
        check_window_settings(self.windows)
        self.layers = as_layers(self.layers)
        self.task = Task.from_json(self.task, self.features)  # names checked against features
        expected = self.model.weight_shapes()
        missing = sorted(set(expected) - set(self.weights))
        extra = sorted(set(self.weights) - set(expected))
        if missing or extra:
            raise SquallError(
                f"bundle weights do not match its layers: missing {missing or 'none'}"
                f", unexpected {extra or 'none'}"
            )
        for name, shape in expected.items():
            check_weight(name, self.weights[name], shape)
        check_threshold(self.threshold)
        check_detector(self.detector)
        if not isinstance(self.provenance, dict):
            raise SquallError("bundle provenance must be an object")
        check_reader(self.provenance.get("reader"))
        if not isinstance(self.scaler, Scaler):
            raise SquallError(f"bundle scaler must be a Scaler, got {type(self.scaler).__name__}")
        if self.scaler.features != self.features:
            raise SquallError(
                f"scaler features {self.scaler.features} != bundle features {self.features}"
            )
        self.scaler.to_dict()  # checks the scaler is fitted and finite
        return self

    def fingerprint(self) -> str:
        """Hash of what turns data into this bundle's windows (features, reader, window
        settings, scaler): windows files record it, so windows made for another bundle are
        refused instead of being scored with the wrong scaling."""
        import hashlib

        key = {
            "features": self.features,
            "windows": self.windows,
            "scaler": self.scaler.to_dict(),
            "reader": self.provenance.get("reader"),
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def meta(self) -> dict[str, Any]:
        """The content of ``bundle.json``, always strict JSON (no ``NaN``/``Infinity``, which
        other languages' JSON readers reject): a non-finite number in the provenance (e.g. the
        validation loss of a run without validation windows) is stored as ``null``, meaning
        "no value"; anywhere else (threshold, scaler) it is refused."""
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "layers": [layer.to_json() for layer in self.layers],
            "task": self.task.to_json(),
            "features": self.features,
            "units": self.units,
            "windows": self.windows,
            "scaler": self.scaler.to_dict(),
            "threshold": self.threshold,
            "provenance": _finite_or_null(self.provenance),
        }
        if self.detector is not None:
            meta["detector"] = self.detector
        try:
            json.dumps(meta, allow_nan=False)
        except ValueError as exc:
            raise SquallError(f"bundle metadata holds a non-finite number ({exc})") from None
        except TypeError as exc:
            raise SquallError(f"bundle metadata holds a value JSON cannot store ({exc})") from None
        return meta

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the bundle directory atomically (a failed save leaves no partial bundle)."""
        from safetensors.numpy import save_file

        self.validate()
        with atomic_dir(path, replaceable) as tmp:
            (tmp / "bundle.json").write_text(json.dumps(self.meta(), indent=1) + "\n")
            save_file(
                {k: np.ascontiguousarray(v) for k, v in sorted(self.weights.items())},
                str(tmp / "weights.safetensors"),
                metadata={"format": FORMAT},
            )
            os.chmod(tmp / "weights.safetensors", (tmp / "bundle.json").stat().st_mode)
            if self.history:
                keys = list(self.history[0])
                lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in self.history]
                (tmp / "history.csv").write_text("\n".join(lines) + "\n")
        return Path(path)


def random_bundle(
    layers: object,
    features: int,
    length: int,
    *,
    seed: int = 0,
    scale: float = 0.3,
    dtype: type = np.float32,
    task: Task | dict[str, Any] | None = None,
) -> Bundle:
    """A valid bundle with normal random weights (std ``scale``), features ``f0..``, an identity
    min-max scaler and pooled windows: for tests, benchmarks and trying a layer list out.
    ``layers``: typed layers (:mod:`squall.model`) or their JSON objects; ``task`` (default
    reconstruct): a :class:`squall.model.Task` or its JSON object."""
    names = [f"f{k}" for k in range(features)]
    typed = Task.from_json(task, names)
    layers = typed.model(as_layers(layers), names, length).layers
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {
        k: rng.normal(0, scale, s).astype(dtype) for k, s in weight_shapes(layers).items()
    }
    return Bundle(
        layers,
        weights,
        names,
        {n: "" for n in names},
        {
            "length": length,
            "stride": 1,
            "mode": "pooled",
            "resample": None,
            "max_gap": None,
            "min_observed": 0.25,
        },
        Scaler.from_minmax(names, [0] * features, [1] * features),
        task=typed,
    ).validate()


#: The experiment log ``squall train`` keeps beside a bundle's files (JSON lines).
TRAINING_LOG = "training-log.jsonl"

#: Whether a directory may be replaced by a bundle: it holds a bundle (with or without its
#: training log) and nothing else.
replaceable = written_by(
    "bundle.json",
    FORMAT,
    only=("bundle.json", "weights.safetensors", "history.csv", TRAINING_LOG),
)


def _read_history(path: Path) -> list[dict[str, Any]]:
    lines = regular_file(path, "history.csv").read_text(errors="replace").splitlines()
    try:
        keys = lines[0].split(",")
        return [
            {
                k: (int(v) if k == "epoch" else float(v))
                for k, v in zip(keys, line.split(","), strict=True)
            }
            for line in lines[1:]
        ]
    except (IndexError, ValueError) as exc:
        raise SquallError(f"{path} is malformed ({exc})") from exc


def _read_meta(root: Path) -> dict[str, Any]:
    """``bundle.json`` parsed, checked to be this format and version (an int, not 1.0/true)."""
    meta_path = regular_file(root / "bundle.json", "bundle.json")
    try:
        text = meta_path.read_bytes()
    except OSError as exc:
        raise SquallError(f"cannot read {meta_path}: {exc.strerror or exc}") from None
    meta = parse_json(text, str(meta_path))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SquallError(
            f"{meta_path} is not a squall bundle (format {meta.get('format')!r})"
            if isinstance(meta, dict)
            else f"{meta_path} is not a squall bundle"
        )
    version = meta.get("version")
    if not is_number(version, integer=True) or version not in READ_VERSIONS:
        raise SquallError(
            f"bundle {root} has format version {version!r}, this squall reads "
            f"versions {', '.join(map(str, READ_VERSIONS))}; re-export it with a matching squall"
        )
    if version == 1 and "task" in meta:
        raise SquallError(f"{meta_path}: a version 1 bundle has no task (version 2 has)")
    for key, kind in (
        ("layers", list),
        ("features", list),
        ("windows", dict),
        ("scaler", dict),
        ("units", dict),
        ("provenance", dict),
        ("detector", (dict, type(None))),
        ("task", dict),
    ):
        if key in meta and not isinstance(meta[key], kind):
            name = "list" if kind is list else "object"
            raise SquallError(f"{meta_path}: {key} must be a JSON {name}")
    return meta


def _feature_names(features: object) -> list[str] | None:
    """``features`` when it is a list of strings (else None: :func:`check_names` says why)."""
    if isinstance(features, list) and all(isinstance(f, str) for f in features):
        return features
    return None


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Load and validate a bundle directory; every problem is a one-line SquallError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    root = directory(path, "bundle directory")
    missing = "{p.parent} is not a bundle: {p.name} is missing"
    meta_path = regular_file(root / "bundle.json", "bundle.json", missing)
    weights_path = regular_file(root / "weights.safetensors", "weights file", missing)
    meta = _read_meta(root)
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise SquallError(f"{weights_path} is corrupted or not a safetensors file ({exc})") from exc
    history = root / "history.csv"
    try:
        bundle = Bundle(
            layers=meta["layers"],
            weights=weights,
            features=meta["features"],
            units=meta.get("units", {}),
            windows=meta["windows"],
            scaler=Scaler.from_dict(meta["scaler"]),
            threshold=meta.get("threshold"),
            provenance=meta.get("provenance", {}),
            history=_read_history(history) if history.exists() else [],
            detector=meta.get("detector"),
            task=Task.from_json(meta.get("task"), _feature_names(meta.get("features"))),
        )
    except KeyError as exc:
        raise SquallError(f"{meta_path} lacks a required entry: {exc}") from None
    try:
        return bundle.validate()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SquallError(f"{meta_path} is malformed: {exc}") from exc
