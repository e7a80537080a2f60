"""The batch engine: NumPy, whole batches at once.

Per LSTM layer the input projection of every time step is one matrix product; only the
recurrence ``U h`` stays in the time loop. After a ``repeat`` layer every step's input is the
same latent vector, so that layer's input projection is computed once per window.
"""

from __future__ import annotations

import numpy as np

from squall.bundle import Bundle
from squall.engines.base import Engine


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class NumpyEngine(Engine):
    """Batch engine. ``dtype`` float64 (default: matches the double-precision references to
    ~1e-12) or float32 (faster)."""

    name = "numpy"

    def __init__(self, bundle: Bundle, dtype: str = "float64") -> None:
        super().__init__(bundle)
        self.dtype = np.dtype(dtype)
        self.params = {k: v.astype(self.dtype) for k, v in bundle.weights.items()}

    def _lstm(self, i: int, xs: np.ndarray | None, x_once: np.ndarray | None, steps: int,
              return_sequences: bool) -> np.ndarray:
        W, U, b = (self.params[f"layers.{i}.{k}"] for k in "WUb")
        H = U.shape[1]
        n = (xs if xs is not None else x_once).shape[0]
        if xs is not None:
            proj = xs @ W.T + b                      # (N, T, 4H)
        else:
            proj_once = x_once @ W.T + b             # (N, 4H), same for every step
        h = np.zeros((n, H), self.dtype)
        c = np.zeros((n, H), self.dtype)
        out = np.empty((n, steps, H), self.dtype) if return_sequences else None
        for t in range(steps):
            z = (proj[:, t] if xs is not None else proj_once) + h @ U.T   # (N, 4H)
            i_g, f_g, g_g, o_g = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H]), \
                np.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])
            c = f_g * c + i_g * g_g
            h = o_g * np.tanh(c)
            if out is not None:
                out[:, t] = h
        return out if out is not None else h

    def _reconstruct(self, x: np.ndarray) -> np.ndarray:
        T = x.shape[1]
        seq, vec = x.astype(self.dtype), None
        for i, layer in enumerate(self.bundle.layers):
            if layer["type"] == "lstm":
                res = self._lstm(i, seq, vec, T, layer["return_sequences"])
                seq, vec = (res, None) if layer["return_sequences"] else (None, res)
            elif layer["type"] == "repeat":
                pass  # the next LSTM takes ``vec`` directly: its projection is computed once
            else:
                W, b = self.params[f"layers.{i}.W"], self.params[f"layers.{i}.b"]
                seq = seq @ W.T + b                  # (N, T, out)
        return seq
