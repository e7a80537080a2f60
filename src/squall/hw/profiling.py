"""Profiling an engine run (cProfile for snakeviz, optional line_profiler) and the step counts.

The pure engine is the one to profile: its functions are the algorithm's operations, so the
cumulative-time table says which operation is worth putting in hardware.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squall.bundle import Bundle
from squall.engines import get_engine
from squall.errors import SquallError
from squall.io import atomic_path

#: Functions line_profiler times with ``--lines`` (the LSTM step and what it calls).
LINE_TARGETS = ("lstm_step", "gates", "cell")


@dataclass
class ProfileResult:
    seconds: float
    windows: int
    stats_path: Path
    top: str
    step_calls: dict[str, int] = field(default_factory=dict)
    counters: dict = field(default_factory=dict)
    lines: str | None = None


def layer_names(bundle: Bundle) -> dict[int, str]:
    names = {}
    for i, layer in enumerate(bundle.layers):
        if layer["type"] == "lstm":
            names[i] = f"{i}:lstm({layer['input']}->{layer['hidden']})"
        elif layer["type"] == "dense":
            names[i] = f"{i}:dense({layer['input']}->{layer['output']})"
    return names


def count_run(bundle: Bundle, x: np.ndarray) -> dict:
    """Run the pure engine with its counters on over ``x``; per-layer counts by layer name."""
    engine = get_engine("pure", bundle)
    from squall.engines.pure import Counters

    engine.model.counters = Counters()
    engine.reconstruct(x)
    names = layer_names(bundle)
    return {kind: {names[i]: n for i, n in table.items()}
            for kind, table in engine.model.counters.as_dict().items()}


def profile_run(bundle: Bundle, x: np.ndarray, out: str | os.PathLike[str], engine: str = "pure",
                top: int = 15, lines: bool = False) -> ProfileResult:
    """Profile ``engine`` reconstructing ``x``; write cProfile stats to ``out`` (a .prof file)."""
    eng = get_engine(engine, bundle)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(eng.reconstruct, x)
    seconds = time.perf_counter() - start
    with atomic_path(out) as tmp:
        profiler.dump_stats(str(tmp))
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    result = ProfileResult(seconds, len(x), Path(out), text.getvalue())
    if engine == "pure":
        # how often cProfile saw the step function, against the engine's own counters
        calls = {fn[2]: st[1] for fn, st in stats.stats.items() if fn[2] == "lstm_step"}
        result.step_calls = {"lstm_step (cProfile)": sum(calls.values())}
        result.counters = count_run(bundle, x[:1])
        result.counters = {k: {name: n * len(x) for name, n in v.items()}
                           for k, v in result.counters.items()}
    if lines:
        result.lines = line_profile(bundle, x[: max(1, min(len(x), 20))])
    return result


def line_profile(bundle: Bundle, x: np.ndarray) -> str:
    """line_profiler report of the LSTM step functions of the pure engine on ``x``."""
    try:
        from line_profiler import LineProfiler
    except ImportError:
        raise SquallError("--lines needs line_profiler: pip install 'squall[profile]' (or "
                          "pip install line_profiler)") from None
    from squall.engines import pure

    eng = get_engine("pure", bundle)
    lp = LineProfiler(*(getattr(pure, name) for name in LINE_TARGETS))
    lp.runcall(eng.reconstruct, x)
    text = io.StringIO()
    lp.print_stats(stream=text, stripzeros=True)
    return text.getvalue()
