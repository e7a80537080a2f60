"""The engine interface and the registry of engines by name."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod

import numpy as np

from squall.bundle import Bundle
from squall.errors import SquallError

#: name -> "module:Class"; modules are imported only when the engine is used.
ENGINES = {
    "numpy": "squall.engines.numpy_engine:NumpyEngine",
    "torch": "squall.engines.torch_engine:TorchEngine",
}


class Engine(ABC):
    """Runs a bundle's model on scaled windows.

    Subclasses implement :meth:`_reconstruct`; input checking happens once, here.
    """

    name = "base"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Reconstruct scaled, filled windows ``x`` (N, T, F); returns float64 (N, T, F)."""
        x = np.asarray(x)
        T, F = self.bundle.length, len(self.bundle.features)
        if x.ndim != 3 or x.shape[1:] != (T, F):
            raise SquallError(f"windows must have shape (N, {T}, {F}) for this bundle, got "
                              f"{x.shape}")
        if not np.isfinite(x).all():
            raise SquallError("windows contain NaN or infinite values; fill missing values "
                              "first (the scaler's fill) and pass the mask to scoring")
        if len(x) == 0:
            return np.zeros((0, T, F))
        return np.asarray(self._reconstruct(x), dtype=np.float64)

    @abstractmethod
    def _reconstruct(self, x: np.ndarray) -> np.ndarray: ...


def get_engine(name: str, bundle: Bundle, **options) -> Engine:
    """Build engine ``name`` for ``bundle``."""
    if name not in ENGINES:
        raise SquallError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise SquallError(f"engine {name!r} needs a package that is not installed ({exc.name}); "
                          f"install the extra: pip install 'squall[train]'") from exc
    return getattr(mod, cls)(bundle, **options)
