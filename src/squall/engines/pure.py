"""The transparent engine: pure Python, standard library only, one small function per operation.

Every step is plain Python a debugger can step through and cProfile / line_profiler can time, so
a profile reads like the algorithm: ``lstm_layer`` -> ``lstm_step`` -> ``gates`` (the fused
mat-vec) -> ``sigmoid`` / ``tanh`` -> ``cell``; ``dense_layer`` -> ``dense``. A ``repeat`` layer
is not a function: it is the next LSTM reading the same latent vector at every step (see
``PureModel.lstm_layer``). It loads a bundle with ``json`` and ``struct`` (safetensors is an
8-byte header length, a JSON header and raw little-endian arrays), so it runs where numpy cannot
be imported. Arithmetic is Python floats (IEEE double).

What makes it faster than the textbook version (see ``benchmarks/bench_pure.py``):

* The four gates are one pass over ``[x, h]``: each of the 4H rows of ``[W | U]`` is stored as one
  list, so a gate pre-activation is a single dot product ``row . xh + b`` instead of two mat-vecs
  and a vector add building intermediate lists.
* After ``repeat`` the input is the same latent vector at every step, so ``W v + b`` is computed
  once per window and each step only adds ``U h``.
* Hot names are bound locally, and each dot product runs in C (below).

How :func:`gates` computes its dot products is the module switch :data:`DOT_METHOD` (set it with
:func:`use_dot_method`; it applies to every model in the process):

``"sumprod"`` (the default on Python 3.12+)
    ``math.sumprod(row, xh)``: one C loop, accumulated in extended precision.
``"polarization"`` (the default on Python 3.11, which has no ``math.sumprod``)
    ``w . v = (|w|^2 + |v|^2 - |w - v|^2) / 2``: ``math.dist`` computes ``|w - v|`` in C,
    ``|w|^2`` is precomputed per row and ``|v|^2`` once per call. On 3.11 it makes the engine
    about twice as fast as the plain sum (docs/benchmarks.md, the pure-Python engine); the 3x
    target of ``bench_pure.py`` is met with it, not without. The price is an absolute error
    that scales with ``|w|^2 + |v|^2`` rather than with ``sum |w_i v_i|``: rounding
    ``|w|^2``, ``|v|^2`` (plain sums of n terms on 3.11) and
    ``|w - v|^2`` bounds it by about ``(n/2 + 8) u (|w|^2 + |v|^2)``, ``u = 2**-53``,
    n = ``len(xh)`` (about 6e-15 (|w|^2 + |v|^2) for the seed model's n <= 96). Measured on
    sampled gate dot products of the seed model on its windows, against exact rational
    arithmetic: at most 6.5e-16 (|w|^2 + |v|^2) and 6.8e-15 absolute, where the plain sum is off
    by at most 1.3e-15; with the inputs scaled by 1000 (``|v|^2`` up 1e6 times), 4.4e-9 absolute
    against 1.8e-12 for the plain sum (the review measured 8e-9 at that scale). Reconstruction
    errors of scaled windows still match the references to 1e-9 relative (tested); choose
    ``"plain"`` for inputs far outside the scaler's range, or when the rounding must not depend
    on the norms.
``"plain"``
    ``sum(map(operator.mul, row, xh))``: ordinary left-to-right float summation, error bounded by
    about ``n u sum |w_i v_i|``; the slow path on 3.11.

The counters (:class:`Counters`) count the algorithm's multiply-accumulates whichever method runs.
"""

from __future__ import annotations

import json
import math
import operator
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squall.errors import SquallError
from squall.io import PathArg, parse_json
from squall.limits import SCALED_LIMIT, regular_file
from squall.model import (
    Conv1d,
    Decoder,
    Dense,
    Gru,
    Layer,
    Lstm,
    Repeat,
    Rfft,
    Task,
    as_layers,
    walk_layers,
)

_DTYPES = {"F32": ("f", 4), "F64": ("d", 8), "F16": ("e", 2)}

#: One vector of floats (an input row, a hidden state, a bias).
Vector = list[float]
#: Rows of floats: a window (T rows of F values), a layer's output sequence, a weight matrix.
Matrix = list[list[float]]
#: A bundle's tensors as the loader reads them: name -> (shape, flat values, row-major).
Tensors = dict[str, tuple[list[int], list[float]]]
#: One record of :attr:`PureModel.trace` (see :meth:`PureModel.lstm_layer`).
TraceRecord = dict[str, Any]

#: The ways :func:`gates` can compute a dot product (see the module docstring).
DOT_METHODS = ("sumprod", "polarization", "plain")
#: The method :func:`gates` uses; change it with :func:`use_dot_method`.
DOT_METHOD = "sumprod" if hasattr(math, "sumprod") else "polarization"

if sys.version_info >= (3, 12):  # math.sumprod exists
    dot = _sumprod = math.sumprod
else:  # pragma: no cover - exercised on 3.11
    _mul: Callable[[float, float], float] = operator.mul

    def dot(row: Sequence[float], vec: Sequence[float]) -> float:
        """Dot product of two equal-length sequences (plain left-to-right sum)."""
        return sum(map(_mul, row, vec))

    def _sumprod(row: Sequence[float], vec: Sequence[float]) -> float:
        raise PureError("dot method 'sumprod' needs Python 3.12+ (math.sumprod)")


class PureError(SquallError):
    """A bundle or window this engine cannot use (the message names the problem, in one line)."""


def use_dot_method(method: str) -> str:
    """Make :func:`gates` compute dot products with ``method`` (one of :data:`DOT_METHODS`)
    from now on, for every model; returns the previous method so it can be restored."""
    global DOT_METHOD
    if method not in DOT_METHODS:
        raise PureError(f"unknown dot method {method!r}; choose one of {', '.join(DOT_METHODS)}")
    if method == "sumprod" and not hasattr(math, "sumprod"):
        raise PureError("dot method 'sumprod' needs Python 3.12+ (math.sumprod)")
    previous, DOT_METHOD = DOT_METHOD, method
    return previous


# ---------------------------------------------------------------- loading (stdlib only)


def read_safetensors(path: PathArg) -> Tensors:
    """Read a safetensors file: name -> (shape, flat list of floats, row-major)."""
    return _read_safetensors(path)[0]


def _read_safetensors(path: PathArg) -> tuple[Tensors, set[int]]:
    """The tensors and the set of their dtypes' widths in bytes, from one read of the file."""
    try:
        data = regular_file(path, "safetensors file", missing="{p} is missing").read_bytes()
    except SquallError as exc:
        raise PureError(str(exc)) from None
    except OSError as exc:
        raise PureError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if len(data) < 8:
        raise PureError(f"{path} is too short to be a safetensors file")
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8:
        raise PureError(f"{path}: header length {size} exceeds the file")
    try:
        header = parse_json(data[8 : 8 + size], f"{path}: header")
    except SquallError as exc:
        raise PureError(str(exc)) from None
    if not isinstance(header, dict):
        raise PureError(f"{path}: the header is not a JSON object")
    base = 8 + size
    out: Tensors = {}
    widths: set[int] = set()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape = info["dtype"], list(info["shape"])
            start, end = info["data_offsets"]
        except KeyError as exc:
            raise PureError(f"{path}: tensor {name!r} lacks {exc} in the header") from exc
        except (TypeError, ValueError) as exc:
            raise PureError(
                f"{path}: tensor {name!r} has a malformed header entry ({exc})"
            ) from exc
        if dtype not in _DTYPES:
            raise PureError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in shape) or not all(
            isinstance(o, int) for o in (start, end)
        ):
            raise PureError(f"{path}: tensor {name!r} has a malformed shape or data_offsets")
        code, width = _DTYPES[dtype]
        count = math.prod(shape)
        if not 0 <= start <= end or end - start != count * width or base + end > len(data):
            raise PureError(f"{path}: tensor {name!r} has inconsistent offsets")
        values = struct.unpack(f"<{count}{code}", data[base + start : base + end])
        out[name] = (shape, list(values))
        widths.add(width)
    return out, widths


def _rows(shape: list[int], flat: list[float]) -> Matrix:
    rows, cols = shape
    return [flat[r * cols : (r + 1) * cols] for r in range(rows)]


@dataclass
class LstmLayer:
    """Weights of one LSTM layer, gate order i, f, g, o (the bundle's canonical layout)."""

    hidden: int
    inputs: int
    W: list[list[float]]  # (4H, in)
    U: list[list[float]]  # (4H, H)
    b: list[float]  # (4H)
    WU: list[list[float]]  # (4H, in + H): row r is W[r] + U[r], for the fused pass
    return_sequences: bool
    WU_norms: list[float] = field(default_factory=list)  # |WU[r]|^2, see gates()
    U_norms: list[float] = field(default_factory=list)  # |U[r]|^2
    W_norms: list[float] = field(default_factory=list)  # |W[r]|^2 (projection after repeat)

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        """(sequence, latent vector) out for the ones in (:meth:`PureModel.lstm_layer`)."""
        return model.lstm_layer(idx, self, seq, latent)


@dataclass
class DenseLayer:
    W: list[list[float]]  # (out, in)
    b: list[float]
    W_norms: list[float] = field(default_factory=list)  # |W[r]|^2, see gates()
    activation: str = "linear"  # see ACTIVATIONS

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        if seq is None:  # one vector: y = act(W v + b) once; spread again after a repeat
            if latent is None:
                raise PureError(f"layer {idx}: a dense layer got no input")
            y = model.dense_layer(idx, self, [latent])[0]
            if model.repeated_at(idx):
                return [y] * model.steps_at(idx), None
            return None, y
        return model.dense_layer(idx, self, seq), None


@dataclass
class GruLayer:
    """Weights of one GRU layer, gate order r, z, n (the bundle's canonical layout: ``b`` the
    input bias, ``bh`` the recurrent one)."""

    hidden: int
    inputs: int
    W: Matrix  # (3H, in)
    U: Matrix  # (3H, H)
    b: Vector  # (3H)
    bh: Vector  # (3H)
    return_sequences: bool
    W_norms: list[float] = field(default_factory=list)
    U_norms: list[float] = field(default_factory=list)

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        return model.gru_layer(idx, self, seq, latent)


@dataclass
class Conv1dLayer:
    """Weights of one conv1d layer: ``W[o][c]`` the k taps of output o, input c."""

    W: list[Matrix]  # (out, in, k)
    b: Vector
    kernel: int
    causal: bool
    taps: Matrix = field(default_factory=list)  # (out, k * in): row o = W[o][.][j] for j, c
    norms: list[float] = field(default_factory=list)

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        if seq is None:  # a repeated vector: the sequence it stands for
            if latent is None:
                raise PureError(f"layer {idx}: a conv1d layer got no input")
            seq = [latent] * model.steps_at(idx)
        return model.conv1d_layer(idx, self, seq), None


@dataclass
class RfftLayer:
    """The rfft layer (no weights): ``bins`` frequencies of a ``length``-step window, the
    cosine and sine tables of its direct DFT (``cos(2 pi j / L)``, ``sin(2 pi j / L)``, j =
    0..L-1; the angle ``k t`` is reduced mod L first, so every product uses an exact table
    entry)."""

    length: int
    bins: int
    append: bool
    cos: Vector = field(default_factory=list)
    sin: Vector = field(default_factory=list)

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        if seq is None:  # a repeated vector: the sequence it stands for
            if latent is None:
                raise PureError(f"layer {idx}: an rfft layer got no input")
            seq = [latent] * model.steps_at(idx)
        spectrum = model.rfft_layer(idx, self, seq)
        if not self.append:
            return None, spectrum
        return [row + spectrum for row in seq], None


@dataclass
class DecoderLayer:
    """Weights of one decoder layer (see :mod:`squall.model`): the optional initial projection
    ``P``, ``p``, the cell (``W``, ``U``, ``b``, ``bh``: a :class:`GruLayer` or an
    :class:`LstmLayer` with bias ``b + bh``) and the output projection ``Wo``, ``bo``."""

    steps: int
    outputs: int
    cell: GruLayer | LstmLayer
    out: DenseLayer
    init: DenseLayer | None = None

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        if latent is None:
            raise PureError(f"layer {idx}: a decoder reads one vector per window")
        return model.decoder_layer(idx, self, latent), None


@dataclass
class RepeatLayer:
    """No work: the next LSTM reads the latent vector at every step (see ``lstm_layer``)."""

    times: int

    def run(
        self, model: PureModel, idx: int, seq: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        return seq, latent


#: A layer of this engine (built by :data:`BUILD`).
PureLayer = LstmLayer | GruLayer | Conv1dLayer | DenseLayer | RepeatLayer | RfftLayer | DecoderLayer


@dataclass
class Counters:
    """What one run did, counted per layer index (``None`` on the model: counting is off and free).

    Counted as the engine runs, per LSTM step call (H hidden units, n inputs, w bytes a word):

    * ``step_calls``: calls of :func:`lstm_step` (LSTM layers) or :func:`dense` (dense layers).
    * ``macs``: the multiply-accumulates of the algorithm's mat-vecs, ``4H (n + H)`` per step,
      ``4H H`` per step after a repeat plus ``4H n`` once per window for ``W v``, ``n m`` per
      dense step. They are the same whichever :data:`DOT_METHOD` runs: the machine operations of
      the polarization identity (a subtraction and a square per element in ``math.dist``,
      ``|v|^2`` per call) are not what is counted.
    * ``activations``: sigmoid and tanh evaluations, ``5H`` per step (i, f, o; g, c).
    * ``weight_bytes``: weights and biases read, ``(4H (n + H) + 4H) w`` per step; after a repeat
      ``(4H n + 4H) w`` once per window and ``4H H w`` per step.
    * ``state_bytes_in``: a step's inputs, ``x`` (or the ``4H`` projection after a repeat),
      ``h`` and ``c``: ``(n + 2H) w`` (or ``6H w``); a dense step reads its ``n`` inputs.
    * ``state_bytes_out``: ``h`` and ``c``, ``2H w``; a dense step writes its outputs.

    GRU, conv1d, rfft and decoder layers count as ``squall.engines.tools.costs`` defines for
    them (an rfft: one call and ``2 F K L`` MACs per window; a decoder: one call per step).
    ``squall.engines.tools.costs.window_costs`` predicts the same numbers from the layer sizes.
    """

    step_calls: dict[int, int] = field(default_factory=dict)
    macs: dict[int, int] = field(default_factory=dict)
    activations: dict[int, int] = field(default_factory=dict)
    weight_bytes: dict[int, int] = field(default_factory=dict)
    state_bytes_in: dict[int, int] = field(default_factory=dict)
    state_bytes_out: dict[int, int] = field(default_factory=dict)

    def add(self, table: dict[int, int], layer: int, n: int) -> None:
        table[layer] = table.get(layer, 0) + n

    def as_dict(self) -> dict[str, dict[int, int]]:
        return {k: dict(v) for k, v in self.__dict__.items()}


# ---------------------------------------------------------------- the operations


def _bounded(v: float) -> float:
    """An input value as a float clipped to +-SCALED_LIMIT (:mod:`squall.limits`): the gates
    saturate long before it, and the dot products (squares in the polarization method) of
    values near 1e308 would overflow."""
    return min(max(float(v), -SCALED_LIMIT), SCALED_LIMIT)


def sigmoid(x: float) -> float:
    """Logistic function, safe for large negative inputs."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


tanh = math.tanh


def relu(x: float) -> float:
    """``max(x, 0)``."""
    return x if x > 0.0 else 0.0


#: A dense layer's activation by name (:data:`squall.model.DENSE_ACTIVATIONS`); ``linear`` is
#: no call at all.
ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "relu": relu,
    "tanh": tanh,
    "sigmoid": sigmoid,
}


def squared_norms(rows: list[list[float]]) -> list[float]:
    """``|row|^2`` of every row (precomputed once per layer for the polarization method)."""
    return [dot(row, row) for row in rows]


def gates(
    rows: list[list[float]], xh: list[float], bias: list[float], norms: list[float]
) -> list[float]:
    """Every mat-vec of the model, one dot product per row: ``M v + b``.

    The LSTM step's fused pass ``[W | U] [x; h] + b`` (all 4H gate pre-activations), ``U h``
    plus the projection after a repeat, the projection ``W v + b`` itself, and the dense layer.
    ``norms`` are the rows' ``|row|^2`` (used by the polarization method only). The dot products
    are computed as :data:`DOT_METHOD` says (see the module docstring for speed and accuracy).
    """
    method = DOT_METHOD
    if method == "sumprod":
        sumprod = _sumprod
        return [sumprod(row, xh) + b for row, b in zip(rows, bias, strict=True)]
    if method == "polarization":
        vv, dist = dot(xh, xh), math.dist
        return [
            0.5 * (n + vv - dist(row, xh) ** 2) + b
            for row, n, b in zip(rows, norms, bias, strict=True)
        ]
    if method == "plain":
        mul = operator.mul
        return [sum(map(mul, row, xh)) + b for row, b in zip(rows, bias, strict=True)]
    raise PureError(f"unknown DOT_METHOD {method!r}; choose one of {', '.join(DOT_METHODS)}")


def cell(z: list[float], c: list[float], H: int) -> tuple[list[float], list[float]]:
    """Gate activations and the state update from pre-activations ``z`` (gate order i, f, g, o).

    ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``; ``h' = sigmoid(o) tanh(c')``.
    """
    sig, th = sigmoid, tanh
    c_new = [sig(z[H + k]) * c[k] + sig(z[k]) * th(z[2 * H + k]) for k in range(H)]
    h_new = [sig(z[3 * H + k]) * th(c_new[k]) for k in range(H)]
    return h_new, c_new


def lstm_step(
    layer: LstmLayer,
    x: list[float],
    h: list[float],
    c: list[float],
    proj: list[float] | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """One LSTM step; returns (h, c, z). With ``proj = W x + b`` precomputed (after a repeat),
    only ``U h`` is computed here."""
    if proj is None:
        z = gates(layer.WU, x + h, layer.b, layer.WU_norms)
    else:
        z = gates(layer.U, h, proj, layer.U_norms)
    h, c = cell(z, c, layer.hidden)
    return h, c, z


def gru_step(
    layer: GruLayer, x: Vector, h: Vector, proj: Vector | None = None
) -> tuple[Vector, Vector, Vector, Vector]:
    """One GRU step; returns (h, r, z, n). ``a = W x + b_i`` (or ``proj``, precomputed after a
    repeat), ``u = U h + b_h``; ``r = sigmoid(a_r + u_r)``, ``z = sigmoid(a_z + u_z)``,
    ``n = tanh(a_n + r u_n)``, ``h' = (1 - z) n + z h``."""
    H, sig, th = layer.hidden, sigmoid, tanh
    a = proj if proj is not None else gates(layer.W, x, layer.b, layer.W_norms)
    u = gates(layer.U, h, layer.bh, layer.U_norms)
    r = [sig(a[k] + u[k]) for k in range(H)]
    z = [sig(a[H + k] + u[H + k]) for k in range(H)]
    n = [th(a[2 * H + k] + r[k] * u[2 * H + k]) for k in range(H)]
    return [(1.0 - z[k]) * n[k] + z[k] * h[k] for k in range(H)], r, z, n


def conv1d(layer: Conv1dLayer, window: Vector) -> Vector:
    """One output step of a conv1d layer: ``b + W . window``, ``window`` the k input steps it
    sees, concatenated in time order."""
    return gates(layer.taps, window, layer.b, layer.norms)


def rfft(layer: RfftLayer, xs: Matrix, feature: int) -> tuple[Vector, Vector]:
    """Amplitudes and phases of the first ``bins`` frequencies of one feature's real DFT,
    ``X_k = (1/L) sum_t x_t exp(-2 pi i k t / L)`` (``numpy.fft.rfft``, ``norm="forward"``),
    computed directly: ``O(L K)`` multiply-adds (fine for L up to a few hundred). The DC bin and
    the Nyquist bin of an even L have imaginary part exactly 0 (as the FFT's), so their phase is
    0 or pi; ``atan2(0, 0) = 0``."""
    L, cos, sin = layer.length, layer.cos, layer.sin
    x = [row[feature] for row in xs]
    amps, phases = [], []
    for k in range(layer.bins):
        re = dot(x, [cos[(k * t) % L] for t in range(L)]) / L
        if k == 0 or 2 * k == L:
            im = 0.0
        else:
            im = -dot(x, [sin[(k * t) % L] for t in range(L)]) / L
        amps.append(math.hypot(re, im))
        phases.append(math.atan2(im, re) if im != 0.0 or re != 0.0 else 0.0)
    return amps, phases


def decoder_step(
    layer: DecoderLayer, y: Vector, h: Vector, c: Vector
) -> tuple[Vector, Vector, Vector]:
    """One decoder step: the cell on the previous output ``y``, then ``Wo h + bo``; returns
    (h, c, y). A GRU cell leaves ``c`` as it is."""
    if isinstance(layer.cell, GruLayer):
        h = gru_step(layer.cell, y, h)[0]
    else:
        h, c, _ = lstm_step(layer.cell, y, h, c)
    return h, c, dense(layer.out, h)


def dense(layer: DenseLayer, x: list[float]) -> list[float]:
    """``act(W x + b)`` for one time step (``act``: the layer's activation)."""
    a = gates(layer.W, x, layer.b, layer.W_norms)
    if layer.activation == "linear":
        return a
    return list(map(ACTIVATIONS[layer.activation], a))


def _shape(window: Sequence[Sequence[float]]) -> str:
    """The shape of a window as received, for error messages."""
    try:
        widths = sorted({len(row) for row in window})
    except TypeError:
        return f"a {type(window).__name__} that is not a list of rows"
    if not widths:
        return "(0, ?)"
    if len(widths) == 1:
        return f"({len(window)}, {widths[0]})"
    return f"({len(window)}, rows of {widths[0]} to {widths[-1]} values)"


# ---------------------------------------------------------------- the model


@dataclass
class PureModel:
    """A bundle's model as Python lists. ``reconstruct(window)`` takes and returns T lists of F
    floats (already scaled). Set ``counters = Counters()`` to count work, ``trace = []`` to record
    every intermediate of the next windows; both are off (``None``) by default."""

    layers: list[PureLayer]  # see BUILD
    features: list[str]
    length: int
    word_bytes: int = 4  # bytes per stored weight/state value (float32 bundle)
    counters: Counters | None = None
    trace: list[TraceRecord] | None = None
    #: per layer: input steps and whether the input is a vector spread by a repeat (the walk's)
    lengths: list[int] = field(default_factory=list)
    repeated: list[bool] = field(default_factory=list)

    def steps_at(self, idx: int) -> int:
        """Input steps of layer ``idx`` (the window length when the walk was not recorded)."""
        return self.lengths[idx] if idx < len(self.lengths) else self.length

    def repeated_at(self, idx: int) -> bool:
        """Is layer ``idx``'s input a vector spread by a repeat?"""
        return self.repeated[idx] if idx < len(self.repeated) else False

    def reconstruct(self, window: Sequence[Sequence[float]]) -> Matrix:
        """The model's output sequence for one window (T lists of F floats)."""
        out = self.forward(window)
        if not out or not isinstance(out[0], list):  # only an unchecked chain (from_arrays)
            raise PureError("the model ends in one vector per window, not a sequence")
        return out

    def forward(self, window: Sequence[Sequence[float]]) -> Matrix | Vector:
        """The model's output for one window (T lists of F floats: the model's input shape):
        a sequence (rows of floats) or one vector (a classifier's scores)."""
        T, F = self.length, len(self.features)
        try:
            ok = len(window) == T and all(len(row) == F for row in window)
        except TypeError:
            ok = False
        if not ok:
            raise PureError(
                f"window must have shape (T, F) = ({T}, {F}) for this model, got {_shape(window)}"
            )
        seq: Matrix | None = [list(map(_bounded, row)) for row in window]
        latent: Vector | None = None
        try:
            for idx, layer in enumerate(self.layers):
                seq, latent = layer.run(self, idx, seq, latent)
        except OverflowError:  # weights near 1e154 or more: a product or square overflows
            raise PureError(
                "a value overflows float64 in this model (weights of 1e154 or more?)"
            ) from None
        if seq is not None:
            return seq
        if latent is None:
            raise PureError("the model gave no output")
        return latent

    def score(
        self, window: Sequence[Sequence[float]], mask: Sequence[Sequence[bool]] | None = None
    ) -> float:
        """Mean squared reconstruction error over the (observed) cells of one window."""
        recon = self.reconstruct(window)
        total, n = 0.0, 0
        for t, (row, out) in enumerate(zip(window, recon, strict=True)):
            for k, (a, b) in enumerate(zip(row, out, strict=True)):
                if mask is None or mask[t][k]:
                    total += (b - a) * (b - a)
                    n += 1
        return total / n if n else float("nan")

    def lstm_layer(
        self, idx: int, layer: LstmLayer, xs: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        """Run one LSTM layer over the window.

        ``latent`` set means the layer follows a ``repeat``: its input is that one vector at
        every step, so its projection ``W v + b`` is computed once here and each step adds
        ``U h`` to it. That is all a repeat is; no list of T copies is built.
        """
        H, T = layer.hidden, (len(xs) if xs is not None else self.steps_at(idx))
        h, c = [0.0] * H, [0.0] * H
        proj = None if latent is None else gates(layer.W, latent, layer.b, layer.W_norms)
        counters, trace = self.counters, self.trace
        if counters is not None and proj is not None:
            self._count_projection(counters, idx, layer)
        rows: Sequence[Vector] = () if xs is None else xs
        outputs = []
        for t in range(T):
            x = latent if latent is not None else rows[t]
            h, c, z = lstm_step(layer, x, h, c, proj)
            if counters is not None:
                self._count_step(counters, idx, layer, proj is not None)
            if trace is not None:
                self._trace_step(trace, idx, t, x, z, h, c, layer.hidden)
            outputs.append(h)
        if layer.return_sequences:
            return outputs, None
        return None, h

    def dense_layer(self, idx: int, layer: DenseLayer, xs: Matrix) -> Matrix:
        out = []
        for t, x in enumerate(xs):
            y = dense(layer, x)
            if self.counters is not None:
                n, m = len(layer.W), len(x)
                cnt = self.counters
                cnt.add(cnt.step_calls, idx, 1)
                cnt.add(cnt.macs, idx, n * m)
                cnt.add(cnt.weight_bytes, idx, (n * m + n) * self.word_bytes)
                cnt.add(cnt.state_bytes_in, idx, m * self.word_bytes)
                cnt.add(cnt.state_bytes_out, idx, n * self.word_bytes)
            if self.trace is not None:
                self.trace.append(
                    {"layer": idx, "kind": "dense", "step": t, "input": x, "output": y}
                )
            out.append(y)
        return out

    def gru_layer(
        self, idx: int, layer: GruLayer, xs: Matrix | None, latent: Vector | None
    ) -> tuple[Matrix | None, Vector | None]:
        """Run one GRU layer over the window (after a repeat: ``W v + b_i`` once)."""
        H, T = layer.hidden, (len(xs) if xs is not None else self.steps_at(idx))
        h = [0.0] * H
        proj = None if latent is None else gates(layer.W, latent, layer.b, layer.W_norms)
        cnt, trace, w = self.counters, self.trace, self.word_bytes
        n = layer.inputs
        if cnt is not None and proj is not None:
            cnt.add(cnt.macs, idx, 3 * H * n)
            cnt.add(cnt.weight_bytes, idx, (3 * H * n + 3 * H) * w)
        rows: Sequence[Vector] = () if xs is None else xs
        outputs = []
        for t in range(T):
            x = latent if latent is not None else rows[t]
            h, r, z, cand = gru_step(layer, x, h, proj)
            if cnt is not None:
                cnt.add(cnt.step_calls, idx, 1)
                cnt.add(cnt.activations, idx, 3 * H)  # sigmoid r, z; tanh n
                if proj is not None:  # inputs: W v + b_i (3H), h
                    cnt.add(cnt.macs, idx, 3 * H * H)
                    cnt.add(cnt.weight_bytes, idx, (3 * H * H + 3 * H) * w)
                    cnt.add(cnt.state_bytes_in, idx, (3 * H + H) * w)
                else:  # inputs: x, h
                    cnt.add(cnt.macs, idx, 3 * H * (n + H))
                    cnt.add(cnt.weight_bytes, idx, (3 * H * (n + H) + 6 * H) * w)
                    cnt.add(cnt.state_bytes_in, idx, (n + H) * w)
                cnt.add(cnt.state_bytes_out, idx, H * w)
            if trace is not None:
                trace.append(
                    {
                        "layer": idx,
                        "kind": "gru",
                        "step": t,
                        "input": list(x),
                        "r": r,
                        "z": z,
                        "n": cand,
                        "h": list(h),
                    }
                )
            outputs.append(h)
        if layer.return_sequences:
            return outputs, None
        return None, h

    def conv1d_layer(self, idx: int, layer: Conv1dLayer, xs: Matrix) -> Matrix:
        """Run one conv1d layer: causal padding puts k - 1 zero steps before the window."""
        k = layer.kernel
        width = len(xs[0]) if xs else 0
        padded = ([[0.0] * width] * (k - 1) if layer.causal else []) + list(xs)
        out = []
        cnt, w = self.counters, self.word_bytes
        for t in range(len(padded) - k + 1):
            window = [v for row in padded[t : t + k] for v in row]
            y = conv1d(layer, window)
            if cnt is not None:
                m = len(layer.taps)
                cnt.add(cnt.step_calls, idx, 1)
                cnt.add(cnt.macs, idx, m * k * width)
                cnt.add(cnt.weight_bytes, idx, (m * k * width + m) * w)
                cnt.add(cnt.state_bytes_in, idx, k * width * w)
                cnt.add(cnt.state_bytes_out, idx, m * w)
            if self.trace is not None:
                self.trace.append(
                    {"layer": idx, "kind": "conv1d", "step": t, "input": window, "output": y}
                )
            out.append(y)
        return out

    def rfft_layer(self, idx: int, layer: RfftLayer, xs: Matrix) -> Vector:
        """The spectrum vector of one window: every feature's amplitudes, then every
        feature's phases (:func:`rfft`)."""
        F = len(xs[0]) if xs else 0
        parts = [rfft(layer, xs, f) for f in range(F)]
        out = [a for amps, _ in parts for a in amps] + [p for _, phases in parts for p in phases]
        cnt, w = self.counters, self.word_bytes
        if cnt is not None:
            L, K = layer.length, layer.bins
            cnt.add(cnt.step_calls, idx, 1)
            cnt.add(cnt.macs, idx, 2 * F * K * L)  # cos and sin terms of the direct DFT
            cnt.add(cnt.state_bytes_in, idx, L * F * w)
            width = len(out) + (F if layer.append else 0)
            cnt.add(cnt.state_bytes_out, idx, (L * width if layer.append else width) * w)
        if self.trace is not None:
            half = len(out) // 2
            self.trace.append(
                {
                    "layer": idx,
                    "kind": "rfft",
                    "step": 0,
                    "amplitude": out[:half],
                    "phase": out[half:],
                }
            )
        return out

    def decoder_layer(self, idx: int, layer: DecoderLayer, latent: Vector) -> Matrix:
        """Run the decoder ``steps`` steps from ``latent`` (:func:`decoder_step`)."""
        h = dense(layer.init, latent) if layer.init is not None else list(latent)
        H, m = len(h), layer.outputs
        c, y = [0.0] * H, [0.0] * m
        lstm = isinstance(layer.cell, LstmLayer)
        cnt, w = self.counters, self.word_bytes
        if cnt is not None and layer.init is not None:
            n = len(latent)
            cnt.add(cnt.macs, idx, H * n)
            cnt.add(cnt.weight_bytes, idx, (H * n + H) * w)
        out = []
        for t in range(layer.steps):
            x = y
            h, c, y = decoder_step(layer, x, h, c)
            if cnt is not None:
                G = 4 if lstm else 3
                cnt.add(cnt.step_calls, idx, 1)
                cnt.add(cnt.macs, idx, G * H * (m + H) + m * H)
                cnt.add(cnt.activations, idx, (5 if lstm else 3) * H)
                biases = G * H if lstm else 2 * G * H
                cnt.add(cnt.weight_bytes, idx, (G * H * (m + H) + biases + m * H + m) * w)
                cnt.add(cnt.state_bytes_in, idx, (m + (2 * H if lstm else H)) * w)
                cnt.add(cnt.state_bytes_out, idx, ((2 * H if lstm else H) + m) * w)
            if self.trace is not None:
                self.trace.append(
                    {
                        "layer": idx,
                        "kind": "decoder",
                        "step": t,
                        "input": list(x),
                        "h": list(h),
                        "output": list(y),
                    }
                )
            out.append(y)
        return out

    def _count_projection(self, cnt: Counters, idx: int, layer: LstmLayer) -> None:
        rows = 4 * layer.hidden
        cnt.add(cnt.macs, idx, rows * layer.inputs)
        cnt.add(cnt.weight_bytes, idx, (rows * layer.inputs + rows) * self.word_bytes)

    def _count_step(self, cnt: Counters, idx: int, layer: LstmLayer, projected: bool) -> None:
        H, n, w = layer.hidden, layer.inputs, self.word_bytes
        cnt.add(cnt.step_calls, idx, 1)
        cnt.add(cnt.activations, idx, 5 * H)  # sigmoid i, f, o; tanh g, c
        if projected:  # inputs: W v + b (4H), h, c
            cnt.add(cnt.macs, idx, 4 * H * H)
            cnt.add(cnt.weight_bytes, idx, 4 * H * H * w)
            cnt.add(cnt.state_bytes_in, idx, (4 * H + 2 * H) * w)
        else:  # inputs: x, h, c
            cnt.add(cnt.macs, idx, 4 * H * (n + H))
            cnt.add(cnt.weight_bytes, idx, (4 * H * (n + H) + 4 * H) * w)
            cnt.add(cnt.state_bytes_in, idx, (n + 2 * H) * w)
        cnt.add(cnt.state_bytes_out, idx, 2 * H * w)  # h, c

    @staticmethod
    def _trace_step(
        trace: list[TraceRecord],
        idx: int,
        t: int,
        x: Vector,
        z: Vector,
        h: Vector,
        c: Vector,
        H: int,
    ) -> None:
        trace.append(
            {
                "layer": idx,
                "kind": "lstm",
                "step": t,
                "input": list(x),
                "pre_i": z[:H],
                "pre_f": z[H : 2 * H],
                "pre_g": z[2 * H : 3 * H],
                "pre_o": z[3 * H :],
                "i": [sigmoid(v) for v in z[:H]],
                "f": [sigmoid(v) for v in z[H : 2 * H]],
                "g": [tanh(v) for v in z[2 * H : 3 * H]],
                "o": [sigmoid(v) for v in z[3 * H :]],
                "c": list(c),
                "h": list(h),
            }
        )

    def run(
        self,
        windows: Sequence[Sequence[Sequence[float]]],
        progress: Callable[[int, int], object] | None = None,
        outputs: bool = False,
    ) -> list[Matrix] | list[Matrix | Vector]:
        """Batch runner: reconstruct every window (``progress(i, n)`` called after each); with
        ``outputs`` the model's output whatever its shape (:meth:`forward`)."""
        out: list[Any] = []
        n = len(windows)
        run = self.forward if outputs else self.reconstruct
        for i, w in enumerate(windows):
            out.append(run(w))
            if progress is not None:
                progress(i + 1, n)
        return out


def _lstm(spec: Lstm, i: int, tensors: Tensors) -> LstmLayer:
    W = _rows(*tensors[f"layers.{i}.W"])
    U = _rows(*tensors[f"layers.{i}.U"])
    b = list(tensors[f"layers.{i}.b"][1])
    H, n = spec.hidden, spec.input
    if len(W) != 4 * H or len(W[0]) != n or len(U) != 4 * H or len(U[0]) != H or len(b) != 4 * H:
        raise PureError(f"layer {i}: weight shapes do not match lstm({n}->{H})")
    WU = [w + u for w, u in zip(W, U, strict=True)]
    return LstmLayer(
        H,
        n,
        W,
        U,
        b,
        WU,
        spec.return_sequences,
        squared_norms(WU),
        squared_norms(U),
        squared_norms(W),
    )


def _gru(spec: Gru, i: int, tensors: Tensors) -> GruLayer:
    W = _rows(*tensors[f"layers.{i}.W"])
    U = _rows(*tensors[f"layers.{i}.U"])
    b = list(tensors[f"layers.{i}.b"][1])
    bh = list(tensors[f"layers.{i}.bh"][1])
    H, n = spec.hidden, spec.input
    if len(W) != 3 * H or len(W[0]) != n or len(U) != 3 * H or len(U[0]) != H or len(b) != 3 * H:
        raise PureError(f"layer {i}: weight shapes do not match gru({n}->{H})")
    if len(bh) != 3 * H:
        raise PureError(f"layer {i}: weight shapes do not match gru({n}->{H})")
    return GruLayer(H, n, W, U, b, bh, spec.return_sequences, squared_norms(W), squared_norms(U))


def _conv1d(spec: Conv1d, i: int, tensors: Tensors) -> Conv1dLayer:
    shape, flat = tensors[f"layers.{i}.W"]
    b = list(tensors[f"layers.{i}.b"][1])
    m, c, k = spec.output, spec.input, spec.kernel
    if list(shape) != [m, c, k] or len(b) != m:
        raise PureError(f"layer {i}: weight shapes do not match {spec.describe()}")
    W = [[flat[(o * c + ch) * k : (o * c + ch + 1) * k] for ch in range(c)] for o in range(m)]
    taps = [[W[o][ch][j] for j in range(k) for ch in range(c)] for o in range(m)]
    return Conv1dLayer(W, b, k, spec.padding == "causal", taps, squared_norms(taps))


def _dense(spec: Dense, i: int, tensors: Tensors) -> DenseLayer:
    W = _rows(*tensors[f"layers.{i}.W"])
    b = list(tensors[f"layers.{i}.b"][1])
    if len(W) != spec.output or len(W[0]) != spec.input or len(b) != len(W):
        raise PureError(f"layer {i}: weight shapes do not match dense")
    if spec.activation != "linear" and spec.activation not in ACTIVATIONS:
        raise PureError(f"layer {i}: the pure engine has no activation {spec.activation!r}")
    return DenseLayer(W, b, squared_norms(W), spec.activation)


def _rfft(spec: Rfft, i: int, tensors: Tensors) -> RfftLayer:
    L = spec.length
    angles = [2.0 * math.pi * j / L for j in range(L)]
    return RfftLayer(
        L,
        spec.frequencies,
        spec.append,
        [math.cos(a) for a in angles],
        [math.sin(a) for a in angles],
    )


def _decoder(spec: Decoder, i: int, tensors: Tensors) -> DecoderLayer:
    def vec(name: str) -> Vector:
        return list(tensors[f"layers.{i}.{name}"][1])

    def rows(name: str) -> Matrix:
        return _rows(*tensors[f"layers.{i}.{name}"])

    shapes = spec.weight_shapes()
    for name, shape in shapes.items():
        if list(tensors[f"layers.{i}.{name}"][0]) != list(shape):
            raise PureError(f"layer {i}: weight shapes do not match {spec.describe()}")
    H, m = spec.hidden, spec.outputs
    W, U, b, bh = rows("W"), rows("U"), vec("b"), vec("bh")
    cell: GruLayer | LstmLayer
    if spec.cell == "gru":
        cell = GruLayer(H, m, W, U, b, bh, True, squared_norms(W), squared_norms(U))
    else:
        WU = [w + u for w, u in zip(W, U, strict=True)]
        bias = [x + y for x, y in zip(b, bh, strict=True)]
        cell = LstmLayer(
            H, m, W, U, bias, WU, True, squared_norms(WU), squared_norms(U), squared_norms(W)
        )
    Wo = rows("Wo")
    out = DenseLayer(Wo, vec("bo"), squared_norms(Wo))
    init = None
    if spec.projected:
        P = rows("P")
        init = DenseLayer(P, vec("p"), squared_norms(P))
    return DecoderLayer(spec.steps, m, cell, out, init)


def _repeat(spec: Repeat, i: int, tensors: Tensors) -> RepeatLayer:
    return RepeatLayer(spec.times)


#: Layer type -> the function that builds this engine's layer (its weights as lists; the layer's
#: ``run(model, index, sequence, latent)`` computes it). A new layer type adds one entry.
#: (Each takes its own spec type, so the value type cannot name the first argument.)
BUILD: dict[type[Layer], Callable[..., PureLayer]] = {
    Lstm: _lstm,
    Gru: _gru,
    Conv1d: _conv1d,
    Dense: _dense,
    Repeat: _repeat,
    Rfft: _rfft,
    Decoder: _decoder,
}


def from_arrays(meta: Mapping[str, Any], tensors: Tensors, word_bytes: int = 4) -> PureModel:
    """Build a model from a bundle's JSON (``layers``: typed or their JSON objects, as
    :mod:`squall.model` reads them) and its tensors as (shape, flat list). Each layer is checked
    on its own and the first against the features; the chain is not (a single layer runs, for
    the worked examples), :func:`squall.bundle.load_bundle` checks it."""
    try:
        specs: tuple[Layer, ...] = as_layers(meta["layers"])
        features = list(meta["features"])
        length = int(meta["windows"]["length"])
        task = Task.from_json(meta.get("task"), features)
        if task.kind == "forecast":  # the model reads the lookback of the input features
            (length, _), _ = task.shapes(features, length)
            features = list(task.inputs)
        first = specs[0].input_width() if specs else None
        if first is not None and first != len(features):
            raise PureError(
                f"layer 0 takes {first} inputs but the bundle has {len(features)} features"
            )
        layers: list[PureLayer] = []
        for i, spec in enumerate(specs):
            build = BUILD.get(type(spec))
            if build is None:
                raise PureError(f"layer {i}: the pure engine has no {spec.kind!r} layer")
            layers.append(build(spec, i, tensors))
        walk = list(walk_layers(specs, len(features), length))
        return PureModel(
            layers,
            features,
            length,
            word_bytes,
            lengths=[s.in_length for s in walk],
            repeated=[s.repeated for s in walk],
        )
    except PureError:
        raise
    except SquallError as exc:
        raise PureError(str(exc)) from None
    except KeyError as exc:
        raise PureError(f"bundle lacks {exc}") from exc
    except (TypeError, ValueError, IndexError) as exc:
        raise PureError(f"malformed bundle ({exc})") from exc


def load(bundle_dir: PathArg) -> PureModel:
    """Load a bundle directory with the standard library only (one read of each file)."""
    root = Path(bundle_dir)
    path = root / "bundle.json"
    try:
        meta = parse_json(
            regular_file(
                path, "bundle.json", missing="{p.parent} is not a bundle: {p.name} is missing"
            ).read_bytes(),
            str(path),
        )
    except SquallError as exc:
        raise PureError(str(exc)) from None
    except OSError as exc:
        raise PureError(f"{bundle_dir}/bundle.json cannot be read ({exc.strerror or exc})") from exc
    if (
        not isinstance(meta, dict)
        or meta.get("format") != "squall-bundle"
        or meta.get("version") not in (1, 2)
        or isinstance(meta.get("version"), bool)
    ):
        raise PureError(f"{root}: not a version 1 or 2 squall bundle")
    tensors, widths = _read_safetensors(root / "weights.safetensors")
    return from_arrays(meta, tensors, max(widths) if widths else 4)


if __name__ == "__main__":  # python -m squall.engines.pure BUNDLE WINDOWS.json
    model = load(sys.argv[1])
    for w in json.loads(Path(sys.argv[2]).read_text()):
        print(model.score(w))
