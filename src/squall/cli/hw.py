"""``squall hw ...``: the hardware co-design commands (cost model, fixed point, export, RTL).

Each command is registered by one small function here; :func:`register` adds the ``hw`` group
to the main parser. Like every command, they only parse options and call the library
(:mod:`squall.hw`).
"""

from __future__ import annotations

import argparse

from squall.cli.common import check_out, check_run_inputs
from squall.cli.options import BUNDLE, BUNDLE_HELP, DATA
from squall.text import plural

DATA_HELP = "CSV files or globs, or one windows .npz"
CONFIG_HELP = (
    "fixed-point configuration: a preset (16, 16-pwl, 12, 8w) or a .json file (default 16)"
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``squall hw`` and its subcommands to the main parser's subcommands."""
    group = sub.add_parser("hw", help="hardware co-design: cost model, fixed point, export")
    hw_sub = group.add_subparsers(
        dest="hw_command",
        metavar="HW_COMMAND",
        parser_class=type(group),
        help="the hardware command ('squall hw HW_COMMAND --help' describes its options)",
    )
    group.set_defaults(func=None, parser=group)
    for add in COMMANDS:
        add(hw_sub)


#: Functions that each add one ``squall hw`` subcommand (appended below, one per command).
COMMANDS: list = []


def _cost_number(text: str, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    ok = (0 <= value if allow_zero else 0 < value) and value < float("inf")
    if not ok:
        raise argparse.ArgumentTypeError(
            f"must be a number {'>= 0' if allow_zero else '> 0'}, got {text!r}"
        )
    return value


def _cost_positive(text: str) -> float:
    """A number > 0 (argparse type)."""
    return _cost_number(text, allow_zero=False)


def _cost_nonnegative(text: str) -> float:
    """A number >= 0 (argparse type)."""
    return _cost_number(text, allow_zero=True)


def _add_cost(hw_sub: argparse._SubParsersAction) -> None:
    from squall.hw.costmodel import BOUNDARIES, OFFLOADS, WEIGHT_MODES
    from squall.hw.links import SPI_MODES

    p = hw_sub.add_parser(
        "cost",
        help="cost model: bytes, calls, link and compute time per "
        "call and per run for a software/hardware boundary",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    g = p.add_argument_group("the run")
    g.add_argument(
        "--windows",
        metavar="N",
        type=int,
        help="windows in the run (analytic call counts: windows x each layer's steps; a "
        "forecaster's encoder runs the lookback, its decoder the horizon)",
    )
    g.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help="count the calls instead by running the pure engine with its counters "
        "on over these windows (.npz) or data files",
    )
    g.add_argument(
        "--limit",
        metavar="N",
        type=int,
        default=0,
        help="with --data: only the first N windows (default 0: all)",
    )
    g = p.add_argument_group("the boundary")
    g.add_argument(
        "--boundary",
        choices=list(BOUNDARIES),
        default="step",
        help="what one accelerator call does (default step): "
        + "; ".join(f"{k}: {v}" for k, v in BOUNDARIES.items()),
    )
    g.add_argument(
        "--word-bits",
        metavar="BITS",
        type=int,
        default=32,
        help="bits per weight and value (default 32: float32; 16: 16-bit fixed point; 8)",
    )
    g.add_argument(
        "--weights",
        choices=list(WEIGHT_MODES),
        default="resident",
        help="weights kept in on-chip memory, loaded once (default), or sent with every call",
    )
    g.add_argument(
        "--offload",
        choices=list(OFFLOADS),
        default="recurrent",
        help="layers the accelerator runs at the step/matvec/layer boundaries "
        "(default recurrent: LSTM, GRU and decoder layers; lstm: LSTM cells only; all: conv1d, "
        "dense and rfft too)",
    )
    g = p.add_argument_group("PCIe link")
    g.add_argument(
        "--pcie-bandwidth",
        metavar="GB_S",
        type=_cost_positive,
        default=5.0,
        help="sustained bandwidth in GB/s (default 5: Gen4 x4)",
    )
    g.add_argument(
        "--pcie-latency",
        metavar="NS",
        type=_cost_nonnegative,
        default=500.0,
        help="latency per transaction in ns (default 500)",
    )
    g.add_argument(
        "--pcie-transactions",
        metavar="N",
        type=int,
        default=1,
        help="transactions per call (default 1: input and result in one round trip)",
    )
    g = p.add_argument_group("SPI link")
    g.add_argument(
        "--spi-clock",
        metavar="MHZ",
        type=_cost_positive,
        default=25.0,
        help="clock in MHz (default 25)",
    )
    g.add_argument(
        "--spi-in-bits",
        metavar="BITS",
        type=int,
        default=16,
        help="input word width in bits (default 16)",
    )
    g.add_argument(
        "--spi-out-bits",
        metavar="BITS",
        type=int,
        default=16,
        help="output word width in bits (default 16)",
    )
    g.add_argument(
        "--spi-words", metavar="N", type=int, default=64, help="words per transaction (default 64)"
    )
    g.add_argument(
        "--spi-overhead",
        metavar="CLOCKS",
        type=int,
        default=0,
        help="extra clocks per transaction (default 0)",
    )
    g.add_argument(
        "--spi-mode",
        choices=list(SPI_MODES),
        default="staggered",
        help="input then output (staggered, default) or both at once (overlapped, full duplex)",
    )
    g.add_argument(
        "--spi-bits-per-clock",
        metavar="BITS",
        type=int,
        help="bits moved per clock (default: a whole word per clock; 1 for one-wire "
        "SPI, 4 for quad SPI)",
    )
    g = p.add_argument_group("compute")
    g.add_argument(
        "--macs",
        metavar="P",
        type=int,
        help="parallel MAC units (default 16; with --cycles-from-sim the simulated design's lanes)",
    )
    g.add_argument(
        "--cycles-per-mac", metavar="N", type=int, default=1, help="clocks per MAC (default 1)"
    )
    g.add_argument(
        "--act-latency",
        metavar="CLOCKS",
        type=int,
        default=10,
        help="clocks per LSTM step for the activations and state update (default 10)",
    )
    g.add_argument(
        "--clock",
        metavar="MHZ",
        type=_cost_positive,
        default=100.0,
        help="accelerator clock in MHz (default 100)",
    )
    g.add_argument(
        "--cycles-from-sim",
        metavar="CYCLES_JSON",
        help="clocks per call measured in simulation (the file `squall hw cycles` "
        "writes) instead of the formula; the formula's numbers are shown beside them",
    )
    g = p.add_argument_group("answers")
    g.add_argument(
        "--budget",
        metavar="SECONDS",
        type=_cost_positive,
        help="time budget for the run: the longest compute per call that meets it (default: none)",
    )
    g.add_argument(
        "--software-time",
        metavar="SECONDS",
        type=_cost_positive,
        help="measured software time of the run: the longest compute per call that "
        "beats it, and the speedup (default: none)",
    )
    g.add_argument(
        "--json", action="store_true", help="print JSON instead of the table (default: the table)"
    )
    p.set_defaults(func=cmd_cost)


def cmd_cost(a: argparse.Namespace) -> None:
    import json

    from squall import load_bundle
    from squall.errors import SquallError
    from squall.hw.costmodel import Compute, bundle_cost
    from squall.hw.links import Pcie, Spi

    if (a.windows is None) == (a.data is None):
        raise SquallError(
            "give --windows N (analytic call counts) or --data FILE (counted), one of them"
        )
    if a.windows is not None and a.windows < 1:
        raise SquallError(f"--windows must be >= 1, got {a.windows}")
    if a.limit < 0:
        raise SquallError(f"--limit must be >= 0, got {a.limit}")
    check_run_inputs(a.data)  # a run's windows file: that complete run's, unchanged
    bundle = load_bundle(a.bundle)
    measured = None
    if a.cycles_from_sim:
        from squall.hw.clocks import measured_cycles
        from squall.hw.costmodel import check_measured

        measured = measured_cycles(a.cycles_from_sim)
        a.macs = check_measured(measured, bundle, a.macs)
    options = dict(
        boundary=a.boundary,
        word_bits=a.word_bits,
        weights=a.weights,
        offload=a.offload,
        pcie=Pcie(a.pcie_bandwidth * 1e9, a.pcie_latency / 1e9, a.pcie_transactions),
        spi=Spi(
            a.spi_clock * 1e6,
            a.spi_in_bits,
            a.spi_out_bits,
            a.spi_words,
            a.spi_overhead,
            a.spi_mode,
            a.spi_bits_per_clock,
        ),
        compute=Compute(
            16 if a.macs is None else a.macs, a.cycles_per_mac, a.act_latency, a.clock * 1e6
        ),
        budget=a.budget,
        software_time=a.software_time,
        name=a.bundle,
    )
    if measured is not None:
        options["measured"] = measured
    if a.data is None:
        report = bundle_cost(bundle, windows=a.windows, **options)
    else:
        from squall import pipeline

        x = pipeline.load_windows(bundle, a.data).x
        x = x[: a.limit] if a.limit else x
        report = bundle_cost(
            bundle,
            x=x,
            calls_source=f"counted by the pure engine over "
            f"{plural(len(x), 'window', fmt=',')} of {' '.join(a.data)}",
            **options,
        )
    print(json.dumps(report.as_dict(), indent=1) if a.json else report.table())


COMMANDS.append(_add_cost)


# ---------------------------------------------------------------- fixed point and export


def _check_out(a: argparse.Namespace, *inputs, **rules) -> None:
    """``--out`` (when given) checked before any work against the bundle, ``--data`` and
    ``inputs`` (the rules: :func:`squall.io.check_output`, through :mod:`squall.cli.common`)."""
    if a.out:
        check_out(a, [getattr(a, "bundle", None), *inputs], getattr(a, "data", None), **rules)
    else:
        check_run_inputs(getattr(a, "data", None))


_REPORT = {"suffixes": (".csv", ".json")}


def _check_limit(a: argparse.Namespace) -> None:
    """``--limit`` is >= 0 and, where ``--data`` is optional, comes with it."""
    from squall.errors import SquallError

    if a.limit < 0:
        raise SquallError(f"--limit must be >= 0, got {a.limit}")
    if a.limit and not a.data:
        raise SquallError("--limit needs --data (it counts the windows of the data)")


def _fx_windows(a: argparse.Namespace, bundle):
    """The scaled windows (and their mask) of ``a.data``, the first ``a.limit`` of them."""
    from squall import pipeline
    from squall.errors import SquallError

    if a.limit < 0:
        raise SquallError(f"--limit must be >= 0, got {a.limit}")
    ws = pipeline.load_windows(bundle, a.data)
    x, mask = ws.x, ws.mask
    if a.limit:
        x, mask = x[: a.limit], mask[: a.limit]
    if len(x) == 0:
        raise SquallError("no windows in the data")
    return x, mask


def _fx_float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,50,99, got {text!r}") from None


def _add_ranges(hw_sub: argparse._SubParsersAction) -> None:
    from squall.hw.ranges import PERCENTILES

    p = hw_sub.add_parser(
        "ranges",
        help="measured ranges of every weight and signal, and a fixed-point format for each",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("data", metavar=DATA, nargs="+", help=DATA_HELP)
    p.add_argument("--limit", type=int, default=0, help="only the first N windows (default all)")
    p.add_argument(
        "--bits", type=int, default=16, help="word width of the recommended formats (default 16)"
    )
    p.add_argument(
        "--percentiles",
        type=_fx_float_list,
        default=PERCENTILES,
        help="percentiles to report (default " + ",".join(f"{q:g}" for q in PERCENTILES) + ")",
    )
    p.add_argument("--out", help="also write the report: .csv (one row per signal) or .json")
    p.set_defaults(func=_cmd_ranges)


def _cmd_ranges(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.hw.ranges import measure, write_report

    _check_out(a, **_REPORT)
    bundle = load_bundle(a.bundle)
    x, _ = _fx_windows(a, bundle)
    report = measure(bundle, x, a.bits, a.percentiles)
    print(report.table())
    if a.out:
        write_report(report, a.out)
        print(f"written to {a.out}")


def _add_accuracy(hw_sub: argparse._SubParsersAction) -> None:
    from squall.hw.accuracy import DEFAULT_CONFIGS

    p = hw_sub.add_parser(
        "accuracy",
        help="fixed engine against float: output error, score differences, changed anomaly flags",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("data", metavar=DATA, nargs="+", help=DATA_HELP)
    p.add_argument(
        "--config",
        action="append",
        help="fixed-point configuration: a preset (16, "
        "16-pwl, 12, 8w) or a .json file; repeat to compare several (default "
        + ", ".join(DEFAULT_CONFIGS)
        + ")",
    )
    p.add_argument("--limit", type=int, default=0, help="only the first N windows (default all)")
    p.add_argument(
        "--threshold",
        type=float,
        help="flag threshold (default: the bundle's, else the 0.95 quantile of the float scores)",
    )
    p.add_argument(
        "--threshold-quantile", type=float, help="threshold = this quantile of the float scores"
    )
    p.add_argument("--out", help="also write: .csv (per window) or .json (the summary)")
    p.set_defaults(func=_cmd_accuracy)


def _cmd_accuracy(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.hw.accuracy import DEFAULT_CONFIGS, accuracy, write_report

    _check_out(a, **_REPORT)
    bundle = load_bundle(a.bundle)
    x, mask = _fx_windows(a, bundle)
    report = accuracy(
        bundle, x, mask, a.config or DEFAULT_CONFIGS, a.threshold, a.threshold_quantile
    )
    print(report.table())
    if a.out:
        write_report(report, a.out)
        print(f"written to {a.out}")


def _add_export(hw_sub: argparse._SubParsersAction) -> None:
    p = hw_sub.add_parser(
        "export",
        help="weights, biases and activation tables as .mem files "
        "and golden vectors per layer, for hardware",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("--out", required=True, help="directory to write (replaced whole)")
    p.add_argument(
        "--config",
        default="16",
        help=CONFIG_HELP,
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help="take the chosen and random golden "
        "steps from these windows (.npz or data files); default: random codes",
    )
    p.add_argument("--limit", type=int, default=0, help="with --data: the first N windows only")
    p.add_argument(
        "--random", type=int, default=6, help="random golden steps per layer (default 6)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random golden steps (default 0)"
    )
    p.set_defaults(func=_cmd_export)


def _cmd_export(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.hw.export import export_bundle, replaceable

    _check_limit(a)
    _check_out(a, directory=True, replaceable=replaceable)
    bundle = load_bundle(a.bundle)
    x = _fx_windows(a, bundle)[0] if a.data else None
    m = export_bundle(
        bundle, a.out, a.config, x, a.random, a.seed, source=" ".join(a.data) if a.data else ""
    )
    cases = sum(g["cases"] for g in m["golden"].values())
    words = sum(f["words"] for f in m["files"])
    print(
        f"{plural(len(m['files']), '.mem file')} ({plural(words, 'word', fmt=',')}) and "
        f"{plural(cases, 'golden step')} in {plural(len(m['golden']), 'layer')} written to "
        f"{a.out} (configuration {m['config']['name']}); "
        f"see {a.out}/README.md"
    )


def _add_check_export(hw_sub: argparse._SubParsersAction) -> None:
    p = hw_sub.add_parser(
        "check-export", help="load an export back and re-check every word against the bundle"
    )
    p.add_argument("export", metavar="EXPORT_DIR", help="directory written by squall hw export")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.set_defaults(func=_cmd_check_export)


def _cmd_check_export(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.errors import SquallError
    from squall.hw.export_check import check_export

    report = check_export(a.export, load_bundle(a.bundle))
    print(report.summary())
    if not report.ok:
        raise SquallError(
            f"{a.export} does not match {a.bundle}: {plural(len(report.problems), 'problem')}, "
            f"first: {report.problems[0]}"
        )


COMMANDS += [_add_ranges, _add_accuracy, _add_export, _add_check_export]


# ---------------------------------------------------------------- RTL


def _add_rtl(hw_sub: argparse._SubParsersAction) -> None:
    p = hw_sub.add_parser(
        "rtl",
        help="generate SystemVerilog (mat-vec unit, LSTM cell, layer "
        "sequencer, SPI front end) bit-exact with the fixed engine",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("--out", required=True, help="directory to write (replaced whole)")
    p.add_argument(
        "--config",
        default="16",
        help=CONFIG_HELP,
    )
    p.add_argument(
        "--lanes",
        type=int,
        default=16,
        help="parallel MAC lanes P (default 16, the cost model's default)",
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help="golden steps of export/ from these "
        "windows (.npz or data files); default: random codes",
    )
    p.add_argument("--limit", type=int, default=0, help="with --data: the first N windows only")
    p.set_defaults(func=_cmd_rtl)


def _cmd_rtl(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.hw.rtl import replaceable, write_rtl

    _check_limit(a)
    _check_out(a, directory=True, replaceable=replaceable)
    bundle = load_bundle(a.bundle)
    x = _fx_windows(a, bundle)[0] if a.data else None
    d = write_rtl(bundle, a.out, a.config, a.lanes, x, source=" ".join(a.data or []))
    print(
        f"SystemVerilog for {plural(len(d.layers), 'mat-vec layer')} written to {a.out} "
        f"(P = {plural(d.lanes, 'lane')}, {d.acc_w}-bit accumulators, configuration "
        f"{d.config.name}); "
        f"top modules and memories: {a.out}/README.md"
    )
    for r in d.layers:
        c = d.predicted_cycles(r.index)
        step = f", {c['step']:,} per LSTM step" if "step" in c else ""
        print(
            f"  layer {r.index} {r.kind} {r.rows}x{r.cols}: {c['matvec']:,} clocks per "
            f"mat-vec (ideal ceil(MACs/P) = {c['ideal']:,}){step}"
        )


def _add_cycles(hw_sub: argparse._SubParsersAction) -> None:
    p = hw_sub.add_parser(
        "cycles",
        help="simulate the generated RTL: clocks per mat-vec and "
        "per LSTM step of every layer, for `squall hw cost --cycles-from-sim`",
    )
    p.add_argument("rtl", metavar="RTL_DIR", help="directory written by squall hw rtl")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument(
        "--simulator",
        choices=["icarus", "verilator"],
        default="icarus",
        help="simulator to run the testbench on: icarus (Icarus Verilog, default) or verilator",
    )
    p.add_argument("--out", required=True, help="clocks file to write (.json)")
    p.set_defaults(func=_cmd_cycles)


def _cmd_cycles(a: argparse.Namespace) -> None:
    import json
    import os
    from pathlib import Path

    from squall import load_bundle
    from squall.errors import SquallError
    from squall.hw.sim import measure_cycles
    from squall.io import write_text

    _check_out(a, a.rtl, suffixes=(".json",))  # checked before the simulation, not after it
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_dir() or not os.access(out.parent, os.W_OK):
        raise SquallError(f"cannot write {a.out}: give a .json file name in a writable directory")
    summary = measure_cycles(load_bundle(a.bundle), a.rtl, a.simulator)
    write_text(a.out, json.dumps(summary, indent=1) + "\n")
    print(
        f"{'layer':>5} {'kind':>5} {'MACs':>7} {'ceil(MACs/P)':>12} {'mat-vec':>8} "
        f"{'predicted':>9} {'step':>6} {'predicted':>9}"
    )
    for r in summary["layers"]:
        print(
            f"{r['layer']:>5} {r['kind']:>5} {r['macs']:>7,} {r['ideal_matvec']:>12,} "
            f"{max(r['measured_matvec']):>8,} {r['predicted_matvec']:>9,} "
            f"{max(r['measured_step'] or [0]) or '-':>6} {r['predicted_step'] or '-':>9}"
        )
    print(f"written to {a.out} (P = {summary['lanes']}, {a.simulator})")


def _add_synth(hw_sub: argparse._SubParsersAction) -> None:
    p = hw_sub.add_parser(
        "synth",
        help="Yosys generic synthesis of the generated modules: "
        "cells, flip-flops, latches, longest combinational path",
    )
    p.add_argument("rtl", metavar="RTL_DIR", help="directory written by squall hw rtl")
    p.add_argument(
        "--top", action="append", help="module(s) to synthesize (default: every top module)"
    )
    p.add_argument("--out", help="also write the table as .csv or .json")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(a: argparse.Namespace) -> None:
    import json

    from squall.errors import SquallError
    from squall.hw.rtl import load_design
    from squall.hw.sim import synthesize
    from squall.io import write_text

    _check_out(a, a.rtl, **_REPORT)
    manifest = load_design(a.rtl)
    tops = a.top or [t for t in manifest["tops"] if f"{t}.sv" in manifest["sources"]]
    rows = []
    for top in tops:
        if f"{top}.sv" not in manifest["sources"]:
            raise SquallError(f"{a.rtl} has no module {top}")
        rows.append(synthesize(a.rtl, top))
        r = rows[-1]
        print(
            f"{top:<20} {r['cells']:>8,} cells {r['flip_flops']:>7,} flip-flops "
            f"{r['latches']:>3} latches  longest path {r['longest_path']} cells",
            flush=True,
        )
    if a.out:
        if a.out.endswith(".json"):
            write_text(a.out, json.dumps(rows, indent=1) + "\n")
        else:
            lines = ["top,cells,flip_flops,latches,longest_path"]
            lines += [
                f"{r['top']},{r['cells']},{r['flip_flops']},{r['latches']},{r['longest_path']}"
                for r in rows
            ]
            write_text(a.out, "\n".join(lines) + "\n")
        print(f"written to {a.out}")
    latched = [r["top"] for r in rows if r["latches"]]
    if latched:
        raise SquallError(f"latches inferred in {', '.join(latched)}")


COMMANDS += [_add_rtl, _add_cycles, _add_synth]
