"""The model's dataflow as Graphviz DOT: layers with shapes, parameters, MACs, bytes per edge."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from squall.bundle import Bundle
from squall.engines.tools.costs import window_costs
from squall.errors import SquallError
from squall.io import atomic_path, write_text
from squall.model import Conv1d, Decoder, Dense, Gru, Layer, Lstm, Repeat, Rfft


def layer_costs(bundle: Bundle, word_bytes: int = 4) -> list[dict[str, Any]]:
    """Per layer: the analytic counts for one window (:func:`squall.engines.tools.costs.
    window_costs`: parameters, MACs per step and per window, bytes) plus a label; ``macs_window``
    is ``macs``.

    MACs count mat-vec multiply-accumulates. An LSTM after ``repeat`` computes its input
    projection once per window, so its MACs per window are ``4H*in + T*4H*H``.
    """
    rows = []
    for cost in window_costs(bundle.layers, bundle.model.length, word_bytes):
        label = _label(bundle.layers[cost.index])
        rows.append({**cost.as_dict(), "label": label, "macs_window": cost.macs})
    return rows


def _label(layer: Layer) -> str:
    """``LSTM 6->64``, ``LSTM 64->32 (last h)``, ``repeat x24``, ``dense 64->6 per step``."""
    if isinstance(layer, Lstm):
        return f"LSTM {layer.input}->{layer.hidden}" + (
            "" if layer.return_sequences else " (last h)"
        )
    if isinstance(layer, Gru):
        return f"GRU {layer.input}->{layer.hidden}" + (
            "" if layer.return_sequences else " (last h)"
        )
    if isinstance(layer, Conv1d):
        return f"conv1d {layer.input}->{layer.output} k{layer.kernel} {layer.padding}"
    if isinstance(layer, Repeat):
        return f"repeat x{layer.times}"
    if isinstance(layer, Rfft):
        more = ", appended per step" if layer.append else ""
        return f"rfft {layer.input}x{layer.length} {layer.frequencies} bins{more}"
    if isinstance(layer, Decoder):
        return (
            f"decoder {layer.cell.upper()} {layer.input}->{layer.hidden}->{layer.outputs} "
            f"x{layer.steps}"
        )
    if isinstance(layer, Dense):
        act = "" if layer.activation == "linear" else f" {layer.activation}"
        return f"dense {layer.input}->{layer.output}{act} per step"
    return layer.describe()


def _field(text: str) -> str:
    """Text for one field of a Graphviz record label: its special characters escaped."""
    for ch in '\\{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def to_dot(bundle: Bundle, word_bytes: int = 4) -> str:
    T, F = bundle.model.input_shape
    names = bundle.task.inputs if bundle.task.kind == "forecast" else bundle.features
    lines = [
        "digraph squall {",
        '  rankdir=TB; node [shape=record, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        f'  input [label="{{input|{T} x {F}|{_field(", ".join(names))}}}"];',
    ]
    prev, prev_bytes = "input", T * F * word_bytes
    total_params = total_macs = 0
    for r in layer_costs(bundle, word_bytes):
        node = f"l{r['index']}"
        shape = " x ".join(map(str, r["out_shape"]))
        once = f" (+{r['macs_once']:,} once)" if r["macs_once"] else ""
        detail = (
            f"params {r['params']:,}|MACs/step {r['macs_step']:,}{once}|"
            f"MACs/window {r['macs_window']:,}|weights read {r['weight_bytes']:,} B/window"
            if r["kind"] != "repeat"
            else "no weights"
        )
        lines.append(f'  {node} [label="{{{_field(r["label"])}|out {shape}|{detail}}}"];')
        lines.append(f'  {prev} -> {node} [label="{prev_bytes:,} B/window"];')
        prev, prev_bytes = node, r["out_bytes"]
        total_params += r["params"]
        total_macs += r["macs_window"]
    what = "reconstruction" if bundle.task.kind == "reconstruct" else bundle.task.kind
    out_shape = " x ".join(map(str, bundle.model.output_shape))
    lines.append(f'  output [label="{{{what}|{out_shape}}}"];')
    lines.append(f'  {prev} -> output [label="{prev_bytes:,} B/window"];')
    lines.append(
        f'  labelloc=t; label="{total_params:,} parameters, {total_macs:,} MACs per '
        f'window, {word_bytes}-byte words";'
    )
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
            proc = subprocess.run(
                [exe, "-Tsvg", "-o", str(tmp)], input=dot, text=True, capture_output=True
            )
            if proc.returncode != 0:
                raise SquallError(f"Graphviz dot failed: {proc.stderr.strip().splitlines()[-1]}")
        written.append(svg_path)
    return written
