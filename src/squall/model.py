"""The model description: typed layers, the chain check and the one layer walk (stdlib only).

Standard library only: :mod:`squall.engines.pure` builds its model from it without numpy.

A model is a chain of layers from ``features`` values per time step over windows of ``length``
steps to its output: a sequence ``(steps, width)`` or one vector ``(width,)`` per window
(:attr:`ModelSpec.output`; an autoencoder's is ``(length, features)``, a forecaster's ``(horizon,
forecast features)``, a classifier's ``(classes,)``). Each layer type is one frozen dataclass
here, checked when it is made (:class:`Lstm`, :class:`Gru`, :class:`Conv1d`, :class:`Repeat`,
:class:`Dense`); :class:`ModelSpec` checks the chain, widths and lengths, and
:meth:`ModelSpec.walk` is the walk every engine and tool shares.

On disk (``bundle.json``) a layer is a JSON object ``{"type": ...}`` with its fields:
:meth:`Layer.to_json` / :func:`layer_from_json` convert, and the JSON is exactly the layer list
squall has always written (a dense layer's ``activation`` is stored only when it is not
``linear``; a version-1 bundle's list reads unchanged).

Canonical weight layout, documented once (converters in :mod:`squall.convert` own every
transpose; :meth:`Layer.weight_shapes` gives the names and shapes; PyTorch's names in each
class's ``torch_names``):

=================  ==============  =======================================================
``layers.{i}.W``   (4H, in)        LSTM input weights, gate blocks in order i, f, g, o
``layers.{i}.U``   (4H, H)         LSTM recurrent weights, same gate order
``layers.{i}.b``   (4H,)           LSTM bias (PyTorch's two biases added)
``layers.{i}.W``   (3H, in)        GRU input weights, gate blocks in order r, z, n
                                   (PyTorch's ``weight_ih_l0``)
``layers.{i}.U``   (3H, H)         GRU recurrent weights, same order (``weight_hh_l0``)
``layers.{i}.b``   (3H,)           GRU input bias ``b_i`` (``bias_ih_l0``)
``layers.{i}.bh``  (3H,)           GRU recurrent bias ``b_h`` (``bias_hh_l0``), kept apart:
                                   its n block sits inside the reset product
``layers.{i}.W``   (out, in, k)    conv1d weights (PyTorch's ``nn.Conv1d`` ``weight``)
``layers.{i}.b``   (out,)          conv1d bias
``layers.{i}.W``   (out, in)       dense weights (applied to every time step, or the vector)
``layers.{i}.b``   (out,)          dense bias
=================  ==============  =======================================================

**LSTM.** A step is ``z = W x + U h + b``; ``i, f, g, o = z[0:H], z[H:2H], z[2H:3H],
z[3H:4H]``; ``c = sigmoid(f) * c + sigmoid(i) * tanh(g)``; ``h = sigmoid(o) * tanh(c)``, from
``h = c = 0`` at the first step of every window. An LSTM with ``return_sequences`` false gives
only its last ``h``.

**GRU** (PyTorch's ``nn.GRU``, gate order r, z, n). With ``a = W x + b_i`` and ``u = U h +
b_h`` (blocks ``[0:H]``, ``[H:2H]``, ``[2H:3H]`` for r, z, n): ``r = sigmoid(a_r + u_r)``, ``z =
sigmoid(a_z + u_z)``, ``n = tanh(a_n + r * u_n)`` (that is ``tanh(W_n x + b_in + r * (U_n h +
b_hn))``: the n gate's recurrent bias is inside the reset product, which is why ``b_h`` is
stored apart from ``b_i``), ``h' = (1 - z) * n + z * h``, from ``h = 0``. ``return_sequences``
as the LSTM's.

**conv1d** (``nn.Conv1d``, a cross-correlation). ``y[t, o] = b[o] + sum_c sum_j W[o, c, j]
x[t + j - P, c]`` for ``j = 0..k-1``, with ``x`` zero before step 0; ``padding`` ``causal``:
``P = k - 1``, as many steps out as in (step t sees steps t-k+1..t); ``valid``: ``P = 0``, ``L -
k + 1`` steps out (the model's length changes: the chain check tracks it).

**repeat** hands the one vector it gets to the next layer at every one of its ``times`` steps
(the output length: the window length in an autoencoder, the horizon in a forecaster).

**dense** is ``y = act(W x + b)`` at every step (or on the one vector it gets), ``act`` its
``activation``: ``linear`` ``act(a) = a`` (the default, not stored in the JSON), ``relu``
``max(a, 0)``, ``tanh`` ``tanh(a)``, ``sigmoid`` ``1 / (1 + exp(-a))``.

**rfft** (``input`` F features, ``length`` L steps, ``bins`` K, default ``L // 2 + 1``,
``append``). Per feature f and frequency ``k = 0..K-1``: ``X_k = (1/L) sum_t x_t exp(-2 pi i k t
/ L)`` (``numpy.fft.rfft(x, norm="forward")``), amplitude ``|X_k|`` (not doubled) and phase
``atan2(Im X_k, Re X_k)`` in ``(-pi, pi]``. The DC bin (and the Nyquist bin of an even L) has
imaginary part exactly ``+0``, so its phase is 0 or pi, never -pi; an all-zero input has phase
0. A bin whose amplitude is at rounding level has a phase made of rounding: engines agree on
phases of bins well above it. The spectrum vector is ``[A[f, k] for f, k] + [P[f, k] for f,
k]`` (all amplitudes, then all phases; feature-major, frequency within), ``2 F K`` values.
``append`` false: that vector, one per window; true: the input sequence with the vector appended
to every step, ``F + 2 F K`` values per step (how a chain gives a recurrent encoder both the
lookback and its spectrum). No weights. The pure engine computes the DFT directly (``O(L K)``
per feature with ``math.cos``/``math.sin``: fine for L up to a few hundred).

**decoder** (``input`` n, ``hidden`` H, ``outputs`` m, ``steps`` S, ``cell`` ``gru`` |
``lstm``): a recurrent cell run S steps on its own output, the seq2seq decoder without teacher
forcing. From the one vector v it gets: ``h_0 = P v + p`` when ``n != H`` (``layers.{i}.P`` (H,
n), ``layers.{i}.p`` (H,)), else ``h_0 = v``; an LSTM cell starts from ``c_0 = 0``. With ``y_0 =
0`` (m zeros), for ``t = 1..S``: ``h_t = cell(y_{t-1}, h_{t-1})``, ``y_t = Wo h_t + bo``
(``Wo`` (m, H), ``bo`` (m,)); the output is ``y_1..y_S``, (S, m). The cell's weights are ``W``
(GH, m), ``U`` (GH, H), ``b`` (GH,) input bias and ``bh`` (GH,) recurrent bias (G = 3, gate order
r, z, n, equations as the GRU's; G = 4, i, f, g, o, as the LSTM's with bias ``b + bh``: both
cells keep PyTorch's two biases, ``nn.GRUCell`` / ``nn.LSTMCell``). The first input is zeros,
not the last observed target: the layer gets one vector (a chain passes nothing else), and the
encoder state it starts from has seen the last observation.

Adding a layer type: one class here (decorated with :func:`layer_type`), and one function in
each engine's table (see ``docs/architecture.md``, "Adding a layer type").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

from squall.errors import SquallError
from squall.limits import MAX_UNITS, MAX_WINDOW_LENGTH, is_number

#: Layer type name (the JSON ``type``) -> class; filled by :func:`layer_type`.
LAYER_TYPES: dict[str, type[Layer]] = {}
#: Dense activations (see the module docstring for their equations).
DENSE_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")


def layer_type(cls: type[Layer]) -> type[Layer]:
    """Class decorator: register a layer class under its ``kind`` (its JSON ``type``)."""
    if cls.kind in LAYER_TYPES:
        raise ValueError(f"layer type {cls.kind!r} is registered twice")
    LAYER_TYPES[cls.kind] = cls
    return cls


def _positive(kind: str, name: str, value: object, top: int) -> None:
    if not is_number(value, integer=True) or value < 1:  # type: ignore[operator]
        raise SquallError(f"{kind}: {name} must be a positive integer, got {value!r}"[:200])
    if value > top:  # type: ignore[operator]
        raise SquallError(f"{kind}: {name} {value} is beyond the limit: at most {top}"[:200])


@dataclass(frozen=True)
class Layer:
    """A layer of the model. Subclasses are frozen dataclasses whose fields are the JSON
    fields; they check them on construction (one-line :class:`SquallError`)."""

    #: The JSON ``type`` of this layer class.
    kind: ClassVar[str] = ""
    #: Does the layer take one vector per window (True) or a sequence (False)?
    takes_vector: ClassVar[bool] = False
    #: Does the layer take either (a dense layer: per step of a sequence, or the one vector)?
    takes_either: ClassVar[bool] = False
    #: Library names of each canonical weight, used by :mod:`squall.convert`: Keras array names
    #: (Keras stores every 2-D weight transposed, in the order of :meth:`weight_shapes`) and the
    #: PyTorch state-dict keys whose values add up to the canonical weight.
    keras_names: ClassVar[dict[str, str]] = {}
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {}

    def out_width(self, width: int) -> int:
        """Values per step (or of the vector) this layer gives for ``width`` inputs."""
        raise NotImplementedError

    def returns_sequence(self) -> bool:
        """Does the layer give a sequence (True) or one vector per window (False)?"""
        return True

    def sequence_out(self, sequence_in: bool) -> bool:
        """Does the layer give a sequence, given what flows in? (A dense layer gives what it
        gets; the others :meth:`returns_sequence`.)"""
        return self.returns_sequence()

    def out_length(self, length: int) -> int:
        """Steps of the output sequence for ``length`` input steps (a repeat: its ``times``; a
        ``valid`` convolution: ``length - kernel + 1``; the others keep the length)."""
        return length

    def input_width(self) -> int | None:
        """The input width the layer is built for (None: any, e.g. a repeat)."""
        return None

    def input_length(self) -> int | None:
        """The input steps the layer is built for (None: any; an rfft: its ``length``)."""
        return None

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical weights of this layer: short name (``W``, ``U``, ``b``) -> shape."""
        return {}

    def describe(self) -> str:
        """Short text, e.g. ``lstm(6->64)``, ``repeat(x24)``, ``dense(64->6)``."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The layer as ``bundle.json`` stores it (``{"type": kind, field: value, ...}``)."""
        return {"type": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@layer_type
@dataclass(frozen=True)
class Lstm(Layer):
    """LSTM ``input -> hidden``; gives every step's ``h`` or (``return_sequences`` false) the
    last one."""

    input: int
    hidden: int
    return_sequences: bool

    kind: ClassVar[str] = "lstm"
    keras_names: ClassVar[dict[str, str]] = {"W": "kernel", "U": "recurrent_kernel", "b": "bias"}
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "W": ("weight_ih_l0",),
        "U": ("weight_hh_l0",),
        "b": ("bias_ih_l0", "bias_hh_l0"),
    }

    def __post_init__(self) -> None:
        _positive("lstm", "input", self.input, MAX_UNITS)
        _positive("lstm", "hidden", self.hidden, MAX_UNITS)
        if not isinstance(self.return_sequences, bool):
            raise SquallError("lstm: return_sequences must be true or false")

    def out_width(self, width: int) -> int:
        return self.hidden

    def returns_sequence(self) -> bool:
        return self.return_sequences

    def input_width(self) -> int:
        return self.input

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        h, n = self.hidden, self.input
        return {"W": (4 * h, n), "U": (4 * h, h), "b": (4 * h,)}

    def describe(self) -> str:
        return f"lstm({self.input}->{self.hidden})"


@layer_type
@dataclass(frozen=True)
class Repeat(Layer):
    """One vector per window handed on at each of ``times`` steps (the output's length: the
    window length in an autoencoder, the horizon in a forecaster)."""

    times: int

    kind: ClassVar[str] = "repeat"
    takes_vector: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _positive("repeat", "times", self.times, MAX_WINDOW_LENGTH)

    def out_length(self, length: int) -> int:
        return self.times

    def out_width(self, width: int) -> int:
        return width

    def describe(self) -> str:
        return f"repeat(x{self.times})"


@layer_type
@dataclass(frozen=True)
class Dense(Layer):
    """``y = act(W x + b)`` at every step, ``input -> output``; ``act`` is the
    ``activation``: ``linear`` (``a``), ``relu`` (``max(a, 0)``), ``tanh`` or ``sigmoid``
    (``1 / (1 + exp(-a))``), elementwise."""

    input: int
    output: int
    activation: str = "linear"

    kind: ClassVar[str] = "dense"
    takes_either: ClassVar[bool] = True
    keras_names: ClassVar[dict[str, str]] = {"W": "kernel", "b": "bias"}
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {"W": ("weight",), "b": ("bias",)}

    def __post_init__(self) -> None:
        _positive("dense", "input", self.input, MAX_UNITS)
        _positive("dense", "output", self.output, MAX_UNITS)
        if self.activation not in DENSE_ACTIVATIONS:
            raise SquallError(
                f"dense: unknown activation {self.activation!r} (known: "
                f"{', '.join(DENSE_ACTIVATIONS)})"[:200]
            )

    def out_width(self, width: int) -> int:
        return self.output

    def input_width(self) -> int:
        return self.input

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.output, self.input), "b": (self.output,)}

    def sequence_out(self, sequence_in: bool) -> bool:
        return sequence_in

    def describe(self) -> str:
        act = "" if self.activation == "linear" else f", {self.activation}"
        return f"dense({self.input}->{self.output}{act})"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.activation == "linear":  # the on-disk list of format 1 has no activation
            del out["activation"]
        return out


@layer_type
@dataclass(frozen=True)
class Gru(Layer):
    """GRU ``input -> hidden`` (PyTorch's ``nn.GRU``: gate order r, z, n; the n gate's recurrent
    bias inside the reset product); gives every step's ``h`` or (``return_sequences`` false) the
    last one."""

    input: int
    hidden: int
    return_sequences: bool

    kind: ClassVar[str] = "gru"
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "W": ("weight_ih_l0",),
        "U": ("weight_hh_l0",),
        "b": ("bias_ih_l0",),
        "bh": ("bias_hh_l0",),
    }

    def __post_init__(self) -> None:
        _positive("gru", "input", self.input, MAX_UNITS)
        _positive("gru", "hidden", self.hidden, MAX_UNITS)
        if not isinstance(self.return_sequences, bool):
            raise SquallError("gru: return_sequences must be true or false")

    def out_width(self, width: int) -> int:
        return self.hidden

    def returns_sequence(self) -> bool:
        return self.return_sequences

    def input_width(self) -> int:
        return self.input

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        h, n = self.hidden, self.input
        return {"W": (3 * h, n), "U": (3 * h, h), "b": (3 * h,), "bh": (3 * h,)}

    def describe(self) -> str:
        return f"gru({self.input}->{self.hidden})"


#: Padding modes of :class:`Conv1d`.
CONV_PADDINGS = ("causal", "valid")


@layer_type
@dataclass(frozen=True)
class Conv1d(Layer):
    """1-D convolution over time, ``input -> output`` channels, ``kernel`` steps (PyTorch's
    ``nn.Conv1d`` weights); ``padding`` ``causal`` (k - 1 zeros on the left: as many steps out
    as in, step t sees steps t-k+1..t) or ``valid`` (no padding: L - k + 1 steps out)."""

    input: int
    output: int
    kernel: int
    padding: str = "causal"

    kind: ClassVar[str] = "conv1d"
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {"W": ("weight",), "b": ("bias",)}

    def __post_init__(self) -> None:
        _positive("conv1d", "input", self.input, MAX_UNITS)
        _positive("conv1d", "output", self.output, MAX_UNITS)
        _positive("conv1d", "kernel", self.kernel, MAX_WINDOW_LENGTH)
        if self.padding not in CONV_PADDINGS:
            raise SquallError(
                f"conv1d: unknown padding {self.padding!r} (known: {', '.join(CONV_PADDINGS)})"[
                    :200
                ]
            )

    def out_width(self, width: int) -> int:
        return self.output

    def input_width(self) -> int:
        return self.input

    def out_length(self, length: int) -> int:
        return length - self.kernel + 1 if self.padding == "valid" else length

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.output, self.input, self.kernel), "b": (self.output,)}

    def describe(self) -> str:
        return f"conv1d({self.input}->{self.output}, k{self.kernel}, {self.padding})"


@layer_type
@dataclass(frozen=True)
class Rfft(Layer):
    """Amplitude and phase of the real DFT of the window (``numpy.fft.rfft``, ``norm="forward"``)
    for each of ``input`` features over its ``length`` steps; the first ``bins`` frequencies
    (default all ``length // 2 + 1``). ``append`` false: one vector per window, all amplitudes
    then all phases, feature-major (``[A[f0, k0..], A[f1, k0..], ..., P[f0, k0..], ...]``);
    ``append`` true: the sequence itself with that vector appended to every step (``input + 2
    input bins`` values per step), so a recurrent encoder sees the spectrum of its lookback."""

    input: int
    length: int
    bins: int | None = None
    append: bool = False

    kind: ClassVar[str] = "rfft"

    def __post_init__(self) -> None:
        _positive("rfft", "input", self.input, MAX_UNITS)
        _positive("rfft", "length", self.length, MAX_WINDOW_LENGTH)
        if self.bins is not None:
            _positive("rfft", "bins", self.bins, self.length // 2 + 1)
        if not isinstance(self.append, bool):
            raise SquallError("rfft: append must be true or false")

    @property
    def frequencies(self) -> int:
        """K, the frequencies kept (``bins`` or ``length // 2 + 1``)."""
        return self.bins if self.bins is not None else self.length // 2 + 1

    @property
    def spectrum_width(self) -> int:
        """Values of the spectrum vector: ``2 input K`` (amplitudes, then phases)."""
        return 2 * self.input * self.frequencies

    def out_width(self, width: int) -> int:
        return self.spectrum_width + (self.input if self.append else 0)

    def returns_sequence(self) -> bool:
        return self.append

    def input_width(self) -> int:
        return self.input

    def input_length(self) -> int:
        return self.length

    def describe(self) -> str:
        more = ", append" if self.append else ""
        return f"rfft({self.input}x{self.length}, {self.frequencies} bins{more})"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.bins is None:
            del out["bins"]
        if not self.append:
            del out["append"]
        return out


#: Cells of :class:`Decoder`.
DECODER_CELLS = ("gru", "lstm")


@layer_type
@dataclass(frozen=True)
class Decoder(Layer):
    """A ``cell`` (``gru`` or ``lstm``) of ``hidden`` units run ``steps`` steps from the one
    vector it gets (``input`` values; projected to ``hidden`` by ``P``, ``p`` when the sizes
    differ), feeding its own output back: ``y_t = Wo h_t + bo`` (``outputs`` values) is the
    cell's input at step t + 1; zeros at the first step. Gives ``(steps, outputs)``."""

    input: int
    hidden: int
    outputs: int
    steps: int
    cell: str = "gru"

    kind: ClassVar[str] = "decoder"
    takes_vector: ClassVar[bool] = True
    torch_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "P": ("init.weight",),
        "p": ("init.bias",),
        "W": ("cell.weight_ih",),
        "U": ("cell.weight_hh",),
        "b": ("cell.bias_ih",),
        "bh": ("cell.bias_hh",),
        "Wo": ("out.weight",),
        "bo": ("out.bias",),
    }

    def __post_init__(self) -> None:
        _positive("decoder", "input", self.input, MAX_UNITS)
        _positive("decoder", "hidden", self.hidden, MAX_UNITS)
        _positive("decoder", "outputs", self.outputs, MAX_UNITS)
        _positive("decoder", "steps", self.steps, MAX_WINDOW_LENGTH)
        if self.cell not in DECODER_CELLS:
            raise SquallError(
                f"decoder: unknown cell {self.cell!r} (known: {', '.join(DECODER_CELLS)})"[:200]
            )

    @property
    def gates(self) -> int:
        """Gate blocks of the cell: 3 (GRU r, z, n) or 4 (LSTM i, f, g, o)."""
        return 3 if self.cell == "gru" else 4

    @property
    def projected(self) -> bool:
        """Is the incoming vector projected to the initial state (``input != hidden``)?"""
        return self.input != self.hidden

    def out_width(self, width: int) -> int:
        return self.outputs

    def out_length(self, length: int) -> int:
        return self.steps

    def input_width(self) -> int:
        return self.input

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        g, h, m, n = self.gates * self.hidden, self.hidden, self.outputs, self.input
        shapes: dict[str, tuple[int, ...]] = {}
        if self.projected:
            shapes.update({"P": (h, n), "p": (h,)})
        shapes.update({"W": (g, m), "U": (g, h), "b": (g,), "bh": (g,), "Wo": (m, h), "bo": (m,)})
        return shapes

    def describe(self) -> str:
        return f"decoder({self.cell}, {self.input}->{self.hidden}->{self.outputs}, x{self.steps})"


def layer_from_json(data: object, index: int | None = None) -> Layer:
    """A layer from its JSON object; unknown type, unknown or missing fields and bad values are
    one-line errors naming the layer (``layer 3 (lstm): hidden must be ...``)."""
    where = "layer" if index is None else f"layer {index}"
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(kind, str) or kind not in LAYER_TYPES:
        shown = kind if isinstance(data, dict) else type(data).__name__
        raise SquallError(
            f"{where}: unknown type {shown!r} (known: {', '.join(LAYER_TYPES)})"[:200]
        )
    cls = LAYER_TYPES[kind]
    known = {f.name for f in fields(cls)}
    unknown = sorted(k for k in data if k != "type" and k not in known)
    if unknown:
        raise SquallError(
            f"{where} ({kind}): unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})"[
                :200
            ]
        )
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in data]
    if missing:
        raise SquallError(f"{where} ({kind}): {missing[0]} is missing")
    try:
        return cls(**{k: v for k, v in data.items() if k != "type"})
    except SquallError as exc:
        text = str(exc)
        if text.startswith(f"{kind}: "):
            text = text[len(kind) + 2 :]
        raise SquallError(f"{where} ({kind}): {text}") from None


def as_layer(layer: Layer | Mapping[str, Any], index: int | None = None) -> Layer:
    """``layer`` if typed, else read from its JSON object (:func:`layer_from_json`)."""
    if isinstance(layer, Layer):
        return layer
    return layer_from_json(dict(layer) if isinstance(layer, Mapping) else layer, index)


def as_layers(layers: object) -> tuple[Layer, ...]:
    """A layer list (typed layers or their JSON objects) as a tuple of typed layers."""
    if isinstance(layers, (str, bytes, Mapping)) or not isinstance(layers, Iterable):
        raise SquallError(f"layers must be a non-empty list, got {type(layers).__name__}")
    return tuple(as_layer(layer, i) for i, layer in enumerate(layers))


def weight_shapes(layers: Iterable[Layer | Mapping[str, Any]]) -> dict[str, tuple[int, ...]]:
    """Expected shape of every weight tensor of a layer list (``layers.{i}.W`` ...)."""
    return {
        f"layers.{i}.{k}": s
        for i, layer in enumerate(as_layers(layers))
        for k, s in layer.weight_shapes().items()
    }


@dataclass(frozen=True)
class LayerStep:
    """One layer in the walk: where it is and what flows in and out of it.

    ``in_width``/``out_width`` are values per step (or of the vector); ``sequence_in`` and
    ``sequence_out`` say whether a sequence (True) or one vector per window flows; ``repeated``
    is True when the input is a sequence made by a :class:`Repeat` (one vector at every step,
    so a layer may compute its input projection once per window); ``in_length``/``out_length``
    are the steps of the sequences (0 when the walk was not given a length; a vector keeps the
    length of the sequence it came from)."""

    index: int
    layer: Layer
    in_width: int
    out_width: int
    sequence_in: bool
    sequence_out: bool
    repeated: bool
    in_length: int = 0
    out_length: int = 0


def walk_layers(
    layers: Iterable[Layer | Mapping[str, Any]], features: int | None = None, length: int = 0
) -> Iterator[LayerStep]:
    """Walk a layer list (no chain check: :class:`ModelSpec` checks); ``features`` defaults
    to the first layer with an input width; ``length`` (input steps; 0: unknown) is carried
    through :meth:`Layer.out_length`."""
    typed = as_layers(layers)
    if features is None:
        features = next((w for w in (lay.input_width() for lay in typed) if w is not None), 0)
    width, sequence, repeated = features, True, False
    for i, layer in enumerate(typed):
        out = layer.out_width(width)
        seq_out = layer.sequence_out(sequence)
        steps = layer.out_length(length) if length or isinstance(layer, (Repeat, Decoder)) else 0
        yield LayerStep(i, layer, width, out, sequence, seq_out, repeated, length, steps)
        repeated = isinstance(layer, Repeat)
        width, sequence, length = out, seq_out, steps


@dataclass(frozen=True)
class ModelSpec:
    """A checked chain of layers from ``features`` values per step over ``length`` steps to
    ``output``: ``(steps, width)`` for a sequence, ``(width,)`` for one vector per window
    (default: ``(length, features)``, an autoencoder's). Building one checks the chain
    (one-line :class:`SquallError`)."""

    layers: tuple[Layer, ...]
    features: int
    length: int
    output: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        layers = as_layers(self.layers)
        object.__setattr__(self, "layers", layers)
        if self.output is None:
            object.__setattr__(self, "output", (self.length, self.features))
        check_chain(layers, self.features, self.length, self.output_shape)

    @property
    def input_shape(self) -> tuple[int, int]:
        """One window in: ``(length, features)``."""
        return (self.length, self.features)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """One window out: ``(steps, width)`` or ``(width,)``."""
        assert self.output is not None  # set in __post_init__
        return tuple(self.output)

    def walk(self) -> Iterator[LayerStep]:
        """Every layer in order with its input and output widths and lengths (see
        :class:`LayerStep`)."""
        return walk_layers(self.layers, self.features, self.length)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """``layers.{i}.W`` ... -> shape, for every weight of the model."""
        return weight_shapes(self.layers)

    def to_json(self) -> list[dict[str, Any]]:
        """The layer list as ``bundle.json`` stores it."""
        return [layer.to_json() for layer in self.layers]


def check_chain(
    layers: tuple[Layer, ...],
    features: int,
    length: int,
    output: tuple[int, ...] | None = None,
) -> None:
    """Check that typed ``layers`` are a valid chain from ``(length, features)`` to ``output``
    (``(steps, width)`` or ``(width,)``; default ``(length, features)``)."""
    if not layers:
        raise SquallError("layers must be a non-empty list, got an empty one")
    want = (length, features) if output is None else tuple(output)
    for step in walk_layers(layers, features, length):
        i, layer = step.index, step.layer
        if step.sequence_out and step.out_length < 1:
            raise SquallError(
                f"layer {i}: {layer.describe()} leaves {step.out_length} steps of {step.in_length}"
            )
        if layer.takes_either:
            pass
        elif layer.takes_vector and step.sequence_in:
            raise SquallError(
                f"layer {i}: {layer.kind} needs a single vector (the previous "
                f"LSTM must have return_sequences=false)"
            )
        elif not layer.takes_vector and not step.sequence_in:
            raise SquallError(
                f"layer {i}: {layer.kind} after a layer that returned a single vector"
            )
        wanted = layer.input_width()
        if wanted is not None and wanted != step.in_width:
            raise SquallError(f"layer {i}: input size {wanted} != previous output {step.in_width}")
        steps = layer.input_length()
        if steps is not None and step.in_length and steps != step.in_length:
            raise SquallError(
                f"layer {i}: {layer.kind} is built for {steps} steps, gets {step.in_length}"
            )
    last = step
    got = (last.out_length, last.out_width) if last.sequence_out else (last.out_width,)
    if got != want:
        raise SquallError(f"model must end with {_shape_text(want)}, ends with {_shape_text(got)}")


def _shape_text(shape: tuple[int, ...]) -> str:
    """``a sequence of 24 steps x 6 features`` or ``a vector of 3``."""
    if len(shape) == 2:
        return f"a sequence of {shape[0]} steps x {shape[1]} features"
    return f"a vector of {shape[0]}"


#: What a model does (``bundle.json``'s ``task``).
TASKS = ("reconstruct", "forecast", "classify")


def _names(kind: str, key: str, value: object, allowed: Sequence[str] | None) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise SquallError(f"task {kind}: {key} must be a non-empty list of names")
    if not all(isinstance(v, str) and v for v in value):
        raise SquallError(f"task {kind}: {key} must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise SquallError(f"task {kind}: {key} repeat a name"[:200])
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise SquallError(
                f"task {kind}: {key} name {unknown[0]!r}, not a bundle feature "
                f"({', '.join(allowed)})"[:200]
            )
    return tuple(value)


@dataclass(frozen=True)
class Task:
    """What the model does with a window (``bundle.json``'s ``task``; absent: ``reconstruct``).

    * ``reconstruct``: (length, features) in, the same shape out (today's autoencoders).
    * ``forecast``: the ``lookback`` L steps of the ``inputs`` features in, the next ``horizon``
      H steps of the ``targets`` features out, ``(H, len(targets))``; both default to every
      feature. A window of the bundle's window settings holds L + H steps (the length must be
      ``lookback + horizon``): the model reads its first L steps of the inputs, its last H steps
      of the targets are what it should forecast.
    * ``classify``: (length, features) in, one score per name of ``classes`` out, ``(C,)``.
    """

    kind: str = "reconstruct"
    lookback: int | None = None
    horizon: int | None = None
    inputs: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.kind == "forecast":
            return {
                "kind": self.kind,
                "lookback": self.lookback,
                "horizon": self.horizon,
                "inputs": list(self.inputs),
                "targets": list(self.targets),
            }
        if self.kind == "classify":
            return {"kind": self.kind, "classes": list(self.classes)}
        return {"kind": self.kind}

    @classmethod
    def from_json(cls, data: object, features: Sequence[str] | None = None) -> Task:
        """A task from its JSON object (``None``: reconstruct); unknown kinds and fields, bad
        values and names that are not ``features`` are one-line errors."""
        if data is None:
            return cls()
        if isinstance(data, Task):
            data = data.to_json()
        if not isinstance(data, dict):
            raise SquallError(f"bundle task must be a JSON object, got {type(data).__name__}")
        kind = data.get("kind")
        if kind not in TASKS:
            raise SquallError(
                f"bundle task: unknown kind {kind!r} (known: {', '.join(TASKS)})"[:200]
            )
        known = {
            "kind",
            *{
                "forecast": ("lookback", "horizon", "inputs", "targets"),
                "classify": ("classes",),
                "reconstruct": (),
            }[kind],
        }
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise SquallError(f"bundle task {kind}: unknown field {unknown[0]!r}"[:200])
        if kind == "forecast":
            for key in ("lookback", "horizon"):
                if key not in data:
                    raise SquallError(f"task forecast: {key} is missing")
                _positive("task forecast", key, data[key], MAX_WINDOW_LENGTH)
            every = list(features) if features is not None else None
            inputs = data.get("inputs", every)
            targets = data.get("targets", every)
            return cls(
                kind,
                int(data["lookback"]),
                int(data["horizon"]),
                _names(kind, "inputs", inputs, features),
                _names(kind, "targets", targets, features),
            )
        if kind == "classify":
            if "classes" not in data:
                raise SquallError("task classify: classes is missing")
            return cls(kind, classes=_names(kind, "classes", data["classes"], None))
        return cls()

    def shapes(
        self, features: Sequence[str], length: int
    ) -> tuple[tuple[int, int], tuple[int, ...]]:
        """(input shape, output shape) of one window for a bundle's ``features`` and window
        ``length``; a forecast whose lookback + horizon is not the length is an error."""
        if self.kind == "forecast":
            assert self.lookback is not None and self.horizon is not None
            if self.lookback + self.horizon != length:
                raise SquallError(
                    f"task forecast: lookback {self.lookback} + horizon {self.horizon} != "
                    f"window length {length}"
                )
            return (self.lookback, len(self.inputs)), (self.horizon, len(self.targets))
        if self.kind == "classify":
            return (length, len(features)), (len(self.classes),)
        return (length, len(features)), (length, len(features))

    def model(self, layers: object, features: Sequence[str], length: int) -> ModelSpec:
        """The checked :class:`ModelSpec` of ``layers`` for this task."""
        (steps, width), output = self.shapes(features, length)
        return ModelSpec(as_layers(layers), width, steps, output)


def seed_layers(features: int, length: int, sizes: tuple[int, ...] = (64, 32)) -> tuple[Layer, ...]:
    """The seed autoencoder: LSTM sizes[0] -> ... -> sizes[-1] (last state) -> repeat T ->
    mirrored LSTMs -> dense back to ``features`` per time step."""
    if not sizes or any(not 1 <= int(s) <= MAX_UNITS for s in sizes):
        raise SquallError(
            f"hidden sizes must be integers in [1, {MAX_UNITS}] (at most "
            f"{MAX_UNITS}: limits.MAX_UNITS), got {sizes}"[:300]
        )
    layers: list[Layer] = []
    width = features
    for k, size in enumerate(sizes):
        layers.append(Lstm(width, int(size), k < len(sizes) - 1))
        width = int(size)
    layers.append(Repeat(int(length)))
    for size in reversed(sizes):
        layers.append(Lstm(width, int(size), True))
        width = int(size)
    layers.append(Dense(width, features))
    return tuple(layers)


def seq2seq_gru_fft_layers(
    features: int,
    lookback: int,
    horizon: int,
    targets: int,
    sizes: tuple[int, int] = (10, 64),
    bins: int | None = None,
) -> tuple[Layer, ...]:
    """Seed 001's seq2seq GRU with FFT features as a chain (docs/model-description.md): the
    lookback with its spectrum appended to every step (``rfft``, ``append``), a GRU encoder of
    ``sizes[0]`` units giving its last state, a tanh dense embedding of ``sizes[1]`` values, and
    a GRU decoder of ``sizes[1]`` units run ``horizon`` steps on its own output (``targets``
    values per step)."""
    encoder, hidden = (int(s) for s in sizes)
    rfft = Rfft(features, lookback, bins, append=True)
    return (
        rfft,
        Gru(rfft.out_width(features), encoder, False),
        Dense(encoder, hidden, "tanh"),
        Decoder(hidden, hidden, targets, horizon, "gru"),
    )


__all__ = [
    "DENSE_ACTIVATIONS",
    "LAYER_TYPES",
    "CONV_PADDINGS",
    "Conv1d",
    "DECODER_CELLS",
    "Decoder",
    "Dense",
    "Gru",
    "Layer",
    "LayerStep",
    "Lstm",
    "ModelSpec",
    "Repeat",
    "Rfft",
    "TASKS",
    "Task",
    "as_layer",
    "as_layers",
    "check_chain",
    "layer_from_json",
    "layer_type",
    "seed_layers",
    "seq2seq_gru_fft_layers",
    "walk_layers",
    "weight_shapes",
]
