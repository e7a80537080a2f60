"""The detector: one object from a trained model to events, the one ``squall detect`` runs and
the benchmarks measure.

In the scikit-learn / PyOD style: the constructor stores the configuration only; :meth:`fit`
takes (or trains) a model and fits the threshold on reference data; :meth:`score_samples`
returns typed scores; :meth:`predict` flags; :meth:`detect` returns everything in memory
(:class:`DetectionResult`: scores, flags, events); :meth:`save` / :meth:`load` keep the
configuration and the fitted threshold in the bundle's ``detector`` section.

Two scoring modes:

``step`` (the default, the detector of docs/benchmarks.md "Detection quality on NAB")
    Every window (stride 1) is reconstructed; each time step gets one score from the windows
    covering it (``point``, default ``recon-median``: see :mod:`squall.detect.pointwise`); the
    scores are smoothed per track by an EWMA of ``smoothing`` steps (below 1: that fraction of
    the reference data's longest track, resolved once at fit time so that detection on other
    data smooths the same way, capped at ``smoothing_cap`` steps); the threshold rule
    (default ``mean + 4 sd``, :class:`~squall.detect.thresholds.SigmaThreshold`) is fitted on
    the smoothed reference scores; flagged steps at most ``merge_gap`` steps apart (default:
    the window length) form one event, widened by ``pad`` steps.
``window``
    One score per window (masked mean squared reconstruction error), threshold fitted on the
    reference windows' scores (default the 0.99 quantile); overlapping flagged windows of a
    track form one event. Bundles trained before the ``detector`` section existed run this way
    with their stored threshold.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from squall.detect.events import merge_events
from squall.detect.pointwise import HOW, StepScores, score_all, smooth, step_events
from squall.detect.scoring import Scores, chunks, predictor
from squall.detect.stuck import StuckDetector
from squall.detect.thresholds import (
    DEFAULT_Q,
    DynamicThreshold,
    QuantileThreshold,
    SigmaThreshold,
    Threshold,
    make_threshold,
    threshold_from_dict,
)
from squall.errors import SquallError
from squall.text import plural

if TYPE_CHECKING:
    from pathlib import Path

    from squall.bundle import Bundle
    from squall.data.observations import Observations
    from squall.data.windowset import WindowSet
    from squall.engines.base import Engine

SCORINGS = ("step", "window")
#: A short-history track's own threshold: median + OWN_K robust standard deviations of its own
#: scores (the k of the default sigma rule).
OWN_K = 4.0
#: ... applied to a short-history track only when the training threshold flags more than this
#: share of its scored steps (most of it: an anomaly is the exception in a track).
OWN_SHARE = 0.5
#: Name stored in a bundle's ``detector`` section.
NAME = "squall.Detector"


@dataclass
class DetectorScores:
    """What :meth:`Detector.score_samples` returns.

    ``windows``: per-window scores (:class:`~squall.detect.scoring.Scores`); ``steps``: per-step
    scores in (track, time) order (``step`` mode; None in ``window`` mode) and ``smoothed`` the
    smoothed step scores the threshold applies to (aligned with ``steps``).
    """

    windows: Scores
    steps: StepScores | None = None
    smoothed: np.ndarray | None = None

    @property
    def values(self) -> np.ndarray:
        """The scores the threshold applies to: smoothed step scores or window scores."""
        return self.smoothed if self.smoothed is not None else self.windows.window


@dataclass
class DetectionResult:
    """Everything :meth:`Detector.detect` found, in memory (writing it is the caller's job).

    ``scores``: the :class:`DetectorScores`; ``flags``: per scored unit (steps or windows);
    ``window_flags``: per window (in ``step`` mode: the window holds a flagged step);
    ``events``: ``track``, ``start``, ``end``, ``score`` (peak), ``size`` (steps or windows);
    ``window_event``: the event of each window (-1: none); ``threshold``: the fitted rule;
    ``explanations``: per event, why (filled in by whoever explains it, see
    :func:`squall.detect.explain.explain`).
    """

    scores: DetectorScores
    flags: np.ndarray
    window_flags: np.ndarray
    events: pd.DataFrame
    window_event: np.ndarray
    threshold: dict[str, Any]
    scoring: str
    explanations: list[dict[str, Any]] = field(default_factory=list)

    def check_windows(self) -> None:
        """Every event holds at least one window of its own, as the per-window outputs
        (anomaly_windows.csv, explanations, the report) need: a ``merge_gap`` shorter than the
        window length can leave two events sharing all their windows."""
        have = np.unique(self.window_event[self.window_event >= 0])
        if len(have) != len(self.events):
            raise SquallError(
                f"{len(self.events) - len(have)} of {plural(len(self.events), 'event')} share all "
                f"their "
                f"windows with another event (merge_gap below the window length); use a "
                f"merge_gap of at least the window length minus 2"
            )


class Detector:
    """Anomaly detector over a trained reconstruction model (see the module docstring).

    Parameters: ``scoring`` (``step`` or ``window``), ``point`` (per-step score, ``step`` mode),
    ``smoothing`` and ``smoothing_cap`` (EWMA span, ``step`` mode), ``threshold`` (a rule name,
    ``quantile``, ``sigma``, ``hundman`` or ``pot``, or a fitted or unfitted
    :class:`~squall.detect.thresholds.Threshold`; default sigma with k = 4 for ``step``,
    quantile 0.99 for ``window``), ``merge_gap`` (steps; None = the window length) and ``pad``
    (steps each event is widened by), ``engine`` (which engine reconstructs).
    """

    def __init__(
        self,
        scoring: str = "step",
        *,
        point: str = "recon-median",
        smoothing: float = 0.01,
        smoothing_cap: int = 200,
        threshold: str | Threshold | None = None,
        merge_gap: int | None = None,
        pad: int = 0,
        split: bool = False,
        valley: float = 0.5,
        min_history: int | None = None,
        engine: str = "numpy",
    ) -> None:
        if scoring not in SCORINGS:
            raise SquallError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")
        if point not in HOW:
            raise SquallError(f"point must be one of {', '.join(HOW)}, got {point!r}")
        _number("smoothing", smoothing, low=0)
        _number("smoothing_cap", smoothing_cap, low=1, integer=True)
        _number("pad", pad, low=0, integer=True)
        _number("valley", valley, low=0)
        if not isinstance(split, bool):
            raise SquallError(f"split must be True or False, got {split!r}")
        if min_history is not None:
            _number("min_history", min_history, low=0, integer=True)
        if merge_gap is not None:
            _number("merge_gap", merge_gap, low=0, integer=True)
        if threshold is None:
            threshold = SigmaThreshold(4.0) if scoring == "step" else QuantileThreshold(DEFAULT_Q)
        self.scoring = scoring
        self.point = point
        self.smoothing = float(smoothing)
        self.smoothing_cap = int(smoothing_cap)
        self.threshold = make_threshold(threshold)
        self.merge_gap = merge_gap
        self.pad = int(pad)
        self.split = split
        self.valley = float(valley)
        self.min_history = None if min_history is None else int(min_history)
        self.engine = engine
        self.history_: dict[str, int] | None = None
        self.own_: dict[str, float] = {}
        #: the stuck-sensor detector fitted on the training reports (:mod:`squall.detect.stuck`)
        self.stuck_: StuckDetector | None = None
        self.bundle_: Bundle | None = None
        self.span_: float | None = None
        self.fitted_on_: str | None = None

    # -- configuration ----------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        return {
            "scoring": self.scoring,
            "point": self.point,
            "smoothing": self.smoothing,
            "smoothing_cap": self.smoothing_cap,
            "threshold": self.threshold,
            "merge_gap": self.merge_gap,
            "pad": self.pad,
            "split": self.split,
            "valley": self.valley,
            "min_history": self.min_history,
            "engine": self.engine,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"Detector({args})"

    def to_dict(self) -> dict[str, Any]:
        """The bundle's ``detector`` section: name, configuration, fitted threshold."""
        return {
            "name": NAME,
            "scoring": self.scoring,
            "point": self.point,
            "smoothing": self.smoothing,
            "smoothing_cap": self.smoothing_cap,
            "smoothing_steps": self.span_,
            "merge_gap": self.merge_gap,
            "pad": self.pad,
            "split": self.split,
            "valley": self.valley,
            "min_history": self.min_history,
            "history": self.history_,
            "stuck": None if self.stuck_ is None else self.stuck_.to_dict(),
            "threshold": self.threshold.to_dict(),
            "fitted_on": self.fitted_on_,
        }

    @classmethod
    def from_dict(cls, data: object, bundle: Bundle | None = None) -> Detector:
        """A detector from a bundle's ``detector`` section (fitted when it holds a value)."""
        if not isinstance(data, dict) or data.get("name") != NAME:
            raise SquallError(
                f"bundle detector section must be an object named {NAME!r}, got {data!r}"[:200]
            )
        known = {
            "name",
            "scoring",
            "point",
            "smoothing",
            "smoothing_cap",
            "smoothing_steps",
            "merge_gap",
            "pad",
            "split",
            "valley",
            "min_history",
            "history",
            "stuck",
            "threshold",
            "fitted_on",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise SquallError(f"bundle detector section has unknown keys {unknown}")
        det = cls(
            data.get("scoring", "step"),
            point=data.get("point", "recon-median"),
            smoothing=data.get("smoothing", 0.01),
            smoothing_cap=data.get("smoothing_cap", 200),
            threshold=threshold_from_dict(data.get("threshold")),
            merge_gap=data.get("merge_gap"),
            pad=data.get("pad", 0),
            split=data.get("split", False),
            valley=data.get("valley", 0.5),
            min_history=data.get("min_history"),
        )
        history = data.get("history")
        if history is not None:
            if not isinstance(history, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in history.values()
            ):
                raise SquallError("bundle detector history must map tracks to step counts")
            det.history_ = {str(k): int(v) for k, v in history.items()}
        if data.get("stuck") is not None:
            det.stuck_ = StuckDetector.from_dict(data["stuck"])
        span = data.get("smoothing_steps")
        if span is not None:
            _number("smoothing_steps", span, low=0)
            det.span_ = float(span)
        fitted_on = data.get("fitted_on")
        det.fitted_on_ = fitted_on if isinstance(fitted_on, str) else None
        det.bundle_ = bundle
        return det

    @classmethod
    def from_bundle(cls, bundle: Bundle, engine: str = "numpy") -> Detector:
        """The detector a bundle records, or for a bundle without a ``detector`` section the
        window detector with its stored threshold (what such bundles always ran)."""
        section = getattr(bundle, "detector", None)
        if section is not None:
            det = cls.from_dict(section, bundle)
        else:
            det = cls("window")
            stored = bundle.threshold
            if stored is not None:
                det.threshold = threshold_from_dict(
                    {
                        "rule": "quantile",
                        "q": stored.get("q", DEFAULT_Q),
                        "value": stored["value"],
                        "n": stored.get("n", 0),
                    }
                )
                det.fitted_on_ = stored.get("fitted_on")
            det.bundle_ = bundle
        det.engine = engine
        return det

    # -- fitting ----------------------------------------------------------------------------

    def fit(
        self,
        windows: WindowSet,
        bundle: Bundle | None = None,
        *,
        fitted_on: str = "reference",
        span_windows: WindowSet | None = None,
    ) -> Detector:
        """Take the model ``bundle`` (default: the one already held) and fit the threshold on
        the reference windows ``windows`` (a :class:`~squall.data.windowset.WindowSet` made
        for that bundle: its validation or training windows). Returns ``self``.

        ``span_windows``: windows whose longest track sets the smoothing span (default: the
        reference windows); training passes all its windows, so a span that is a fraction of a
        track is a fraction of the training series, not of its validation tail.
        Training a model from data files is :func:`squall.pipeline.train` (``squall train``),
        which fits the default detector this way and stores it in the bundle."""
        if bundle is not None:
            self.bundle_ = bundle
        if self.bundle_ is None:
            raise SquallError(
                "Detector.fit needs a trained model: pass bundle= (a Bundle, "
                "e.g. squall.load_bundle(path) or squall.pipeline.train(...))"
            )
        self.history_ = _track_steps(span_windows if span_windows is not None else windows)
        if span_windows is not None:
            self.span_ = self._span(max(self.history_.values(), default=0))
            scores = self._score(windows)
        else:
            self.span_ = None
            scores = self._score(windows, resolve_span=True)
        self.threshold.fit(scores.values)
        self.fitted_on_ = fitted_on
        self.bundle_.detector = self.to_dict()
        return self

    # -- scoring ----------------------------------------------------------------------------

    def _engine(self) -> Engine:
        from squall.engines import get_engine

        if self.bundle_ is None:
            raise SquallError("this detector has no model: fit() it or load() a bundle")
        engine: Engine = get_engine(self.engine, self.bundle_)
        return engine

    def _score(self, ws: WindowSet, resolve_span: bool = False) -> DetectorScores:
        if len(ws) == 0:
            raise SquallError(
                "no windows to score: the data is too short or too sparse for "
                "windows of this bundle"
            )
        assert self.bundle_ is not None  # _engine() refused a detector without a model
        reconstruct = predictor(self._engine(), self.bundle_)
        if self.scoring == "window":
            from squall.detect.scoring import score_windows

            return DetectorScores(score_windows(reconstruct, ws))
        windows, steps = score_all(reconstruct, ws, self.point)
        return DetectorScores(windows, steps, self._smooth(steps, resolve_span))

    def _smooth(self, steps: StepScores, resolve_span: bool = False) -> np.ndarray:
        """The per-track EWMA of ``steps``' scores (the span resolved first when asked)."""
        tracks = steps.tracks()
        if resolve_span or self.span_ is None:
            self.span_ = self._span(max((len(idx) for _, idx in tracks), default=0))
        smoothed = np.full(len(steps), np.nan)
        for _, idx in tracks:
            smoothed[idx] = smooth(steps.score[idx], self.span_)
        return smoothed

    # -- per-step scores from elsewhere ----------------------------------------------------

    def fit_steps(self, steps: StepScores, *, fitted_on: str = "reference") -> Detector:
        """Fit the smoothing span and the threshold on per-step scores computed by another
        scorer (a classical detector of :mod:`squall.detect.classical`, no model bundle): the
        same smoothing and threshold rule as for a model's residuals. ``step`` mode only."""
        if self.scoring != "step":
            raise SquallError("per-step scores need a step-mode detector")
        if len(steps) == 0:
            raise SquallError("no steps to fit the threshold on")
        self.history_ = {track: len(idx) for track, idx in steps.tracks()}
        self.threshold.fit(self._smooth(steps, resolve_span=True))
        self.fitted_on_ = fitted_on
        return self

    def detect_steps(self, steps: StepScores) -> tuple[pd.DataFrame, np.ndarray]:
        """Events (``track``, ``start``, ``end``, ``score``, ``size``) and the smoothed scores
        of per-step scores ``steps`` (see :meth:`fit_steps`); ``merge_gap`` must be set (there
        is no window length to default to)."""
        if self.merge_gap is None:
            raise SquallError("per-step scores need an explicit merge_gap (steps)")
        smoothed = self._smooth(steps)
        flags = self._flag(smoothed, steps)
        return self._events(steps, flags, smoothed, self.merge_gap)[1], smoothed

    def _events(
        self, steps: StepScores, flags: np.ndarray, smoothed: np.ndarray, gap: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:func:`step_events` of flagged steps and the events table: ``track``, ``start``,
        ``end``, ``score``, ``size`` (steps), ``peak`` (time of the highest score), ``peaks``,
        ``hours`` (duration) and ``basis`` (``training``: the training threshold; ``own``: a
        track with too little training history, judged against its own scores too)."""
        found = step_events(
            steps,
            flags,
            values=smoothed,
            pad=self.pad,
            merge_gap=gap,
            valley=self.valley,
            split=self.split,
            min_steps=max(1, gap),
        )
        events = found[["track", "start", "end", "score"]].copy()
        events["size"] = found["steps"].to_numpy()
        events["peak"] = found["peak"]
        events["peaks"] = found["peaks"].to_numpy()
        events["hours"] = (events["end"] - events["start"]).dt.total_seconds() / 3600.0
        events["basis"] = np.where(events["track"].isin(list(self.own_)), "own", "training")
        trained = self.trained_until()
        if trained is not None:  # inside the training period, or new data
            events["period"] = np.where(events["start"] > trained, "new", "training")
        return found, events

    def trained_until(self) -> pd.Timestamp | None:
        """The last report time the model trained on (its bundle's provenance), if known."""
        prov = getattr(self.bundle_, "provenance", None) or {}
        span = prov.get("time_range") or []
        try:
            return pd.Timestamp(span[1]).tz_localize(None) if len(span) == 2 else None
        except (ValueError, TypeError):
            return None

    def _span(self, longest: int) -> float:
        """The EWMA span in steps: ``smoothing`` below 1 is a fraction of ``longest`` steps."""
        span = self.smoothing
        if 0 < span < 1:
            span = min(max(1.0, span * longest), float(self.smoothing_cap))
        return float(span)

    def score_samples(self, windows: WindowSet) -> DetectorScores:
        """Per-window and (``step`` mode) per-step scores of ``windows`` (a WindowSet)."""
        return self._score(windows)

    def predict(self, windows: WindowSet) -> np.ndarray:
        """Flags of the scored units: per step in ``step`` mode (in the order of
        ``score_samples(...).steps``), per window in ``window`` mode."""
        return self._flags(self.score_samples(windows))

    def _flags(self, scores: DetectorScores) -> np.ndarray:
        return self._flag(scores.values, scores.steps)

    def _flag(self, values: np.ndarray, steps: StepScores | None) -> np.ndarray:
        if self.threshold.value_ is None:
            raise SquallError(
                "this detector has no fitted threshold: fit() it on reference "
                "windows, or give a threshold value"
            )
        self.own_ = {}
        if isinstance(self.threshold, DynamicThreshold) and steps is not None:
            return self.threshold.flags_by_track(values, steps.tracks())
        flags = self.threshold.flags(values)
        if steps is not None and self.history_ is not None:
            flags = self._judge_short(values, steps, flags)
        return flags

    def _needed_history(self) -> int:
        """Training steps a track needs to be judged by the training threshold: ``min_history``,
        by default three window lengths (three cycles of the data's period at the default
        span): a model that saw fewer has not learned the track's normal shape."""
        if self.min_history is not None:
            return self.min_history
        length = self.bundle_.length if self.bundle_ is not None else (self.merge_gap or 0)
        return 3 * int(length)

    def _judge_short(self, values: np.ndarray, steps: StepScores, flags: np.ndarray) -> np.ndarray:
        """Tracks with less training history than :meth:`_needed_history` (or none), at least
        that much scored history, and whose steps the training threshold flags for the most
        part (more than ``OWN_SHARE``) are judged against their own scores too: a step is
        flagged only when it exceeds both the training threshold and
        ``median + OWN_K x 1.4826 MAD`` of the track's own scores. An
        anomaly is the exception in a track: when the training threshold flags most of a track
        the model barely saw, it is the model that does not know the track, and the track's own
        scores say what stands out. A short-history track flagged for a storm (a day or two of
        a week), or seen too briefly to have scores of its own to judge by (a ship passing
        through), keeps the training threshold.
        Robust statistics, so that the event itself (a storm lasting a day of a week) does not
        raise the bar it is judged by. Their thresholds are kept in ``own_`` (track -> value)
        for the events' ``basis``."""
        assert self.history_ is not None
        need = self._needed_history()
        for track, idx in steps.tracks():
            if self.history_.get(track, 0) >= need:
                continue
            v = values[idx]
            ok = v[np.isfinite(v)]
            if len(ok) < max(need, 2) or flags[idx].sum() <= OWN_SHARE * len(ok):
                continue  # too few own scores to judge by, or the threshold flags the exception
            med = float(np.median(ok))
            value = med + OWN_K * 1.4826 * float(np.median(np.abs(ok - med)))
            self.own_[track] = value
            with np.errstate(invalid="ignore"):
                flags[idx] &= np.where(np.isfinite(v), v > value, False)
        return flags

    def detect(
        self,
        windows: WindowSet,
        scores: DetectorScores | None = None,
        since: pd.Timestamp | str | None = None,
    ) -> DetectionResult:
        """Score, flag and group ``windows`` into events (see :class:`DetectionResult`).

        ``since`` (``step`` mode): only steps from that time on are flagged; earlier steps are
        the windows' look-back (scored, never events)."""
        scores = scores or self.score_samples(windows)
        flags = self._flags(scores)
        if since is not None:
            if scores.steps is None:
                raise SquallError("since needs a step-mode detector (per-step scores)")
            cut = np.datetime64(pd.Timestamp(since).tz_localize(None), "ns")
            flags = flags & (np.asarray(scores.steps.end, dtype="datetime64[ns]") >= cut)
        n = len(scores.windows)
        if self.scoring == "window":
            event = merge_events(windows.track, windows.start, windows.end, flags)
            events = _window_events(windows, scores.windows.window, event)
            return DetectionResult(
                scores, flags, flags.copy(), events, event, self.threshold.to_dict(), self.scoring
            )
        steps = scores.steps
        assert steps is not None and self.bundle_ is not None  # step mode: scored steps
        gap = self.bundle_.length if self.merge_gap is None else self.merge_gap
        assert scores.smoothed is not None
        found, events = self._events(steps, flags, scores.smoothed, gap)
        # each step (by its step-table id) -> its event; a window belongs to the event of its
        # steps (with merge_gap >= the window length a window cannot reach two events)
        total = int(windows.steps.max()) + 1 if n else 0
        step_event = np.full(total, -1, dtype=np.int64)
        for e, (a, b) in enumerate(zip(found["first"], found["last"], strict=True)):
            step_event[steps.step[a : b + 1]] = e
        flagged_step = np.zeros(total, dtype=bool)
        flagged_step[steps.step[flags]] = True
        # a window belongs to the event of the flagged steps it holds (not of the unflagged
        # steps merged or padded into an event): exactly the flagged windows have an event.
        # By chunk of windows: no (N, T) arrays at once.
        none = np.iinfo(np.int64).max
        event_of_step = np.where(flagged_step, step_event, none)
        window_event = np.full(n, -1, dtype=np.int64)
        window_flags = np.zeros(n, dtype=bool)
        for part in chunks(n):
            first = event_of_step[windows.steps[part]].min(axis=1)
            window_event[part] = np.where(first < none, first, -1)
            window_flags[part] = flagged_step[windows.steps[part]].any(axis=1)
        return DetectionResult(
            scores,
            flags,
            window_flags,
            events,
            window_event,
            self.threshold.to_dict(),
            self.scoring,
        )

    def fit_stuck(self, obs: Observations) -> Detector:
        """Fit the stuck-sensor detector on the training reports ``obs`` (raw reports: a
        stuck sensor is exact repeats of reported values, which resampling would blur)."""
        self.stuck_ = StuckDetector().fit(obs)
        if self.bundle_ is not None:
            self.bundle_.detector = self.to_dict()
        return self

    def stuck_events(
        self, obs: Observations, since: pd.Timestamp | str | None = None
    ) -> pd.DataFrame | None:
        """Stuck-sensor runs of the reports ``obs`` (None when this detector has no fitted
        stuck detector, e.g. a bundle trained before it existed); with ``since``, the runs
        that reach it; ``period`` says whether each starts inside the training period."""
        if self.stuck_ is None:
            return None
        runs = self.stuck_.detect(obs)
        if since is not None:
            cut = pd.Timestamp(since).tz_localize(None)
            runs = runs[pd.to_datetime(runs["end"]) >= cut].reset_index(drop=True)
        trained = self.trained_until()
        if trained is not None:  # as for the model's events
            runs["period"] = np.where(pd.to_datetime(runs["start"]) > trained, "new", "training")
        return runs

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the bundle with this detector's section (see :meth:`to_dict`)."""
        if self.bundle_ is None:
            raise SquallError("this detector has no model to save: fit() it first")
        self.bundle_.detector = self.to_dict()
        return self.bundle_.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], engine: str = "numpy") -> Detector:
        """The detector stored in the bundle at ``path`` (see :meth:`from_bundle`)."""
        from squall.bundle import load_bundle

        return cls.from_bundle(load_bundle(path), engine)


def _window_events(ws: WindowSet, score: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    rows = []
    for e in range(int(event.max()) + 1 if len(event) else 0):
        sel = np.flatnonzero(event == e)
        rows.append(
            {
                "track": str(ws.track[sel[0]]),
                "start": ws.start[sel].min(),
                "end": ws.end[sel].max(),
                "score": float(np.nanmax(score[sel])),
                "size": int(len(sel)),
            }
        )
    frame = pd.DataFrame(rows, columns=["track", "start", "end", "score", "size"]).astype(
        {"track": str, "score": float, "size": np.int64}
    )
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    return frame


def _number(name: str, value: object, *, low: float, integer: bool = False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not math.isfinite(value)
        or value < low
    ):
        kind = "an integer" if integer else "a number"
        raise SquallError(f"{name} must be {kind} >= {low:g}, got {value!r}"[:200])


def _track_steps(ws: WindowSet) -> dict[str, int]:
    """The distinct steps each track of ``ws`` covers (its length on the step grid)."""
    T = ws.steps.shape[1]
    frame = pd.DataFrame({"track": np.repeat(ws.track.astype(str), T), "step": ws.steps.ravel()})
    sizes = frame.drop_duplicates().groupby("track").size()
    return {str(k): int(v) for k, v in sizes.items()}
