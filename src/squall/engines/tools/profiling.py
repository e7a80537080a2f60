"""Profiling an engine run (cProfile for snakeviz, optional line_profiler) and the step counts.

The pure engine is the one to profile: its functions are the algorithm's operations, so the
cumulative-time table says which operation is worth putting in hardware. After the profiled run
the same windows run once more with the engine's counters on (counting inside the profiled run
would put the counting calls into the profile), and the LSTM step calls the counters saw are
checked against the calls of ``lstm_step`` cProfile recorded.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from dataclasses import dataclass, field
from pathlib import Path

from squall.bundle import Bundle
from squall.engines import get_engine
from squall.engines.base import PureEngine, Windows
from squall.errors import NAME, ParameterError
from squall.io import atomic_path
from squall.model import Decoder, Layer, Lstm, Repeat

#: Functions line_profiler times with ``--lines`` (the LSTM step and what it calls).
LINE_TARGETS = ("lstm_step", "gates", "cell")
#: Windows the line profiler runs (it is slow: every line of the targets is timed).
LINE_WINDOWS = 20


class LineProfilerMissing(ParameterError):
    """A line-by-line report was asked for (``lines``) but line_profiler is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "lines",
            f"{NAME} needs line_profiler: pip install 'squall[profile]' (or pip install "
            "line_profiler)",
        )


@dataclass
class ProfileResult:
    seconds: float  # the profiled run, under cProfile
    windows: int
    stats_path: Path
    top: str  # the cumulative-time table
    #: ``lstm_step (cProfile)``: calls cProfile recorded; ``lstm_step (counters)``: LSTM step
    #: calls the engine counted over the same windows (pure engine only)
    step_calls: dict[str, int] = field(default_factory=dict)
    #: per-layer counts of the counted run by layer name: ``{count: {name: n}}``
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    steps_agree: bool | None = None  # None: no counts (an engine other than pure)
    lines: str | None = None  # the line_profiler report, when asked for and installed
    notes: list[str] = field(default_factory=list)  # e.g. why there is no line report

    @property
    def step_check(self) -> str:
        """One line: cProfile's ``lstm_step`` calls against the counted LSTM steps."""
        if self.steps_agree is None:
            return "step counts: only the pure engine counts its steps"
        profiled = self.step_calls["lstm_step (cProfile)"]
        counted = self.step_calls["lstm_step (counters)"]
        verdict = "agree" if self.steps_agree else "DISAGREE"
        return (
            f"lstm_step (cProfile): {profiled:,}; LSTM steps counted by the engine: "
            f"{counted:,} ({verdict})"
        )


def layer_names(bundle: Bundle) -> dict[int, str]:
    """``{index: "0:lstm(6->64)"}`` for every layer that does work (every one but a repeat)."""
    return {
        i: f"{i}:{layer.describe()}"
        for i, layer in enumerate(bundle.layers)
        if not isinstance(layer, Repeat)
    }


def count_run(
    bundle: Bundle, x: Windows, engine: PureEngine | None = None
) -> dict[str, dict[str, int]]:
    """Run the pure engine with its counters on over ``x``; per-layer counts by layer name.

    ``engine``: a pure engine of ``bundle`` to reuse (its counters are restored afterwards).
    """
    from squall.engines.pure import Counters

    engine = engine if engine is not None else get_engine("pure", bundle)
    saved, engine.model.counters = engine.model.counters, Counters()
    try:
        engine.run(x)  # any task
        counts = engine.model.counters.as_dict()
    finally:
        engine.model.counters = saved
    names = layer_names(bundle)
    return {kind: {names[i]: n for i, n in table.items()} for kind, table in counts.items()}


def profile_run(
    bundle: Bundle,
    x: Windows,
    out: str | os.PathLike[str],
    engine: str = "pure",
    top: int = 15,
    lines: bool = False,
) -> ProfileResult:
    """Profile ``engine`` reconstructing ``x``; write cProfile stats to ``out`` (a .prof file).

    With the pure engine, also count the same windows and compare the step calls. ``lines``:
    add a line_profiler report of :data:`LINE_TARGETS` on the first :data:`LINE_WINDOWS`
    windows; without line_profiler installed the result carries a note instead.
    """
    eng = get_engine(engine, bundle)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(eng.run, x)  # any task
    seconds = time.perf_counter() - start
    with atomic_path(out) as tmp:
        profiler.dump_stats(str(tmp))
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    result = ProfileResult(seconds, len(x), Path(out), "")
    if isinstance(eng, PureEngine):  # engine == "pure"
        from squall.engines import pure

        where = pure.lstm_step.__code__.co_filename  # before strip_dirs() shortens it
        profiled = sum(
            st[1]
            # Stats.stats (function -> call counts and times) is missing from typeshed's pstats
            for fn, st in stats.stats.items()  # type: ignore[attr-defined]
            if fn[0] == where and fn[2] == "lstm_step"
        )
        result.counters = count_run(bundle, x, eng)
        lstm = {  # the layers whose steps are lstm_step calls (a decoder's LSTM cell too)
            name for i, name in layer_names(bundle).items() if _lstm_steps(bundle.layers[i])
        }
        counted = sum(n for name, n in result.counters["step_calls"].items() if name in lstm)
        result.step_calls = {"lstm_step (cProfile)": profiled, "lstm_step (counters)": counted}
        result.steps_agree = profiled == counted
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    result.top = text.getvalue()
    if lines:
        try:
            result.lines = line_profile(bundle, x[:LINE_WINDOWS])
        except LineProfilerMissing as exc:
            # the command line prints notes as they are: this one names the flag, --lines
            result.notes.append(exc.for_option(exc.option()))
    return result


def _lstm_steps(layer: Layer) -> bool:
    """Are the layer's steps calls of the pure engine's ``lstm_step``?"""
    return isinstance(layer, Lstm) or (isinstance(layer, Decoder) and layer.cell == "lstm")


def line_profile(bundle: Bundle, x: Windows) -> str:
    """line_profiler report of the LSTM step functions of the pure engine on ``x``.

    Raises :class:`LineProfilerMissing` (a :class:`~squall.errors.ParameterError` of ``lines``
    whose message is the install hint) when line_profiler is not installed.
    """
    try:
        from line_profiler import LineProfiler
    except ImportError:
        raise LineProfilerMissing from None
    from squall.engines import pure

    eng = get_engine("pure", bundle)
    lp = LineProfiler(*(getattr(pure, name) for name in LINE_TARGETS))
    lp.enable_by_count()  # what LineProfiler.runcall does (untyped there)
    try:
        eng.run(x)
    finally:
        lp.disable_by_count()
    text = io.StringIO()
    lp.print_stats(stream=text, stripzeros=True)
    return text.getvalue()
