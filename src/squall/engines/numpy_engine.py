"""The batch engine: NumPy, whole batches at once, float32 by default.

How it is fast (each trick is exact algebra; only rounding differs from the textbook form):

* **Feature-major layout.** Inside the engine a batch is stored transposed, (features, n), so a
  gate block is a contiguous run of rows and every elementwise ufunc streams over contiguous
  memory (on (n, H) column views NumPy loops row by row and is several times slower).
* **One transcendental per gate block.** ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``. The gate
  blocks are reordered to i, f, o, g and the i, f, o rows of ``W``, ``U`` and ``b`` are halved
  once, at construction, so each step makes one ``np.tanh`` call over the whole (4H, n) block;
  ``+ 1`` then turns the i, f, o part into ``2 * sigmoid``.
* **Doubled hidden state.** With ``2 * sigmoid`` the step computes ``2h = (2 sigmoid(o)) tanh(c)``
  directly; every weight that reads an LSTM output (next ``W``, own ``U``, dense ``W``) is halved
  at construction instead. Halving and doubling are exact in binary floating point.
* **One matrix product per layer and step, bias included.** A run of LSTM layers shares one
  buffer with rows ``[x; 1; h1; 1; h2; ...]``; layer j multiplies ``[W | b | U]`` by its
  contiguous row range ``[input; 1; h_j]``. Layer j writes its new state into its ``h_j`` rows,
  which are also layer j+1's input: the layers advance in lockstep, one time step at a time, so a
  chunk's working set stays in cache and nothing is copied between layers.
* **Repeat costs nothing per step.** After a ``repeat`` every step's input is the same latent
  vector, so that layer's input projection ``W v + b`` is computed once per window.
* **At t = 0, h = 0:** the first step multiplies only the input rows.
* **Preallocated buffers, in-place ufuncs** (``out=``) and views made once per chunk, so the
  time loop does no allocation.
* **Chunks in threads.** The batch is cut into chunks of at most ``chunk`` windows that are run
  by ``threads`` worker threads (NumPy releases the GIL in matmul and ufuncs).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from squall.bundle import Bundle
from squall.engines.base import Engine


@dataclass
class _Lstm:
    """One LSTM layer, weights prepared for the fused step (gate order i, f, o, g)."""

    hidden: int
    stacked: np.ndarray        # (4H, in + 1 + H) = [W | b | U], or (4H, H) = U after a repeat
    project: np.ndarray | None  # (4H, in + 1) = [W | b], only after a repeat
    return_sequences: bool


@dataclass
class _Segment:
    """A run of LSTM layers that advance together; input is a sequence or a repeated vector."""

    layers: list[_Lstm]
    repeated: bool             # True: input is one vector per window (after ``repeat``)


@dataclass
class _Dense:
    weight: np.ndarray         # (out, in)
    bias: np.ndarray           # (out, 1)


def _prepare_lstm(W: np.ndarray, U: np.ndarray, b: np.ndarray, input_scale: float,
                  repeated: bool, return_sequences: bool, dtype: np.dtype) -> _Lstm:
    """Reorder gates to i, f, o, g; halve the sigmoid rows; scale inputs that arrive doubled."""
    H = U.shape[1]
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]           # i, f, g, o -> i, f, o, g
    gate_scale = np.r_[np.full(3 * H, 0.5), np.ones(H)][:, None]  # sigmoid(x) via tanh(x / 2)
    W = W.astype(np.float64)[order] * gate_scale * input_scale   # (4H, in)
    U = U.astype(np.float64)[order] * gate_scale * 0.5           # (4H, H), h arrives doubled
    b = b.astype(np.float64)[order, None] * gate_scale           # (4H, 1)
    head = np.hstack([W, b])                                     # (4H, in + 1)
    if repeated:
        return _Lstm(H, np.ascontiguousarray(U, dtype), np.ascontiguousarray(head, dtype),
                     return_sequences)
    stacked = np.ascontiguousarray(np.hstack([head, U]), dtype)  # (4H, in + 1 + H)
    return _Lstm(H, stacked, None, return_sequences)


def _plan(bundle: Bundle, dtype: np.dtype) -> list[_Segment | _Dense]:
    """Group the layer list into LSTM segments and dense layers, weights prepared."""
    plan: list[_Segment | _Dense] = []
    doubled = False        # does the current tensor hold 2h (an LSTM output)?
    repeated = False       # is the current tensor a vector that a repeat layer spreads over T?
    for i, layer in enumerate(bundle.layers):
        w = {k: bundle.weights[f"layers.{i}.{k}"] for k in "WUb"
             if f"layers.{i}.{k}" in bundle.weights}
        scale = 0.5 if doubled else 1.0
        if layer["type"] == "repeat":
            repeated = True
        elif layer["type"] == "dense":
            weight = w["W"].astype(np.float64) * scale                        # (out, in)
            plan.append(_Dense(np.ascontiguousarray(weight, dtype),
                               w["b"].astype(dtype)[:, None]))
            doubled = False
        else:
            lstm = _prepare_lstm(w["W"], w["U"], w["b"], scale, repeated,
                                 layer["return_sequences"], dtype)
            last = plan[-1] if plan else None
            if isinstance(last, _Segment) and last.layers[-1].return_sequences and not repeated:
                last.layers.append(lstm)
            else:
                plan.append(_Segment([lstm], repeated))
            doubled, repeated = True, False
    return plan


class _Cell:
    """Buffers and views of one layer for one chunk of ``n`` windows."""

    def __init__(self, lstm: _Lstm, buf: np.ndarray, lo: int, h_at: int,
                 vector: np.ndarray | None) -> None:
        H, n, dtype = lstm.hidden, buf.shape[1], buf.dtype
        self.z = np.empty((4 * H, n), dtype)                       # (4H, n) gates
        self.c = np.zeros((H, n), dtype)                           # (H, n) cell state
        self.tanh_c = np.empty((H, n), dtype)                      # (H, n)
        self.ifo, self.g = self.z[:3 * H], self.z[3 * H:]          # (3H, n), (H, n)
        self.i, self.f, self.o = self.z[:H], self.z[H:2 * H], self.z[2 * H:3 * H]
        self.h = buf[h_at:h_at + H]                                # (H, n) doubled state
        self.x = buf[lo:h_at + H]                                  # (in + 1 + H, n) or (H, n)
        self.x0 = buf[lo:h_at]                                     # without h (zero at t = 0)
        self.w, self.w0 = lstm.stacked, lstm.stacked[:, :h_at - lo]
        self.once = None
        if vector is not None:                                     # W v + b, once per window
            self.once = lstm.project[:, :-1] @ vector + lstm.project[:, -1:]   # (4H, n)

    def step(self, t: int) -> None:
        z = self.z
        if t == 0:
            np.matmul(self.w0, self.x0, out=z)                     # (4H, n)
        else:
            np.matmul(self.w, self.x, out=z)                       # (4H, n)
        if self.once is not None:
            np.add(z, self.once, out=z)
        np.tanh(z, out=z)
        np.add(self.ifo, 1, out=self.ifo)                          # 2 sigmoid(i, f, o)
        np.multiply(self.c, self.f, out=self.c)
        np.multiply(self.i, self.g, out=self.i)
        np.add(self.c, self.i, out=self.c)
        np.multiply(self.c, 0.5, out=self.c)                       # c = s(f) c + s(i) g
        np.tanh(self.c, out=self.tanh_c)
        np.multiply(self.o, self.tanh_c, out=self.h)               # 2h = 2 s(o) tanh(c)


def _run_segment(seg: _Segment, xs: np.ndarray | None, vector: np.ndarray | None,
                 steps: int) -> np.ndarray:
    """Run a segment for ``steps`` steps on xs (T, in, n) or a repeated vector (in, n).

    Returns the last layer's doubled states, (T, H, n), or (H, n) if it returns a vector.
    """
    src = vector if seg.repeated else xs
    n, width = src.shape[-1], (0 if seg.repeated else xs.shape[1])
    rows, ones, spans = width, [], []      # rows [x; 1; h1; 1; h2; ...], no x after a repeat
    lo = 0
    for k, lstm in enumerate(seg.layers):
        if k > 0 or not seg.repeated:
            ones.append(rows)
            rows += 1
        spans.append((lo, rows))           # layer k reads rows lo .. rows + H
        lo, rows = rows, rows + lstm.hidden
    buf = np.zeros((rows, n), src.dtype)                             # (rows, n)
    buf[ones] = 1
    cells = [_Cell(lstm, buf, a, h_at, vector if k == 0 and seg.repeated else None)
             for k, (lstm, (a, h_at)) in enumerate(zip(seg.layers, spans, strict=True))]
    last = cells[-1]
    out = (np.empty((steps, *last.h.shape), buf.dtype)               # (T, H, n)
           if seg.layers[-1].return_sequences else None)
    for t in range(steps):
        if not seg.repeated:
            buf[:width] = xs[t]
        for cell in cells:
            cell.step(t)
        if out is not None:
            out[t] = last.h
    return out if out is not None else last.h.copy()


class NumpyEngine(Engine):
    """Batch engine. ``dtype`` float32 (default, fast) or float64 (matches double-precision
    references to ~1e-12). Chunks of at most ``chunk`` windows run in ``threads`` threads."""

    name = "numpy"

    def __init__(self, bundle: Bundle, dtype: str = "float32", chunk: int = 256,
                 threads: int = 2) -> None:
        super().__init__(bundle)
        self.dtype = np.dtype(dtype)
        self.chunk, self.threads = max(1, int(chunk)), max(1, int(threads))
        self.plan = _plan(bundle, self.dtype)
        self._pool: ThreadPoolExecutor | None = None

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """One chunk: (n, T, F) -> (T, F, n) feature-major."""
        T = x.shape[1]
        seq = np.ascontiguousarray(x.transpose(1, 2, 0), dtype=self.dtype)  # (T, F, n)
        vec = None
        for op in self.plan:
            if isinstance(op, _Dense):
                seq = np.matmul(op.weight, seq) + op.bias                   # (T, out, n)
            elif op.repeated:
                seq = _run_segment(op, None, vec, T)                        # (T, H, n)
            else:
                res = _run_segment(op, seq, None, T)                        # (T, H, n) | (H, n)
                seq, vec = (res, None) if res.ndim == 3 else (None, res)
        return seq

    def _reconstruct(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        size = min(self.chunk, math.ceil(n / self.threads))
        bounds = [(a, min(a + size, n)) for a in range(0, n, size)]
        result = np.empty(x.shape, np.float64)

        def work(ab: tuple[int, int]) -> None:
            a, b = ab
            result[a:b] = self._forward(x[a:b]).transpose(2, 0, 1)

        if len(bounds) == 1 or self.threads == 1:
            for ab in bounds:
                work(ab)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="squall-np")
            list(self._pool.map(work, bounds))
        return result
