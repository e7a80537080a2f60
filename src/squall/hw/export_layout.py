"""The export's file layout, shared by its writer and its checker: every file's words, format,
shape and reading order, the ``.mem`` word format, and the digest of the bundle it came from.

``.mem`` files are what Verilog's ``$readmemh`` reads: one hex word per line, two's complement for
signed formats, ``ceil(width / 4)`` digits, no address markers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from squall.bundle import Bundle
from squall.engines.fixed import FixedDense, FixedLstm, FixedModel
from squall.engines.fixedpoint import FixedPointError, FixedType
from squall.errors import SquallError
from squall.limits import regular_file
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


def layer_label(spec) -> str:
    """``lstm(6->64)``, ``dense(64->6)``, ``repeat(24)`` for a layer (typed or its JSON)."""
    layer = as_layer(spec)
    if isinstance(layer, Repeat):
        return f"repeat({layer.times})"
    return layer.describe()


def fixed_layer(model: FixedModel, index: int):
    for L in model.layers:
        if not isinstance(L, int) and L.index == index:
            return L
    raise SquallError(f"the model has no LSTM or dense layer {index}")


# ---------------------------------------------------------------- .mem files


def mem_text(codes, t: FixedType) -> str:
    return "".join(t.to_hex(int(c)) + "\n" for c in codes)


def read_mem(path: Path, t: FixedType) -> list[int]:
    """The codes of a ``.mem`` file (``//`` comments and blank lines skipped)."""
    codes = []
    lines = export_text(path).splitlines()
    for n, line in enumerate(lines, 1):
        word = line.split("//")[0].strip()
        if not word:
            continue
        try:
            codes.append(t.from_hex(word))
        except FixedPointError as exc:
            raise SquallError(f"{path}:{n}: {exc}") from None
    return codes


def export_text(path: Path, missing: str = "{p} is missing") -> str:
    """The text of one file of an export: a regular file (see :mod:`squall.limits`), else a
    one-line error; a missing file says so (``missing``, formatted with ``p``, the path)."""
    try:
        return regular_file(path, "export file", missing).read_text(errors="replace")
    except OSError as exc:
        raise SquallError(f"cannot read {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------- what each file holds


def table_files(model: FixedModel) -> dict[str, tuple[list[int], FixedType, str]]:
    """name -> (codes, format, what) of every activation table file."""
    out = {}
    for act in (model.sigmoid, model.tanh):
        spec = act.spec
        rng = f"[{spec.lo:g}, {spec.hi:g})"
        if spec.method == "lut":
            out[f"{act.fn}_lut"] = (
                act.table,
                act.out,
                f"{act.fn} table, {spec.size} entries over {rng}, entry k = bin k",
            )
        else:
            out[f"{act.fn}_pwl_y"] = (
                act.table,
                act.out,
                f"{act.fn} breakpoint values Y[k], {spec.size} segments over {rng}",
            )
            out[f"{act.fn}_pwl_slope"] = (
                act.slopes,
                act.slope_type,
                f"{act.fn} segment slopes, {spec.size} segments",
            )
    return out


def weight_files(model: FixedModel) -> dict[str, tuple[list[int], FixedType, list[int], str]]:
    """name -> (flat codes, format, shape, reading order) of every weight file."""
    cfg, out = model.config, {}
    for L in model.layers:
        if isinstance(L, FixedLstm):
            H, n = L.hidden, L.inputs
            order = (
                f"row-major: for row r = 0..{4 * H - 1} (gate blocks {GATES} of {H} rows; "
                f"gate = r // {H}, unit = r % {H}), for column j = 0..{{cols}}: line "
                f"r * {{ncols}} + j"
            )
            out[f"layer{L.index}_W"] = (
                [v for row in L.W for v in row],
                cfg.weight,
                [4 * H, n],
                order.format(cols=n - 1, ncols=n),
            )
            out[f"layer{L.index}_U"] = (
                [v for row in L.U for v in row],
                cfg.weight,
                [4 * H, H],
                order.format(cols=H - 1, ncols=H),
            )
            out[f"layer{L.index}_b"] = (
                L.b,
                cfg.bias,
                [4 * H],
                f"line r = row r (gate blocks {GATES} of {H})",
            )
        elif isinstance(L, FixedDense):
            m, n = len(L.W), len(L.W[0])
            out[f"layer{L.index}_W"] = (
                [v for row in L.W for v in row],
                cfg.weight,
                [m, n],
                f"row-major: output row r = 0..{m - 1}, column j = 0..{n - 1}: line r * {n} + j",
            )
            out[f"layer{L.index}_b"] = (L.b, cfg.bias, [m], "line r = output r")
    return out


def golden_layout(
    model: FixedModel, L
) -> tuple[list[tuple[str, int, FixedType]], list[tuple[str, int, FixedType]]]:
    cfg = model.config
    if isinstance(L, FixedLstm):
        return (
            [
                ("x", L.inputs, cfg.data),
                ("h_prev", L.hidden, cfg.data),
                ("c_prev", L.hidden, cfg.cell),
            ],
            [("h", L.hidden, cfg.data), ("c", L.hidden, cfg.cell)],
        )
    return [("x", len(L.W[0]), cfg.data)], [("y", len(L.W), cfg.data)]
