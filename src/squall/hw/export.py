"""Write a bundle's hardware export: weights, biases and activation tables as ``.mem`` files,
golden vectors per layer from the fixed engine, ``manifest.json`` and a generated README.

``.mem`` files are what Verilog's ``$readmemh`` reads: one hex word per line, two's complement for
signed formats, ``ceil(width / 4)`` digits, no address markers. Every file's format, word count,
shape and reading order is in ``manifest.json`` and in the generated ``README.md``.

The golden cases are :mod:`squall.hw.golden`'s, the file layout (shared with the checker)
:mod:`squall.hw.export_layout`'s; :mod:`squall.hw.export_check` reads an export back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random

import numpy as np

from squall.bundle import Bundle
from squall.engines.fixed import FixedConfig, FixedLstm, FixedModel, resolve_config
from squall.engines.fixedpoint import FixedType
from squall.errors import SquallError
from squall.hw.export_check import CheckReport, check_export
from squall.hw.export_layout import (
    FORMAT,
    GATES,
    VERSION,
    golden_layout,
    layer_label,
    mem_text,
    read_mem,
    table_files,
    weight_files,
    weights_digest,
)
from squall.hw.golden import (
    Case,
    data_cases,
    edge_cases,
    missing_events,
    random_cases,
    tie_h_note,
    tie_h_possible,
)
from squall.io import atomic_dir, written_by

replaceable = written_by("manifest.json", FORMAT, listed=True)


def export_bundle(
    bundle: Bundle,
    out: str | os.PathLike[str],
    config="16",
    windows: np.ndarray | None = None,
    random_steps: int = 6,
    seed: int = 0,
    source: str = "",
) -> dict:
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
    for name, (codes, t, shape, order) in weight_files(model).items():
        text[f"{name}.mem"] = mem_text(codes, t)
        files.append(
            {
                "path": f"{name}.mem",
                "format": t.spec,
                "words": len(codes),
                "shape": shape,
                "order": order,
            }
        )
    for name, (codes, t, what) in table_files(model).items():
        text[f"{name}.mem"] = mem_text(codes, t)
        files.append(
            {
                "path": f"{name}.mem",
                "format": t.spec,
                "words": len(codes),
                "shape": [len(codes)],
                "order": what,
            }
        )
    golden, detail = {}, {}
    for L in (L for L in model.layers if not isinstance(L, int)):
        mine = [c for c in cases if c.layer == L.index]
        ins, outs = golden_layout(model, L)
        stem = f"golden/layer{L.index}"
        text[f"{stem}_in.mem"] = "".join(
            mem_text(v, t) for c in mine for v, (_, _, t) in zip(c.inputs(), ins, strict=True)
        )
        text[f"{stem}_out.mem"] = "".join(
            mem_text(v, t) for c in mine for v, (_, _, t) in zip(c.outputs(), outs, strict=True)
        )
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["case", "layer", "source", "name", "window", "step", "events"])
        for k, c in enumerate(mine):
            w.writerow(
                [
                    k,
                    c.layer,
                    c.source,
                    c.name,
                    "" if c.window is None else c.window,
                    "" if c.step is None else c.step,
                    " ".join(f"{e}={v}" for e, v in c.events.items()),
                ]
            )
        text[f"{stem}_cases.csv"] = buf.getvalue()
        golden[str(L.index)] = {
            "kind": "lstm" if isinstance(L, FixedLstm) else "dense",
            "cases": len(mine),
            "in": [{"name": nm, "words": n, "format": t.spec} for nm, n, t in ins],
            "out": [{"name": nm, "words": n, "format": t.spec} for nm, n, t in outs],
            "files": [f"{stem}_in.mem", f"{stem}_out.mem", f"{stem}_cases.csv"],
        }
        detail[str(L.index)] = [
            {
                "source": c.source,
                "name": c.name,
                "window": c.window,
                "step": c.step,
                "x": c.x,
                "h_prev": c.h_prev,
                "c_prev": c.c_prev,
                **c.detail,
            }
            for c in mine
        ]
    text["golden/cases.json"] = json.dumps(detail) + "\n"
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "config": cfg.to_dict(),
        "bundle": {
            "weights_digest": weights_digest(bundle),
            "layers": bundle.model.to_json(),
            "features": bundle.features,
            "length": bundle.length,
        },
        "source": source or ("random codes" if windows is None else "windows"),
        "arithmetic": _arithmetic(model),
        "files": files,
        "golden": golden,
    }
    text["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    text["README.md"] = readme(model, manifest, cases)
    with atomic_dir(out, replaceable) as tmp:
        (tmp / "golden").mkdir()
        for name, body in text.items():
            (tmp / name).write_text(body)
    return manifest


def _arithmetic(model: FixedModel) -> dict:
    cfg = model.config
    out: dict = {
        "accumulator_fraction_bits": model.acc_frac,
        "bias_shift": model.bias_shift,
        "z_shift": model.acc_frac - cfg.preact.frac,
        "cell_fraction_bits": model.cell_frac,
        "fc_shift": model.fc_shift,
        "ig_shift": model.ig_shift,
        "c_shift": model.cell_frac - cfg.cell.frac,
        "h_shift": model.h_frac - cfg.data.frac,
        "cell_bits": model.cell_bits,
        "accumulator_bits": {
            str(L.index): L.acc_bits for L in model.layers if not isinstance(L, int)
        },
        "tables": {},
    }
    for name, unit in (
        ("sigmoid(z)", model.sig_z),
        ("tanh(z)", model.tanh_z),
        ("tanh(c)", model.tanh_c),
    ):
        out["tables"][name] = {
            "lo_code": unit.lo_code,
            "hi_code": unit.hi_code,
            "shift": unit.shift,
            "input": unit.inp.spec,
        }
    return out


def readme(model: FixedModel, manifest: dict, cases: list[Case]) -> str:
    cfg, a = model.config, manifest["arithmetic"]
    lines = [
        "# Fixed-point export",
        "",
        f"Generated by squall from a bundle with layers "
        f"{', '.join(layer_label(s) for s in manifest['bundle']['layers'])} (weights digest "
        f"`{manifest['bundle']['weights_digest']}`), configuration `{cfg.name}`. Check it "
        f"against the bundle with `squall hw check-export DIR BUNDLE`.",
        "",
        "## Formats",
        "",
        "Q notation: `Qm.n` is signed two's complement with m integer bits (sign included) and "
        "n fraction bits; `UQm.n` unsigned. Value = code * 2^-n.",
        "",
        "| signal | format | rounding | overflow |",
        "|---|---|---|---|",
    ]
    for key, what in (
        ("data", "x, h, dense outputs"),
        ("weight", "W, U"),
        ("bias", "b"),
        ("preact", "gate pre-activations z"),
        ("cell", "cell state c"),
        ("sigmoid", "sigmoid outputs i, f, o"),
        ("tanh", "tanh outputs"),
    ):
        t = getattr(cfg, key)
        lines.append(f"| {what} | {t} | {t.rounding} | {t.overflow} |")
    lines += [
        "",
        "Rounding: `rnd` = add half an LSB, then truncate (round half up); `trn` = "
        "truncate; `rnd_conv` = ties to even. Overflow: `sat` clamps, `wrap` keeps the low "
        "bits.",
        "",
        "## One LSTM step",
        "",
        "```",
        f"acc[r] = sum_j W[r][j] x[j] + sum_j U[r][j] h[j] + (b[r] << {a['bias_shift']})"
        f"      exact, {a['accumulator_fraction_bits']} fraction bits",
        f"z[r]   = round_sat(acc[r] >> {a['z_shift']}) to {cfg.preact}",
        f"i, f, o = sigmoid table(z) in {cfg.sigmoid}; g = tanh table(z) in {cfg.tanh}   "
        f"(gate blocks {GATES})",
        f"c'     = round_sat(((f * c) << {a['fc_shift']}) + ((i * g) << {a['ig_shift']}) "
        f">> {a['c_shift']}) to {cfg.cell}",
        f"h'     = round_sat((o * tanh table(c')) >> {a['h_shift']}) to {cfg.data}",
        f"dense: y = round_sat((W x + (b << {a['bias_shift']})) >> {a['z_shift']}) to {cfg.data}",
        "```",
        "",
        "Accumulator widths (the rule: weight bits + data bits + ceil(log2(inputs + hidden "
        "+ 1)), never wraps): "
        + ", ".join(f"layer {k}: {v} bits" for k, v in a["accumulator_bits"].items())
        + f"; cell update: {a['cell_bits']} bits.",
        "",
        "## Activation tables",
        "",
    ]
    for name, t in a["tables"].items():
        lines.append(
            f"- {name}: input {t['input']}; index k = (clamp(code, {t['lo_code']}, "
            f"{t['hi_code']}) - ({t['lo_code']})) >> {t['shift']}"
        )
    lines += [
        f"- sigmoid: {cfg.sigmoid_fn.describe()}; tanh: {cfg.tanh_fn.describe()}",
        "- a table entry is the function at the centre of the values its bin holds; a "
        "piecewise-linear segment is y = round_sat(((Y[k] << s) + slope[k] * d) >> s') "
        "with d the input's offset inside the segment (its low `shift` bits)",
        "",
        "## Files",
        "",
        "One hex word per line (`$readmemh`), two's complement, ceil(width / 4) digits.",
        "",
        "| file | format | words | order |",
        "|---|---|---|---|",
    ]
    for f in manifest["files"]:
        lines.append(
            f"| {f['path']} | {FixedType.parse(f['format'])} | {f['words']} | {f['order']} |"
        )
    lines += [
        "",
        "## Golden vectors",
        "",
        "Per layer `golden/layerN_in.mem` holds each case's inputs one after another, "
        "`golden/layerN_out.mem` its outputs; `golden/layerN_cases.csv` names the cases "
        "and the events each exercises (tie_z: a pre-activation exactly half an LSB "
        "between two codes before rounding; sat_z: one saturated; likewise c and h, y for "
        "dense; clip_*: an activation input outside its table's range). "
        "`golden/cases.json` adds every intermediate (acc, z, i, f, g, o, c, tanh(c)).",
        "",
        "| layer | words in per case | words out per case | cases |",
        "|---|---|---|---|",
    ]
    for k, g in manifest["golden"].items():
        lines.append(
            f"| {k} | "
            + " + ".join(f"{p['name']} {p['words']}" for p in g["in"])
            + " | "
            + " + ".join(f"{p['name']} {p['words']}" for p in g["out"])
            + f" | {g['cases']} |"
        )
    lines += ["", "Edge cases found (events they exercise):", ""]
    for c in cases:
        if c.source == "edge":
            ev = ", ".join(f"{k} {v}" for k, v in c.events.items()) or "none"
            lines.append(f"- layer {c.layer}: {c.name} ({ev})")
    impossible = tie_h_note(model)
    missing = [m for m in missing_events(cases) if not (impossible and m.endswith("tie_h"))]
    if impossible:
        lines += ["", impossible]
    if missing:
        lines += [
            "",
            "Not found by the search (no golden case exercises them): " + ", ".join(missing) + ".",
        ]
    lines.append("")
    return "\n".join(lines)


__all__ = [
    "FORMAT",
    "CheckReport",
    "check_export",
    "edge_cases",
    "export_bundle",
    "read_mem",
    "tie_h_possible",
    "weights_digest",
]
