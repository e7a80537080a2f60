"""Export a bundle for hardware: weights, biases and activation tables as ``.mem`` files, golden
vectors per layer from the fixed engine, a generated README, and the reader that checks it all.

``.mem`` files are what Verilog's ``$readmemh`` reads: one hex word per line, two's complement for
signed formats, ``ceil(width / 4)`` digits, no address markers. Every file's format, word count,
shape and reading order is in ``manifest.json`` and in the generated ``README.md``.

Golden vectors are steps as the fixed engine (the plain-int reference) computes them: for each
LSTM layer, the inputs ``x, h_prev, c_prev`` and the outputs ``h, c``; for a dense layer ``x``
and ``y``. They come from real windows (chosen steps: the first, second and last step of window
0, and the step with the largest input; random steps of a few windows) or, without data, from
random codes, plus edge cases found by search (:func:`edge_cases`): zero and extreme inputs,
saturation of the pre-activations and of ``c``, and exact rounding ties at each of the three
round-and-saturate points. Every case records which of these events it exercises.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squall.bundle import Bundle
from squall.engines.fixed import (
    FixedConfig,
    FixedDense,
    FixedLstm,
    FixedModel,
    resolve_config,
)
from squall.engines.fixedpoint import FixedPointError, FixedType, is_tie
from squall.errors import SquallError
from squall.io import atomic_dir, read_json, written_by
from squall.limits import directory as _directory
from squall.limits import is_number, regular_file
from squall.model import Repeat, as_layer

FORMAT = "squall-hw-export"
VERSION = 1
GATES = "i, f, g, o"


def weights_digest(bundle: Bundle) -> str:
    """A hash of the bundle's layer list and weights (what an export was made from)."""
    h = hashlib.sha256(json.dumps(bundle.model.to_json(), sort_keys=True).encode())
    for name in sorted(bundle.weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(bundle.weights[name], dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- .mem files


def mem_text(codes, t: FixedType) -> str:
    return "".join(t.to_hex(int(c)) + "\n" for c in codes)


def read_mem(path: Path, t: FixedType) -> list[int]:
    """The codes of a ``.mem`` file (``//`` comments and blank lines skipped)."""
    codes = []
    lines = _export_text(path).splitlines()
    for n, line in enumerate(lines, 1):
        word = line.split("//")[0].strip()
        if not word:
            continue
        try:
            codes.append(t.from_hex(word))
        except FixedPointError as exc:
            raise SquallError(f"{path}:{n}: {exc}") from None
    return codes


# ---------------------------------------------------------------- golden cases


@dataclass
class Case:
    """One golden step of one layer."""

    layer: int
    kind: str                        # lstm | dense
    source: str                      # chosen | random | edge
    name: str
    x: list[int]
    h_prev: list[int] = field(default_factory=list)
    c_prev: list[int] = field(default_factory=list)
    window: int | None = None
    step: int | None = None
    detail: dict = field(default_factory=dict)

    def run(self, model: FixedModel) -> Case:
        L = _layer(model, self.layer)
        if self.kind == "lstm":
            self.detail = model.step_detail(L, self.x, self.h_prev, self.c_prev)
        else:
            self.detail = model.dense_detail(L, self.x)
        return self

    @property
    def events(self) -> dict[str, int]:
        return {k: v for k, v in self.detail["events"].items() if v}

    def outputs(self) -> list[list[int]]:
        if self.kind == "lstm":
            return [self.detail["h"], self.detail["c"]]
        return [self.detail["y"]]

    def inputs(self) -> list[list[int]]:
        return [self.x, self.h_prev, self.c_prev] if self.kind == "lstm" else [self.x]


def _layer(model: FixedModel, index: int):
    for L in model.layers:
        if not isinstance(L, int) and L.index == index:
            return L
    raise SquallError(f"the model has no LSTM or dense layer {index}")


def _width(L) -> int:
    return L.inputs if isinstance(L, FixedLstm) else len(L.W[0])


def data_cases(model: FixedModel, codes: np.ndarray, random_steps: int, rng: random.Random
               ) -> list[Case]:
    """Chosen and random steps of real windows (data codes, (N, T, F))."""
    n = len(codes)
    picks = [0] + sorted(rng.sample(range(1, n), min(2, n - 1))) if n > 1 else [0]
    traces = {}
    for w in picks:
        traces[w] = []
        model.reconstruct_codes(codes[w].tolist(), traces[w])
    T = model.length
    cases: list[Case] = []
    layers = [L for L in model.layers if not isinstance(L, int)]
    for L in layers:
        recs = {w: [r for r in traces[w] if r["layer"] == L.index] for w in picks}

        def case(w: int, t: int, source: str, name: str, L=L, recs=recs) -> Case:
            r = recs[w][t]
            c = Case(L.index, r["kind"], source, name, r["x"], r.get("h_prev", []),
                     r.get("c_prev", []), w, t).run(model)
            want = [r["h"], r["c"]] if r["kind"] == "lstm" else [r["y"]]
            if c.outputs() != want:     # the plain step and the run must agree
                raise SquallError(f"internal error: layer {L.index} step detail differs from "
                                  f"the run")
            return c

        chosen = [case(0, 0, "chosen", "window 0, step 0 (zero state)"),
                  case(0, 1, "chosen", "window 0, step 1"),
                  case(0, T - 1, "chosen", f"window 0, last step ({T - 1})")]
        w_big, t_big = max(((w, t) for w in picks for t in range(T)),
                           key=lambda wt, recs=recs: max(map(abs, recs[wt[0]][wt[1]]["x"])))
        if (w_big, t_big) not in ((0, 0), (0, 1), (0, T - 1)):
            chosen.append(case(w_big, t_big, "chosen", f"largest input of windows {picks} "
                                                       f"(window {w_big}, step {t_big})"))
        seen = {(c.window, c.step) for c in chosen}
        rand = []
        for _ in range(random_steps):
            w, t = rng.choice(picks), rng.randrange(T)
            if (w, t) not in seen:
                seen.add((w, t))
                rand.append(case(w, t, "random", f"window {w}, step {t}"))
        cases += chosen + rand
    return cases


def random_cases(model: FixedModel, random_steps: int, rng: random.Random) -> list[Case]:
    """Random steps without data: x and h uniform in [-1, 1], c in [-2, 2] (quantized)."""
    cfg = model.config
    out = []
    for L in (L for L in model.layers if not isinstance(L, int)):
        for k in range(random_steps):
            x = [cfg.data.quantize(rng.uniform(-1, 1)) for _ in range(_width(L))]
            if isinstance(L, FixedLstm):
                h = [cfg.data.quantize(rng.uniform(-1, 1)) for _ in range(L.hidden)]
                c = [cfg.cell.quantize(rng.uniform(-2, 2)) for _ in range(L.hidden)]
                out.append(Case(L.index, "lstm", "random", f"random {k}", x, h, c))
            else:
                out.append(Case(L.index, "dense", "random", f"random {k}", x))
    return [c.run(model) for c in out]


def _tie_input(model: FixedModel, L) -> list[int] | None:
    """An input vector (x, then h for an LSTM) with one power-of-two element that makes some
    accumulator an exact rounding tie at the first round-and-saturate point."""
    rows = L.WU if isinstance(L, FixedLstm) else L.W
    width = len(rows[0])
    shift = model.acc_frac - (model.config.preact if isinstance(L, FixedLstm)
                              else model.config.data).frac
    top = model.config.data.width - 2
    for j in range(width):
        for k in range(top + 1):
            for sign in (1, -1):
                if any(is_tie(b + sign * (row[j] << k), shift)
                       for row, b in zip(rows, L.b_acc, strict=True)):
                    v = [0] * width
                    v[j] = sign << k
                    return v
    return None


def _search_state(model: FixedModel, L: FixedLstm, x: list[int], h: list[int], point: str,
                  units=None) -> list[int] | None:
    """A ``c_prev`` (one unit set, the others 0) that makes the step hit an exact tie at the
    ``c`` or ``h`` round-and-saturate point, by trying every code of the cell format."""
    cfg = model.config
    d = model.step_detail(L, x, h, [0] * L.hidden)
    codes = np.arange(cfg.cell.min_code, cfg.cell.max_code + 1, dtype=np.int64)
    for k in range(L.hidden) if units is None else units:
        c_acc = ((d["f"][k] * codes) << model.fc_shift) + (d["i"][k] * d["g"][k]
                                                           << model.ig_shift)
        if point == "c":
            shift = model.cell_frac - cfg.cell.frac
        else:
            c_new = cfg.cell.requantize(c_acc, model.cell_frac)
            c_acc = d["o"][k] * model.tanh_c.many(c_new)
            shift = model.h_frac - cfg.data.frac
        hits = np.flatnonzero((c_acc & ((1 << shift) - 1)) == (1 << (shift - 1)))
        if len(hits):
            c = [0] * L.hidden
            c[k] = int(codes[hits[0]])
            return c
    return None


def edge_cases(model: FixedModel, L, rng: random.Random) -> list[Case]:
    """Zero and extreme inputs, saturation, and rounding ties, for one layer."""
    cfg, i = model.config, L.index
    lo, hi = cfg.data.min_code, cfg.data.max_code
    if isinstance(L, FixedDense):
        n = len(L.W[0])
        out = [Case(i, "dense", "edge", "zero input", [0] * n),
               Case(i, "dense", "edge", "largest inputs (every x at the maximum)", [hi] * n),
               Case(i, "dense", "edge", "smallest inputs (every x at the minimum)", [lo] * n),
               Case(i, "dense", "edge", "saturation of y[0] (x at the limits, signs of row 0)",
                    [hi if w >= 0 else lo for w in L.W[0]])]
        tie = _tie_input(model, L)
        if tie is not None:
            out.append(Case(i, "dense", "edge", "rounding tie at y (one power-of-two input)",
                            tie))
        return [c.run(model) for c in out]
    n, H = L.inputs, L.hidden
    clo, chi = cfg.cell.min_code, cfg.cell.max_code

    def lstm(name: str, xh: list[int], c: list[int]) -> Case:
        return Case(i, "lstm", "edge", name, xh[:n], xh[n:], c)

    signs = [hi if w >= 0 else lo for w in L.WU[0]]
    out = [lstm("zero input and state", [0] * (n + H), [0] * H),
           lstm("largest inputs (x, h, c at the maximum)", [hi] * (n + H), [chi] * H),
           lstm("smallest inputs (x, h, c at the minimum)", [lo] * (n + H), [clo] * H),
           lstm("saturation of z (x, h at the limits with the signs of row 0)", signs, [0] * H)]
    forget = [hi if w >= 0 else lo for w in L.WU[H]]                   # row of f for unit 0
    for c0, label in ((chi, "maximum"), (clo, "minimum")):
        case = lstm(f"saturation of c (f of unit 0 driven to 1, c_prev at the {label})", forget,
                    [c0] * H).run(model)
        if case.detail["events"]["sat_c"]:
            out.append(case)
            break
    tie = _tie_input(model, L)
    if tie is not None:
        out.append(lstm("rounding tie at z (one power-of-two input)", tie, [0] * H))
    for point in ("c", "h"):
        bases = [[0] * (n + H)] + [[cfg.data.quantize(rng.uniform(-1, 1)) for _ in range(n + H)]
                                   for _ in range(3)]
        tries = [(xh, None) for xh in bases]
        if point == "h" and tie_h_possible(model):
            tries += _tie_h_inputs(model, L)
        for xh, units in tries:
            c = _search_state(model, L, xh[:n], xh[n:], point, units)
            if c is not None:
                out.append(lstm(f"rounding tie at {point} (c_prev of one unit searched)", xh,
                                c))
                break
    return [c.run(model) for c in out]


def _twos(values: np.ndarray) -> np.ndarray:
    """The number of trailing zero bits of each nonzero value (-1 for zero)."""
    v = np.asarray(values, dtype=np.int64)
    low = v & -v
    return np.where(v == 0, -1, np.frexp(low.astype(np.float64))[1] - 1)


def _tie_twos(model: FixedModel) -> tuple[int, set[int]]:
    """``o * t`` is an exact tie at h iff ``v2(o) + v2(t) == shift - 1`` (``v2``: trailing zero
    bits; the product is then ``2**(shift - 1)`` times an odd number). Returns ``shift - 1`` and
    the ``v2`` values the tanh(c) unit's outputs take."""
    shift = model.h_frac - model.config.data.frac
    t = _twos(model.tanh_c.outputs())
    return shift - 1, {int(v) for v in t if v >= 0}


def tie_h_possible(model: FixedModel) -> bool:
    """Whether any sigmoid output times any tanh output is an exact tie at h: with coarse
    tables none is (then no input can make h round a tie)."""
    need, t_twos = _tie_twos(model)
    o_twos = {int(v) for v in _twos(model.sig_z.outputs()) if v >= 0}
    return any(need - a in t_twos for a in o_twos)


def _tie_h_inputs(model: FixedModel, L: FixedLstm, units: int = 8, columns: int = 4):
    """Inputs (x, h) with one element set so that some unit's output gate o can meet a tanh
    output t with ``o * t`` exactly half an LSB of h: such pairs are rare, so the output gate's
    value is steered (the cell state is searched afterwards by :func:`_search_state`)."""
    cfg, H = model.config, L.hidden
    need, t_twos = _tie_twos(model)
    codes = np.arange(cfg.data.min_code, cfg.data.max_code + 1, dtype=np.int64)
    for k in range(min(H, units)):
        row, bias = L.WU[3 * H + k], L.b_acc[3 * H + k]
        for j in sorted(range(len(row)), key=lambda j: -abs(row[j]))[:columns]:
            z = cfg.preact.requantize(bias + row[j] * codes, model.acc_frac)
            twos = _twos(model.sig_z.many(z))
            ok = np.isin(need - twos, list(t_twos)) & (twos >= 0)
            for idx in np.flatnonzero(ok)[:2]:
                xh = [0] * len(row)
                xh[j] = int(codes[idx])
                yield xh, [k]


# ---------------------------------------------------------------- export


_replaceable = written_by("manifest.json", FORMAT)


def _tables(model: FixedModel) -> dict[str, tuple[list[int], FixedType, str]]:
    """name -> (codes, format, what) of every activation table file."""
    out = {}
    for act in (model.sigmoid, model.tanh):
        spec = act.spec
        rng = f"[{spec.lo:g}, {spec.hi:g})"
        if spec.method == "lut":
            out[f"{act.fn}_lut"] = (act.table, act.out, f"{act.fn} table, {spec.size} entries "
                                    f"over {rng}, entry k = bin k")
        else:
            out[f"{act.fn}_pwl_y"] = (act.table, act.out, f"{act.fn} breakpoint values Y[k], "
                                      f"{spec.size} segments over {rng}")
            out[f"{act.fn}_pwl_slope"] = (act.slopes, act.slope_type, f"{act.fn} segment "
                                          f"slopes, {spec.size} segments")
    return out


def _weight_files(model: FixedModel) -> dict[str, tuple[list[int], FixedType, list[int], str]]:
    """name -> (flat codes, format, shape, reading order) of every weight file."""
    cfg, out = model.config, {}
    for L in model.layers:
        if isinstance(L, FixedLstm):
            H, n = L.hidden, L.inputs
            order = (f"row-major: for row r = 0..{4 * H - 1} (gate blocks {GATES} of {H} rows; "
                     f"gate = r // {H}, unit = r % {H}), for column j = 0..{{cols}}: line "
                     f"r * {{ncols}} + j")
            out[f"layer{L.index}_W"] = ([v for row in L.W for v in row], cfg.weight, [4 * H, n],
                                        order.format(cols=n - 1, ncols=n))
            out[f"layer{L.index}_U"] = ([v for row in L.U for v in row], cfg.weight, [4 * H, H],
                                        order.format(cols=H - 1, ncols=H))
            out[f"layer{L.index}_b"] = (L.b, cfg.bias, [4 * H], f"line r = row r (gate blocks "
                                        f"{GATES} of {H})")
        elif isinstance(L, FixedDense):
            m, n = len(L.W), len(L.W[0])
            out[f"layer{L.index}_W"] = ([v for row in L.W for v in row], cfg.weight, [m, n],
                                        f"row-major: output row r = 0..{m - 1}, column j = "
                                        f"0..{n - 1}: line r * {n} + j")
            out[f"layer{L.index}_b"] = (L.b, cfg.bias, [m], "line r = output r")
    return out


def _golden_layout(model: FixedModel, L) -> tuple[list[tuple[str, int, FixedType]],
                                                  list[tuple[str, int, FixedType]]]:
    cfg = model.config
    if isinstance(L, FixedLstm):
        return ([("x", L.inputs, cfg.data), ("h_prev", L.hidden, cfg.data),
                 ("c_prev", L.hidden, cfg.cell)],
                [("h", L.hidden, cfg.data), ("c", L.hidden, cfg.cell)])
    return [("x", len(L.W[0]), cfg.data)], [("y", len(L.W), cfg.data)]


def export_bundle(bundle: Bundle, out: str | os.PathLike[str], config="16",
                  windows: np.ndarray | None = None, random_steps: int = 6, seed: int = 0,
                  source: str = "") -> dict:
    """Write the export directory ``out`` atomically; returns the manifest."""
    cfg: FixedConfig = resolve_config(config)
    if random_steps < 0:
        raise SquallError(f"random steps must be >= 0, got {random_steps}")
    model = FixedModel(bundle, cfg)
    rng = random.Random(seed)
    if windows is not None and len(windows):
        cases = data_cases(model, model.quantize_windows(windows), random_steps, rng)
    else:
        cases = random_cases(model, random_steps, rng)
    for L in model.layers:
        if not isinstance(L, int):
            cases += edge_cases(model, L, rng)
    files, text = [], {}
    for name, (codes, t, shape, order) in _weight_files(model).items():
        text[f"{name}.mem"] = mem_text(codes, t)
        files.append({"path": f"{name}.mem", "format": t.spec, "words": len(codes),
                      "shape": shape, "order": order})
    for name, (codes, t, what) in _tables(model).items():
        text[f"{name}.mem"] = mem_text(codes, t)
        files.append({"path": f"{name}.mem", "format": t.spec, "words": len(codes),
                      "shape": [len(codes)], "order": what})
    golden, detail = {}, {}
    for L in (L for L in model.layers if not isinstance(L, int)):
        mine = [c for c in cases if c.layer == L.index]
        ins, outs = _golden_layout(model, L)
        stem = f"golden/layer{L.index}"
        text[f"{stem}_in.mem"] = "".join(
            mem_text(v, t) for c in mine for v, (_, _, t) in zip(c.inputs(), ins, strict=True))
        text[f"{stem}_out.mem"] = "".join(
            mem_text(v, t) for c in mine for v, (_, _, t) in zip(c.outputs(), outs, strict=True))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["case", "layer", "source", "name", "window", "step", "events"])
        for k, c in enumerate(mine):
            w.writerow([k, c.layer, c.source, c.name, "" if c.window is None else c.window,
                        "" if c.step is None else c.step,
                        " ".join(f"{e}={v}" for e, v in c.events.items())])
        text[f"{stem}_cases.csv"] = buf.getvalue()
        golden[str(L.index)] = {
            "kind": "lstm" if isinstance(L, FixedLstm) else "dense", "cases": len(mine),
            "in": [{"name": nm, "words": n, "format": t.spec} for nm, n, t in ins],
            "out": [{"name": nm, "words": n, "format": t.spec} for nm, n, t in outs],
            "files": [f"{stem}_in.mem", f"{stem}_out.mem", f"{stem}_cases.csv"]}
        detail[str(L.index)] = [{"source": c.source, "name": c.name, "window": c.window,
                                 "step": c.step, "x": c.x, "h_prev": c.h_prev,
                                 "c_prev": c.c_prev, **c.detail} for c in mine]
    text["golden/cases.json"] = json.dumps(detail) + "\n"
    manifest = {
        "format": FORMAT, "version": VERSION, "config": cfg.to_dict(),
        "bundle": {"weights_digest": weights_digest(bundle), "layers": bundle.model.to_json(),
                   "features": bundle.features, "length": bundle.length},
        "source": source or ("random codes" if windows is None else "windows"),
        "arithmetic": _arithmetic(model), "files": files, "golden": golden}
    text["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    text["README.md"] = readme(model, manifest, cases)
    with atomic_dir(out, _replaceable) as tmp:
        (tmp / "golden").mkdir()
        for name, body in text.items():
            (tmp / name).write_text(body)
    return manifest


def _arithmetic(model: FixedModel) -> dict:
    cfg = model.config
    out = {"accumulator_fraction_bits": model.acc_frac, "bias_shift": model.bias_shift,
           "z_shift": model.acc_frac - cfg.preact.frac,
           "cell_fraction_bits": model.cell_frac, "fc_shift": model.fc_shift,
           "ig_shift": model.ig_shift, "c_shift": model.cell_frac - cfg.cell.frac,
           "h_shift": model.h_frac - cfg.data.frac, "cell_bits": model.cell_bits,
           "accumulator_bits": {str(L.index): L.acc_bits for L in model.layers
                                if not isinstance(L, int)}, "tables": {}}
    for name, unit in (("sigmoid(z)", model.sig_z), ("tanh(z)", model.tanh_z),
                       ("tanh(c)", model.tanh_c)):
        out["tables"][name] = {"lo_code": unit.lo_code, "hi_code": unit.hi_code,
                               "shift": unit.shift, "input": unit.inp.spec}
    return out


def readme(model: FixedModel, manifest: dict, cases: list[Case]) -> str:
    cfg, a = model.config, manifest["arithmetic"]
    lines = [
        "# Fixed-point export", "",
        f"Generated by squall from a bundle with layers "
        f"{', '.join(_layer_label(s) for s in manifest['bundle']['layers'])} (weights digest "
        f"`{manifest['bundle']['weights_digest']}`), configuration `{cfg.name}`. Check it "
        f"against the bundle with `squall hw check-export DIR BUNDLE`.", "",
        "## Formats", "",
        "Q notation: `Qm.n` is signed two's complement with m integer bits (sign included) and "
        "n fraction bits; `UQm.n` unsigned. Value = code * 2^-n.", "",
        "| signal | format | rounding | overflow |", "|---|---|---|---|"]
    for key, what in (("data", "x, h, dense outputs"), ("weight", "W, U"), ("bias", "b"),
                      ("preact", "gate pre-activations z"), ("cell", "cell state c"),
                      ("sigmoid", "sigmoid outputs i, f, o"), ("tanh", "tanh outputs")):
        t = getattr(cfg, key)
        lines.append(f"| {what} | {t} | {t.rounding} | {t.overflow} |")
    lines += ["", "Rounding: `rnd` = add half an LSB, then truncate (round half up); `trn` = "
              "truncate; `rnd_conv` = ties to even. Overflow: `sat` clamps, `wrap` keeps the low "
              "bits.", "", "## One LSTM step", "", "```",
              f"acc[r] = sum_j W[r][j] x[j] + sum_j U[r][j] h[j] + (b[r] << {a['bias_shift']})"
              f"      exact, {a['accumulator_fraction_bits']} fraction bits",
              f"z[r]   = round_sat(acc[r] >> {a['z_shift']}) to {cfg.preact}",
              f"i, f, o = sigmoid table(z) in {cfg.sigmoid}; g = tanh table(z) in {cfg.tanh}   "
              f"(gate blocks {GATES})",
              f"c'     = round_sat(((f * c) << {a['fc_shift']}) + ((i * g) << {a['ig_shift']}) "
              f">> {a['c_shift']}) to {cfg.cell}",
              f"h'     = round_sat((o * tanh table(c')) >> {a['h_shift']}) to {cfg.data}",
              f"dense: y = round_sat((W x + (b << {a['bias_shift']})) >> {a['z_shift']}) to "
              f"{cfg.data}", "```", "",
              "Accumulator widths (the rule: weight bits + data bits + ceil(log2(inputs + hidden "
              "+ 1)), never wraps): " + ", ".join(f"layer {k}: {v} bits" for k, v in
                                                  a["accumulator_bits"].items())
              + f"; cell update: {a['cell_bits']} bits.", "",
              "## Activation tables", ""]
    for name, t in a["tables"].items():
        lines.append(f"- {name}: input {t['input']}; index k = (clamp(code, {t['lo_code']}, "
                     f"{t['hi_code']}) - ({t['lo_code']})) >> {t['shift']}")
    lines += [f"- sigmoid: {cfg.sigmoid_fn.describe()}; tanh: {cfg.tanh_fn.describe()}",
              "- a table entry is the function at the centre of the values its bin holds; a "
              "piecewise-linear segment is y = round_sat(((Y[k] << s) + slope[k] * d) >> s') "
              "with d the input's offset inside the segment (its low `shift` bits)", "",
              "## Files", "", "One hex word per line (`$readmemh`), two's complement, "
              "ceil(width / 4) digits.", "", "| file | format | words | order |",
              "|---|---|---|---|"]
    for f in manifest["files"]:
        lines.append(f"| {f['path']} | {FixedType.parse(f['format'])} | {f['words']} | "
                     f"{f['order']} |")
    lines += ["", "## Golden vectors", "",
              "Per layer `golden/layerN_in.mem` holds each case's inputs one after another, "
              "`golden/layerN_out.mem` its outputs; `golden/layerN_cases.csv` names the cases "
              "and the events each exercises (tie_z: a pre-activation exactly half an LSB "
              "between two codes before rounding; sat_z: one saturated; likewise c and h, y for "
              "dense; clip_*: an activation input outside its table's range). "
              "`golden/cases.json` adds every intermediate (acc, z, i, f, g, o, c, tanh(c)).", "",
              "| layer | words in per case | words out per case | cases |", "|---|---|---|---|"]
    for k, g in manifest["golden"].items():
        lines.append(f"| {k} | " + " + ".join(f"{p['name']} {p['words']}" for p in g["in"])
                     + " | " + " + ".join(f"{p['name']} {p['words']}" for p in g["out"])
                     + f" | {g['cases']} |")
    lines += ["", "Edge cases found (events they exercise):", ""]
    for c in cases:
        if c.source == "edge":
            ev = ", ".join(f"{k} {v}" for k, v in c.events.items()) or "none"
            lines.append(f"- layer {c.layer}: {c.name} ({ev})")
    impossible = _impossible(model)
    missing = [m for m in _missing_events(cases) if not (impossible and m.endswith("tie_h"))]
    if impossible:
        lines += ["", impossible]
    if missing:
        lines += ["", "Not found by the search (no golden case exercises them): "
                  + ", ".join(missing) + "."]
    lines.append("")
    return "\n".join(lines)


def _missing_events(cases: list[Case]) -> list[str]:
    out = []
    for layer in sorted({c.layer for c in cases}):
        mine = [c for c in cases if c.layer == layer]
        wanted = ("tie_z", "sat_z", "tie_c", "sat_c", "tie_h") if mine[0].kind == "lstm" \
            else ("tie_y", "sat_y")
        for e in wanted:
            if not any(c.detail["events"].get(e) for c in mine):
                out.append(f"layer {layer} {e}")
    return out


def _impossible(model: FixedModel) -> str:
    if tie_h_possible(model):
        return ""
    return ("A rounding tie at h cannot happen with these tables: no sigmoid output times "
            "tanh output is exactly half an LSB of h away from two codes (checked over every "
            "pair of table values).")


def _layer_label(spec) -> str:
    """``lstm(6->64)``, ``dense(64->6)``, ``repeat(24)`` for a layer (typed or its JSON)."""
    layer = as_layer(spec)
    if isinstance(layer, Repeat):
        return f"repeat({layer.times})"
    return layer.describe()


# ---------------------------------------------------------------- the reader


@dataclass
class CheckReport:
    files: int = 0
    words: int = 0
    cases: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (f"{self.files} files, {self.words:,} words, {self.cases} golden steps re-run: "
                + ("all match the bundle" if self.ok else f"{len(self.problems)} problem(s)"))
        return "\n".join([head] + [f"  {p}" for p in self.problems[:20]])


def check_export(directory: str | os.PathLike[str], bundle: Bundle) -> CheckReport:
    """Load an export back and re-check every word against ``bundle``: weights and tables
    re-quantized, every golden step re-run by the fixed engine's fast step."""
    root = _directory(directory, "hardware export directory")
    manifest = read_manifest(root)
    report = CheckReport()
    if manifest["bundle"]["layers"] != bundle.model.to_json():
        raise SquallError(f"{root} was exported from a bundle with other layers")
    if manifest["bundle"]["weights_digest"] != weights_digest(bundle):
        report.problems.append("the bundle's weights differ from the exported bundle's "
                               "(weights digest)")
    model = FixedModel(bundle, resolve_config(manifest["config"]))
    expected = {f"{k}.mem": (codes, t) for k, (codes, t, _, _) in _weight_files(model).items()}
    expected.update({f"{k}.mem": (codes, t) for k, (codes, t, _) in _tables(model).items()})
    listed = {f["path"] for f in manifest["files"]}
    for name in sorted(set(expected) - listed):
        report.problems.append(f"{name} is not in the manifest")
    for f in manifest["files"]:
        if f["path"] not in expected:
            report.problems.append(f"{f['path']}: not a file this bundle and configuration have")
            continue
        codes, t = expected[f["path"]]
        report.problems += _compare(root / f["path"], t, codes)
        report.files += 1
        report.words += len(codes)
    for key, g in manifest["golden"].items():
        L = _layer(model, int(key))
        ins, outs = _golden_layout(model, L)
        got_in = _read_words(root / g["files"][0], ins, g["cases"], report)
        got_out = _read_words(root / g["files"][1], outs, g["cases"], report)
        report.files += 2
        if got_in is None or got_out is None:
            continue
        for k, (vin, vout) in enumerate(zip(got_in, got_out, strict=True)):
            if isinstance(L, FixedLstm):
                want = list(model.lstm_step(L, vin[0], vin[1], vin[2]))
            else:
                want = [model.dense(L, vin[0])]
            report.cases += 1
            report.words += sum(map(len, vin)) + sum(map(len, vout))
            for (name, _, _), a, b in zip(outs, vout, want, strict=True):
                if a != b:
                    j = next(n for n in range(len(a)) if a[n] != b[n])
                    report.problems.append(f"{g['files'][1]}: case {k}, {name}[{j}] is {a[j]}, "
                                           f"the fixed engine computes {b[j]}")
    return report


def _export_text(path: Path, missing: str = "{p} is missing") -> str:
    """The text of one file of an export: a regular file (see :mod:`squall.limits`), else a
    one-line error; a missing file says so (``missing``, formatted with ``p``, the path)."""
    try:
        return regular_file(path, "export file", missing).read_text(errors="replace")
    except OSError as exc:
        raise SquallError(f"cannot read {path}: {exc.strerror or exc}") from None


def _inside(rel: object, what: str) -> str:
    """A file name from the manifest: a relative path inside the export (no ``..``, not
    absolute), so a crafted manifest cannot make the checker read other files."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise SquallError(f"manifest.json: {what} must be a file name inside the export, got "
                          f"{rel!r}"[:200])
    return rel


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise SquallError(f"manifest.json is malformed: {what}")


def read_manifest(root: Path) -> dict:
    """``manifest.json`` of an export, with the type of every entry the checker uses checked
    (format, integer version, bundle layers and digest, config, files, golden layers)."""
    path = root / "manifest.json"
    manifest = read_json(regular_file(path, "manifest.json", missing="{p.parent} is not a "
                                      "squall hardware export (no manifest.json)"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SquallError(f"{root} is not a squall hardware export")
    version = manifest.get("version")
    if not is_number(version, integer=True) or version != VERSION:
        raise SquallError(f"{root}: export version {version!r}, this squall reads {VERSION}")
    b = manifest.get("bundle")
    _need(isinstance(b, dict) and isinstance(b.get("layers"), list)
          and isinstance(b.get("weights_digest"), str), "bundle needs layers and weights_digest")
    _need(isinstance(manifest.get("config"), dict), "config must be an object")
    files = manifest.get("files")
    _need(isinstance(files, list) and all(isinstance(f, dict) for f in files),
          "files must be a list of objects")
    for f in files:
        _inside(f.get("path"), "files[].path")
    golden = manifest.get("golden")
    _need(isinstance(golden, dict), "golden must be an object")
    for key, g in golden.items():
        _need(key.isascii() and key.isdigit() and isinstance(g, dict),
              f"golden[{key!r}] must be a layer index"[:200])
        cases = g.get("cases")
        _need(is_number(cases, integer=True) and cases >= 0,
              f"golden[{key!r}].cases must be a count")
        _need(isinstance(g.get("files"), list) and len(g["files"]) >= 2,
              f"golden[{key!r}].files must list the in and out files")
        for name in g["files"]:
            _inside(name, f"golden[{key!r}].files")
    return manifest


def _compare(path: Path, t: FixedType, codes: list[int]) -> list[str]:
    try:
        got = read_mem(path, t)
    except SquallError as exc:
        return [str(exc)]
    if len(got) != len(codes):
        return [f"{path.name}: {len(got)} words, expected {len(codes)}"]
    bad = [n for n, (a, b) in enumerate(zip(got, codes, strict=True)) if a != b]
    if bad:
        n = bad[0]
        return [f"{path.name}: {len(bad)} word(s) differ, first at line {n + 1}: "
                f"{t.to_hex(got[n])}, expected {t.to_hex(codes[n])}"]
    return []


def _read_words(path: Path, layout, cases: int, report: CheckReport):
    """The words of a golden file split into cases and vectors, or None (problem recorded)."""
    per_case = sum(n for _, n, _ in layout)
    try:
        text = _export_text(path, missing="{p.name} is missing")
        lines = [ln.split("//")[0].strip() for ln in text.splitlines()]
    except SquallError as exc:
        report.problems.append(str(exc))
        return None
    words = [w for w in lines if w]
    if len(words) != per_case * cases:
        report.problems.append(f"{path.name}: {len(words)} words, expected {cases} cases x "
                               f"{per_case}")
        return None
    out, pos = [], 0
    try:
        for _ in range(cases):
            vecs = []
            for _, n, t in layout:
                vecs.append([t.from_hex(w) for w in words[pos:pos + n]])
                pos += n
            out.append(vecs)
    except FixedPointError as exc:
        report.problems.append(f"{path.name}: {exc}")
        return None
    return out


__all__ = ["CheckReport", "check_export", "edge_cases", "export_bundle",
           "read_mem"]
