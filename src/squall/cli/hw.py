"""``squall hw ...``: the hardware co-design commands (cost model, fixed point, export).

Each command is registered by one small function here; :func:`register` adds the ``hw`` group
to the main parser. Like every command, they only parse options and call the library
(:mod:`squall.hw`).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``squall hw`` and its subcommands to the main parser's subcommands."""
    group = sub.add_parser("hw", help="hardware co-design: cost model, fixed point, export")
    hw_sub = group.add_subparsers(dest="hw_command", metavar="HW_COMMAND",
                                  parser_class=type(group))
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
        raise argparse.ArgumentTypeError(f"must be a number {'>= 0' if allow_zero else '> 0'}, "
                                         f"got {text!r}")
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

    p = hw_sub.add_parser("cost", help="cost model: bytes, calls, link and compute time per "
                          "call and per run for a software/hardware boundary")
    p.add_argument("bundle", metavar="BUNDLE_DIR", help="bundle directory")
    g = p.add_argument_group("the run")
    g.add_argument("--windows", metavar="N", type=int,
                   help="windows in the run (analytic call counts: windows x steps x layers)")
    g.add_argument("--data", nargs="+", metavar="FILE",
                   help="count the calls instead by running the pure engine with its counters "
                   "on over these windows (.npz) or data files")
    g.add_argument("--limit", metavar="N", type=int, default=0,
                   help="with --data: only the first N windows (default 0: all)")
    g = p.add_argument_group("the boundary")
    g.add_argument("--boundary", choices=list(BOUNDARIES), default="step",
                   help="what one accelerator call does (default step): "
                   + "; ".join(f"{k}: {v}" for k, v in BOUNDARIES.items()))
    g.add_argument("--word-bits", metavar="BITS", type=int, default=32,
                   help="bits per weight and value (default 32: float32; 16: 16-bit fixed "
                   "point; 8)")
    g.add_argument("--weights", choices=list(WEIGHT_MODES), default="resident",
                   help="weights kept in on-chip memory, loaded once (default), or sent with "
                   "every call")
    g.add_argument("--offload", choices=list(OFFLOADS), default="lstm",
                   help="layers the accelerator runs at the step/matvec/layer boundaries "
                   "(default lstm: the dense layer stays on the host)")
    g = p.add_argument_group("PCIe link")
    g.add_argument("--pcie-bandwidth", metavar="GB_S", type=_cost_positive, default=5.0,
                   help="sustained bandwidth in GB/s (default 5: Gen4 x4)")
    g.add_argument("--pcie-latency", metavar="NS", type=_cost_nonnegative, default=500.0,
                   help="latency per transaction in ns (default 500)")
    g.add_argument("--pcie-transactions", metavar="N", type=int, default=1,
                   help="transactions per call (default 1: input and result in one round trip)")
    g = p.add_argument_group("SPI link")
    g.add_argument("--spi-clock", metavar="MHZ", type=_cost_positive, default=25.0,
                   help="clock in MHz (default 25)")
    g.add_argument("--spi-in-bits", metavar="BITS", type=int, default=16,
                   help="input word width in bits (default 16)")
    g.add_argument("--spi-out-bits", metavar="BITS", type=int, default=16,
                   help="output word width in bits (default 16)")
    g.add_argument("--spi-words", metavar="N", type=int, default=64,
                   help="words per transaction (default 64)")
    g.add_argument("--spi-overhead", metavar="CLOCKS", type=int, default=0,
                   help="extra clocks per transaction (default 0)")
    g.add_argument("--spi-mode", choices=list(SPI_MODES), default="staggered",
                   help="input then output (staggered, default) or both at once (overlapped, "
                   "full duplex)")
    g.add_argument("--spi-bits-per-clock", metavar="BITS", type=int,
                   help="bits moved per clock (default: a whole word per clock; 1 for one-wire "
                   "SPI, 4 for quad SPI)")
    g = p.add_argument_group("compute")
    g.add_argument("--macs", metavar="P", type=int, default=16,
                   help="parallel MAC units (default 16)")
    g.add_argument("--cycles-per-mac", metavar="N", type=int, default=1,
                   help="clocks per MAC (default 1)")
    g.add_argument("--act-latency", metavar="CLOCKS", type=int, default=10,
                   help="clocks per LSTM step for the activations and state update (default 10)")
    g.add_argument("--clock", metavar="MHZ", type=_cost_positive, default=100.0,
                   help="accelerator clock in MHz (default 100)")
    g = p.add_argument_group("answers")
    g.add_argument("--budget", metavar="SECONDS", type=_cost_positive,
                   help="time budget for the run: the longest compute per call that meets it "
                   "(default: none)")
    g.add_argument("--software-time", metavar="SECONDS", type=_cost_positive,
                   help="measured software time of the run: the longest compute per call that "
                   "beats it, and the speedup (default: none)")
    g.add_argument("--json", action="store_true",
                   help="print JSON instead of the table (default: the table)")
    p.set_defaults(func=cmd_cost)


def cmd_cost(a: argparse.Namespace) -> None:
    import json

    from squall import load_bundle
    from squall.errors import SquallError
    from squall.hw.costmodel import Compute, bundle_cost
    from squall.hw.links import Pcie, Spi

    if (a.windows is None) == (a.data is None):
        raise SquallError("give --windows N (analytic call counts) or --data FILE (counted), "
                          "one of them")
    if a.windows is not None and a.windows < 1:
        raise SquallError(f"--windows must be >= 1, got {a.windows}")
    if a.limit < 0:
        raise SquallError(f"--limit must be >= 0, got {a.limit}")
    options = dict(
        boundary=a.boundary, word_bits=a.word_bits, weights=a.weights, offload=a.offload,
        pcie=Pcie(a.pcie_bandwidth * 1e9, a.pcie_latency / 1e9, a.pcie_transactions),
        spi=Spi(a.spi_clock * 1e6, a.spi_in_bits, a.spi_out_bits, a.spi_words, a.spi_overhead,
                a.spi_mode, a.spi_bits_per_clock),
        compute=Compute(a.macs, a.cycles_per_mac, a.act_latency, a.clock * 1e6),
        budget=a.budget, software_time=a.software_time, name=a.bundle)
    bundle = load_bundle(a.bundle)
    if a.data is None:
        report = bundle_cost(bundle, windows=a.windows, **options)
    else:
        from squall import pipeline

        x = pipeline.load_windows(bundle, a.data).x
        x = x[:a.limit] if a.limit else x
        report = bundle_cost(bundle, x=x, calls_source=f"counted by the pure engine over "
                             f"{len(x):,} windows of {' '.join(a.data)}", **options)
    print(json.dumps(report.as_dict(), indent=1) if a.json else report.table())


COMMANDS.append(_add_cost)
