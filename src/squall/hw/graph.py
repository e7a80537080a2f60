"""The model's dataflow as Graphviz DOT: layers with shapes, parameters, MACs, bytes per edge."""

from __future__ import annotations

import os
import shutil
import subprocess

from squall.bundle import Bundle
from squall.errors import SquallError
from squall.io import atomic_path, write_text


def layer_costs(bundle: Bundle, word_bytes: int = 4) -> list[dict]:
    """Per layer: shapes, parameters, MACs per step and per window, output bytes per window.

    MACs count mat-vec multiply-accumulates. An LSTM after ``repeat`` computes its input
    projection once per window, so its MACs per window are ``4H*in + T*4H*H``.
    """
    T, rows = bundle.length, []
    after_repeat = False
    for i, layer in enumerate(bundle.layers):
        kind = layer["type"]
        if kind == "repeat":
            rows.append({"index": i, "kind": "repeat", "label": f"repeat x{layer['times']}",
                         "params": 0, "macs_step": 0, "macs_window": 0,
                         "out_shape": (T, bundle.layers[i - 1]["hidden"])})
            after_repeat = True
            continue
        if kind == "lstm":
            n, H = layer["input"], layer["hidden"]
            params = 4 * H * (n + H) + 4 * H
            per_step = 4 * H * (n + H)
            per_window = 4 * H * n + T * 4 * H * H if after_repeat else T * per_step
            out_shape = (T, H) if layer["return_sequences"] else (H,)
            label = f"LSTM {n}->{H}" + ("" if layer["return_sequences"] else " (last h)")
        else:
            n, m = layer["input"], layer["output"]
            params, per_step = n * m + m, n * m
            per_window, out_shape, label = T * per_step, (T, m), f"dense {n}->{m} per step"
        rows.append({"index": i, "kind": kind, "label": label, "params": params,
                     "macs_step": per_step, "macs_window": per_window, "out_shape": out_shape})
        after_repeat = False
    for r in rows:
        size = 1
        for d in r["out_shape"]:
            size *= d
        r["out_bytes"] = size * word_bytes
    return rows


def to_dot(bundle: Bundle, word_bytes: int = 4) -> str:
    T, F = bundle.length, len(bundle.features)
    lines = ["digraph squall {", '  rankdir=TB; node [shape=record, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];',
             f'  input [label="{{input|{T} x {F}|{", ".join(bundle.features)}}}"];']
    prev, prev_bytes = "input", T * F * word_bytes
    total_params = total_macs = 0
    for r in layer_costs(bundle, word_bytes):
        node = f"l{r['index']}"
        shape = " x ".join(map(str, r["out_shape"]))
        detail = (f"params {r['params']:,}|MACs/step {r['macs_step']:,}|"
                  f"MACs/window {r['macs_window']:,}" if r["kind"] != "repeat" else "no weights")
        lines.append(f'  {node} [label="{{{r["label"]}|out {shape}|{detail}}}"];')
        lines.append(f'  {prev} -> {node} [label="{prev_bytes:,} B/window"];')
        prev, prev_bytes = node, r["out_bytes"]
        total_params += r["params"]
        total_macs += r["macs_window"]
    lines.append(f'  output [label="{{reconstruction|{T} x {F}}}"];')
    lines.append(f'  {prev} -> output [label="{prev_bytes:,} B/window"];')
    lines.append(f'  labelloc=t; label="{total_params:,} parameters, {total_macs:,} MACs per '
                 f'window, {word_bytes}-byte words";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(bundle: Bundle, path: str | os.PathLike[str], svg: bool = True) -> list[str]:
    """Write the DOT file, and an SVG beside it when Graphviz ``dot`` is installed."""
    dot = to_dot(bundle)
    write_text(path, dot)
    written = [str(path)]
    exe = shutil.which("dot")
    if svg and exe:
        svg_path = os.path.splitext(str(path))[0] + ".svg"
        with atomic_path(svg_path) as tmp:
            proc = subprocess.run([exe, "-Tsvg", "-o", str(tmp)], input=dot, text=True,
                                  capture_output=True)
            if proc.returncode != 0:
                raise SquallError(f"Graphviz dot failed: {proc.stderr.strip().splitlines()[-1]}")
        written.append(svg_path)
    return written
