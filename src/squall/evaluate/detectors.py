"""Detector configurations the harness can run on one series, unsupervised (the NAB protocol).

Four kinds (``DetectorConfig.kind``):

``autoencoder`` (the default detector)
    Train the LSTM autoencoder on the series it will score (``squall.pipeline.train``, no
    labels), score every window (stride 1), turn window reconstructions into one score per
    time step (:mod:`squall.detect.pointwise`), smooth, threshold (:mod:`squall.detect.dynamic`),
    and merge flagged steps into events.
``forecaster``
    Hundman-style forecast residuals: train a forecasting model (``model``, default
    ``lstm-forecaster``) that reads ``length`` steps and forecasts the next ``horizon`` (default
    1: every step is forecast once, from the ``length`` steps before it), score every step by
    its forecast residual, then smooth, threshold and merge exactly as ``autoencoder`` does.
``pca``, ``iforest``, ``matrix-profile``
    Classical scorers (:mod:`squall.detect.classical`: PCA on subsequences, scikit-learn's
    Isolation Forest, stumpy's matrix profile) fitted on the training series' steps (the same
    grid as the autoencoder's: resampled, per track), their per-step scores then smoothed,
    thresholded and merged into events by the same Detector as the models' residuals.
``ensemble``, ``hybrid``
    Several of the above (``members``; the hybrid: the autoencoder and forecasters from both
    sides, the idea of Orion's AER) with their per-step scores put on one scale per series and
    combined: :mod:`squall.evaluate.family`.
``original``
    The original pipeline as a baseline: pooled windows (all reports of a file in time order),
    the scaler fitted on the very data being scored, the 95th percentile of the scored windows'
    scores as threshold, flagged windows merged into events.
``robust-z``
    No model: ``|x - median| / (1.4826 MAD)`` per feature on the raw values, a report is
    anomalous when any feature exceeds ``z_k``; consecutive anomalous reports of a track form an
    event.

See ``DetectorConfig`` for every option and its default, and ``docs/benchmarks.md`` ("Detection
quality on NAB") for how the defaults were measured.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

from squall.errors import NAME, ParameterError, SquallError, mark

#: Classical scorers (:mod:`squall.detect.classical`) by detector name.
CLASSICAL = ("pca", "iforest", "matrix-profile")
KINDS = ("autoencoder", "forecaster", *CLASSICAL, "ensemble", "hybrid", "original", "robust-z")
#: Members an ensemble may combine (``backward-forecaster``: a forecaster of each step from the
#: steps after it, trained on the time-reversed series).
MEMBERS = ("autoencoder", "forecaster", "backward-forecaster", *CLASSICAL)
#: The hybrid: reconstruction and prediction from both sides combined (the idea of AER).
HYBRID = ("autoencoder", "forecaster", "backward-forecaster")
#: How an ensemble puts its members' scores on one scale, and combines them.
NORMALISERS = ("robust-z", "rank")
COMBINERS = ("mean", "max")
THRESHOLDS = ("sigma", "hundman", "pot", "quantile")


@dataclass(frozen=True)
class DetectorConfig:
    """How a series is turned into events. The defaults are the project's default detector;
    ``docs/benchmarks.md`` ("Detection quality on NAB") has the measurements behind them.

    Windows and model (``autoencoder``):

    * ``length`` 24 steps per window (the project's default); ``resample="auto"`` the series'
      own report interval rounded up to a standard one, made coarser when needed so that a
      window spans at least ``span`` (``auto``: one day, :data:`squall.data.windows.DEFAULT_SPAN`,
      for the autoencoder and the classical scorers, the data's own interval for a forecaster:
      the rule ``squall train`` uses too, see :func:`squall.data.windows.span_for`; ``None`` =
      the data's own interval). On NAB's 5-minute files this gives 24 x 1 h windows.
    * ``hidden`` (32, 16) for the autoencoder: encoder LSTM sizes, mirrored in the decoder;
      ``None`` (the default) means that, and a forecaster's own default sizes.
    * Training budget in optimiser updates (batches of 64 windows), not epochs, so a short
      series (300 windows: 5 updates per epoch) trains as much as a long one: ``updates`` 3000,
      early stopping after ``patience_updates`` 500 without improvement of the training loss
      (``val_fraction`` 0: in the NAB protocol the scored series is the training data anyway).
      ``epochs`` (if given) replaces the update budget. Above ``max_train_windows`` windows,
      training uses every k-th window (scoring always uses all of them, stride 1).

    Per-step scores: ``point`` ``recon-median`` (see :mod:`squall.detect.pointwise`), then an
    EWMA with span ``smoothing`` (a fraction of a track's steps when below 1, capped at
    ``smoothing_cap`` steps; Orion's 0.01; 0 = none).

    Threshold on the smoothed scores, per track: ``threshold`` ``sigma``: ``mean + k std`` with
    ``k`` 4 (Orion's fixed threshold), one threshold per track (``window`` 0). Other choices:
    ``hundman`` (Hundman's z search), ``pot`` (SPOT peaks over threshold: risk ``pot_q`` 0.01
    over the ``pot_level`` 0.95 quantile; SPOT's 0.98 leaves fewer than 10 peaks in a 336-step
    series), ``quantile`` (``quantile`` of the track's scores). For ``sigma`` and ``hundman``,
    ``window`` and ``step`` (fractions of the track's steps, e.g. Orion's 0.33 and 0.1) make the
    threshold dynamic: computed in sliding windows, a step being anomalous when it exceeds the
    threshold of any window holding it. ``prune`` is Hundman's minimum relative drop between
    sequence maxima (e.g. 0.1; 0 = no pruning). Tracks with fewer than ``min_track_steps``
    scored steps share one threshold.

    Events: flagged steps at most ``merge_gap`` steps apart (``None``: the window length) are
    one event, widened by ``pad`` steps on both sides.

    Forecaster (``forecaster``): ``model`` ``lstm-forecaster`` (see :mod:`squall.models.catalog`)
    with a lookback of ``length`` steps and ``horizon`` 1 (Hundman et al. 2018 score one-step
    predictions; a longer horizon scores each step from several origins, the per-step score
    combining them as ``point`` says). ``hidden`` left at ``None`` is the model's own default.

    Baselines: ``original`` uses ``epochs``/``updates`` and ``seed`` with its own fixed settings
    (24-report pooled windows, hidden 64, 32, ``original_q`` 0.95); ``robust-z`` flags
    ``|z| > z_k`` (3.5, after Iglewicz and Hoaglin).
    """

    kind: str = "autoencoder"
    length: int = 24
    resample: str | None = "auto"
    span: str | None = "auto"
    hidden: tuple[int, ...] | None = None
    epochs: int | None = None
    updates: int = 3000
    patience_updates: int = 500
    val_fraction: float = 0.0
    seed: int = 0
    max_train_windows: int = 4000
    point: str = "recon-median"
    smoothing: float = 0.01
    smoothing_cap: int = 200
    threshold: str = "sigma"
    k: float = 4.0
    window: float = 0.0
    step: float = 0.1
    prune: float = 0.0
    pot_q: float = 1e-2
    pot_level: float = 0.95
    quantile: float = 0.99
    merge_gap: int | None = None
    pad: int = 0
    min_track_steps: int = 100
    z_k: float = 3.5
    original_q: float = 0.95
    model: str = "lstm-forecaster"
    horizon: int = 1
    members: tuple[str, ...] = ("autoencoder", "pca")
    normalise: str = "robust-z"
    combine: str = "mean"
    backward: bool = False

    def __post_init__(self) -> None:
        for name in ("resample", "span"):  # "none" from the command line
            value = getattr(self, name)
            if value is not None and str(value).strip().lower() in ("none", "", "0"):
                object.__setattr__(self, name, None)
        if self.hidden is not None:
            object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.kind not in KINDS:
            raise SquallError(f"detector must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.threshold not in THRESHOLDS:
            raise SquallError(
                f"threshold must be one of {', '.join(THRESHOLDS)}, got {self.threshold!r}"
            )
        from squall.detect.pointwise import HOW

        if self.point not in HOW:
            raise SquallError(f"per-step score must be one of {', '.join(HOW)}, got {self.point!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ParameterError("epochs", f"{NAME} must be at least 1, got {self.epochs}")
        if self.kind == "forecaster":
            from squall.models import catalog

            if not catalog.is_forecaster(self.model):
                raise ParameterError(
                    "model",
                    f"{NAME} must be a forecasting model ({', '.join(catalog.FORECASTERS)}), "
                    f"got {self.model!r}",
                )
        object.__setattr__(self, "members", tuple(str(m) for m in self.members))
        bad = [m for m in self.members if m not in MEMBERS]
        if bad or not self.members:
            raise ParameterError(
                "members",
                f"{NAME} of an ensemble must be among {', '.join(MEMBERS)}, got {bad or '()'}",
            )
        if self.normalise not in NORMALISERS:
            raise ParameterError("normalise", f"{NAME} must be one of {', '.join(NORMALISERS)}")
        if self.backward and self.kind != "forecaster":
            raise ParameterError("backward", f"{NAME} is for a forecaster")
        if (
            self.kind in ("ensemble", "hybrid")
            and self.normalise == "rank"
            and (self.threshold != "quantile")
        ):
            raise ParameterError(
                "normalise",
                f"{NAME} rank gives scores in [0, 1] (a uniform distribution on the training "
                f"series): use {mark('threshold')} quantile with it, not {self.threshold}",
            )
        if self.combine not in COMBINERS:
            raise ParameterError("combine", f"{NAME} must be one of {', '.join(COMBINERS)}")
        if self.horizon < 1:
            raise ParameterError("horizon", f"{NAME} must be at least 1, got {self.horizon}")
        if self.length < 2:
            raise SquallError(f"window length must be at least 2, got {self.length}")
        for name in ("smoothing", "window", "step", "prune", "pad", "k", "z_k"):
            if getattr(self, name) < 0:
                raise SquallError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.merge_gap is not None and self.merge_gap < 0:
            raise SquallError(f"merge_gap must not be negative, got {self.merge_gap}")
        if not 0 < self.quantile < 1 or not 0 < self.original_q < 1:
            raise SquallError("quantiles must be in (0, 1)")

    @property
    def sizes(self) -> tuple[int, ...] | None:
        """The hidden sizes training uses: ``hidden``, else the autoencoder's (32, 16) or (for a
        forecaster, None) the model's own default."""
        if self.hidden is not None:
            return self.hidden
        return None if self.kind == "forecaster" else (32, 16)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = None if self.hidden is None else list(self.hidden)
        out["members"] = list(self.members)
        return out

    def with_options(self, **options) -> DetectorConfig:
        """A copy with ``options`` changed (None values are ignored)."""
        known = {f.name for f in fields(self)}
        unknown = set(options) - known
        if unknown:
            raise SquallError(f"unknown detector option(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in options.items() if v is not None})


@dataclass
class Detection:
    """What a detector found in one series: ``events`` (``track``, ``start``, ``end``,
    ``score``), the series' report ``times`` (for the NAB score), facts about the run and
    ``steps``: the per-step scores the threshold applied to (``track``, ``start``, ``end``,
    ``score``; per report for ``robust-z``, None for ``original``), for the threshold-free
    metrics."""

    events: pd.DataFrame
    times: np.ndarray
    info: dict
    steps: pd.DataFrame | None = None


def _step_frame(steps, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track": np.asarray(steps.track, dtype=str),
            "start": pd.to_datetime(steps.start),
            "end": pd.to_datetime(steps.end),
            "score": np.asarray(score, dtype=np.float64),
        }
    )


def _reader(path: str | os.PathLike[str], reader: dict | None) -> dict:
    from squall.data.readers import detect_kind

    if reader:
        return dict(reader)
    from pathlib import Path

    kind = detect_kind(Path(path))
    return {"kind": "noaa"} if kind == "noaa" else {"kind": "csv", "time_column": "timestamp"}


def _read(path, reader):
    from squall.data.readers import read_data

    return read_data(path, reader)


def _robust_z(path, config: DetectorConfig, reader: dict) -> Detection:
    from squall.detect.dynamic import robust_z, runs

    obs = _read(path, reader)
    frame = obs.frame.sort_values(["track", "time"], kind="stable")
    z = np.abs(robust_z(frame[obs.features].to_numpy(dtype=np.float64)))
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.where(np.isfinite(z), z, -np.inf), axis=1)
    flagged = peak > config.z_k
    gap = config.merge_gap if config.merge_gap is not None else 0
    rows = []
    tracks = frame["track"].astype(str).to_numpy()
    times = frame["time"].to_numpy("datetime64[ns]")
    for tr in pd.unique(tracks):
        idx = np.flatnonzero(tracks == tr)
        seq = runs(flagged[idx])
        merged: list[list[int]] = []
        for a, b in seq:
            if merged and a - merged[-1][1] - 1 <= gap:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        for a, b in merged:
            rows.append(
                {
                    "track": tr,
                    "start": times[idx[a]],
                    "end": times[idx[b]],
                    "score": float(peak[idx[a : b + 1]].max()),
                }
            )
    events = _events(rows)
    steps = pd.DataFrame(
        {
            "track": tracks,
            "start": times,
            "end": times,
            "score": np.where(np.isfinite(peak), peak, np.nan),
        }
    )
    return Detection(
        events,
        np.sort(times),
        {
            "reports": int(len(frame)),
            "threshold": config.z_k,
            "interval": "report",
            "tracks": int(frame["track"].nunique()),
        },
        steps,
    )


def _events(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["track", "start", "end", "score"]).astype(
        {"track": str, "score": float}
    )
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    return frame


def _train(
    path,
    config: DetectorConfig,
    reader: dict,
    train_paths,
    settings,
    sizes,
    log,
    val_fraction: float | None = None,
):
    """Train on ``train_paths`` (default ``path``) with the update budget of ``config``; returns
    the bundle, the window settings to score with (a forecaster's windows are its lookback plus
    its horizon) and the training stride."""
    from squall.data.windows import make_windows, resolve_settings, span_for
    from squall.pipeline import train

    source = train_paths if train_paths is not None else path
    obs = _read(source, reader)
    forecasting = config.kind == "forecaster"
    resolved = resolve_settings(settings, obs, span_for(config.span, forecasting))
    if forecasting:  # the span is the lookback's; windows hold the horizon too
        resolved = replace(resolved, length=config.length + config.horizon)
    n = len(make_windows(obs, resolved))
    stride = max(1, math.ceil(n / config.max_train_windows)) if config.max_train_windows else 1
    if resolved.mode == "pooled":
        stride = 1  # the original pipeline used every window
    train_settings = replace(resolved, stride=stride)
    val_fraction = config.val_fraction if val_fraction is None else val_fraction
    # budgets in optimiser updates (batches of 64), whatever the number of windows
    batches = max(1, math.ceil(math.ceil(n / stride) * (1 - val_fraction) / 64))
    epochs = config.epochs or max(1, math.ceil(config.updates / batches))
    patience = max(6, math.ceil(config.patience_updates / batches))
    bundle = train(
        source,
        reader=reader,
        settings=train_settings,
        sizes=sizes,
        epochs=epochs,
        seed=config.seed,
        val_fraction=val_fraction,
        progress=False,
        log=log,
        patience=patience,
        model=config.model if forecasting else "autoencoder",
        lookback=config.length if forecasting else None,
        horizon=config.horizon if forecasting else None,
    )
    return bundle, resolved, stride


def _windowset(path, bundle, reader, settings):
    from squall.data import windowset
    from squall.data.windows import make_windows

    reader = dict(reader)
    reader["features"] = list(bundle.features)
    obs = _read(path, reader)
    windows = make_windows(obs, settings)
    if len(windows) == 0:
        raise SquallError(f"{path}: no windows of {settings.length} steps to score")
    return windowset.build(windows, obs, bundle.scaler), obs


def _original(path, config: DetectorConfig, reader: dict, train_paths, log) -> Detection:
    from squall.data.windows import WindowSettings
    from squall.detect.events import merge_events
    from squall.detect.scoring import score
    from squall.pipeline import reconstruct_windows

    settings = WindowSettings(length=24, mode="pooled", resample=None)
    # the scaler is fitted on every report of the training data, which here is the scored data
    bundle, resolved, _ = _train(
        path, config, reader, train_paths, settings, (64, 32), log, val_fraction=0.0
    )
    ws, obs = _windowset(path, bundle, reader, resolved)
    scores = score(ws.x, reconstruct_windows(bundle, ws), ws.mask).window
    threshold = float(np.quantile(scores[np.isfinite(scores)], config.original_q))
    flagged = scores > threshold
    event = merge_events(ws.track, ws.start, ws.end, flagged)
    rows = []
    for e in np.unique(event[event >= 0]):
        sel = event == e
        rows.append(
            {
                "track": str(ws.track[sel][0]),
                "start": ws.start[sel].min(),
                "end": ws.end[sel].max(),
                "score": float(scores[sel].max()),
            }
        )
    times = np.sort(obs.frame["time"].to_numpy("datetime64[ns]"))
    return Detection(
        _events(rows),
        times,
        {
            "reports": int(len(obs)),
            "windows": int(len(ws)),
            "threshold": threshold,
            "interval": "report",
            "epochs_run": len(bundle.history),
            "tracks": int(obs.frame["track"].nunique()),
        },
    )


def detector_for(config: DetectorConfig):
    """The :class:`squall.detect.detector.Detector` of an ``autoencoder`` or ``forecaster``
    configuration (its
    per-step score, smoothing, threshold rule and event rule)."""
    from squall.detect.detector import Detector
    from squall.detect.thresholds import DynamicThreshold, make_threshold

    params = {
        "sigma": {"k": config.k},
        "hundman": {},
        "quantile": {"q": config.quantile},
        "pot": {"q": config.pot_q, "level": config.pot_level},
    }[config.threshold]
    rule = make_threshold(config.threshold, **params)
    if config.window > 0 or config.prune > 0:  # refitted per track on the scored series
        rule = DynamicThreshold(
            rule,
            window=config.window,
            step=config.step,
            prune=config.prune,
            min_track_steps=config.min_track_steps,
        )
    return Detector(
        "step",
        point=config.point,
        smoothing=config.smoothing,
        smoothing_cap=config.smoothing_cap,
        threshold=rule,
        merge_gap=config.length if config.merge_gap is None else config.merge_gap,
        pad=config.pad,
    )


def _threshold_of(detector) -> float:
    """The threshold a fitted Detector applied (a dynamic rule's overall ``level_``)."""
    from squall.detect.thresholds import DynamicThreshold

    rule = detector.threshold
    return float(rule.level_ if isinstance(rule, DynamicThreshold) else rule.value_)
