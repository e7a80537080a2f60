"""Golden cases of an export: the steps it records, chosen from data or at random, and edge
cases found by search.

Golden vectors are steps as the fixed engine (the plain-int reference) computes them: for each
LSTM layer, the inputs ``x, h_prev, c_prev`` and the outputs ``h, c``; for a dense layer ``x``
and ``y``. They come from real windows (chosen steps: the first, second and last step of window
0, and the step with the largest input; random steps of a few windows) or, without data, from
random codes, plus edge cases found by search (:func:`edge_cases`): zero and extreme inputs,
saturation of the pre-activations and of ``c``, and exact rounding ties at each of the three
round-and-saturate points. Every case records which of these events it exercises.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from squall.engines.fixed import FixedDense, FixedLstm, FixedModel
from squall.engines.fixedpoint import is_tie
from squall.errors import SquallError
from squall.hw.export_layout import fixed_layer


@dataclass
class Case:
    """One golden step of one layer."""

    layer: int
    kind: str  # lstm | dense
    source: str  # chosen | random | edge
    name: str
    x: list[int]
    h_prev: list[int] = field(default_factory=list)
    c_prev: list[int] = field(default_factory=list)
    window: int | None = None
    step: int | None = None
    detail: dict = field(default_factory=dict)

    def run(self, model: FixedModel) -> Case:
        L = fixed_layer(model, self.layer)
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


def _width(L) -> int:
    return L.inputs if isinstance(L, FixedLstm) else len(L.W[0])


def data_cases(
    model: FixedModel, codes: np.ndarray, random_steps: int, rng: random.Random
) -> list[Case]:
    """Chosen and random steps of real windows (data codes, (N, T, F))."""
    n = len(codes)
    picks = [0] + sorted(rng.sample(range(1, n), min(2, n - 1))) if n > 1 else [0]
    traces: dict[int, list[dict]] = {}
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
            c = Case(
                L.index,
                r["kind"],
                source,
                name,
                r["x"],
                r.get("h_prev", []),
                r.get("c_prev", []),
                w,
                t,
            ).run(model)
            want = [r["h"], r["c"]] if r["kind"] == "lstm" else [r["y"]]
            if c.outputs() != want:  # the plain step and the run must agree
                raise SquallError(
                    f"internal error: layer {L.index} step detail differs from the run"
                )
            return c

        chosen = [
            case(0, 0, "chosen", "window 0, step 0 (zero state)"),
            case(0, 1, "chosen", "window 0, step 1"),
            case(0, T - 1, "chosen", f"window 0, last step ({T - 1})"),
        ]

        def size(wt: tuple[int, int], recs=recs) -> int:
            return max(map(abs, recs[wt[0]][wt[1]]["x"]))

        w_big, t_big = max(((w, t) for w in picks for t in range(T)), key=size)
        if (w_big, t_big) not in ((0, 0), (0, 1), (0, T - 1)):
            chosen.append(
                case(
                    w_big,
                    t_big,
                    "chosen",
                    f"largest input of windows {picks} (window {w_big}, step {t_big})",
                )
            )
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
    shift = (
        model.acc_frac
        - (model.config.preact if isinstance(L, FixedLstm) else model.config.data).frac
    )
    top = model.config.data.width - 2
    for j in range(width):
        for k in range(top + 1):
            for sign in (1, -1):
                if any(
                    is_tie(b + sign * (row[j] << k), shift)
                    for row, b in zip(rows, L.b_acc, strict=True)
                ):
                    v = [0] * width
                    v[j] = sign << k
                    return v
    return None


def _search_state(
    model: FixedModel, L: FixedLstm, x: list[int], h: list[int], point: str, units=None
) -> list[int] | None:
    """A ``c_prev`` (one unit set, the others 0) that makes the step hit an exact tie at the
    ``c`` or ``h`` round-and-saturate point, by trying every code of the cell format."""
    cfg = model.config
    d = model.step_detail(L, x, h, [0] * L.hidden)
    codes = np.arange(cfg.cell.min_code, cfg.cell.max_code + 1, dtype=np.int64)
    for k in range(L.hidden) if units is None else units:
        c_acc = ((d["f"][k] * codes) << model.fc_shift) + (d["i"][k] * d["g"][k] << model.ig_shift)
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
        out = [
            Case(i, "dense", "edge", "zero input", [0] * n),
            Case(i, "dense", "edge", "largest inputs (every x at the maximum)", [hi] * n),
            Case(i, "dense", "edge", "smallest inputs (every x at the minimum)", [lo] * n),
            Case(
                i,
                "dense",
                "edge",
                "saturation of y[0] (x at the limits, signs of row 0)",
                [hi if w >= 0 else lo for w in L.W[0]],
            ),
        ]
        tie = _tie_input(model, L)
        if tie is not None:
            out.append(Case(i, "dense", "edge", "rounding tie at y (one power-of-two input)", tie))
        return [c.run(model) for c in out]
    n, H = L.inputs, L.hidden
    clo, chi = cfg.cell.min_code, cfg.cell.max_code

    def lstm(name: str, xh: list[int], c: list[int]) -> Case:
        return Case(i, "lstm", "edge", name, xh[:n], xh[n:], c)

    signs = [hi if w >= 0 else lo for w in L.WU[0]]
    out = [
        lstm("zero input and state", [0] * (n + H), [0] * H),
        lstm("largest inputs (x, h, c at the maximum)", [hi] * (n + H), [chi] * H),
        lstm("smallest inputs (x, h, c at the minimum)", [lo] * (n + H), [clo] * H),
        lstm("saturation of z (x, h at the limits with the signs of row 0)", signs, [0] * H),
    ]
    forget = [hi if w >= 0 else lo for w in L.WU[H]]  # row of f for unit 0
    for c0, label in ((chi, "maximum"), (clo, "minimum")):
        case = lstm(
            f"saturation of c (f of unit 0 driven to 1, c_prev at the {label})", forget, [c0] * H
        ).run(model)
        if case.detail["events"]["sat_c"]:
            out.append(case)
            break
    tie = _tie_input(model, L)
    if tie is not None:
        out.append(lstm("rounding tie at z (one power-of-two input)", tie, [0] * H))
    for point in ("c", "h"):
        bases = [[0] * (n + H)] + [
            [cfg.data.quantize(rng.uniform(-1, 1)) for _ in range(n + H)] for _ in range(3)
        ]
        tries = [(xh, None) for xh in bases]
        if point == "h" and tie_h_possible(model):
            tries += _tie_h_inputs(model, L)
        for xh, units in tries:
            c = _search_state(model, L, xh[:n], xh[n:], point, units)
            if c is not None:
                out.append(lstm(f"rounding tie at {point} (c_prev of one unit searched)", xh, c))
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


def missing_events(cases: list[Case]) -> list[str]:
    out = []
    for layer in sorted({c.layer for c in cases}):
        mine = [c for c in cases if c.layer == layer]
        wanted = (
            ("tie_z", "sat_z", "tie_c", "sat_c", "tie_h")
            if mine[0].kind == "lstm"
            else ("tie_y", "sat_y")
        )
        for e in wanted:
            if not any(c.detail["events"].get(e) for c in mine):
                out.append(f"layer {layer} {e}")
    return out


def tie_h_note(model: FixedModel) -> str:
    if tie_h_possible(model):
        return ""
    return (
        "A rounding tie at h cannot happen with these tables: no sigmoid output times "
        "tanh output is exactly half an LSB of h away from two codes (checked over every "
        "pair of table values)."
    )
