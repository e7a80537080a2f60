"""Commands that look inside an engine as it runs: ``profile`` and ``trace``.

Each command is a ``add_<name>`` function that adds its parser and a ``cmd_<name>`` function that
runs it; :data:`PARSERS` lists the adders for :mod:`squall.cli.parser`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from squall.cli.common import check_out, messages
from squall.cli.options import (
    BUNDLE,
    BUNDLE_HELP,
    COUNT,
    DATA,
    DATA_HELP,
    POSITIVE,
    add_engine,
    add_quiet,
    ranged,
)
from squall.errors import SquallError
from squall.text import plural


def add_profile(sub: Any) -> None:
    p = sub.add_parser("profile", help="profile an engine (cProfile .prof for snakeviz)")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("data", metavar=DATA, nargs="+", help=DATA_HELP)
    add_engine(p, "pure", "engine to profile (default pure)")
    p.add_argument("--out", default="squall.prof", help="cProfile output (default squall.prof)")
    p.add_argument(
        "--limit",
        type=ranged("--limit", integer=True, **COUNT),
        default=0,
        help="profile only the first N windows (default 0: all)",
    )
    p.add_argument(
        "--top",
        type=ranged("--top", integer=True, **POSITIVE),
        default=15,
        help="functions to print (default 15)",
    )
    p.add_argument(
        "--lines",
        action="store_true",
        help="add a line_profiler report of the pure engine's step functions (needs line_profiler)",
    )
    add_quiet(p)
    p.set_defaults(func=cmd_profile)


def cmd_profile(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline
    from squall.engines.tools.profiling import profile_run

    check_out(a, [a.bundle], a.data, suffixes=(".prof",))
    bundle = load_bundle(a.bundle)
    x = _model_input(bundle, pipeline.load_windows(bundle, a.data).x)
    x = x[: a.limit] if a.limit else x
    if len(x) == 0:
        raise SquallError("no windows to profile")
    r = profile_run(bundle, x, a.out, a.engine, a.top, lines=a.lines)
    print(
        f"{a.engine} engine: {plural(r.windows, 'window')} in {r.seconds:.3f} s "
        f"({1000 * r.seconds / r.windows:.2f} ms per window, under cProfile)"
    )
    print(r.top.rstrip())
    if r.counters:
        print(
            "step calls per layer:",
            ", ".join(f"{k} {v:,}" for k, v in r.counters["step_calls"].items()),
        )
        print(r.step_check)
    print(f"profile written to {a.out}; view it with: snakeviz {a.out}")
    if r.lines:
        print(r.lines)
    say = messages(a)
    for note in r.notes:
        say(f"note: {note}")


def add_trace(sub: Any) -> None:
    p = sub.add_parser("trace", help="every intermediate of one window (golden vectors)")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("data", metavar=DATA, nargs="+", help=DATA_HELP)
    p.add_argument(
        "--window",
        type=ranged("--window", integer=True, **COUNT),
        required=True,
        metavar="INDEX",
        help="index of the window to trace (as in scores.csv)",
    )
    p.add_argument("--out", required=True, help="trace.csv (long format) or trace.json")
    add_quiet(p)
    p.set_defaults(func=cmd_trace)


def cmd_trace(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline
    from squall.engines.tools.trace import write_trace

    check_out(a, [a.bundle], a.data, suffixes=(".csv", ".json"))
    bundle = load_bundle(a.bundle)
    ws = pipeline.load_windows(bundle, a.data)
    if not 0 <= a.window < len(ws):
        raise SquallError(
            f"--window {a.window} is out of range: the data has {plural(len(ws), 'window')} "
            f"(0..{len(ws) - 1})"
        )
    n = write_trace(bundle, _model_input(bundle, ws.x[a.window : a.window + 1])[0], a.window, a.out)
    messages(a)(f"{plural(n, 'step record')} of window {a.window} written to {a.out}")


def _model_input(bundle: Any, x: Any) -> Any:
    """The model's input of windows ``x`` (N, T, F): a forecaster reads the lookback of its
    input features (its windows hold the lookback and the horizon); other tasks all of it."""
    task = bundle.task
    if task.kind != "forecast":
        return x
    names = list(bundle.features)
    return x[:, : task.lookback][:, :, [names.index(f) for f in task.inputs]]


#: Command name -> the function adding its parser (in :mod:`squall.cli.parser`'s order).
PARSERS: dict[str, Callable[[Any], None]] = {"profile": add_profile, "trace": add_trace}
