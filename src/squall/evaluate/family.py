"""The detector family behind one API, in the scikit-learn / PyOD style.

:class:`SeriesDetector` turns a series (data files: NOAA boxes or generic CSVs) into per-step
anomaly scores and events, whatever scores them:

``fit(series)``
    Learn what normal is from ``series``: train a model (``autoencoder``, ``forecaster``) or fit
    a classical scorer (``pca``, ``iforest``, ``matrix-profile``) on the series' step grid, then
    fit the threshold (:class:`squall.detect.detector.Detector`: smoothing, threshold rule,
    event rule) on the training series' own scores.
``score(series)``
    One score per step (``track``, ``start``, ``end``, ``score``): the smoothed score the
    threshold applies to.
``predict(series)``
    Events (``track``, ``start``, ``end``, ``score``, ``size``, ``peak``, ``peaks``, ``hours``,
    ``basis``).
``save(path)`` / ``SeriesDetector.load(path)``
    A model detector is a squall bundle (the one ``squall detect`` runs); a classical one is a
    directory with ``detector.json`` (configuration, reader, windows, the fitted threshold and
    the scorer's parameters) and ``scorer.npz`` (its fitted arrays; no pickle).

``ensemble`` combines members (default: ``autoencoder`` and ``pca``): each member's raw
per-step scores are put on one scale per series (robust z: ``(s - median) / (1.4826 MAD)`` of
the member's own training scores, or their rank in the training scores), combined by ``mean``
or ``max`` (PyOD's ``average`` and ``maximization``), and thresholded like any other score.
Members' steps are matched by track and time (the nearest step within half an interval).

``hybrid`` is the ensemble of the autoencoder (reconstruction) and two one-step forecasters,
one predicting each step from the steps before it and one (``backward-forecaster``) from the
steps after it: the idea behind Orion's AER (reconstruction and bidirectional prediction
combined), built from squall's own models rather than AER's one jointly trained network. The
backward forecaster is a forecaster trained and run on the time-reversed series (a copy with
each report at ``first + last - time``), its step times mapped back.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from squall.errors import NAME, ParameterError, SquallError
from squall.evaluate import detectors as baselines  # original, robust-z
from squall.evaluate.detectors import (
    CLASSICAL,
    HYBRID,
    Detection,
    DetectorConfig,
    _read,
    _reader,
    _train,
    detector_for,
)

#: Detectors :class:`SeriesDetector` runs (the baselines ``original`` and ``robust-z`` run
#: through :func:`detect_series` only).
FAMILY = ("autoencoder", "forecaster", *CLASSICAL, "ensemble", "hybrid")
#: What a saved classical detector's ``detector.json`` says it is.
FORMAT = "squall-detector"


class SeriesDetector:
    """One detector of the family (see the module docstring).

    ``config``: a :class:`~squall.evaluate.detectors.DetectorConfig` or a detector name, with
    ``options`` changing its fields (``members``, ``normalise`` and ``combine`` configure an
    ``ensemble``)."""

    def __init__(self, config: DetectorConfig | str | None = None, **options: Any) -> None:
        if config is None or isinstance(config, str):
            config = DetectorConfig(kind=config or "autoencoder")
        self.config = config.with_options(**options)
        if self.config.kind not in FAMILY:
            raise ParameterError(
                "detector",
                f"{NAME} {self.config.kind!r} is a baseline of squall evaluate, not a "
                f"detector of the family ({', '.join(FAMILY)})",
            )
        self.reader_: dict | None = None
        self.settings_: Any = None  # resolved window settings of the step grid
        self.bundle_: Any = None  # a model detector's bundle
        self.detector_: Any = None  # the fitted squall Detector (threshold, events)
        self.scorer_: Any = None  # a classical scorer
        self.members_: list[SeriesDetector] = []
        self.scales_: list[np.ndarray] = []  # an ensemble member's training scores, sorted
        self.info_: dict[str, Any] = {}

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def members(self) -> tuple[str, ...]:
        """An ensemble's members (the hybrid's are fixed: :data:`HYBRID`)."""
        return HYBRID if self.kind == "hybrid" else self.config.members

    def __repr__(self) -> str:
        return f"SeriesDetector({self.kind!r})"

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, series, reader: dict | None = None, log=lambda *_: None) -> SeriesDetector:
        """Learn normal behaviour from ``series`` (paths) and fit the threshold on its own
        scores (the NAB protocol fits on the series it then scores). Returns ``self``."""
        first = series[0] if isinstance(series, (list, tuple)) else series
        self.reader_ = _reader(first, reader)
        if self.kind in ("ensemble", "hybrid"):
            return self._fit_ensemble(series, log)
        if self.kind in CLASSICAL:
            return self._fit_classical(series)
        return self._fit_model(series, log)

    def _fit_model(self, series, log) -> SeriesDetector:
        from squall.data.windows import WindowSettings

        settings = WindowSettings(length=self.config.length, resample=self.config.resample)
        t0 = time.perf_counter()
        source, reader = self._source(series)
        bundle, resolved, stride = _train(
            source, self.config, reader, None, settings, self.config.sizes, log
        )
        self.info_ |= {
            "train_seconds": round(time.perf_counter() - t0, 2),
            "train_stride": stride,
            "epochs_run": len(bundle.history),
        }
        self.bundle_, self.settings_ = bundle, resolved
        reference, _ = self._windowset(series)
        self.detector_ = detector_for(self.config).fit(reference, bundle, fitted_on="training")
        return self

    def _fit_classical(self, series) -> SeriesDetector:
        from squall.data.windows import WindowSettings, resolve_settings, span_for
        from squall.detect import classical

        settings = WindowSettings(length=self.config.length, resample=self.config.resample)
        obs = _read(series, self.reader_)
        self.settings_ = resolve_settings(settings, obs, span_for(self.config.span, False))
        reference = self._steps(obs, series)
        self.scorer_ = classical.make(self.kind, seed=self.config.seed)
        self.scorer_.fit(np.concatenate([reference.value[idx] for _, idx in reference.tracks()]))
        self._fill(reference)
        self.detector_ = detector_for(self.config).fit_steps(reference, fitted_on="training")
        return self

    def _fit_ensemble(self, series, log) -> SeriesDetector:
        self.members_ = []
        self.scales_ = []
        raws = []
        for name in self.members:
            if name == "backward-forecaster":
                member = SeriesDetector(replace(self.config, kind="forecaster", backward=True))
            else:
                member = SeriesDetector(replace(self.config, kind=name))
            member.fit(series, self.reader_, log)
            raw = member.raw_scores(series)
            raws.append(raw)
            self.members_.append(member)
            self.scales_.append(np.sort(raw["score"].to_numpy()[np.isfinite(raw["score"])]))
        reference = self._combined(series, raws)  # the training scores, not computed again
        self.detector_ = detector_for(self.config).fit_steps(reference, fitted_on="training")
        return self

    # -- scoring -----------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.detector_ is None:
            raise SquallError(f"this {self.kind} detector is not fitted: fit() it on a series")

    def _source(self, series) -> tuple[Any, dict]:
        """What the model reads of ``series`` and with which reader: the series itself, or for
        a backward forecaster its time-reversed copy (:func:`reversed_copy`)."""
        assert self.reader_ is not None
        if not self.config.backward:
            return series, self.reader_
        import tempfile

        if getattr(self, "_tmp", None) is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="squall-backward.")
        copy, span = reversed_copy(series, self.reader_, Path(self._tmp.name))
        self._span = span
        return copy, dict(REVERSED_READER)

    def _unreverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A backward model's step or event table with times mapped back to the series'."""
        if not self.config.backward or not len(frame):
            return frame
        first, last = self._span
        out = frame.copy()
        out["start"], out["end"] = first + (last - frame["end"]), first + (last - frame["start"])
        if "peak" in out:
            out["peak"] = first + (last - frame["peak"])
        return out.sort_values(["track", "start"], kind="stable").reset_index(drop=True)

    def _windowset(self, series):
        from squall.data import windowset
        from squall.data.windows import make_windows

        series, reader = self._source(series)
        reader = dict(reader)
        reader["features"] = list(self.bundle_.features)
        obs = _read(series, reader)
        windows = make_windows(obs, self.settings_)
        if len(windows) == 0:
            raise SquallError(f"{series}: no windows of {self.settings_.length} steps to score")
        return windowset.build(windows, obs, self.bundle_.scaler), obs

    def _steps(self, obs, name):
        """The step grid of ``obs`` (:func:`squall.detect.pointwise.step_table`)."""
        from squall.data.windows import make_windows
        from squall.detect.pointwise import step_table

        windows = make_windows(obs, self.settings_)
        if len(windows) == 0:
            raise SquallError(f"{name}: no windows of {self.settings_.length} steps to score")
        return step_table(windows, obs.frame["time"].to_numpy("datetime64[ns]"))

    def _fill(self, steps) -> None:
        """A classical scorer's scores of ``steps``, track by track, in place."""
        for _, idx in steps.tracks():
            steps.score[idx] = self.scorer_.score(steps.value[idx])

    def raw_scores(self, series) -> pd.DataFrame:
        """Per-step scores before smoothing (``track``, ``start``, ``end``, ``score``): what
        an ensemble combines."""
        self._check_fitted()
        if self.kind in ("ensemble", "hybrid"):
            return _frame(self._combined(series), None)
        if self.kind in CLASSICAL:
            steps = self._steps(_read(series, self.reader_), series)
            self._fill(steps)
            return _frame(steps, None)
        ws, _ = self._windowset(series)
        return self._unreverse(_frame(self.detector_.score_samples(ws).steps, None))

    def _combined(self, series, raws: list[pd.DataFrame] | None = None):
        """The members' raw scores of ``series`` (or ``raws``, already computed) on one scale,
        combined, as step scores on the grid of the first member."""
        from squall.detect.pointwise import StepScores

        if raws is None:
            raws = [member.raw_scores(series) for member in self.members_]
        parts = []
        for raw, scale in zip(raws, self.scales_, strict=True):
            normal = _normalised(raw["score"].to_numpy(), scale, self.config.normalise)
            parts.append(raw.assign(score=normal))
        base = parts[0][["track", "start", "end"]].sort_values("start", kind="stable")
        half = pd.Timedelta(self.members_[0].settings_.resample or "0s") / 2
        stacked = np.full((len(base), len(parts)), np.nan)
        stacked[:, 0] = parts[0].loc[base.index, "score"].to_numpy()
        for k, part in enumerate(parts[1:], start=1):
            joined = pd.merge_asof(
                base,
                part[["track", "start", "score"]].sort_values("start", kind="stable"),
                on="start",
                by="track",
                direction="nearest",
                tolerance=half,
            )
            stacked[:, k] = joined["score"].to_numpy()
        order = np.lexsort((base["start"].to_numpy(), base["track"].to_numpy().astype(str)))
        base, stacked = base.iloc[order], stacked[order]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # steps no member scored
            combine = np.nanmean if self.config.combine == "mean" else np.nanmax
            score = combine(stacked, axis=1)
        n = len(base)
        return StepScores(
            np.arange(n),
            base["track"].to_numpy(dtype=object),
            base["start"].to_numpy("datetime64[ns]"),
            base["end"].to_numpy("datetime64[ns]"),
            score,
            np.full((n, 0), np.nan),
            np.full((n, 0), np.nan),
        )

    def _detect(self, series):
        """Events, smoothed per-step scores and the reports read of ``series`` (None when
        they were read by an ensemble's members or reversed)."""
        self._check_fitted()
        if self.kind in (*CLASSICAL, "ensemble", "hybrid"):
            obs = None
            if self.kind in ("ensemble", "hybrid"):
                steps = self._combined(series)
            else:
                obs = _read(series, self.reader_)
                steps = self._steps(obs, series)
                self._fill(steps)
            events, smoothed = self.detector_.detect_steps(steps)
            return events, _frame(steps, smoothed), obs
        ws, obs = self._windowset(series)
        found = self.detector_.detect(ws)
        steps = _frame(found.scores.steps, found.scores.smoothed)
        if self.config.backward:
            obs = None  # the reversed copy's reports
        return self._unreverse(found.events), self._unreverse(steps), obs

    def score(self, series) -> pd.DataFrame:
        """One score per step of ``series``: the smoothed score the threshold applies to."""
        return self._detect(series)[1]

    def predict(self, series) -> pd.DataFrame:
        """The events of ``series``."""
        return self._detect(series)[0]

    @property
    def threshold_(self) -> float:
        """The threshold the fitted detector applies (a dynamic rule's overall level)."""
        from squall.detect.thresholds import DynamicThreshold

        self._check_fitted()
        rule = self.detector_.threshold
        return float(rule.level_ if isinstance(rule, DynamicThreshold) else rule.value_)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted detector to the directory ``path`` (see the module docstring)."""
        from squall.io import atomic_dir, check_output

        self._check_fitted()
        path = Path(path)
        if self.bundle_ is not None:
            self.bundle_.detector = self.detector_.to_dict()
            return Path(self.bundle_.save(path))
        if self.kind in ("ensemble", "hybrid") or self.config.backward:
            raise SquallError(
                f"saving a {self.kind}{' (backward)' if self.config.backward else ''} detector "
                "is not supported yet: save its members"
            )
        check_output(path, directory=True, replaceable=_replaceable, option="detector directory")
        state = self.scorer_.state()
        doc = {
            "format": FORMAT,
            "version": 1,
            "kind": self.kind,
            "config": self.config.to_dict(),
            "reader": self.reader_,
            "windows": self.settings_.to_dict(),
            "detector": self.detector_.to_dict(),
            "scorer": state["params"],
        }
        with atomic_dir(path) as tmp:
            (Path(tmp) / "detector.json").write_text(json.dumps(doc, indent=1) + "\n")
            np.savez(Path(tmp) / "scorer.npz", **state["arrays"])
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SeriesDetector:
        """A detector saved by :meth:`save` (a bundle, or a classical detector's directory)."""
        from squall.data.windows import WindowSettings, check_window_settings
        from squall.detect.detector import Detector

        path = Path(path)
        doc_path = path / "detector.json"
        if not doc_path.is_file():  # a model bundle
            from squall.bundle import load_bundle

            bundle = load_bundle(path)
            kind = "forecaster" if bundle.task.kind == "forecast" else "autoencoder"
            reader = dict(bundle.provenance.get("reader") or {})
            det = cls(kind, length=bundle.length if kind == "autoencoder" else bundle.task.lookback)
            det.bundle_ = bundle
            det.reader_ = {k: v for k, v in reader.items() if v is not None}
            det.settings_ = replace(WindowSettings(**bundle.windows), stride=1)
            det.detector_ = Detector.from_bundle(bundle)
            return det
        try:
            doc = json.loads(doc_path.read_text())
        except (OSError, ValueError) as exc:
            raise SquallError(f"{doc_path}: not a readable detector file ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise SquallError(f"{doc_path}: not a {FORMAT} file")
        if doc.get("version") != 1:
            raise SquallError(f"{doc_path}: unknown {FORMAT} version {doc.get('version')!r}")
        from squall.detect import classical

        config = DetectorConfig(**{**doc["config"], "hidden": doc["config"].get("hidden")})
        det = cls(config)
        det.reader_ = doc["reader"]
        det.settings_ = check_window_settings(doc["windows"], resolved=True)
        det.detector_ = Detector.from_dict(doc["detector"])
        with np.load(path / "scorer.npz", allow_pickle=False) as arrays:
            det.scorer_ = classical.from_state(
                doc["kind"], {"params": doc["scorer"], "arrays": dict(arrays)}
            )
        return det


def _replaceable(path: Path) -> bool:
    """A directory :meth:`SeriesDetector.save` may replace: an earlier saved detector."""
    return {p.name for p in path.iterdir()} <= {"detector.json", "scorer.npz"}


def _frame(steps, smoothed: np.ndarray | None) -> pd.DataFrame:
    """Step scores as a table (``smoothed`` replacing the raw scores when given)."""
    score = steps.score if smoothed is None else smoothed
    return pd.DataFrame(
        {
            "track": np.asarray(steps.track, dtype=str),
            "start": pd.to_datetime(steps.start),
            "end": pd.to_datetime(steps.end),
            "score": np.asarray(score, dtype=np.float64),
        }
    )


def _normalised(score: np.ndarray, reference: np.ndarray, how: str) -> np.ndarray:
    """``score`` on the scale of a member's training scores ``reference`` (sorted, finite):
    robust z (median and 1.4826 MAD; MAD 0 falls back to the standard deviation, then to 1)
    or the rank (the fraction of training scores below)."""
    score = np.asarray(score, dtype=np.float64)
    if len(reference) == 0:
        return np.full(len(score), np.nan)
    if how == "rank":
        out = np.searchsorted(reference, score, side="right") / len(reference)
        return np.where(np.isfinite(score), out, np.nan)
    med = float(np.median(reference))
    mad = 1.4826 * float(np.median(np.abs(reference - med)))
    scale = mad if mad > 0 else float(np.std(reference)) or 1.0
    return (score - med) / scale


#: How a time-reversed copy (:func:`reversed_copy`) is read.
REVERSED_READER = {"kind": "csv", "time_column": "timestamp", "track_column": "track"}


def reversed_copy(series, reader: dict, folder: Path) -> tuple[Path, tuple]:
    """``series`` with time reversed, as a generic CSV in ``folder``: each report at
    ``first + last - time`` (``first``/``last``: the series' first and last report times),
    tracks and feature values as read. Returns the copy and ``(first, last)``, which map times
    back the same way."""
    obs = _read(series, reader)
    frame = obs.frame
    first, last = frame["time"].min(), frame["time"].max()
    copy = pd.DataFrame(
        {
            "timestamp": (first + (last - frame["time"])).dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "track": frame["track"].astype(str),
        }
    )
    for f in obs.features:
        copy[f] = frame[f].to_numpy()
    path = folder / f"reversed-{len(list(folder.iterdir()))}.csv"
    copy.iloc[::-1].to_csv(path, index=False)
    return path, (first, last)


def detect_series(
    path: str | os.PathLike[str],
    config: DetectorConfig | None = None,
    *,
    train_paths=None,
    reader: dict | None = None,
    log=lambda *_: None,
) -> Detection:
    """Run ``config`` on the series in ``path``; the model (if any) trains on ``train_paths``
    (default: the series itself, the NAB protocol)."""
    config = config or DetectorConfig()
    reader = _reader(path, reader)
    started = time.perf_counter()
    if config.kind == "robust-z":
        out = baselines._robust_z(path, config, reader)
    elif config.kind == "original":
        out = baselines._original(path, config, reader, train_paths, log)
    else:  # the family: one Detector on a model's residuals or a classical scorer's scores
        out = _family(path, config, reader, train_paths, log)
    out.info["seconds"] = round(time.perf_counter() - started, 2)
    return out


def _family(path, config: DetectorConfig, reader: dict, train_paths, log) -> Detection:
    """A detector of the family (:class:`squall.evaluate.family.SeriesDetector`) fitted on
    ``train_paths`` (default: the series itself) and run on ``path``. For the autoencoder and
    the forecaster this is :class:`squall.detect.detector.Detector` as ``squall train`` stores
    it and ``squall detect`` runs it; sliding-window thresholds and Hundman's pruning
    (``window``/``prune`` > 0) are the same Detector with a
    :class:`~squall.detect.thresholds.DynamicThreshold`, refitted per track on the scored
    series (its ``level_`` is the threshold reported)."""
    detector = SeriesDetector(config).fit(
        train_paths if train_paths is not None else path, reader, log
    )
    events, steps, obs = detector._detect(path)
    if obs is None:  # an ensemble's members read the series themselves
        obs = _read(path, reader)
    info = {
        "reports": int(len(obs)),
        "tracks": int(obs.frame["track"].nunique()),
        "steps": int(len(steps)),
        "interval": detector.settings_.resample or "report",
        "threshold": detector.threshold_,
        **detector.info_,
    }
    times = np.sort(obs.frame["time"].to_numpy("datetime64[ns]"))
    return Detection(events[["track", "start", "end", "score"]], times, info, steps)
