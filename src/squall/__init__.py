"""squall: LSTM anomaly detection on marine and weather sensor data, from training to hardware.

The pipeline, in the order of the package layout (imports point one way, checked by
``lint-imports``): ``squall.data`` (readers, labels, windows, scaling, synthetic data) ->
``squall.model`` (the typed model description, standard library only) -> ``squall.bundle`` (the
model and everything needed to use it) and ``squall.prepare`` (data made ready for it) ->
``squall.models`` (PyTorch training, optional) -> ``squall.engines`` (numpy, torch, pure Python,
fixed point; ``squall.engines.tools``: profiling, tracing, the dataflow graph) ->
``squall.detect`` (the Detector: scores, thresholds, events, explanations, the label matcher)
-> ``squall.report`` (tables, plots, the HTML report, exploratory statistics) and ``squall.hw``
(fixed-point export, RTL, the accelerator cost model) -> ``squall.pipeline`` -> ``squall.cli``.
``import squall`` never imports torch.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING

try:  # one place for the version: the installed package's metadata (pyproject.toml)
    __version__ = _metadata.version("squall")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    import numpy as np

    from squall.bundle import Bundle


def load_bundle(path):  # noqa: ANN001 - re-exported with its own annotations
    """Load and validate a bundle directory (see :func:`squall.bundle.load_bundle`)."""
    from squall.bundle import load_bundle as _load

    return _load(path)


def reconstruct(bundle: Bundle, windows: np.ndarray, engine: str = "numpy") -> np.ndarray:
    """Reconstruct already scaled windows (N, T, F) with ``engine``; returns (N, T, F). For
    autoencoders (task ``reconstruct``) only; :func:`run` runs any bundle."""
    from squall.engines import get_engine

    return get_engine(engine, bundle).reconstruct(windows)


def run(bundle: Bundle, x: np.ndarray, engine: str = "numpy") -> np.ndarray:
    """The model's output for scaled windows ``x`` (N, *input shape*) with ``engine``: (N, T, F)
    for an autoencoder, (N, horizon, targets) for a forecaster, (N, classes) for a classifier
    (see :attr:`squall.model.ModelSpec.output_shape`)."""
    from squall.engines import get_engine

    return get_engine(engine, bundle).run(x)


def __getattr__(name: str):  # lazy: ``import squall`` stays light (no pandas, never torch)
    if name == "Detector":
        from squall.detect.detector import Detector

        return Detector
    raise AttributeError(f"module 'squall' has no attribute {name!r}")


__all__ = ["Detector", "__version__", "load_bundle", "reconstruct", "run"]
