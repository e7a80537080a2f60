"""The batch engine: NumPy, whole batches at once, float32 by default.

How it is fast (each trick is exact algebra; only rounding differs from the textbook form):

* **One transcendental per gate block.** ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``. The gate
  blocks are reordered to i, f, o, g and the i, f, o rows of ``W``, ``U`` and ``b`` are halved
  once, at construction, so each step makes one ``np.tanh`` call over the whole (N, 4H) block;
  ``+ 1`` then turns the i, f, o part into ``2 * sigmoid``.
* **Doubled hidden state.** With ``2 * sigmoid`` the step computes ``2h = (2 sigmoid(o)) tanh(c)``
  directly; every weight that reads an LSTM output (next ``W``, own ``U``, dense ``W``) is halved
  at construction instead. Halving and doubling are exact in binary floating point.
* **One matrix product per layer and step, bias included.** A run of LSTM layers shares one
  row-major buffer ``[x | 1 | h1 | 1 | h2 | ...]``; layer j multiplies its contiguous column
  range ``[input | 1 | h_j]`` by the stacked ``[W^T; b; U^T]``. Layer j writes its new state into
  its ``h_j`` columns, which are also layer j+1's input: the layers advance in lockstep, one time
  step at a time, so the whole working set of a chunk stays in cache and nothing is copied
  between layers.
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
    stacked: np.ndarray        # (in + 1 + H, 4H): rows W^T, b, U^T (sequence input)
    project: np.ndarray | None  # (in + 1, 4H): rows W^T, b (vector input after a repeat)
    return_sequences: bool


@dataclass
class _Segment:
    """A run of LSTM layers that advance together; input is a sequence or a repeated vector."""

    layers: list[_Lstm]
    repeated: bool             # True: input is one vector per window (after ``repeat``)


@dataclass
class _Dense:
    weight: np.ndarray         # (in, out)
    bias: np.ndarray           # (out,)


def _prepare_lstm(W: np.ndarray, U: np.ndarray, b: np.ndarray, input_scale: float,
                  repeated: bool, return_sequences: bool, dtype: np.dtype) -> _Lstm:
    """Reorder gates to i, f, o, g; halve the sigmoid rows; scale inputs that arrive doubled."""
    H = U.shape[1]
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]           # i, f, g, o -> i, f, o, g
    gate_scale = np.r_[np.full(3 * H, 0.5), np.ones(H)]         # sigmoid(x) via tanh(x / 2)
    W = W.astype(np.float64)[order] * gate_scale[:, None] * input_scale   # (4H, in)
    U = U.astype(np.float64)[order] * gate_scale[:, None] * 0.5           # (4H, H), h doubled
    b = b.astype(np.float64)[order] * gate_scale                          # (4H,)
    head = np.vstack([W.T, b[None, :]])                                   # (in + 1, 4H)
    stacked = np.ascontiguousarray(np.vstack([head, U.T]), dtype=dtype)   # (in + 1 + H, 4H)
    project = np.ascontiguousarray(head, dtype=dtype) if repeated else None
    if repeated:
        stacked = np.ascontiguousarray(U.T, dtype=dtype)                  # (H, 4H)
    return _Lstm(H, stacked, project, return_sequences)


def _plan(bundle: Bundle, dtype: np.dtype) -> list[_Segment | _Dense]:
    """Group the layer list into LSTM segments and dense layers, weights prepared."""
    plan: list[_Segment | _Dense] = []
    doubled = False        # does the current tensor hold 2h (an LSTM output)?
    repeated = False       # is the current tensor a vector that a repeat layer spreads over T?
    for i, layer in enumerate(bundle.layers):
        w = {k[len(f"layers.{i}."):]: v for k, v in bundle.weights.items()
             if k.startswith(f"layers.{i}.")}
        scale = 0.5 if doubled else 1.0
        if layer["type"] == "repeat":
            repeated = True
        elif layer["type"] == "dense":
            weight = (w["W"].astype(np.float64) * scale).T                    # (in, out)
            plan.append(_Dense(np.ascontiguousarray(weight, dtype=dtype), w["b"].astype(dtype)))
            doubled = False
        else:
            lstm = _prepare_lstm(w["W"], w["U"], w["b"], scale, repeated,
                                 layer["return_sequences"], dtype)
            last = plan[-1] if plan else None
            if (isinstance(last, _Segment) and last.layers[-1].return_sequences
                    and not repeated):
                last.layers.append(lstm)
            else:
                plan.append(_Segment([lstm], repeated))
            doubled, repeated = True, False
    return plan


class _StepState:
    """Buffers and views of one layer for one chunk of ``n`` windows."""

    def __init__(self, lstm: _Lstm, buf: np.ndarray, lo: int, h_at: int, n: int,
                 vector: np.ndarray | None) -> None:
        H, dtype = lstm.hidden, buf.dtype
        self.z = np.empty((n, 4 * H), dtype)                       # (n, 4H) gates
        self.c = np.zeros((n, H), dtype)                           # (n, H) cell state
        self.tanh_c = np.empty((n, H), dtype)                      # (n, H)
        self.ifo, self.g = self.z[:, :3 * H], self.z[:, 3 * H:]    # (n, 3H), (n, H)
        self.i, self.f, self.o = self.z[:, :H], self.z[:, H:2 * H], self.z[:, 2 * H:3 * H]
        self.h = buf[:, h_at:h_at + H]                             # (n, H) doubled state
        self.x = buf[:, lo:h_at + H]                               # (n, in + 1 + H) or (n, H)
        self.x0 = buf[:, lo:h_at]                                  # without h (zero at t = 0)
        self.w = lstm.stacked
        self.w0 = lstm.stacked[:h_at - lo]
        self.once = None
        if vector is not None:                                     # W v + b, once per window
            self.once = vector @ lstm.project[:-1] + lstm.project[-1]   # (n, 4H)

    def step(self, t: int) -> None:
        z = self.z
        if t == 0:
            np.matmul(self.x0, self.w0, out=z)                     # (n, 4H)
        else:
            np.matmul(self.x, self.w, out=z)                       # (n, 4H)
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
    """Run a segment over ``steps`` time steps; xs (T, n, in) or vector (n, in).

    Returns the last layer's doubled states (T, n, H), or (n, H) if it returns a vector.
    """
    n = len(vector) if seg.repeated else xs.shape[1]
    width = 0 if seg.repeated else xs.shape[2]
    # column layout [x | 1 | h1 | 1 | h2 | ...]; without x: [h1 | 1 | h2 | ...]
    cols, ones, lo = width, [], 0
    starts = []
    for k, lstm in enumerate(seg.layers):
        if not (seg.repeated and k == 0):
            ones.append(cols)
            cols += 1
        starts.append((lo, cols))
        lo = cols
        cols += lstm.hidden
    buf = np.zeros((n, cols), xs.dtype if xs is not None else vector.dtype)   # (n, cols)
    buf[:, ones] = 1
    states = [_StepState(lstm, buf, lo, h_at, n, vector if k == 0 and seg.repeated else None)
              for k, (lstm, (lo, h_at)) in enumerate(zip(seg.layers, starts, strict=True))]
    last = states[-1]
    out = (np.empty((steps, n, seg.layers[-1].hidden), buf.dtype)        # (T, n, H)
           if seg.layers[-1].return_sequences else None)
    x_cols = buf[:, :width]
    for t in range(steps):
        if xs is not None:
            np.copyto(x_cols, xs[t])
        for st in states:
            st.step(t)
        if out is not None:
            np.copyto(out[t], last.h)
    return out if out is not None else last.h.copy()


class NumpyEngine(Engine):
    """Batch engine. ``dtype`` float32 (default, fast) or float64 (matches double-precision
    references to ~1e-12). ``chunk`` windows per work item, run by ``threads`` threads."""

    name = "numpy"

    def __init__(self, bundle: Bundle, dtype: str = "float32", chunk: int = 256,
                 threads: int = 2) -> None:
        super().__init__(bundle)
        self.dtype = np.dtype(dtype)
        self.chunk, self.threads = max(1, int(chunk)), max(1, int(threads))
        self.plan = _plan(bundle, self.dtype)
        self._pool: ThreadPoolExecutor | None = None

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """One chunk: (n, T, F) -> (T, n, F) time-major."""
        T = x.shape[1]
        seq = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)   # (T, n, F)
        vec = None
        for op in self.plan:
            if isinstance(op, _Dense):
                seq = seq @ op.weight + op.bias                              # (T, n, out)
            elif op.repeated:
                seq = _run_segment(op, None, vec, T)
            else:
                res = _run_segment(op, seq, None, T)
                seq, vec = (res, None) if res.ndim == 3 else (None, res)
        return seq

    def _reconstruct(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        size = min(self.chunk, math.ceil(n / self.threads))
        bounds = [(a, min(a + size, n)) for a in range(0, n, size)]
        result = np.empty(x.shape, np.float64)

        def work(ab: tuple[int, int]) -> None:
            a, b = ab
            result[a:b] = self._forward(x[a:b]).transpose(1, 0, 2)

        if len(bounds) == 1 or self.threads == 1:
            for ab in bounds:
                work(ab)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="squall-np")
            list(self._pool.map(work, bounds))
        return result
