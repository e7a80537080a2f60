"""The accelerator's cost model (``squall hw cost``): bytes, calls and compute per boundary.

For a chosen software/hardware boundary: what crosses the link per call, how many calls a run
makes, how long the link (:mod:`squall.hw.links`) and the compute take, and what that leaves.
See :func:`boundary_costs` for the definitions and :func:`cost_report` for the answers. The
per-window costs of the engines themselves are :mod:`squall.engines.tools.costs`; the clocks
file measured in simulation is read by :mod:`squall.hw.clocks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from squall.errors import NAME, ParameterError, SquallError
from squall.hw.export_layout import weights_digest
from squall.hw.links import Pcie, Spi, fmt_time
from squall.model import (
    Conv1d,
    Decoder,
    Dense,
    Gru,
    Layer,
    LayerStep,
    Lstm,
    Repeat,
    Rfft,
    as_layer,
    check_chain,
    walk_layers,
)
from squall.text import plural

#: Where the software/hardware boundary can lie, and what crosses it per call.
BOUNDARIES = {
    "step": "one LSTM step: in x, h_prev, c_prev; out h, c",
    "matvec": "one mat-vec [W|U][x; h] + b: in [x; h], out the 4H pre-activations",
    "layer": "one layer over a window: in its input sequence, out its output sequence/vector",
    "window": "the whole model per window: in its input (T x F; a forecaster's lookback), out "
    "its output",
}
#: Weights kept in on-chip memory (loaded once per run) or sent with every call.
WEIGHT_MODES = ("resident", "streamed")
#: How the links are named in the table.
LINK_NAMES = {"pcie": "PCIe", "spi": "SPI"}
#: Layers the accelerator runs at the step, matvec and layer boundaries (the rest stays on the
#: host): ``recurrent`` LSTM, GRU and decoder layers; ``lstm`` only LSTM layers and decoders with
#: an LSTM cell; ``all`` every layer with work (conv1d, dense and rfft too). The window
#: boundary runs the whole model.
OFFLOADS = ("recurrent", "lstm", "all")


def word_bytes_for(values: int, word_bits: int) -> int:
    """Bytes of ``values`` words of ``word_bits`` each, packed (32 -> 4 bytes a value)."""
    return math.ceil(values * word_bits / 8)


@dataclass(frozen=True)
class Compute:
    """The accelerator's datapath: ``macs`` (P) multiply-accumulators working in parallel, each
    MAC taking ``cycles_per_mac`` clocks, ``act_latency`` clocks per LSTM step after its
    mat-vec (sigmoid/tanh and the state update, pipelined over the units), at ``clock`` Hz.

    A mat-vec of M MACs takes ``ceil(M / P) * cycles_per_mac`` clocks; an LSTM step adds
    ``act_latency``. Steps of one layer run one after the other (the recurrence)."""

    macs: int = 16
    cycles_per_mac: int = 1
    act_latency: int = 10
    clock: float = 100e6

    def __post_init__(self) -> None:
        for name, value, low in (
            ("parallel MACs", self.macs, 1),
            ("cycles per MAC", self.cycles_per_mac, 1),
            ("activation latency", self.act_latency, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SquallError(f"{name} must be an integer >= {low}, got {value!r}")
        if (
            not isinstance(self.clock, (int, float))
            or not math.isfinite(self.clock)
            or self.clock <= 0
        ):
            raise SquallError(f"compute clock must be positive, got {self.clock!r}")

    def cycles(self, stages) -> int:
        """Clocks of a call made of ``stages``: ``(count, macs, activation)`` triples."""
        return sum(
            count
            * (math.ceil(macs / self.macs) * self.cycles_per_mac + (self.act_latency if act else 0))
            for count, macs, act in stages
        )

    def params(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"compute: {self.macs} MACs in parallel, {self.cycles_per_mac} cycle(s) per MAC, "
            f"activation latency {self.act_latency} cycles per recurrent step, "
            f"{self.clock / 1e6:g} MHz"
        )


@dataclass(frozen=True)
class BoundaryCost:
    """What one call across the boundary costs, for one layer (or the whole model at the
    ``window`` boundary: ``index`` None, ``kind`` "model")."""

    index: int | None
    name: str
    kind: str  # lstm, dense, repeat, model
    offloaded: bool  # False: the layer stays on the host (no calls)
    params: int  # weights and biases
    weight_bytes: int  # W, U, b at the word size
    macs_per_step: int  # a step of the accelerator: 4H (n + H); n m for a dense step
    calls_per_window: int
    values_in: int  # data words per call (x, h, c at the step boundary, ...)
    values_out: int
    data_bytes_in: int
    streamed_bytes: int  # weights sent with every call (0 when resident)
    bytes_in: int  # data_bytes_in + streamed_bytes
    bytes_out: int
    macs_per_call: int
    stages: tuple = field(default=(), repr=False)  # (count, macs, activation) per call
    steps: int = 0  # steps the layer runs per window (its own: lookback, horizon, L - k + 1)

    def as_dict(self) -> dict:
        d = asdict(self)
        del d["stages"]
        return d


def layer_name(index: int, layer) -> str:
    """``0:lstm(6->64)``, ``5:dense(64->6)``, ``2:repeat(x24)`` (as profiling names layers)."""
    return f"{index}:{as_layer(layer).describe()}"


def _recurrent_boundary(walked: LayerStep, offload: str, G: int) -> tuple:
    """An LSTM (G = 4, state h and c) or GRU (G = 3, state h) layer over its own input steps."""
    layer = walked.layer
    assert isinstance(layer, (Lstm, Gru))
    n, H, T = layer.input, layer.hidden, walked.in_length
    lstm = isinstance(layer, Lstm)
    params = sum(_size(s) for s in layer.weight_shapes().values())
    step = G * H * (n + H)
    state = 2 * H if lstm else H
    out_layer = T * H if layer.return_sequences else H
    if walked.repeated:  # W v + b once, then U h at every step
        layer_stages: tuple = ((1, G * H * n, False), (T, G * H * H, True))
        in_layer = n
    else:
        layer_stages = ((T, step, True),)
        in_layer = T * n
    per = {
        "step": (T, n + state, state, ((1, step, True),)),
        # a GRU's mat-vec gives r and z summed, and n's two parts apart (r multiplies U_n h)
        "matvec": (T, n + H, G * H if lstm else 4 * H, ((1, step, False),)),
        "layer": (1, in_layer, out_layer, layer_stages),
    }
    on = offload != "lstm" or lstm
    return params, step, T, per, layer_stages, on


def _lstm_boundary(walked: LayerStep, offload: str) -> tuple:
    return _recurrent_boundary(walked, offload, 4)


def _gru_boundary(walked: LayerStep, offload: str) -> tuple:
    return _recurrent_boundary(walked, offload, 3)


def _dense_boundary(walked: LayerStep, offload: str) -> tuple:
    layer = walked.layer
    assert isinstance(layer, Dense)
    n, m = layer.input, layer.output
    params, step = n * m + m, n * m
    act = layer.activation != "linear"
    # per step of a sequence; one vector per window (or a repeated one: computed once)
    T = walked.in_length if walked.sequence_in and not walked.repeated else 1
    layer_stages = ((T, step, act),)
    per = {
        "step": (T, n, m, ((1, step, act),)),
        "matvec": (T, n, m, ((1, step, False),)),
        "layer": (1, T * n, T * m, layer_stages),
    }
    return params, step, T, per, layer_stages, offload == "all"


def _conv1d_boundary(walked: LayerStep, offload: str) -> tuple:
    layer = walked.layer
    assert isinstance(layer, Conv1d)
    c, m, k = layer.input, layer.output, layer.kernel
    T = walked.in_length
    steps = layer.out_length(T)  # causal: T; valid: T - k + 1
    params, step = m * c * k + m, m * k * c
    layer_stages = ((steps, step, False),)
    per = {  # a step sees k input steps (causal padding's zeros included)
        "step": (steps, k * c, m, ((1, step, False),)),
        "matvec": (steps, k * c, m, ((1, step, False),)),
        "layer": (1, T * c, steps * m, layer_stages),
    }
    return params, step, steps, per, layer_stages, offload == "all"


def _rfft_boundary(walked: LayerStep, offload: str) -> tuple:
    layer = walked.layer
    assert isinstance(layer, Rfft)
    F, L, K = layer.input, layer.length, layer.frequencies
    macs = 2 * F * K * L  # the direct DFT's cosine and sine terms, as the pure engine counts
    out = L * (F + 2 * F * K) if layer.append else 2 * F * K
    layer_stages = ((1, macs, False),)
    call = (1, L * F, 2 * F * K, layer_stages)  # the spectrum; appending it is the host's glue
    per = {"step": call, "matvec": call, "layer": (1, L * F, out, layer_stages)}
    return 0, macs, 1, per, layer_stages, offload == "all"


def _decoder_boundary(walked: LayerStep, offload: str) -> tuple:
    layer = walked.layer
    assert isinstance(layer, Decoder)
    n, H, m, S, G = layer.input, layer.hidden, layer.outputs, layer.steps, layer.gates
    lstm = layer.cell == "lstm"
    params = sum(_size(s) for s in layer.weight_shapes().values())
    step = G * H * (m + H) + m * H  # the cell on the fed-back output, then Wo h
    state = 2 * H if lstm else H
    layer_stages: tuple = ((1, H * n, False),) if layer.projected else ()
    layer_stages += ((S, step, True),)
    per: dict = {"layer": (1, n, S * m, layer_stages)}
    if not layer.projected:  # a step: y_{t-1}, h (, c) in; h (, c), y out
        per["step"] = (S, m + state, state + m, ((1, step, True),))
    on = offload == "all" or offload == "recurrent" or lstm
    return params, step, S, per, layer_stages, on


#: Layer type -> ``(walked layer, offload) -> (params, MACs per step, steps per window,
#: {boundary: (calls, in, out, stages)}, the layer's stages, offloaded)``; None: no weights, never
#: a call. A boundary missing from the dict is one the layer cannot be cut at (one-line error).
BOUNDARY_COSTS: dict[type[Layer], Callable[..., tuple] | None] = {
    Lstm: _lstm_boundary,
    Gru: _gru_boundary,
    Conv1d: _conv1d_boundary,
    Dense: _dense_boundary,
    Rfft: _rfft_boundary,
    Decoder: _decoder_boundary,
    Repeat: None,
}


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def boundary_costs(
    layers,
    length: int,
    boundary: str = "step",
    word_bits: int = 32,
    weights: str = "resident",
    offload: str = "recurrent",
) -> list[BoundaryCost]:
    """Per layer (plus one ``model`` row at the ``window`` boundary): bytes in and out per call,
    weights, MACs and calls per window for an accelerator at ``boundary``.

    With n inputs, H hidden units, T steps (a dense layer ``n -> m``):

    ==========  ==================  ==================  ================  =================
    boundary    calls per window    in (words)          out (words)       MACs per call
    ==========  ==================  ==================  ================  =================
    step        T                   n + 2H (x, h, c)    2H (h, c)         4H (n + H)
    matvec      T                   n + H ([x; h])      4H                4H (n + H)
    layer       1                   T n                 T H (or H)        T 4H (n + H)
    window      1 (whole model)     T F                 T F               all layers
    ==========  ==================  ==================  ================  =================

    A dense step or mat-vec is n in, m out, n m MACs; a dense layer T n in, T m out.
    After a ``repeat`` the step accelerator gets the repeated vector v as x (it knows nothing of
    the repeat, so it computes ``W v`` at every step: ``4H (n + H)`` MACs per step, where the
    software engines compute ``W v + b`` once per window). At the ``layer`` and ``window``
    boundaries the accelerator runs the whole layer, so it receives v once (n words) and
    computes ``W v + b`` once: ``4H n + T 4H H`` MACs. ``weights="streamed"`` adds the layer's
    W, U, b (the whole model's at ``window``) to every call's input; ``"resident"`` keeps them
    on chip (loaded once per run). ``offload="recurrent"`` (LSTM, GRU, decoder) leaves the other
    layers on the host.

    ``length`` is the model's input steps (a forecaster's lookback); every layer runs its own
    steps, the walk's (:attr:`BoundaryCost.steps`): a repeat's ``times`` after it, ``L - k + 1``
    after a valid convolution, a decoder's ``steps``, one call for an rfft or a dense layer on
    one vector. Other layer types (docs/hardware.md, "The cost model"): a GRU step is ``n + H``
    in, ``H`` out, ``3H (n + H)`` MACs (its mat-vec gives ``4H``: r and z summed, n's two parts
    apart); a conv1d step ``k c`` in, ``m`` out, ``m k c`` MACs; an rfft one call per window,
    ``L F`` in, ``2 F K`` out, ``2 F K L`` MACs; a decoder step ``m + H`` in (LSTM cell ``m +
    2H``), ``H + m`` out, ``G H (m + H) + m H`` MACs. A decoder that projects its vector (``n !=
    H``) and a decoder at the matvec boundary (two mat-vecs a step) are cut only at the layer or
    window boundary: other boundaries are a one-line error naming the layer.
    """
    if boundary not in BOUNDARIES:
        raise SquallError(f"unknown boundary {boundary!r}; choose one of {', '.join(BOUNDARIES)}")
    if weights not in WEIGHT_MODES:
        raise SquallError(f"weights must be one of {', '.join(WEIGHT_MODES)}, got {weights!r}")
    if offload not in OFFLOADS:
        raise SquallError(f"offload must be one of {', '.join(OFFLOADS)}, got {offload!r}")
    if not isinstance(word_bits, int) or isinstance(word_bits, bool) or not 1 <= word_bits <= 64:
        raise SquallError(f"word bits must be an integer from 1 to 64, got {word_bits!r}")
    T = int(length)
    if T < 1:
        raise SquallError(f"window length must be positive, got {length!r}")
    walked_layers = list(walk_layers(layers, None, T))
    last = walked_layers[-1]
    out_shape = (last.out_length, last.out_width) if last.sequence_out else (last.out_width,)
    check_chain(tuple(w.layer for w in walked_layers), walked_layers[0].in_width, T, out_shape)
    streamed = weights == "streamed"
    rows: list[BoundaryCost] = []
    model_stages: list[tuple] = []
    for walked in walked_layers:
        i, layer = walked.index, walked.layer
        kind, name = layer.kind, layer_name(i, layer)
        if type(layer) not in BOUNDARY_COSTS:
            raise SquallError(f"layer {i}: no cost formula for {kind!r}")
        costs = BOUNDARY_COSTS[type(layer)]
        if costs is None:
            rows.append(BoundaryCost(i, name, kind, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            continue
        params, step, steps, per, layer_stages, offloaded = costs(walked, offload)
        model_stages.extend(layer_stages)
        wbytes = word_bytes_for(params, word_bits)
        if boundary == "window":  # the layer runs inside the model's call
            rows.append(
                BoundaryCost(
                    i, name, kind, True, params, wbytes, step, 0, 0, 0, 0, 0, 0, 0, 0, steps=steps
                )
            )
            continue
        if not offloaded:
            rows.append(
                BoundaryCost(
                    i, name, kind, False, params, wbytes, step, 0, 0, 0, 0, 0, 0, 0, 0, steps=steps
                )
            )
            continue
        if boundary not in per:
            raise SquallError(
                f"layer {i}: a {layer.describe()} layer cannot be cut at the {boundary} "
                f"boundary (use {' or '.join(sorted(per))}, or window)"[:300]
            )
        calls, v_in, v_out, stages = per[boundary]
        data_in = word_bytes_for(v_in, word_bits)
        sent = wbytes if streamed else 0
        macs = sum(count * m for count, m, _ in stages)
        rows.append(
            BoundaryCost(
                i,
                name,
                kind,
                True,
                params,
                wbytes,
                step,
                calls,
                v_in,
                v_out,
                data_in,
                sent,
                data_in + sent,
                word_bytes_for(v_out, word_bits),
                macs,
                tuple(stages),
                steps=steps,
            )
        )
    if boundary == "window":
        params = sum(r.params for r in rows)
        wbytes = word_bytes_for(params, word_bits)
        values_in = T * walked_layers[0].in_width
        values_out = math.prod(out_shape)
        data_in = word_bytes_for(values_in, word_bits)
        sent = wbytes if streamed else 0
        rows.append(
            BoundaryCost(
                None,
                "window (all layers)",
                "model",
                True,
                params,
                wbytes,
                sum(r.macs_per_step for r in rows),
                1,
                values_in,
                values_out,
                data_in,
                sent,
                data_in + sent,
                word_bytes_for(values_out, word_bits),
                sum(count * m for count, m, _ in model_stages),
                tuple(model_stages),
                steps=1,
            )
        )
    return rows


def analytic_calls(rows: list[BoundaryCost], windows: int) -> dict:
    """Calls of a run of ``windows`` windows per row: windows x calls per window (at the step
    boundary: windows x T steps for every offloaded layer). Keyed by layer index (None: the
    whole-model row of the window boundary)."""
    if not isinstance(windows, int) or isinstance(windows, bool) or windows < 0:
        raise SquallError(f"windows must be an integer >= 0, got {windows!r}")
    return {r.index: windows * r.calls_per_window for r in rows}


def counted_calls(
    rows: list[BoundaryCost], step_calls: dict[int, int], windows: int, length: int = 0
) -> dict:
    """Calls per row from the pure engine's counted step calls (``Counters.step_calls``: steps
    per layer index) over ``windows`` windows: a step or mat-vec call per counted step; a layer
    call per ``steps`` counted steps (the layer's own steps per window); a window call per
    window run. (``length`` is not used: each row knows its steps.)"""
    out: dict[int | None, int | float] = {}
    for r in rows:
        if r.index is None:
            out[None] = windows
        elif not r.offloaded or r.calls_per_window == 0:
            out[r.index] = 0
        else:
            counted = step_calls.get(r.index, 0) * r.calls_per_window
            out[r.index] = counted // r.steps if counted % r.steps == 0 else counted / r.steps
    return out


def max_compute_per_call(target: float, transfer: float, calls: int) -> float | None:
    """The longest compute time per call that keeps the run within ``target`` seconds when
    ``transfer`` seconds of link time are spent as well (transfers and compute not overlapped):
    ``(target - transfer) / calls``; negative when the transfers alone exceed the target."""
    if not calls:
        return None
    return (target - transfer) / calls


@dataclass
class CostReport:
    """The answers of :func:`cost_report`; :meth:`as_dict` is the JSON of ``squall hw cost
    --json``, :meth:`table` the text."""

    name: str
    boundary: str
    word_bits: int
    weights: str
    offload: str
    windows: int
    length: int
    rows: list[BoundaryCost]
    calls: dict
    calls_source: str
    links: dict  # name -> Pcie / Spi
    compute: Compute
    budget: float | None = None
    software_time: float | None = None
    calls_check: dict | None = None  # analytic vs counted, when counted
    measured: dict | None = None  # clocks from simulation (squall.hw.clocks.measured_cycles)
    horizon: int | None = None  # a forecaster's horizon (``length`` is then its lookback)

    def _steps_text(self) -> str:
        """``24 steps`` or, for a forecaster, ``lookback 100 steps in -> horizon 10 out``."""
        if self.horizon is None:
            return plural(self.length, "step")
        return f"lookback {plural(self.length, 'step')} in -> horizon {self.horizon} out"

    def _offloaded(self) -> list[BoundaryCost]:
        return [r for r in self.rows if r.offloaded and r.calls_per_window]

    def _row(self, r: BoundaryCost) -> dict:
        calls = self.calls.get(r.index, 0)
        d = r.as_dict()
        d["calls"] = calls
        if r in self._offloaded():
            cycles = model_cycles = self.compute.cycles(r.stages)
            if self.measured is not None:
                cycles = self._measured_call(r)
                d["cycles_per_call_model"] = model_cycles
            d.update(
                cycles_per_call=cycles,
                compute_s_per_call=cycles / self.compute.clock,
                transfer_s_per_call={
                    k: link.call_time(r.bytes_in, r.bytes_out) for k, link in self.links.items()
                },
            )
            d["transfer_s"] = {k: calls * t for k, t in d["transfer_s_per_call"].items()}
            d["compute_s"] = calls * d["compute_s_per_call"]
        else:
            d.update(
                cycles_per_call=0,
                compute_s_per_call=0.0,
                transfer_s_per_call={k: 0.0 for k in self.links},
                transfer_s={k: 0.0 for k in self.links},
                compute_s=0.0,
            )
        return d

    def _measured_call(self, r: BoundaryCost) -> int:
        """Clocks of one call of row ``r`` from the simulated RTL: a step is the measured LSTM
        step (the RTL recomputes a repeated vector's projection each step) or mat-vec."""
        m = self.measured
        assert m is not None, "only with measured clocks"
        if r.index is None:
            raise ParameterError(
                "measured",
                f"{NAME} (clocks measured in simulation) gives clocks per layer; use the step, "
                "matvec or layer boundary",
            )
        key = str(r.index)
        if key not in m["matvec"]:
            raise SquallError(f"the simulation has no clocks for layer {r.index}")
        per_step = (
            m["step"][key] if r.kind == "lstm" and self.boundary != "matvec" else m["matvec"][key]
        )
        if self.boundary in ("step", "matvec"):
            return per_step
        if r.kind == "lstm":  # the sequencer: a clock to start each step, one at the end
            return r.steps * (per_step + 1) + 1
        return r.steps * per_step

    def as_dict(self) -> dict:
        rows = [self._row(r) for r in self.rows]
        layers = [d for d in rows if d["index"] is not None]
        model = next((d for d in rows if d["index"] is None), None)
        busy = [d for d in rows if d["calls"]]
        total_calls = sum(d["calls"] for d in rows)
        resident = self.weights == "resident"
        chip = sum(r.weight_bytes for r in self._offloaded()) if resident else 0
        if self.boundary == "window" and model is not None:
            chip = model["weight_bytes"] if resident else 0
        load = {k: link.bulk_time(chip) for k, link in self.links.items()}
        transfer = {k: sum(d["transfer_s"][k] for d in busy) for k in self.links}
        compute = sum(d["compute_s"] for d in busy)
        totals = {
            "total_calls": total_calls,
            "bytes_in": sum(d["calls"] * d["bytes_in"] for d in busy),
            "bytes_out": sum(d["calls"] * d["bytes_out"] for d in busy),
            "macs": sum(d["calls"] * d["macs_per_call"] for d in busy),
            "cycles": sum(d["calls"] * d["cycles_per_call"] for d in busy),
            "weight_bytes_on_chip": chip,
            "weight_load_s": load,
            "transfer_s": transfer,
            "transfer_s_per_call": {
                k: (t / total_calls if total_calls else 0.0) for k, t in transfer.items()
            },
            "compute_s": compute,
            "compute_s_per_call": compute / total_calls if total_calls else 0.0,
            "total_s": {k: transfer[k] + load[k] + compute for k in self.links},
        }
        answers: dict = {"budget_s": self.budget, "software_time_s": self.software_time}
        for k in self.links:
            link_s = transfer[k] + load[k]
            a: dict = {}
            for key, target in (("budget", self.budget), ("software", self.software_time)):
                if target is None:
                    continue
                limit = max_compute_per_call(target, link_s, total_calls)
                a[f"max_compute_s_per_call_{key}"] = limit
                a[f"meets_{key}"] = totals["total_s"][k] <= target
            if self.software_time is not None:
                a["speedup"] = (
                    self.software_time / totals["total_s"][k] if totals["total_s"][k] else None
                )
            answers[k] = a
        return {
            "bundle": self.name,
            "boundary": self.boundary,
            "boundary_means": BOUNDARIES[self.boundary],
            "word_bits": self.word_bits,
            "weights": self.weights,
            "offload": self.offload,
            "windows": self.windows,
            "length": self.length,
            "lookback": self.length if self.horizon is not None else None,
            "horizon": self.horizon,
            "calls_source": self.calls_source,
            "calls_check": self.calls_check,
            "links": {k: link.params() for k, link in self.links.items()},
            "compute": self.compute.params(),
            "cycles_source": self.measured["source"] if self.measured else "model",
            "layers": layers,
            "model_call": model,
            "totals": totals,
            "answers": answers,
        }

    def table(self) -> str:
        d = self.as_dict()
        t = d["totals"]
        links = list(self.links)
        lines = [
            f"{self.name}: boundary {self.boundary} ({BOUNDARIES[self.boundary]}), "
            f"{self.word_bits}-bit words, weights {self.weights}"
            + (f", offload {self.offload}" if self.boundary != "window" else ""),
            f"calls: {self.calls_source}",
        ]
        if self.horizon is not None:
            lines.append(
                f"task forecast: lookback {self.length} steps in, horizon {self.horizon} steps "
                "out; each layer runs its own steps (steps/window)"
            )
        if self.calls_check:
            c = self.calls_check
            lines.append(
                f"call counts: analytic {c['analytic']:,}, counted {c['counted']:,} "
                f"({'agree' if c['agree'] else 'DISAGREE'})"
            )
        lines.append("")
        head = [
            "layer",
            "params",
            "weight B",
            "MACs/step",
            "steps/window",
            "in B/call",
            "out B/call",
            "calls",
            "cycles/call",
            "compute/call",
        ] + [f"{LINK_NAMES[k]}/call" for k in links]
        body = []
        for row in d["layers"] + ([d["model_call"]] if d["model_call"] else []):
            if row["kind"] == "repeat":
                body.append([row["name"]] + ["-"] * (len(head) - 1))
                continue
            cells = [
                row["name"],
                f"{row['params']:,}",
                f"{row['weight_bytes']:,}",
                f"{row['macs_per_step']:,}",
                f"{row['steps']:,}",
            ]
            if row["calls_per_window"]:
                cells += [
                    f"{row['bytes_in']:,}",
                    f"{row['bytes_out']:,}",
                    f"{row['calls']:,}",
                    f"{row['cycles_per_call']:,}",
                    fmt_time(row["compute_s_per_call"]),
                ]
                cells += [fmt_time(row["transfer_s_per_call"][k]) for k in links]
            else:
                where = "in the window call" if self.boundary == "window" else "on the host"
                cells += [where] + [""] * (len(head) - 6)
            body.append(cells)
        body.append(
            [
                "total",
                f"{sum(r['params'] for r in d['layers']):,}",
                f"{sum(r['weight_bytes'] for r in d['layers']):,}",
                "",
                "",
                "",
                "",
                f"{t['total_calls']:,}",
            ]
            + [""] * (len(head) - 8)
        )
        lines += _columns(head, body)
        if self.weights == "streamed":
            lines.append("(in B/call includes the weights sent with every call)")
        lines += ["", "links and compute:"]
        lines += [f"  {link.describe()}" for link in self.links.values()]
        lines.append(f"  {self.compute.describe()}")
        if self.measured:
            lines.append(
                f"  cycles per call from {self.measured['source']}; the model's "
                "formula would give: "
                + ", ".join(
                    f"{r['name']} {r['cycles_per_call_model']:,}"
                    for r in d["layers"]
                    if "cycles_per_call_model" in r
                )
            )
        lines += [
            "",
            f"run: {plural(t['total_calls'], 'call', fmt=',')} "
            f"({plural(self.windows, 'window', fmt=',')} of "
            f"{self._steps_text()}), {t['bytes_in']:,} B in, {t['bytes_out']:,} B out",
        ]
        run = [
            ["transfer per call (mean)"] + [fmt_time(t["transfer_s_per_call"][k]) for k in links],
            ["transfer per run"] + [fmt_time(t["transfer_s"][k]) for k in links],
            [f"weight load, once ({t['weight_bytes_on_chip']:,} B)"]
            + [fmt_time(t["weight_load_s"][k]) for k in links],
            ["compute per call (mean)"] + [fmt_time(t["compute_s_per_call"])] * len(links),
            ["compute per run"] + [fmt_time(t["compute_s"])] * len(links),
            ["total (transfers + compute, not overlapped)"]
            + [fmt_time(t["total_s"][k]) for k in links],
        ]
        a = d["answers"]
        for key, target in (("budget", self.budget), ("software", self.software_time)):
            if target is None:
                continue
            label = "meet the budget" if key == "budget" else "beat the software time"
            run.append(
                [f"max compute per call (mean) to {label} {fmt_time(target)}"]
                + [_limit(a[k][f"max_compute_s_per_call_{key}"]) for k in links]
            )
        if self.software_time is not None:
            run.append(
                ["speedup over the software time"]
                + [f"{a[k]['speedup']:.3g}x" if a[k]["speedup"] else "-" for k in links]
            )
        lines += _columns(["", *(LINK_NAMES[k] for k in links)], run)
        if self.budget is None and self.software_time is None:
            lines.append(
                "(--budget SECONDS / --software-time SECONDS add the longest compute "
                "per call that meets them, and the speedup)"
            )
        return "\n".join(lines)


def _limit(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return fmt_time(seconds) if seconds > 0 else "none: the transfers alone take longer"


def _columns(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[k])) for row in [head, *body]) for k in range(len(head))]

    def fmt(row):
        first = str(row[0]).ljust(widths[0])
        return "  ".join(
            [first] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        ).rstrip()

    return [fmt(head)] + [fmt(row) for row in body]


def cost_report(
    layers,
    length: int,
    windows: int,
    *,
    boundary: str = "step",
    word_bits: int = 32,
    weights: str = "resident",
    offload: str = "recurrent",
    pcie: Pcie | None = None,
    spi: Spi | None = None,
    compute: Compute | None = None,
    budget: float | None = None,
    software_time: float | None = None,
    step_calls: dict[int, int] | None = None,
    calls_source: str | None = None,
    name: str = "model",
    measured: dict | None = None,
    horizon: int | None = None,
) -> CostReport:
    """The cost model of a run of ``windows`` windows through ``layers``.

    Calls are analytic (windows x calls per window) unless ``step_calls`` (the pure engine's
    ``Counters.step_calls`` over those windows) is given: then they are derived from the counts
    and checked against the analytic ones (``calls_check``).
    """
    rows = boundary_costs(layers, length, boundary, word_bits, weights, offload)
    for label, value in (("budget", budget), ("software time", software_time)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise SquallError(f"{label} must be a positive number of seconds, got {value!r}")
    analytic = analytic_calls(rows, windows)
    check = None
    if step_calls is not None:
        calls = counted_calls(rows, step_calls, windows, length)
        a, c = sum(analytic.values()), sum(calls.values())
        check = {"analytic": a, "counted": c, "agree": calls == analytic}
        over = plural(windows, "window", fmt=",")
        source = calls_source or f"counted by the pure engine over {over}"
    else:
        calls = analytic
        source = calls_source or _analytic_source(rows, windows, length)
    links = {"pcie": pcie or Pcie(), "spi": spi or Spi()}
    return CostReport(
        name,
        boundary,
        word_bits,
        weights,
        offload,
        windows,
        int(length),
        rows,
        calls,
        source,
        links,
        compute or Compute(),
        budget,
        software_time,
        check,
        measured,
        horizon,
    )


def check_measured(measured: dict, bundle, macs: int | None) -> int:
    """The parallel MACs to model with measured clocks (the simulated design's lanes); refuses
    clocks of another bundle or of another number of lanes than ``macs``."""
    if measured.get("weights_digest") != weights_digest(bundle):
        raise SquallError(
            f"the clocks in {measured['source']} were measured on RTL of another "
            f"bundle (weights digest {measured.get('weights_digest')}); run squall "
            f"hw rtl and squall hw cycles for this one"
        )
    lanes = measured.get("lanes")
    if macs is not None and lanes is not None and macs != lanes:
        raise ParameterError(
            "macs",
            f"the clocks were measured with P = {lanes} lanes but {NAME} is "
            f"{macs}; leave {NAME} out or give {lanes}",
        )
    return lanes or macs or Compute.macs


def _analytic_source(rows: list[BoundaryCost], windows: int, length: int) -> str:
    busy = [r for r in rows if r.offloaded and r.calls_per_window]
    total = windows * sum(r.calls_per_window for r in busy)
    if busy and all(r.calls_per_window == length for r in busy):
        kinds = list(dict.fromkeys(r.kind for r in busy))
        what = " + ".join(
            f"{sum(r.kind == k for r in busy)} {k.upper() if k in ('lstm', 'gru') else k}"
            for k in kinds
        )
        return (
            f"analytic, {plural(windows, 'window', fmt=',')} x {plural(length, 'step')} x "
            f"{what} layers = {total:,}"
        )
    if busy and all(r.calls_per_window == 1 for r in busy):
        what = "whole-window call" if busy[0].index is None else plural(len(busy), "layer")
        return f"analytic, {plural(windows, 'window', fmt=',')} x {what} = {total:,}"
    if busy:
        per = " + ".join(f"{r.calls_per_window:,} of {r.name}" for r in busy)
        return f"analytic, {plural(windows, 'window', fmt=',')} x ({per}) = {total:,}"
    return f"analytic, {total:,}"


def bundle_cost(bundle, windows: int | None = None, x=None, **options) -> CostReport:
    """:func:`cost_report` of a bundle: analytic over ``windows`` windows, or counted by running
    the pure engine with its counters on over the scaled windows ``x`` (N, T, F): the bundle's
    windows (a forecaster's lookback and horizon: the model reads the lookback of its input
    features) or already the model's input. The model's input steps (a forecaster's lookback)
    are the length; each layer runs its own steps."""
    if (windows is None) == (x is None):
        raise SquallError("give either the number of windows or data to count on, not both")
    task = bundle.task
    horizon = task.horizon if task.kind == "forecast" else None
    length = bundle.model.length
    if x is None:
        assert windows is not None
        return cost_report(bundle.layers, length, windows, horizon=horizon, **options)
    import numpy as np

    from squall.engines import get_engine
    from squall.engines.pure import Counters

    if len(x) == 0:
        raise SquallError("no windows to count on")
    x = np.asarray(x)
    if task.kind == "forecast" and x.ndim == 3 and x.shape[1] == bundle.length:
        names = list(bundle.features)
        x = x[:, : task.lookback][:, :, [names.index(f) for f in task.inputs]]
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.run(x)
    counts = engine.model.counters.step_calls
    return cost_report(bundle.layers, length, len(x), step_calls=counts, horizon=horizon, **options)
