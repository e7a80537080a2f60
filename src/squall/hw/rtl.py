"""Generate synthesizable SystemVerilog for a bundle's LSTM accelerator, bit-exact with the fixed
engine (:mod:`squall.engines.fixed`).

``squall hw rtl BUNDLE --out DIR`` writes:

``squall_matvec.sv``
    The time-multiplexed mat-vec unit. ``P`` MAC lanes; the input vector is streamed in (one
    value per clock, ``cols`` values), then for each group of ``P`` rows the lanes read one
    ``P``-wide ROM word per clock (column ``j`` of rows ``g P .. g P + P - 1``) and accumulate
    ``w * v[j]``, the first column adding the aligned bias. A finished group's accumulators move
    to an output register and are streamed out one per clock while the next group runs. Every
    LSTM and dense layer of the bundle lives in the one ROM (``matvec_weights.mem``; bias ROM
    ``matvec_bias.mem``), selected by the ``layer`` input (the bundle's layer index). For an
    LSTM the matrix is ``[W | U]`` (``4H`` rows, ``n + H`` columns) and the vector ``[x, h]``.
``squall_lstm_cell.sv``
    One LSTM step: streams ``x`` (from its input) and ``h`` (from its state registers) into the
    mat-vec unit, rounds each accumulator to a pre-activation as it arrives, then updates one
    unit per clock (two-stage pipeline): the sigmoid/tanh tables (the fixed engine's, from the
    same code), ``c' = round_sat(f c + i g)``, ``h' = round_sat(o tanh(c'))``. The state can be
    cleared or written (``st_we``) and every updated ``(h, c)`` is streamed out.
``squall_lstm_layer.sv``
    The sequencer: clears the state and runs one layer over the bundle's ``T`` steps, a vector
    ``x`` streamed in per step, every step's ``h`` streamed out.
``squall_spi_slave.sv``, ``squall_spi_top.sv``
    An SPI slave front end (mode 0, MSB first; 16-bit words in, 32-bit words out, up to
    :data:`SPI_WORDS` words per transaction, see :func:`spi_protocol`) and a top level that
    puts the LSTM cell behind it.

Clock cycles (measured in simulation by :mod:`squall.hw.sim`): a mat-vec of ``R`` rows and
``C`` columns takes ``C`` clocks to load, ``ceil(R / P) max(C, P)`` clocks of MACs (a group is
padded to ``P`` clocks when ``C < P`` so that its results have drained), plus ``2 + r`` clocks
of pipeline and the last group's ``r <= P`` results; an LSTM step adds ``H + 2`` clocks for the
unit-by-unit update (one clock to see the mat-vec's ``done``, then ``H`` units through a
two-stage pipeline). :meth:`RtlDesign.predicted_cycles` states that formula; the tests check it
against the simulation clock for clock.

The generated code is plain Verilog-2005 style SystemVerilog (``always @(posedge clk)``,
``always @*``, functions, generate loops; no interfaces, packages or assertions) that both
Icarus Verilog 11 (``-g2012``) and Verilator 5.006 accept. Every requantization is a function
written out for its formats (:func:`requant_function`), so the file shows the exact rounding.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

from squall.bundle import Bundle
from squall.engines.fixed import (
    ActivationUnit,
    FixedConfig,
    FixedDense,
    FixedLstm,
    FixedModel,
    resolve_config,
)
from squall.engines.fixedpoint import FixedType, signed_bits
from squall.errors import SquallError
from squall.hw.export import export_bundle
from squall.hw.export_layout import (
    fixed_layer,
    layer_label,
    mem_text,
    table_files,
    weights_digest,
)
from squall.io import atomic_dir, written_by

FORMAT = "squall-rtl"
VERSION = 1
#: Words per SPI transaction (after the command word), the user's assumption.
SPI_WORDS = 64
#: SPI word widths: 16 bits in (command and data), 32 bits out.
SPI_IN_BITS, SPI_OUT_BITS = 16, 32
#: The top modules, as the README names them.
TOPS = ("squall_matvec", "squall_lstm_cell", "squall_lstm_layer", "squall_spi_slave",
        "squall_spi_top")
SOURCES = tuple(f"{name}.sv" for name in TOPS)


def _bits(n: int) -> int:
    """Bits of an unsigned counter holding 0..n."""
    return max(1, int(n).bit_length())


def sv_int(value: int, width: int) -> str:
    """A sized signed literal (``-40'sd5`` style) that is ``value`` in ``width`` bits."""
    return f"-{width}'sd{-value}" if value < 0 else f"{width}'sd{value}"


# ---------------------------------------------------------------- the design's numbers


@dataclass(frozen=True)
class RtlLayer:
    """One mat-vec layer as the ROM holds it."""

    index: int
    kind: str               # lstm | dense
    rows: int               # 4H or m
    cols: int               # n + H or n
    hidden: int             # H (0 for dense)
    inputs: int             # n
    groups: int             # ceil(rows / P)
    wbase: int              # first word of the layer in matvec_weights.mem
    bbase: int              # first word in matvec_bias.mem
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
                raise SquallError(f"the RTL generator needs a signed {key} format, got "
                                  f"{getattr(cfg, key)}")
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
            self.layers.append(RtlLayer(L.index, "lstm" if H else "dense", rows, cols, H, n,
                                        groups, wbase, bbase, L.acc_bits))
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
        self.layer_bits = _bits(max(L.index for L in self.layers))
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
        out = {"matvec": matvec, "macs": r.rows * r.cols,
               "ideal": math.ceil(r.rows * r.cols / P)}
        if r.kind == "lstm":
            out["step"] = matvec + r.hidden + 2
        return out

    # ------------------------------------------------------------ description

    def header(self, what: str) -> str:
        cfg, b = self.config, self.bundle
        layers = ", ".join(f"{r.index}: {r.kind} {r.rows}x{r.cols}" for r in self.layers)
        return "\n".join([
            f"// {what}",
            "// Generated by squall (`squall hw rtl`); do not edit: regenerate from the bundle.",
            f"// Bundle: layers {json.dumps([layer_label(s) for s in b.layers])}, features "
            f"{', '.join(b.features)}, T = {b.length}, weights digest {weights_digest(b)}",
            f"// Fixed point ({cfg.name}): data {cfg.data.spec}, weights {cfg.weight.spec}, "
            f"bias {cfg.bias.spec}, z {cfg.preact.spec}, c {cfg.cell.spec}, sigmoid "
            f"{cfg.sigmoid.spec}, tanh {cfg.tanh.spec}",
            f"// Activations: sigmoid {cfg.sigmoid_fn.describe()}; tanh "
            f"{cfg.tanh_fn.describe()}",
            f"// Parameters: P = {self.lanes} MAC lanes, accumulators {self.acc_w} bits, "
            f"mat-vec layers {layers}",
            "// Widths: the arithmetic relies on Verilog's context-determined sign extension",
            "// (operands widened to the accumulator before multiplying); bit-exactness against",
            "// the fixed engine is what the simulation tests check, so Verilator's WIDTH",
            "// warnings are off for these files.",
            "// Several modules here are tops on purpose (see README.md): MULTITOP is off too.",
            "/* verilator lint_off WIDTH */", "/* verilator lint_off MULTITOP */", ""])

    def manifest(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "lanes": self.lanes,
                "config": self.config.to_dict(), "tops": list(TOPS),
                "bundle": {"weights_digest": weights_digest(self.bundle),
                           "layers": self.bundle.model.to_json(),
                           "features": self.bundle.features,
                           "length": self.bundle.length},
                "widths": {"data": self.config.data.width, "accumulator": self.acc_w,
                           "layer_select": self.layer_bits},
                "layers": [asdict(r) | {"cycles": self.predicted_cycles(r.index)}
                           for r in self.layers],
                "spi": spi_protocol(self)}


# ---------------------------------------------------------------- code pieces


def requant_function(name: str, in_w: int, src_frac: int, t: FixedType) -> str:
    """A SystemVerilog function equal to ``t.requantize(v, src_frac)`` for ``in_w``-bit signed
    ``v``: shift with ``t``'s rounding, then saturate or wrap (:mod:`squall.engines.fixedpoint`)."""
    s = src_frac - t.frac
    qw = in_w + 1 + max(0, -s)
    lines = [f"    // {t.spec} from {in_w}-bit values with {src_frac} fraction bits",
             f"    function automatic [{t.width - 1}:0] {name}(input signed [{in_w - 1}:0] v);",
             f"        reg signed [{qw - 1}:0] q;", "        begin"]
    if s <= 0:
        lines += ["            q = v;", f"            q = q <<< {-s};"]
    else:
        lines.append(f"            q = v >>> {s};")
        low = f"(|v[{s - 2}:0])" if s >= 2 else "1'b0"
        gt, eq = f"(v[{s - 1}] && {low})", f"(v[{s - 1}] && !{low})"
        up = {"trn": None, "rnd": f"v[{s - 1}]",
              "trn_zero": f"(v[{in_w - 1}] && |v[{s - 1}:0])",
              "rnd_conv": f"({gt} || ({eq} && q[0]))",
              "rnd_inf": f"({gt} || ({eq} && !v[{in_w - 1}]))",
              "rnd_zero": f"({gt} || ({eq} && v[{in_w - 1}]))"}[t.rounding]
        if up:
            lines.append(f"            if ({up}) q = q + 1;")
    if t.overflow == "sat":
        lines += [f"            if (q > {sv_int(t.max_code, qw)}) {name} = {t.width}'d"
                  f"{t.max_code & ((1 << t.width) - 1)};",
                  f"            else if (q < {sv_int(t.min_code, qw)}) {name} = {t.width}'d"
                  f"{t.min_code & ((1 << t.width) - 1)};",
                  f"            else {name} = q[{t.width - 1}:0];"]
    else:
        lines.append(f"            {name} = q[{t.width - 1}:0];")
    lines += ["        end", "    endfunction", ""]
    return "\n".join(lines)


def _ext(expr: str, t: FixedType) -> str:
    """``expr`` (a ``t``-typed bit vector) as a signed operand."""
    return f"$signed({expr})" if t.signed else f"$signed({{1'b0, {expr}}})"


def activation_function(name: str, unit: ActivationUnit, table: str) -> str:
    """A SystemVerilog function computing ``unit(code)`` from the table memories ``table``
    (LUT: ``<table>``; PWL: ``<table>_y`` and ``<table>_slope``)."""
    act, inp = unit.act, unit.inp
    out = act.out
    xw = max(inp.width, signed_bits(unit.lo_code), signed_bits(unit.hi_code)) + 1
    kb = act.spec.size_bits
    lines = [f"    // {act.fn} of a {inp} code: clamp to [{unit.lo_code}, {unit.hi_code}], "
             f"index = (code - ({unit.lo_code})) >> {unit.shift}",
             f"    function automatic [{out.width - 1}:0] {name}(input signed [{inp.width - 1}:0]"
             f" v);",
             f"        reg signed [{xw - 1}:0] c;", f"        reg [{xw - 1}:0] off;",
             f"        reg [{max(kb, 1) - 1}:0] k;"]
    if act.spec.method == "pwl":
        st = act.slope_type
        frac = st.frac + inp.frac
        up = frac - out.frac
        aw = max(out.width + 1 + max(up, 0), st.width + unit.shift + 2) + 2
        lines += [f"        reg signed [{aw - 1}:0] acc;"]
    lines += ["        begin", "            c = v;",
              f"            if (c < {sv_int(unit.lo_code, xw)}) c = {sv_int(unit.lo_code, xw)};",
              f"            else if (c > {sv_int(unit.hi_code, xw)}) c = "
              f"{sv_int(unit.hi_code, xw)};",
              f"            off = c - {sv_int(unit.lo_code, xw)};",
              f"            k = off >> {unit.shift};"]
    if act.spec.method == "lut":
        lines.append(f"            {name} = {table}[k];")
    else:
        d = f"$signed({{1'b0, off[{unit.shift - 1}:0]}})" if unit.shift else "0"
        lines += [f"            acc = ({_ext(f'{table}_y[k]', out)} <<< {max(up, 0)}) + "
                  f"$signed({table}_slope[k]) * {d};",
                  f"            {name} = {name}_rq(acc);"]
    lines += ["        end", "    endfunction", ""]
    if act.spec.method == "pwl":
        lines.insert(0, requant_function(f"{name}_rq", aw, frac, out))
    return "\n".join(lines)


def _table_decls(design: RtlDesign) -> str:
    """Table memories of both activations, loaded from the export's .mem files."""
    out = []
    for act in (design.model.sigmoid, design.model.tanh):
        w, n = act.out.width, act.spec.size
        if act.spec.method == "lut":
            out += [f"    reg [{w - 1}:0] {act.fn}_lut [0:{n - 1}];",
                    f"    initial $readmemh(\"{act.fn}_lut.mem\", {act.fn}_lut);"]
        else:
            sw = act.slope_type.width
            out += [f"    reg [{w - 1}:0] {act.fn}_pwl_y [0:{n - 1}];",
                    f"    reg [{sw - 1}:0] {act.fn}_pwl_slope [0:{n - 1}];",
                    f"    initial $readmemh(\"{act.fn}_pwl_y.mem\", {act.fn}_pwl_y);",
                    f"    initial $readmemh(\"{act.fn}_pwl_slope.mem\", {act.fn}_pwl_slope);"]
    return "\n".join(out) + "\n"


def _table_name(act) -> str:
    return f"{act.fn}_lut" if act.spec.method == "lut" else f"{act.fn}_pwl"


def _fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", str(value))
    if "@" in template.replace("@(", "").replace("@*", ""):
        left = template[template.index("@"):][:40]
        raise AssertionError(f"unfilled template field near {left!r}")
    return template


# ---------------------------------------------------------------- the mat-vec unit

MATVEC = r"""
module squall_matvec (
    input  wire                 clk,
    input  wire                 rst,        // synchronous, active high
    input  wire                 start,      // in idle: begin a mat-vec of `layer`
    input  wire [@LB@-1:0]      layer,      // the bundle's layer index
    input  wire                 in_valid,   // the vector, one value per clock, `cols` values
    input  wire signed [@DW@-1:0] in_data,
    output wire                 in_ready,
    output reg                  out_valid,  // the results, one accumulator per clock, in row order
    output reg  [@RB@-1:0]      out_row,
    output reg  signed [@AW@-1:0] out_acc,
    output reg                  done,       // with the last result
    output wire                 busy,
    output reg                  bad_layer   // start named a layer the ROM does not hold
);
    localparam P = @P@;
    localparam S_IDLE = 2'd0, S_LOAD = 2'd1, S_RUN = 2'd2, S_FLUSH = 2'd3;

    // weights: word (layer base + g * cols + j) holds column j of rows g*P .. g*P+P-1, lane p
    // in bits [p*@WW@ +: @WW@]; biases: word (bias base + g), same lanes
    reg [P*@WW@-1:0] wrom [0:@WDEPTH@-1];
    reg [P*@BW@-1:0] brom [0:@BDEPTH@-1];
    initial $readmemh("matvec_weights.mem", wrom);
    initial $readmemh("matvec_bias.mem", brom);

    reg [1:0] state;
    reg [@CB@-1:0] cols, lcnt, j, pad;
    reg [@RB@-1:0] rows;
    reg [@GB@-1:0] groups, g;
    reg [@WAB@-1:0] waddr;
    reg [@BAB@-1:0] bbase;
    wire [@BAB@-1:0] baddr = bbase + g;     // declared: an index sum is self-determined
    reg signed [@DW@-1:0] vbuf [0:@MAXC@-1];

    // the MAC stage, one clock behind the ROM address
    reg d_valid, d_first, d_last;
    reg [@CB@-1:0] d_j;
    reg [@GB@-1:0] d_g;
    reg [P*@WW@-1:0] wq;
    reg [P*@BW@-1:0] bq;
    reg [P*@AW@-1:0] acc, ob;
    wire [P*@AW@-1:0] nxt;
    wire signed [@DW@-1:0] vcur = vbuf[d_j];

    // the drain: the finished group's results, one per clock
    reg [@PB@-1:0] drain_left, drain_idx;
    reg [@RB@-1:0] drain_row;

    assign in_ready = (state == S_LOAD);
    assign busy = (state != S_IDLE);

    genvar p;
    generate
        for (p = 0; p < P; p = p + 1) begin : lane
            wire signed [@WW@-1:0] w = wq[p*@WW@ +: @WW@];
            wire signed [@BW@-1:0] b = bq[p*@BW@ +: @BW@];
            wire signed [@AW@-1:0] base = d_first ? ($signed(b) <<< @BS@)
                                                  : $signed(acc[p*@AW@ +: @AW@]);
            assign nxt[p*@AW@ +: @AW@] = base + w * vcur;
        end
    endgenerate

    always @(posedge clk) begin
        d_valid <= 1'b0;
        out_valid <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            drain_left <= 0;
            bad_layer <= 1'b0;
        end else begin
            case (state)
            S_IDLE: if (start) begin
                bad_layer <= 1'b0;
                lcnt <= 0;
                state <= S_LOAD;
                case (layer)
@LAYER_CASES@
                default: begin state <= S_IDLE; bad_layer <= 1'b1; done <= 1'b1; end
                endcase
            end
            S_LOAD: if (in_valid) begin
                vbuf[lcnt] <= in_data;
                lcnt <= lcnt + 1'b1;
                if (lcnt == cols - 1'b1) begin
                    state <= S_RUN;
                    j <= 0;
                    g <= 0;
                    pad <= 0;
                end
            end
            S_RUN: if (pad != 0) begin
                pad <= pad - 1'b1;
            end else begin
                wq <= wrom[waddr];
                bq <= brom[baddr];
                d_valid <= 1'b1;
                d_first <= (j == 0);
                d_last <= (j == cols - 1'b1);
                d_j <= j;
                d_g <= g;
                waddr <= waddr + 1'b1;
                if (j == cols - 1'b1) begin
                    j <= 0;
                    // a group lasts at least P clocks, so its results drain before the next's
                    pad <= (cols < P) ? P - cols : 0;
                    if (g == groups - 1'b1) state <= S_FLUSH;
                    else g <= g + 1'b1;
                end else begin
                    j <= j + 1'b1;
                end
            end
            default: ;  // S_FLUSH: the last group drains below
            endcase

            if (d_valid) begin
                if (d_last) ob <= nxt;
                else acc <= nxt;
            end
            if (drain_left != 0) begin
                out_valid <= 1'b1;
                out_acc <= ob[drain_idx*@AW@ +: @AW@];
                out_row <= drain_row;
                drain_row <= drain_row + 1'b1;
                drain_idx <= drain_idx + 1'b1;
                drain_left <= drain_left - 1'b1;
                if (state == S_FLUSH && !d_valid && drain_left == 1) begin
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            end
            if (d_valid && d_last) begin     // after the drain: a new group replaces it
                drain_left <= (rows - d_g * P > P) ? P : rows - d_g * P;
                drain_idx <= 0;
                drain_row <= d_g * P;
            end
        end
    end
endmodule
"""


def matvec_sv(d: RtlDesign) -> str:
    cfg = d.config
    cases = []
    for r in d.layers:
        cases.append(f"                {d.layer_bits}'d{r.index}: begin cols <= {r.cols}; "
                     f"rows <= {r.rows}; groups <= {r.groups}; waddr <= {r.wbase}; "
                     f"bbase <= {r.bbase}; end  // {r.kind} {r.rows}x{r.cols}")
    wdepth = sum(r.groups * r.cols for r in d.layers)
    bdepth = sum(r.groups for r in d.layers)
    values = {"LB": d.layer_bits, "DW": cfg.data.width, "WW": cfg.weight.width,
              "BW": cfg.bias.width, "AW": d.acc_w, "P": d.lanes, "RB": _bits(d.max_rows),
              "CB": _bits(max(d.max_cols, d.lanes)), "GB": _bits(max(r.groups for r in d.layers)),
              "WAB": _bits(wdepth), "BAB": _bits(bdepth), "WDEPTH": wdepth, "BDEPTH": bdepth,
              "MAXC": d.max_cols, "PB": _bits(d.lanes), "BS": d.model.bias_shift,
              "LAYER_CASES": "\n".join(cases)}
    return d.header("squall_matvec: time-multiplexed mat-vec unit, P lanes") + \
        _fill(MATVEC, values)


# ---------------------------------------------------------------- the LSTM cell

CELL = r"""
module squall_lstm_cell (
    input  wire                 clk,
    input  wire                 rst,         // synchronous, active high; also zeroes the state
    input  wire                 start,       // in idle: one step of `layer`
    input  wire [@LB@-1:0]      layer,
    input  wire                 clear,       // in idle: h = c = 0 (before a sequence)
    input  wire                 x_valid,     // x, one value per clock, n values
    input  wire signed [@DW@-1:0] x_data,
    output wire                 x_ready,
    input  wire                 st_we,       // in idle: write h[st_idx], c[st_idx]
    input  wire [@HB@-1:0]      st_idx,
    input  wire signed [@DW@-1:0] st_h,
    input  wire signed [@CW@-1:0] st_c,
    output reg                  out_valid,   // the new (h, c) of unit out_idx, in unit order
    output reg  [@HB@-1:0]      out_idx,
    output reg  signed [@DW@-1:0] out_h,
    output reg  signed [@CW@-1:0] out_c,
    output reg                  done,        // with the last unit
    output wire                 busy,
    output wire                 bad_layer
);
    localparam S_IDLE = 2'd0, S_FEED = 2'd1, S_WAIT = 2'd2, S_UPD = 2'd3;
    localparam MAXH = @MAXH@;

    reg [1:0] state;
    reg s1_valid, s1_last;              // update stage 1 holds a unit for stage 2
    reg [@NB@-1:0] n_in, feed;          // inputs of the layer; values fed so far
    reg [@HB@-1:0] hid, k;              // units of the layer; unit being updated
    reg signed [@DW@-1:0] h_mem [0:MAXH-1];
    reg signed [@CW@-1:0] c_mem [0:MAXH-1];
    reg signed [@ZW@-1:0] zbuf [0:4*MAXH-1];

@TABLES@
@FUNCTIONS@
    // the mat-vec unit over [x, h]
    reg is_lstm;
    always @* begin
        case (layer)
@LSTM_CASES@
        default: is_lstm = 1'b0;
        endcase
    end
    reg bad;
    assign bad_layer = bad;
    // idle once the last unit's write has landed (a clear or a new step cannot race it)
    wire idle = (state == S_IDLE) && !s1_valid;
    wire mv_start = idle && start && is_lstm;
    wire from_x = (feed < n_in);
    wire mv_in_valid = (state == S_FEED) && (from_x ? x_valid : 1'b1);
    wire [@NB@-1:0] at_h = feed - n_in;
    wire signed [@DW@-1:0] mv_in_data = from_x ? x_data : h_mem[at_h];
    wire mv_in_ready, mv_out_valid, mv_done, mv_busy;
    wire [@RB@-1:0] mv_out_row;
    wire signed [@AW@-1:0] mv_out_acc;
    assign x_ready = (state == S_FEED) && from_x && mv_in_ready;
    assign busy = !idle;

    squall_matvec mv (
        .clk(clk), .rst(rst), .start(mv_start), .layer(layer),
        .in_valid(mv_in_valid), .in_data(mv_in_data), .in_ready(mv_in_ready),
        .out_valid(mv_out_valid), .out_row(mv_out_row), .out_acc(mv_out_acc),
        .done(mv_done), .busy(mv_busy), .bad_layer());

    // update stage 1 (unit k): gates from the pre-activations, the new c
    // (index sums declared wide: an index expression is self-determined, so `hid + k` alone
    // would be computed in the width of hid and wrap)
    wire [@ZB@-1:0] at_f = hid + k;
    wire [@ZB@-1:0] at_g = 2 * hid + k;
    wire [@ZB@-1:0] at_o = 3 * hid + k;
    wire signed [@ZW@-1:0] z_i = zbuf[k];
    wire signed [@ZW@-1:0] z_f = zbuf[at_f];
    wire signed [@ZW@-1:0] z_g = zbuf[at_g];
    wire signed [@ZW@-1:0] z_o = zbuf[at_o];
    wire [@SW@-1:0] g_i = sigmoid_z(z_i);
    wire [@SW@-1:0] g_f = sigmoid_z(z_f);
    wire [@TW@-1:0] g_g = tanh_z(z_g);
    wire [@SW@-1:0] g_o = sigmoid_z(z_o);
    wire signed [@KW@-1:0] c_acc = ((@F_TIMES_C@) <<< @FC_SHIFT@) + ((@I_TIMES_G@) <<< @IG_SHIFT@);
    wire [@CW@-1:0] c_new = rq_c(c_acc);
    reg [@HB@-1:0] s1_k;
    reg [@SW@-1:0] s1_o;
    reg signed [@CW@-1:0] s1_c;
    // stage 2: h from o and tanh(c)
    wire [@TW@-1:0] t_c = tanh_c(s1_c);
    wire signed [@HW@-1:0] h_acc = @O_TIMES_T@;
    wire [@DW@-1:0] h_new = rq_h(h_acc);

    integer u;
    always @(posedge clk) begin
        out_valid <= 1'b0;
        done <= 1'b0;
        s1_valid <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            bad <= 1'b0;
            for (u = 0; u < MAXH; u = u + 1) begin
                h_mem[u] <= 0;
                c_mem[u] <= 0;
            end
        end else begin
            case (state)
            S_IDLE: if (!s1_valid) begin
                if (clear)
                    for (u = 0; u < MAXH; u = u + 1) begin
                        h_mem[u] <= 0;
                        c_mem[u] <= 0;
                    end
                if (st_we) begin
                    h_mem[st_idx] <= st_h;
                    c_mem[st_idx] <= st_c;
                end
                if (start) begin
                    feed <= 0;
                    bad <= !is_lstm;
                    state <= is_lstm ? S_FEED : S_IDLE;
                    done <= !is_lstm;    // a layer that is not an LSTM: flagged, nothing done
                    case (layer)
@LAYER_CASES@
                    default: ;
                    endcase
                end
            end
            S_FEED: if (mv_in_valid && mv_in_ready) begin
                feed <= feed + 1'b1;
                if (feed == n_in + hid - 1'b1) state <= S_WAIT;
            end
            S_WAIT: if (mv_done) begin
                k <= 0;
                state <= S_UPD;
            end
            default: begin      // S_UPD: one unit per clock
                s1_valid <= 1'b1;
                s1_last <= (k == hid - 1'b1);
                s1_k <= k;
                s1_o <= g_o;
                s1_c <= c_new;
                k <= k + 1'b1;
                if (k == hid - 1'b1) state <= S_IDLE;
            end
            endcase
            if (mv_out_valid) zbuf[mv_out_row] <= rq_z(mv_out_acc);
            if (s1_valid) begin
                h_mem[s1_k] <= h_new;
                c_mem[s1_k] <= s1_c;
                out_valid <= 1'b1;
                out_idx <= s1_k;
                out_h <= h_new;
                out_c <= s1_c;
                done <= s1_last;
            end
        end
    end
endmodule
"""


def _times(a: str, ta: FixedType, b: str, tb: FixedType) -> str:
    return f"{_ext(a, ta)} * {_ext(b, tb)}"


def cell_sv(d: RtlDesign) -> str:
    cfg, m = d.config, d.model
    sig, tanh = _table_name(m.sigmoid), _table_name(m.tanh)
    kw = m.cell_bits + 1
    hw = cfg.sigmoid.width + cfg.tanh.width + 2
    functions = "\n".join([
        requant_function("rq_z", d.acc_w, m.acc_frac, cfg.preact),
        requant_function("rq_c", kw, m.cell_frac, cfg.cell),
        requant_function("rq_h", hw, m.h_frac, cfg.data),
        activation_function("sigmoid_z", m.sig_z, sig),
        activation_function("tanh_z", m.tanh_z, tanh),
        activation_function("tanh_c", m.tanh_c, tanh)])
    cases = [f"                    {d.layer_bits}'d{r.index}: begin n_in <= {r.inputs}; "
             f"hid <= {r.hidden}; end" for r in d.layers if r.kind == "lstm"]
    values = {"LB": d.layer_bits, "DW": cfg.data.width, "CW": cfg.cell.width,
              "HB": _bits(d.max_hidden), "MAXH": d.max_hidden,
              "NB": _bits(d.max_inputs + d.max_hidden), "ZW": cfg.preact.width,
              "ZB": _bits(4 * d.max_hidden),
              "SW": cfg.sigmoid.width, "TW": cfg.tanh.width, "KW": kw, "HW": hw,
              "RB": _bits(d.max_rows), "AW": d.acc_w, "TABLES": _table_decls(d),
              "FUNCTIONS": functions,
              "F_TIMES_C": _times("g_f", cfg.sigmoid, "c_mem[k]", cfg.cell),
              "I_TIMES_G": _times("g_i", cfg.sigmoid, "g_g", cfg.tanh),
              "FC_SHIFT": m.fc_shift, "IG_SHIFT": m.ig_shift,
              "O_TIMES_T": _times("s1_o", cfg.sigmoid, "t_c", cfg.tanh),
              "LAYER_CASES": "\n".join(cases),
              "LSTM_CASES": "\n".join(f"        {d.layer_bits}'d{r.index}: is_lstm = 1'b1;"
                                       for r in d.layers if r.kind == "lstm")}
    return d.header("squall_lstm_cell: one LSTM step (mat-vec, activations, state update)") + \
        _fill(CELL, values)


# ---------------------------------------------------------------- the layer sequencer

LAYER = r"""
module squall_lstm_layer (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,       // in idle: run `layer` over T steps from h = c = 0
    input  wire [@LB@-1:0]      layer,
    input  wire                 x_valid,     // x of each step, one value per clock
    input  wire signed [@DW@-1:0] x_data,
    output wire                 x_ready,
    output wire                 out_valid,   // every step's (h, c), unit by unit
    output reg  [@TB@-1:0]      out_step,
    output wire [@HB@-1:0]      out_idx,
    output wire signed [@DW@-1:0] out_h,
    output wire signed [@CW@-1:0] out_c,
    output reg                  done,        // one clock after the last step's last unit
    output wire                 busy,
    output wire                 bad_layer
);
    localparam T = @T@;
    reg running, kick;
    reg [@LB@-1:0] lay;
    wire cell_done, cell_busy;
    assign busy = running;

    squall_lstm_cell u_cell (
        .clk(clk), .rst(rst), .start(kick), .layer(lay), .clear(start && !running),
        .x_valid(x_valid), .x_data(x_data), .x_ready(x_ready),
        .st_we(1'b0), .st_idx(@HB@'d0), .st_h(@DW@'sd0), .st_c(@CW@'sd0),
        .out_valid(out_valid), .out_idx(out_idx), .out_h(out_h), .out_c(out_c),
        .done(cell_done), .busy(cell_busy), .bad_layer(bad_layer));

    always @(posedge clk) begin
        kick <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            running <= 1'b0;
        end else if (!running) begin
            if (start) begin
                running <= 1'b1;
                kick <= 1'b1;
                lay <= layer;
                out_step <= 0;
            end
        end else if (cell_done) begin
            if (out_step == T - 1 || bad_layer) begin
                running <= 1'b0;
                done <= 1'b1;
            end else begin
                out_step <= out_step + 1'b1;
                kick <= 1'b1;
            end
        end
    end
endmodule
"""


def layer_sv(d: RtlDesign) -> str:
    cfg = d.config
    values = {"LB": d.layer_bits, "DW": cfg.data.width, "CW": cfg.cell.width,
              "HB": _bits(d.max_hidden), "TB": _bits(d.length), "T": d.length}
    return d.header("squall_lstm_layer: runs one LSTM layer over T steps") + _fill(LAYER, values)


# ---------------------------------------------------------------- SPI


def spi_protocol(d: RtlDesign) -> dict:
    """The SPI front end's protocol, as the README and the testbench use it."""
    return {
        "mode": "SPI mode 0 (CPOL 0, CPHA 0), MSB first, one data line each way",
        "in_bits": SPI_IN_BITS, "out_bits": SPI_OUT_BITS, "max_words": SPI_WORDS,
        "write": "CS low; command word (bit 15 = 0, bit 14 = clear h and c first, bits "
                 f"{d.layer_bits - 1}..0 = layer); then the layer's n input values, one "
                 "16-bit word each (two's complement, sign-extended); CS high. The step "
                 "starts with the command and the `ready` pin rises when h and c are ready.",
        "read": "CS low; command word 0x8000; then 32 clocks per result word: word k = "
                "{c[k], h[k]} (c in bits 31..16, h in 15..0, each sign-extended to 16 bits); "
                "CS high.",
        "clocks": {"write": "16 (command) + 16 n", "read": "16 (command) + 32 H"}}


SPI_SLAVE = r"""
module squall_spi_slave (
    input  wire        clk,         // system clock, at least 4x sclk
    input  wire        rst,
    input  wire        sclk,        // SPI mode 0 from the master
    input  wire        cs_n,
    input  wire        mosi,
    output wire        miso,
    output reg         rx_valid,    // a received 16-bit word (system clock domain)
    output reg  [15:0] rx_data,
    output reg         rx_first,    // with rx_valid: the transaction's first word (the command)
    output reg         txn_end,     // pulse: CS went high
    input  wire        tx_we,       // write result word tx_addr (system clock domain)
    input  wire [@AB@-1:0] tx_addr,
    input  wire [31:0] tx_data
);
    localparam WORDS = @WORDS@;
    reg [31:0] tx_buf [0:WORDS-1];
    integer i;
    initial for (i = 0; i < WORDS; i = i + 1) tx_buf[i] = 32'd0;   // FPGA power-up contents
    always @(posedge clk) if (tx_we) tx_buf[tx_addr] <= tx_data;

    // SCLK domain, receive on the rising edge: 16-bit frames; whether a word is the
    // transaction's first (the command) is decided here and travels with the word, so a short
    // CS-high pulse between transactions cannot be missed
    reg [3:0] rbit;
    reg [14:0] rshift;
    reg [15:0] rword;
    reg rword_first, rseen;
    reg rtoggle;
    always @(posedge sclk or posedge cs_n) begin
        if (cs_n) begin
            rbit <= 4'd0;
            rseen <= 1'b0;
        end else begin
            rshift <= {rshift[13:0], mosi};
            rbit <= rbit + 4'd1;
            if (rbit == 4'd15) begin
                rword <= {rshift, mosi};
                rword_first <= !rseen;
                rseen <= 1'b1;
            end
        end
    end
    initial rtoggle = 1'b0;
    always @(posedge sclk) if (!cs_n && rbit == 4'd15) rtoggle <= ~rtoggle;

    // SCLK domain, send on the falling edge: after the 16-clock command, 32-bit words MSB first
    reg [@CNTB@-1:0] tcnt;             // falling edges so far in this transaction
    always @(negedge sclk or posedge cs_n) begin
        if (cs_n) tcnt <= 0;
        else if (tcnt != {@CNTB@{1'b1}}) tcnt <= tcnt + 1'b1;
    end
    wire [@CNTB@-1:0] tpos = tcnt - @CNTB@'d16;
    wire [@CNTB@-6:0] tword = tpos[@CNTB@-1:5];
    wire [4:0] tbit = ~tpos[4:0];
    wire [31:0] tcur = tx_buf[tword[@AB@-1:0]];
    assign miso = cs_n ? 1'bz                       // released when not selected
                : (tcnt >= @CNTB@'d16 && tword < WORDS) ? tcur[tbit] : 1'b0;

    // into the system clock domain: two flip-flops, then edge detection. During reset the
    // synchroniser keeps shifting (no pulses), so a toggle left from before the reset is not
    // taken for a new word: hold rst for at least 3 clocks.
    reg [2:0] tsync, csync;
    always @(posedge clk) begin
        rx_valid <= 1'b0;
        txn_end <= 1'b0;
        tsync <= {tsync[1:0], rtoggle};
        csync <= {csync[1:0], cs_n};
        if (!rst) begin
            if (tsync[2] != tsync[1]) begin       // rword is stable for 15 more SCLK periods
                rx_valid <= 1'b1;
                rx_data <= rword;
                rx_first <= rword_first;
            end
            if (csync[1] && !csync[2]) txn_end <= 1'b1;
        end
    end
endmodule
"""

SPI_TOP = r"""
module squall_spi_top (
    input  wire clk,
    input  wire rst,
    input  wire sclk,
    input  wire cs_n,
    input  wire mosi,
    output wire miso,
    output reg  ready,              // the step's h and c can be read
    output wire bad_layer
);
    wire rx_valid, rx_first, txn_end;
    wire [15:0] rx_data;
    reg tx_we;
    reg [@AB@-1:0] tx_addr;
    reg [31:0] tx_data;
    reg writing;                    // inside a write transaction: data words go to the cell
    wire is_cmd = rx_valid && rx_first;
    wire write_cmd = is_cmd && !rx_data[15];

    squall_spi_slave spi (
        .clk(clk), .rst(rst), .sclk(sclk), .cs_n(cs_n), .mosi(mosi), .miso(miso),
        .rx_valid(rx_valid), .rx_data(rx_data), .rx_first(rx_first), .txn_end(txn_end),
        .tx_we(tx_we), .tx_addr(tx_addr), .tx_data(tx_data));

    wire out_valid, done, busy, x_ready;
    wire [@HB@-1:0] out_idx;
    wire signed [@DW@-1:0] out_h;
    wire signed [@CW@-1:0] out_c;
    squall_lstm_cell u_cell (
        .clk(clk), .rst(rst), .start(write_cmd), .layer(rx_data[@LB@-1:0]),
        .clear(write_cmd && rx_data[14]),
        .x_valid(rx_valid && !rx_first && writing), .x_data(rx_data[@DW@-1:0]),
        .x_ready(x_ready), .st_we(1'b0), .st_idx(@HB@'d0), .st_h(@DW@'sd0), .st_c(@CW@'sd0),
        .out_valid(out_valid), .out_idx(out_idx), .out_h(out_h), .out_c(out_c),
        .done(done), .busy(busy), .bad_layer(bad_layer));

    always @(posedge clk) begin
        tx_we <= 1'b0;
        if (rst) begin
            ready <= 1'b0;
            writing <= 1'b0;
        end else begin
            if (is_cmd) begin
                writing <= write_cmd;
                if (write_cmd) ready <= 1'b0;
            end
            if (txn_end) writing <= 1'b0;
            if (out_valid) begin
                tx_we <= 1'b1;
                tx_addr <= out_idx;
                tx_data <= {{(16-@CW@){out_c[@CW@-1]}}, out_c, {(16-@DW@){out_h[@DW@-1]}}, out_h};
            end
            if (done) ready <= 1'b1;
        end
    end
endmodule
"""


def spi_fits(d: RtlDesign) -> str | None:
    """Why the SPI top cannot be generated for this design, or None."""
    cfg = d.config
    if cfg.data.width > 16 or cfg.cell.width > 16:
        return (f"the SPI top packs h and c into 16 bits each; data {cfg.data} / cell "
                f"{cfg.cell} are wider")
    if d.max_inputs > SPI_WORDS or d.max_hidden > SPI_WORDS:
        return f"a layer has more than {SPI_WORDS} inputs or units (one SPI transaction each)"
    if d.layer_bits > 14:
        return "layer indices need more than 14 bits of the command word"
    return None


def spi_slave_sv(d: RtlDesign) -> str:
    cnt = _bits(16 + 32 * SPI_WORDS) + 1
    values = {"AB": _bits(SPI_WORDS - 1), "WORDS": SPI_WORDS, "CNTB": cnt}
    return d.header("squall_spi_slave: SPI mode 0 slave, 16-bit words in, 32-bit words out") + \
        _fill(SPI_SLAVE, values)


def spi_top_sv(d: RtlDesign) -> str:
    cfg = d.config
    values = {"AB": _bits(SPI_WORDS - 1), "HB": _bits(d.max_hidden), "DW": cfg.data.width,
              "CW": cfg.cell.width, "LB": d.layer_bits}
    return d.header("squall_spi_top: the LSTM cell behind the SPI slave") + _fill(SPI_TOP, values)


# ---------------------------------------------------------------- writing it out


def design_files(d: RtlDesign) -> dict[str, str]:
    """Every generated file's text (the export subdirectory aside)."""
    cfg = d.config
    wrom, brom = d.rom_words()
    files = {"squall_matvec.sv": matvec_sv(d), "squall_lstm_cell.sv": cell_sv(d),
             "squall_lstm_layer.sv": layer_sv(d),
             "matvec_weights.mem": d.rom_text(wrom, cfg.weight),
             "matvec_bias.mem": d.rom_text(brom, cfg.bias)}
    for name, (codes, t, _what) in table_files(d.model).items():
        files[f"{name}.mem"] = mem_text(codes, t)
    if spi_fits(d) is None:
        files["squall_spi_slave.sv"] = spi_slave_sv(d)
        files["squall_spi_top.sv"] = spi_top_sv(d)
    manifest = d.manifest()
    manifest["spi_top"] = spi_fits(d) or "generated"
    manifest["sources"] = [f for f in files if f.endswith(".sv")]
    files["rtl.json"] = json.dumps(manifest, indent=1) + "\n"
    files["README.md"] = readme(d, manifest)
    return files


_replaceable = written_by("rtl.json", FORMAT)


def write_rtl(bundle: Bundle, out: str | os.PathLike[str], config="16", lanes: int = 16,
              windows=None, source: str = "") -> RtlDesign:
    """Generate the RTL directory ``out`` atomically (with the fixed-point export, golden
    vectors included, in ``out/export``); returns the design."""
    d = RtlDesign(bundle, config, lanes)
    files = design_files(d)
    with atomic_dir(out, _replaceable) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        export_bundle(bundle, tmp / "export", d.config, windows=windows, source=source)
    return d


def load_design(directory: str | os.PathLike[str]) -> dict:
    """The ``rtl.json`` manifest of a generated directory (one-line errors)."""
    from squall.io import read_json
    from squall.limits import directory as existing_directory
    from squall.limits import regular_file

    path = existing_directory(directory, "`squall hw rtl` directory") / "rtl.json"
    if not path.exists():
        raise SquallError(f"{directory} is not a `squall hw rtl` directory (no rtl.json)")
    manifest = read_json(regular_file(path, "RTL manifest"))
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or manifest.get("version") != VERSION):
        raise SquallError(f"{path} is not a squall RTL manifest of version {VERSION}")
    return manifest


def readme(d: RtlDesign, manifest: dict) -> str:
    cfg = d.config
    spi = manifest["spi"]
    lines = [
        "# Generated SystemVerilog", "",
        f"Made by `squall hw rtl` for a bundle with layers "
        f"{', '.join(layer_label(s) for s in d.bundle.layers)} (weights digest "
        f"`{manifest['bundle']['weights_digest']}`), fixed-point configuration `{cfg.name}`, "
        f"P = {d.lanes} MAC lanes. Regenerate rather than edit.", "",
        "## Top modules", "",
        "| module | file | what |", "|---|---|---|",
        "| `squall_matvec` | squall_matvec.sv | time-multiplexed mat-vec unit: P MAC lanes, "
        "weights from a ROM, vector streamed in, accumulators streamed out |",
        "| `squall_lstm_cell` | squall_lstm_cell.sv | one LSTM step: mat-vec over [x, h], "
        "sigmoid/tanh tables, c and h update, state registers (instantiates squall_matvec) |",
        "| `squall_lstm_layer` | squall_lstm_layer.sv | sequencer: one layer over "
        f"T = {d.length} steps from zero state (instantiates squall_lstm_cell) |"]
    if manifest["spi_top"] == "generated":
        lines += ["| `squall_spi_slave` | squall_spi_slave.sv | SPI mode 0 slave: 16-bit words "
                  "in, 32-bit words out, up to 64 per transaction |",
                  "| `squall_spi_top` | squall_spi_top.sv | the LSTM cell behind the SPI slave "
                  "(instantiates squall_spi_slave, squall_lstm_cell, squall_matvec) |"]
    else:
        lines += ["", f"No SPI top: {manifest['spi_top']}."]
    lines += ["", "Compile everything with `iverilog -g2012 -o sim *.sv` (choose the top with "
              "`-s`) and lint them with `verilator --lint-only *.sv` (or `--top-module TOP`); "
              "simulate from this directory (the ROMs are read with `$readmemh` by relative "
              "path). Clock: one, rising edge; reset synchronous, active high.", "",
              "## Memories", "",
              f"- `matvec_weights.mem`: {sum(r.groups * r.cols for r in d.layers)} words of "
              f"{d.lanes} x {cfg.weight} (lane p in bits p*{cfg.weight.width} and up). Layer L "
              "starts at its base word; word base + g*cols + j holds column j of rows "
              f"g*{d.lanes} .. g*{d.lanes}+{d.lanes - 1} (rows past the layer's end are 0). For "
              "an LSTM the matrix is [W | U], rows in gate order i, f, g, o.",
              f"- `matvec_bias.mem`: one word of {d.lanes} x {cfg.bias} per row group.",
              "- `*_lut.mem` / `*_pwl_*.mem`: the activation tables, the same files as "
              "`export/` (made by the same code).",
              "- `export/`: the fixed-point export (`squall hw export`): the canonical weight "
              "files, the golden vectors and their README.", "",
              "| layer | kind | rows x cols | groups | weight base | bias base | accumulator | "
              "clocks per mat-vec | clocks per step |", "|---|---|---|---|---|---|---|---|---|"]
    for r in manifest["layers"]:
        c = r["cycles"]
        lines.append(f"| {r['index']} | {r['kind']} | {r['rows']} x {r['cols']} | {r['groups']} "
                     f"| {r['wbase']} | {r['bbase']} | {r['acc_bits']} bits | {c['matvec']} | "
                     f"{c.get('step', '')} |")
    lines += ["", "Clocks (start to done, both counted): a mat-vec of R rows and C columns "
              "takes C (load) + G C (MACs, G = ceil(R/P) groups) + (G-1) max(0, P-C) (padding "
              "when C < P) + 2 + r (pipeline and the last group's r results); an LSTM step "
              "adds H + 2 (the update pipeline). Measured in simulation by "
              "`squall hw cycles`.", "",
              "## Arithmetic", "",
              "As the fixed engine and `export/README.md` state it: exact accumulators "
              f"({d.acc_w} bits here), then round and saturate to the pre-activation format, "
              "table activations, the cell update and the output, each a generated function "
              "(`rq_z`, `rq_c`, `rq_h`, `sigmoid_z`, `tanh_z`, `tanh_c`) in "
              "squall_lstm_cell.sv.", "",
              "## SPI protocol", "", f"- {spi['mode']}; {spi['in_bits']}-bit words in, "
              f"{spi['out_bits']}-bit words out, up to {spi['max_words']} words per transaction.",
              f"- Write: {spi['write']}", f"- Read: {spi['read']}",
              f"- Clocks per transaction: write {spi['clocks']['write']}, read "
              f"{spi['clocks']['read']}.", ""]
    return "\n".join(lines)
