"""Write the RTL directory of ``squall hw rtl``: generated SystemVerilog, ROM images, tables,
``rtl.json``, a README and the fixed-point export, bit-exact with the fixed engine
(:mod:`squall.engines.fixed`).

The design's numbers are :mod:`squall.hw.design`'s, the SystemVerilog text
:mod:`squall.hw.svgen`'s (templates in ``squall/hw/sv/``); :func:`load_design` reads
``rtl.json`` back for the simulation and synthesis (:mod:`squall.hw.sim`).

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
    :data:`~squall.hw.design.SPI_WORDS` words per transaction, see
    :func:`~squall.hw.design.spi_protocol`) and a top level that
    puts the LSTM cell behind it.
"""

from __future__ import annotations

import json
import os

from squall.bundle import Bundle
from squall.errors import SquallError
from squall.hw.design import FORMAT, VERSION, RtlDesign, spi_fits
from squall.hw.export import export_bundle
from squall.hw.export_layout import layer_label, mem_text, table_files
from squall.hw.svgen import cell_sv, layer_sv, matvec_sv, spi_slave_sv, spi_top_sv
from squall.io import atomic_dir, written_by


def design_files(d: RtlDesign) -> dict[str, str]:
    """Every generated file's text (the export subdirectory aside)."""
    cfg = d.config
    wrom, brom = d.rom_words()
    files = {
        "squall_matvec.sv": matvec_sv(d),
        "squall_lstm_cell.sv": cell_sv(d),
        "squall_lstm_layer.sv": layer_sv(d),
        "matvec_weights.mem": d.rom_text(wrom, cfg.weight),
        "matvec_bias.mem": d.rom_text(brom, cfg.bias),
    }
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


replaceable = written_by("rtl.json", FORMAT, listed=True)


def write_rtl(
    bundle: Bundle,
    out: str | os.PathLike[str],
    config="16",
    lanes: int = 16,
    windows=None,
    source: str = "",
) -> RtlDesign:
    """Generate the RTL directory ``out`` atomically (with the fixed-point export, golden
    vectors included, in ``out/export``); returns the design."""
    d = RtlDesign(bundle, config, lanes)
    files = design_files(d)
    with atomic_dir(out, replaceable) as tmp:
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
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or manifest.get("version") != VERSION
    ):
        raise SquallError(f"{path} is not a squall RTL manifest of version {VERSION}")
    return manifest


def readme(d: RtlDesign, manifest: dict) -> str:
    cfg = d.config
    spi = manifest["spi"]
    lines = [
        "# Generated SystemVerilog",
        "",
        f"Made by `squall hw rtl` for a bundle with layers "
        f"{', '.join(layer_label(s) for s in d.bundle.layers)} (weights digest "
        f"`{manifest['bundle']['weights_digest']}`), fixed-point configuration `{cfg.name}`, "
        f"P = {d.lanes} MAC lanes. Regenerate rather than edit.",
        "",
        "## Top modules",
        "",
        "| module | file | what |",
        "|---|---|---|",
        "| `squall_matvec` | squall_matvec.sv | time-multiplexed mat-vec unit: P MAC lanes, "
        "weights from a ROM, vector streamed in, accumulators streamed out |",
        "| `squall_lstm_cell` | squall_lstm_cell.sv | one LSTM step: mat-vec over [x, h], "
        "sigmoid/tanh tables, c and h update, state registers (instantiates squall_matvec) |",
        "| `squall_lstm_layer` | squall_lstm_layer.sv | sequencer: one layer over "
        f"T = {d.length} steps from zero state (instantiates squall_lstm_cell) |",
    ]
    if manifest["spi_top"] == "generated":
        lines += [
            "| `squall_spi_slave` | squall_spi_slave.sv | SPI mode 0 slave: 16-bit words "
            "in, 32-bit words out, up to 64 per transaction |",
            "| `squall_spi_top` | squall_spi_top.sv | the LSTM cell behind the SPI slave "
            "(instantiates squall_spi_slave, squall_lstm_cell, squall_matvec) |",
        ]
    else:
        lines += ["", f"No SPI top: {manifest['spi_top']}."]
    lines += [
        "",
        "Compile everything with `iverilog -g2012 -o sim *.sv` (choose the top with "
        "`-s`) and lint them with `verilator --lint-only *.sv` (or `--top-module TOP`); "
        "simulate from this directory (the ROMs are read with `$readmemh` by relative "
        "path). Clock: one, rising edge; reset synchronous, active high.",
        "",
        "## Memories",
        "",
        f"- `matvec_weights.mem`: {sum(r.groups * r.cols for r in d.layers)} words of "
        f"{d.lanes} x {cfg.weight} (lane p in bits p*{cfg.weight.width} and up). Layer L "
        "starts at its base word; word base + g*cols + j holds column j of rows "
        f"g*{d.lanes} .. g*{d.lanes}+{d.lanes - 1} (rows past the layer's end are 0). For "
        "an LSTM the matrix is [W | U], rows in gate order i, f, g, o.",
        f"- `matvec_bias.mem`: one word of {d.lanes} x {cfg.bias} per row group.",
        "- `*_lut.mem` / `*_pwl_*.mem`: the activation tables, the same files as "
        "`export/` (made by the same code).",
        "- `export/`: the fixed-point export (`squall hw export`): the canonical weight "
        "files, the golden vectors and their README.",
        "",
        "| layer | kind | rows x cols | groups | weight base | bias base | accumulator | "
        "clocks per mat-vec | clocks per step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in manifest["layers"]:
        c = r["cycles"]
        lines.append(
            f"| {r['index']} | {r['kind']} | {r['rows']} x {r['cols']} | {r['groups']} "
            f"| {r['wbase']} | {r['bbase']} | {r['acc_bits']} bits | {c['matvec']} | "
            f"{c.get('step', '')} |"
        )
    lines += [
        "",
        "Clocks (start to done, both counted): a mat-vec of R rows and C columns "
        "takes C (load) + G C (MACs, G = ceil(R/P) groups) + (G-1) max(0, P-C) (padding "
        "when C < P) + 2 + r (pipeline and the last group's r results); an LSTM step "
        "adds H + 2 (the update pipeline). Measured in simulation by "
        "`squall hw cycles`.",
        "",
        "## Arithmetic",
        "",
        "As the fixed engine and `export/README.md` state it: exact accumulators "
        f"({d.acc_w} bits here), then round and saturate to the pre-activation format, "
        "table activations, the cell update and the output, each a generated function "
        "(`rq_z`, `rq_c`, `rq_h`, `sigmoid_z`, `tanh_z`, `tanh_c`) in "
        "squall_lstm_cell.sv.",
        "",
        "## SPI protocol",
        "",
        f"- {spi['mode']}; {spi['in_bits']}-bit words in, "
        f"{spi['out_bits']}-bit words out, up to {spi['max_words']} words per transaction.",
        f"- Write: {spi['write']}",
        f"- Read: {spi['read']}",
        f"- Clocks per transaction: write {spi['clocks']['write']}, read {spi['clocks']['read']}.",
        "",
    ]
    return "\n".join(lines)
