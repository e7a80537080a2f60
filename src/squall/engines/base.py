"""The engine interface: input checks once, subclasses implement only the computation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.bundle import Bundle
from squall.errors import SquallError
from squall.limits import SCALED_LIMIT

#: Scaled windows as :meth:`Engine._reconstruct` receives them: (N, T, F) real numbers, checked
#: and clipped (any float or integer dtype; each engine casts to what it computes in).
Windows = NDArray[np.floating[Any] | np.integer[Any]]
#: What :meth:`Engine._reconstruct` returns: (N, T, F) floats, of the engine's own precision.
Reconstruction = NDArray[np.floating[Any]]


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

    def reconstruct(self, x: ArrayLike) -> NDArray[np.float64]:
        """Reconstruct scaled, filled windows ``x`` (N, T, F); returns float64 (N, T, F). Only
        for a ``reconstruct`` bundle (an autoencoder); :meth:`run` runs any model."""
        task = self.bundle.task.kind
        if task != "reconstruct":
            raise SquallError(
                f"this bundle's task is {task!r}, not 'reconstruct': use squall.run (or "
                f"engine.run) for its output"
            )
        return self.run(x)

    def run(self, x: ArrayLike) -> NDArray[np.float64]:
        """The model's output for scaled, filled windows ``x`` (N, *input shape*): float64
        (N, *output shape*) (:attr:`squall.model.ModelSpec.input_shape` and ``output_shape``:
        (N, T, F) -> (N, T, F) for an autoencoder, (N, L, F_in) -> (N, H, F_out) for a
        forecaster, (N, T, F) -> (N, C) for a classifier).

        ``x`` must be real numbers (float or integer arrays; bool, complex, str and object
        arrays are refused: they are not scaled values, and casting would drop or invent
        information). Values beyond +-SCALED_LIMIT are clipped to it (a copy; see
        :mod:`squall.limits`), so every engine sees the same finite inputs."""
        windows = _real_array(x)
        model = self.bundle.model
        T, F = model.input_shape
        if windows.ndim != 3 or windows.shape[1:] != (T, F):
            raise SquallError(
                f"windows must have shape (N, {T}, {F}) for this bundle, got {windows.shape}"
            )
        if not np.isfinite(windows).all():
            raise SquallError(
                "windows contain NaN or infinite values; fill missing values "
                "first (the scaler's fill) and pass the mask to scoring"
            )
        if len(windows) == 0:
            return np.zeros((0, *model.output_shape))
        if windows.max() > SCALED_LIMIT or windows.min() < -SCALED_LIMIT:  # no temporary
            windows = np.clip(windows, -SCALED_LIMIT, SCALED_LIMIT)
        return np.asarray(self._reconstruct(windows), dtype=np.float64)

    @abstractmethod
    def _reconstruct(self, x: Windows) -> Reconstruction: ...


def _real_array(x: object) -> Windows:
    """``x`` as an array of real numbers, or a one-line error (see :meth:`Engine.reconstruct`)."""
    try:
        arr: NDArray[Any] = np.asarray(x)
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
        width = max((v.dtype.itemsize for v in bundle.weights.values()), default=4)
        self.model = pure.from_arrays(
            {
                "layers": bundle.layers,
                "features": bundle.features,
                "windows": {"length": bundle.length},
                "task": bundle.task.to_json(),
            },
            tensors,
            width,
        )

    def _reconstruct(self, x: Windows) -> Reconstruction:
        from squall.engines.pure import PureError

        try:
            return np.asarray(self.model.run(x.tolist(), outputs=True))
        except PureError as exc:
            raise SquallError(str(exc)) from None
