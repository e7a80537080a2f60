"""The RTL design's numbers: widths, ROM layout, the clock schedule and the SPI protocol.

:class:`RtlDesign` is a bundle's :class:`~squall.engines.fixed.FixedModel` laid out for ``P``
parallel MAC lanes: one :class:`RtlLayer` per mat-vec layer (rows, columns, row groups, its
first ROM words, accumulator width), the largest sizes the modules must hold, the ROM images
and the manifest ``rtl.json``. :mod:`squall.hw.svgen` turns it into SystemVerilog and
:mod:`squall.hw.rtl` writes the directory.

Clock cycles (measured in simulation by :mod:`squall.hw.sim`): a mat-vec of ``R`` rows and
``C`` columns takes ``C`` clocks to load, ``ceil(R / P) max(C, P)`` clocks of MACs (a group is
padded to ``P`` clocks when ``C < P`` so that its results have drained), plus ``2 + r`` clocks
of pipeline and the last group's ``r <= P`` results; an LSTM step adds ``H + 2`` clocks for the
unit-by-unit update (one clock to see the mat-vec's ``done``, then ``H`` units through a
two-stage pipeline). :meth:`RtlDesign.predicted_cycles` states that formula; the tests check it
against the simulation clock for clock.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from squall.bundle import Bundle
from squall.engines.fixed import FixedConfig, FixedDense, FixedLstm, FixedModel, resolve_config
from squall.engines.fixedpoint import FixedType
from squall.errors import SquallError
from squall.hw.export_layout import fixed_layer, weights_digest

FORMAT = "squall-rtl"
VERSION = 1
#: Words per SPI transaction (after the command word), the user's assumption.
SPI_WORDS = 64
#: SPI word widths: 16 bits in (command and data), 32 bits out.
SPI_IN_BITS, SPI_OUT_BITS = 16, 32
#: The top modules, as the README names them.
TOPS = (
    "squall_matvec",
    "squall_lstm_cell",
    "squall_lstm_layer",
    "squall_spi_slave",
    "squall_spi_top",
)
SOURCES = tuple(f"{name}.sv" for name in TOPS)


def counter_bits(n: int) -> int:
    """Bits of an unsigned counter holding 0..n."""
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class RtlLayer:
    """One mat-vec layer as the ROM holds it."""

    index: int
    kind: str  # lstm | dense
    rows: int  # 4H or m
    cols: int  # n + H or n
    hidden: int  # H (0 for dense)
    inputs: int  # n
    groups: int  # ceil(rows / P)
    wbase: int  # first word of the layer in matvec_weights.mem
    bbase: int  # first word in matvec_bias.mem
    acc_bits: int


class RtlDesign:
    """A bundle's model in the formats of ``config`` with ``lanes`` parallel MACs: every width,
    address and table the generated code needs (see the module docstring)."""

    def __init__(self, bundle: Bundle, config="16", lanes: int = 16) -> None:
        if not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= 256:
            raise SquallError(f"MAC lanes must be an integer from 1 to 256, got {lanes!r}")
        cfg: FixedConfig = resolve_config(config)
        for key in ("data", "weight", "bias", "preact", "cell", "tanh"):
            if not getattr(cfg, key).signed:
                raise SquallError(
                    f"the RTL generator needs a signed {key} format, got {getattr(cfg, key)}"
                )
        self.bundle, self.config, self.lanes = bundle, cfg, lanes
        self.model = model = FixedModel(bundle, cfg)
        self.layers: list[RtlLayer] = []
        wbase = bbase = 0
        for L in model.layers:
            if isinstance(L, FixedLstm):
                rows, cols, H, n = 4 * L.hidden, L.inputs + L.hidden, L.hidden, L.inputs
            elif isinstance(L, FixedDense):
                rows, cols, H, n = len(L.W), len(L.W[0]), 0, len(L.W[0])
            else:
                continue
            groups = -(-rows // lanes)
            self.layers.append(
                RtlLayer(
                    L.index,
                    "lstm" if H else "dense",
                    rows,
                    cols,
                    H,
                    n,
                    groups,
                    wbase,
                    bbase,
                    L.acc_bits,
                )
            )
            wbase += groups * cols
            bbase += groups
        lstms = [r for r in self.layers if r.kind == "lstm"]
        if not lstms:
            raise SquallError("the bundle has no LSTM layer to generate RTL for")
        self.max_rows = max(r.rows for r in self.layers)
        self.max_cols = max(r.cols for r in self.layers)
        self.max_hidden = max(r.hidden for r in lstms)
        self.max_inputs = max(r.inputs for r in lstms)
        self.acc_w = max(r.acc_bits for r in self.layers)
        self.layer_bits = counter_bits(max(L.index for L in self.layers))
        self.length = bundle.length

    # ------------------------------------------------------------ ROM images

    def fixed_layer(self, index: int):
        return fixed_layer(self.model, index)

    def matrix(self, r: RtlLayer) -> tuple[list[list[int]], list[int]]:
        """The layer's matrix as the mat-vec unit sees it (``[W | U]`` for an LSTM: the fixed
        layer's ``WU`` rows) and its bias codes."""
        L = self.fixed_layer(r.index)
        return (L.WU if isinstance(L, FixedLstm) else L.W), L.b

    def rom_words(self) -> tuple[list[list[int]], list[list[int]]]:
        """Lane codes of every word of the weight ROM and the bias ROM (lane 0 first)."""
        P, wrom, brom = self.lanes, [], []
        for r in self.layers:
            M, b = self.matrix(r)
            for g in range(r.groups):
                rows = [g * P + p for p in range(P)]
                brom.append([b[k] if k < r.rows else 0 for k in rows])
                for j in range(r.cols):
                    wrom.append([M[k][j] if k < r.rows else 0 for k in rows])
        return wrom, brom

    def rom_text(self, words: list[list[int]], t: FixedType) -> str:
        """``$readmemh`` text of a wide ROM: lane ``P - 1`` in the leftmost digits."""
        mask, digits = (1 << t.width) - 1, -(-t.width * self.lanes // 4)
        out = []
        for lanes in words:
            v = 0
            for p, code in enumerate(lanes):
                v |= (code & mask) << (p * t.width)
            out.append(format(v, f"0{digits}x"))
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------ cycles

    def predicted_cycles(self, index: int) -> dict[str, int]:
        """Clocks of one mat-vec and one LSTM step of a layer, by the datapath's schedule (the
        module docstring), from ``start`` to the ``done`` pulse inclusive."""
        r = next(x for x in self.layers if x.index == index)
        P = self.lanes
        last = r.rows - (r.groups - 1) * P
        matvec = r.cols + r.groups * r.cols + max(0, r.groups - 1) * max(0, P - r.cols) + 2 + last
        out = {"matvec": matvec, "macs": r.rows * r.cols, "ideal": math.ceil(r.rows * r.cols / P)}
        if r.kind == "lstm":
            out["step"] = matvec + r.hidden + 2
        return out

    def manifest(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "lanes": self.lanes,
            "config": self.config.to_dict(),
            "tops": list(TOPS),
            "bundle": {
                "weights_digest": weights_digest(self.bundle),
                "layers": self.bundle.model.to_json(),
                "features": self.bundle.features,
                "length": self.bundle.length,
            },
            "widths": {
                "data": self.config.data.width,
                "accumulator": self.acc_w,
                "layer_select": self.layer_bits,
            },
            "layers": [asdict(r) | {"cycles": self.predicted_cycles(r.index)} for r in self.layers],
            "spi": spi_protocol(self),
        }


def spi_protocol(d: RtlDesign) -> dict:
    """The SPI front end's protocol, as the README and the testbench use it."""
    return {
        "mode": "SPI mode 0 (CPOL 0, CPHA 0), MSB first, one data line each way",
        "in_bits": SPI_IN_BITS,
        "out_bits": SPI_OUT_BITS,
        "max_words": SPI_WORDS,
        "write": "CS low; command word (bit 15 = 0, bit 14 = clear h and c first, bits "
        f"{d.layer_bits - 1}..0 = layer); then the layer's n input values, one "
        "16-bit word each (two's complement, sign-extended); CS high. The step "
        "starts with the command and the `ready` pin rises when h and c are ready.",
        "read": "CS low; command word 0x8000; then 32 clocks per result word: word k = "
        "{c[k], h[k]} (c in bits 31..16, h in 15..0, each sign-extended to 16 bits); "
        "CS high.",
        "clocks": {"write": "16 (command) + 16 n", "read": "16 (command) + 32 H"},
    }


def spi_fits(d: RtlDesign) -> str | None:
    """Why the SPI top cannot be generated for this design, or None."""
    cfg = d.config
    if cfg.data.width > 16 or cfg.cell.width > 16:
        return (
            f"the SPI top packs h and c into 16 bits each; data {cfg.data} / cell "
            f"{cfg.cell} are wider"
        )
    if d.max_inputs > SPI_WORDS or d.max_hidden > SPI_WORDS:
        return f"a layer has more than {SPI_WORDS} inputs or units (one SPI transaction each)"
    if d.layer_bits > 14:
        return "layer indices need more than 14 bits of the command word"
    return None
