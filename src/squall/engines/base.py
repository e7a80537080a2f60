"""The engine interface: input checks once, subclasses implement only the computation."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from squall.bundle import Bundle
from squall.errors import SquallError
from squall.limits import SCALED_LIMIT


class Engine(ABC):
    """Runs a bundle's model on scaled windows.

    Subclasses implement :meth:`_reconstruct`; input checking happens once, here.
    """

    name = "base"

    def __init__(self, bundle: Bundle) -> None:
        if not isinstance(bundle, Bundle):
            raise SquallError(
                f"expected a Bundle (load one with squall.load_bundle(path)), got "
                f"{type(bundle).__name__}"
            )
        self.bundle = bundle

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Reconstruct scaled, filled windows ``x`` (N, T, F); returns float64 (N, T, F).

        ``x`` must be real numbers (float or integer arrays; bool, complex, str and object
        arrays are refused: they are not scaled values, and casting would drop or invent
        information). Values beyond +-SCALED_LIMIT are clipped to it (a copy; see
        :mod:`squall.limits`), so every engine sees the same finite inputs."""
        x = _real_array(x)
        T, F = self.bundle.length, len(self.bundle.features)
        if x.ndim != 3 or x.shape[1:] != (T, F):
            raise SquallError(
                f"windows must have shape (N, {T}, {F}) for this bundle, got {x.shape}"
            )
        if not np.isfinite(x).all():
            raise SquallError(
                "windows contain NaN or infinite values; fill missing values "
                "first (the scaler's fill) and pass the mask to scoring"
            )
        if len(x) == 0:
            return np.zeros((0, T, F))
        if x.max() > SCALED_LIMIT or x.min() < -SCALED_LIMIT:  # no temporary of x's size
            x = np.clip(x, -SCALED_LIMIT, SCALED_LIMIT)
        return np.asarray(self._reconstruct(x), dtype=np.float64)

    @abstractmethod
    def _reconstruct(self, x: np.ndarray) -> np.ndarray: ...


def _real_array(x: object) -> np.ndarray:
    """``x`` as an array of real numbers, or a one-line error (see :meth:`Engine.reconstruct`)."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SquallError(f"windows must be an array of numbers ({exc})") from None
    if arr.dtype.kind not in "fiu":
        raise SquallError(f"windows must be real numbers, got an array of dtype {arr.dtype}")
    return arr


class PureEngine(Engine):
    """The pure-Python engine (:mod:`squall.engines.pure`) behind the common interface.

    The arrays are handed over as Python lists; the engine itself never sees numpy.
    """

    name = "pure"

    def __init__(self, bundle: Bundle) -> None:
        from squall.engines import pure

        super().__init__(bundle)
        tensors = {k: (list(v.shape), v.ravel().tolist()) for k, v in bundle.weights.items()}
        width = max(v.dtype.itemsize for v in bundle.weights.values())
        self.model = pure.from_arrays(
            {
                "layers": bundle.layers,
                "features": bundle.features,
                "windows": {"length": bundle.length},
            },
            tensors,
            width,
        )

    def _reconstruct(self, x: np.ndarray) -> np.ndarray:
        from squall.engines.pure import PureError

        try:
            return np.asarray(self.model.run(x.tolist()))
        except PureError as exc:
            raise SquallError(str(exc)) from None
