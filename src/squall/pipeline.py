"""The pipeline as plain functions: read -> windows -> train -> bundle -> score -> detect.

Each function does one step and works on what the previous one wrote, so any step can be rerun
alone, from Python or from the command line (the CLI only parses options and calls these).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from squall import bundle as bundle_module
from squall.bundle import Bundle
from squall.data import windowset
from squall.data.observations import Observations, expand_paths
from squall.data.readers import ReaderConfig, read_data
from squall.data.scaling import Scaler
from squall.data.windows import (
    Windows,
    WindowSettings,
    check_span,
    check_window_settings,
    make_windows,
    resolve_settings,
    span_for,
)
from squall.data.windowset import WindowSet
from squall.detect import scoring
from squall.detect.detector import Detector
from squall.detect.scoring import Scores
from squall.detect.thresholds import DEFAULT_Q, fit_threshold
from squall.engines import get_engine
from squall.errors import NAME, ParameterError, SquallError, SquallWarning, mark
from squall.io import atomic_dir, check_output, sha256_file, write_csv
from squall.model import Task
from squall.models import catalog
from squall.prepare import load_windows, make_windowset, parse_since, windows_since
from squall.report.detection import (
    DETECT_OUTPUTS,
    run_detector,
    windows_and_stuck,
    write_detection,
)
from squall.text import plural

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

#: The steps, each from the module that owns it, in one namespace for scripts and the CLI.
__all__ = [
    "DETECT_OUTPUTS",
    "check_features",
    "check_number",
    "check_model_args",
    "check_settings",
    "detect",
    "forecast_arrays",
    "keep_residuals",
    "load_windows",
    "make_windowset",
    "read_data",
    "reader_config",
    "reconstruct_windows",
    "run_detector",
    "score_table",
    "score_windows",
    "split_by_time",
    "train",
    "write_csv",
    "write_detection",
]


def _as_list(paths: Paths) -> list:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def reader_config(obs: Observations, reader: ReaderConfig | dict | None) -> dict:
    """The reader configuration to store in a bundle (see :meth:`ReaderConfig.resolved`)."""
    return ReaderConfig.from_dict(reader).resolved(obs).to_dict()


def split_by_time(ws: Windows, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation window indices: per track, the last ``fraction`` of its time span
    is validation. Windows straddling the cut are dropped, so no report is in both."""
    train = np.zeros(len(ws), dtype=bool)
    val = np.zeros(len(ws), dtype=bool)
    if fraction <= 0:
        return np.arange(len(ws)), np.zeros(0, dtype=np.int64)
    for tr in np.unique(ws.track.astype(str)):
        sel = ws.track.astype(str) == tr
        lo, hi = ws.start[sel].min(), ws.end[sel].max()
        cut = lo + (hi - lo) * (1 - fraction)
        train |= sel & (ws.end < cut)
        val |= sel & (ws.start >= cut)
    return np.flatnonzero(train), np.flatnonzero(val)


def train(
    paths: Paths,
    out: str | os.PathLike[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    until: str | None = None,
    reader: ReaderConfig | dict | None = None,
    settings: WindowSettings | None = None,
    span: str | None = "auto",
    sizes: tuple[int, ...] | None = None,
    scaler: str = "minmax",
    epochs: int = 40,
    seed: int = 0,
    val_fraction: float = 0.2,
    threshold_q: float = DEFAULT_Q,
    progress: bool = True,
    log=print,
    patience: int = 6,
    model: str = "autoencoder",
    lookback: int | None = None,
    horizon: int | None = None,
    targets: Sequence[str] | None = None,
    curriculum: bool = False,
    checkpoint_every: int | None = None,
    resume: str | os.PathLike[str] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> Bundle:
    """Train model ``model`` (:mod:`squall.models.catalog`: ``autoencoder``, the default, or a
    forecaster) on ``paths`` (reports before ``until``) and return/save the bundle.

    ``span``: with ``settings.resample="auto"``, the least time a window covers (``auto``:
    one day for the autoencoder, the data's own interval for a forecaster;
    :func:`squall.data.windows.span_for` and ``resolve_settings``, the rule ``squall evaluate``
    uses too); None: the data's own interval.

    ``patience``: epochs without improvement before early stopping (a series of a few hundred
    windows has only a few updates per epoch and needs more). ``sizes``: the model's hidden
    sizes (default per model, the autoencoder's ``(64, 32)``).

    A forecaster (``lstm-forecaster``, ``cnn-lstm``, ``seq2seq-gru-fft``) reads ``lookback``
    steps of every feature and forecasts the next ``horizon`` steps of ``targets`` (default:
    every feature); its windows are ``lookback + horizon`` steps long (``settings.length`` is
    replaced by that), made, masked, resampled and split exactly as the autoencoder's. The
    loss is the masked MSE over the observed target cells of the horizon. Its bundle has task
    ``forecast``; its Detector scores forecast residuals (:func:`squall.detect.scoring.predictor`).

    ``curriculum`` (forecasters): the horizon the loss counts grows in stages H/4, H/2, H as
    the validation loss settles (:mod:`squall.models.curriculum`); each epoch's stage and
    horizon are in the bundle's history.

    ``checkpoint_every`` N: a checkpoint every N epochs (and after the last) in
    ``checkpoint_dir``, by default ``OUT.checkpoint`` beside ``out``
    (:mod:`squall.models.checkpoint`: weights and Adam's state as .npz, epoch, loop and
    generator states as JSON; replaced atomically). ``resume``: a checkpoint directory to go on
    from (same data and options, ``epochs`` may be larger; its later checkpoints go there): the
    result is the one an uninterrupted training would have given. A forecaster, or a training
    with any of these options, keeps its experiment log ``training-log.jsonl`` (JSON lines:
    options, data fingerprint, each epoch's losses and curriculum stage, checkpoints, resumes)
    in the bundle directory; a plain autoencoder's bundle holds exactly today's files.
    """
    from squall.convert import bundle_weights_from_torch

    try:
        from squall.models import checkpoint as checkpoints
        from squall.models.curriculum import stage_horizons
        from squall.models.train import TrainConfig, fit
    except ImportError as exc:
        raise SquallError(
            "training needs PyTorch: pip install torch==2.13.0 -e '.[train]' in a clone "
            "(pip install 'squall[train]' from a package index)"
        ) from exc

    lookback, horizon, targets = check_model_args(model, lookback, horizon, targets, features)
    forecasting = catalog.is_forecaster(model)
    if not isinstance(curriculum, bool):
        raise ParameterError("curriculum", f"{NAME} must be True or False, got {curriculum!r}")
    if curriculum and not forecasting:
        raise ParameterError(
            "curriculum", f"{NAME} is for a forecasting model ({', '.join(catalog.FORECASTERS)})"
        )
    if forecasting:
        assert lookback is not None and horizon is not None
        settings = dataclasses.replace(settings or WindowSettings(), length=lookback + horizon)
    out = check_train_args(
        paths,
        out,
        features=features,
        until=until,
        settings=settings,
        sizes=sizes,
        scaler=scaler,
        epochs=epochs,
        seed=seed,
        val_fraction=val_fraction,
        threshold_q=threshold_q,
        patience=patience,
    )
    if not isinstance(progress, bool):
        raise SquallError(f"progress must be True or False, got {progress!r}")
    check_span(span)
    if checkpoint_every is not None:
        check_number("checkpoint_every", checkpoint_every, low=1, integer=True)
    resumed = None
    if resume is not None:
        resumed = checkpoints.load(resume)
        checkpoint_dir = resume
        if checkpoint_every is None:
            checkpoint_every = int(resumed.doc.get("every") or 0) or None
    if checkpoint_every is not None and checkpoint_dir is None:
        if out is None:
            raise ParameterError(
                "checkpoint_every", f"{NAME} needs an output directory (or a checkpoint_dir)"
            )
        checkpoint_dir = checkpoints.default_dir(out)
    if checkpoint_every is not None and checkpoint_dir is not None and resume is None:
        check_output(
            checkpoint_dir,
            inputs=expand_paths(_as_list(paths)),
            directory=True,
            replaceable=checkpoints.replaceable,
            option="checkpoint directory",
        )
    options = {
        "data": [str(p) for p in _as_list(paths)],
        "out": None if out is None else str(out),
        "model": model,
        "features": None if features is None else list(features),
        "until": until,
        "settings": None if settings is None else settings.to_dict(),
        "span": span,
        "sizes": None if sizes is None else list(sizes),
        "scaler": scaler,
        "epochs": epochs,
        "seed": seed,
        "val_fraction": val_fraction,
        "patience": patience,
        "lookback": lookback,
        "horizon": horizon,
        "targets": targets,
        "curriculum": curriculum,
        "checkpoint_every": checkpoint_every,
        "resume": None if resume is None else str(resume),
    }
    keep_log = forecasting or checkpoint_every is not None or resumed is not None
    reader = ReaderConfig.from_dict(reader)
    if features:
        reader = reader.with_features(features)
    obs = read_data(paths, reader).until(until)
    if len(obs) == 0:
        raise SquallError(f"no reports to train on{' before ' + until if until else ''}")
    empty = [f for f, share in obs.availability().items() if share == 0]
    if empty:
        raise SquallError(
            f"feature(s) {', '.join(empty)} have no observed values in the "
            f"training data; choose others with --features"
        )
    settings = resolve_settings(settings or WindowSettings(), obs, span_for(span, forecasting))
    windows = make_windows(obs, settings)
    if len(windows) == 0 and forecasting:
        raise ParameterError(
            "lookback",
            f"no training windows of {NAME} {lookback} + {mark('horizon')} {horizon} = "
            f"{settings.length} steps: no track segment (tracks split at gaps longer than "
            f"{mark('max_gap')}) is that long with enough observed steps"
            f"{f' ({windows.skipped} skipped)' if windows.skipped else ''}; give a shorter "
            f"{NAME} or {mark('horizon')}, or more data",
        )
    if len(windows) == 0:
        raise SquallError(
            f"no training windows: {windows.skipped} skipped for too little "
            f"observed data; check --resample, --max-gap and the data"
        )
    tr, va = split_by_time(windows, val_fraction)
    if len(va) < 8:  # too few for a meaningful validation loss or threshold
        tr, va = np.arange(len(windows)), np.zeros(0, dtype=np.int64)
    # the scaler sees only the reports behind training windows, never the validation part
    train_reports = np.unique(np.concatenate([windows.rows(i) for i in tr]))
    fitted = Scaler(scaler, list(obs.features)).fit(obs.values()[train_reports])
    ws = windowset.build(windows, obs, fitted)
    log(
        f"{plural(len(obs), 'report')}, {plural(len(np.unique(ws.track)), 'track')} -> "
        f"{plural(len(ws), 'window')} of {settings.length} x {settings.resample or 'report'} "
        f"({windows.skipped} skipped with too little observed data); {len(tr)} train / "
        f"{len(va)} validation"
    )
    names = list(obs.features)
    config = TrainConfig(epochs=epochs, seed=seed, patience=patience, curriculum=curriculum)
    mask = ws.mask.astype(np.float32)
    if forecasting:
        assert lookback is not None and horizon is not None
        chosen = list(targets) if targets else names
        unknown = [t for t in chosen if t not in names]
        if unknown:
            raise ParameterError(
                "targets", f"{NAME} name {unknown[0]!r}, not a feature ({', '.join(names)})"
            )
        task = Task("forecast", lookback, horizon, tuple(names), tuple(chosen))
        layers = catalog.layers(
            model,
            inputs=len(names),
            targets=len(chosen),
            length=lookback,
            horizon=horizon,
            sizes=sizes,
        )
        xin, y, m = forecast_arrays(ws.x, mask, task, names)
        arrays = (xin[tr], m[tr], xin[va], m[va])
        targets_of: dict = {"y_train": y[tr], "y_val": y[va]}
    else:
        task = Task()
        layers = catalog.layers(
            model, inputs=len(names), targets=len(names), length=settings.length, sizes=sizes
        )
        arrays = (ws.x[tr], mask[tr], ws.x[va], mask[va])
        targets_of = {}
    data_print = [{"path": s, "sha256": sha256_file(s)} for s in obs.sources]
    # what a resumed training must share with the checkpoint (not the epochs: a resume may
    # train longer)
    identity = {
        "model": model,
        "task": task.to_json(),
        "layers": [layer.to_json() for layer in layers],
        "data": [d["sha256"] for d in data_print],
        "until": until,
        "windows": settings.to_dict(),
        "split": [int(len(tr)), int(len(va))],
        "scaler": fitted.to_dict(),
        "training": {k: v for k, v in config.to_dict().items() if k != "epochs"},
    }
    journal: list[dict] = []
    if resumed is not None:
        resumed.check_identity(identity)
        journal = resumed.log
        journal.append(
            {"event": "resume", "time": _now(), "from_epoch": resumed.epoch, "options": options}
        )
    else:
        journal.append(
            {
                "event": "start",
                "time": _now(),
                "options": options,
                "data": data_print,
                "windows": {"train": int(len(tr)), "validation": int(len(va))},
            }
        )
    saving = None
    if checkpoint_every is not None and checkpoint_dir is not None:
        saving = checkpoints.Checkpointing(
            Path(checkpoint_dir), int(checkpoint_every), identity, journal
        )

    def logged(row: dict) -> None:
        journal.append({"event": "epoch", "time": _now(), **row})

    state, history = fit(
        layers,
        *arrays,
        config,
        progress,
        **targets_of,
        checkpoint=saving,
        resume=resumed,
        on_epoch=logged,
    )
    journal.append(
        {
            "event": "end",
            "time": _now(),
            "epochs_run": len(history),
            "final_loss": history[-1] if history else None,
        }
    )
    weights = bundle_weights_from_torch(state, layers)
    provenance = {
        "data": data_print,
        "until": until,
        "reports": len(obs),
        "time_range": [str(obs.frame["time"].min()), str(obs.frame["time"].max())],
        "windows": {
            "total": int(len(ws)),
            "train": int(len(tr)),
            "validation": int(len(va)),
            "skipped": int(windows.skipped),
        },
        "dropped_reports": obs.dropped,
        "reader": reader_config(obs, reader),
        "training": config.to_dict()
        | {"epochs_run": len(history), "val_fraction": val_fraction}
        | ({"model": model} if forecasting else {})
        | ({"curriculum_horizons": list(stage_horizons(horizon or 1))} if curriculum else {}),
        "final_loss": history[-1] if history else None,
        "versions": _versions(),
    }
    if curriculum and history and int(history[-1].get("horizon") or 0) < int(horizon or 0):
        warnings.warn(
            f"the curriculum stopped at stage {history[-1].get('stage')}: the loss counted only "
            f"the first {history[-1].get('horizon')} of the {horizon} horizon steps (give more "
            f"epochs to reach the last stage)",
            SquallWarning,
            stacklevel=2,
        )
    bundle = Bundle(
        layers,
        weights,
        list(obs.features),
        obs.units,
        settings.to_dict(),
        fitted,
        None,
        provenance,
        history,
        task=task,
    )
    # a forecaster detects on its forecast residuals (scoring.predictor): the same Detector
    ref = va if len(va) else tr
    fitted_on = "validation" if len(va) else "training"
    reference = ws.subset(ref)
    ref_scores = score_windows(bundle, reference).window
    # the window-score quantile stays for the hardware accuracy report and older tools
    bundle.threshold = fit_threshold(ref_scores, q=threshold_q, fitted_on=fitted_on)
    # the detector squall detect runs (and the benchmarks measure), fitted on the same windows
    detector = Detector().fit(reference, bundle, fitted_on=fitted_on, span_windows=ws)
    detector.fit_stuck(obs)  # stuck sensors: the training reports' own repeats
    if out is not None:
        save_model(bundle, out, journal if keep_log else None)
    return bundle


#: The experiment log a training keeps in its bundle directory (JSON lines).
TRAINING_LOG = bundle_module.TRAINING_LOG
#: A directory ``squall train`` may replace: empty, or a bundle, with or without its log.
model_dir_replaceable = bundle_module.replaceable


def save_model(bundle: Bundle, out: str | os.PathLike[str], journal: list[dict] | None) -> Path:
    """Save ``bundle`` to ``out`` (atomically), with the experiment log ``journal`` as
    :data:`TRAINING_LOG` beside its files when given (strict JSON: non-finite losses as null).
    Without a log the directory holds exactly what :meth:`Bundle.save` writes."""
    import json

    with atomic_dir(out, model_dir_replaceable) as tmp:
        inner = bundle.save(tmp / "bundle")
        for item in inner.iterdir():
            os.replace(item, tmp / item.name)
        inner.rmdir()
        if journal is not None:
            lines = [json.dumps(_strict(r), allow_nan=False) for r in journal]
            (tmp / TRAINING_LOG).write_text("\n".join(lines) + "\n")
    return Path(out)


def _strict(value: object) -> object:
    """``value`` with non-finite floats as None (strict JSON)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, np.generic):
        return _strict(value.item())
    return value


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def forecast_arrays(
    x: np.ndarray, mask: np.ndarray, task: Task, features: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A forecaster's (inputs, targets, target mask) from scaled windows ``x`` (N, L + H, F)
    and their 0/1 ``mask``: the first L steps of the task's input features, the last H steps
    of its target features (what the model should forecast) and which of those are observed."""
    assert task.lookback is not None and task.horizon is not None
    names = list(features)
    ins = [names.index(f) for f in task.inputs]
    outs = [names.index(f) for f in task.targets]
    lb = task.lookback
    xin = x[:, :lb][:, :, ins]
    return xin, x[:, lb:][:, :, outs], mask[:, lb:][:, :, outs]


def check_model_args(
    model: object,
    lookback: object,
    horizon: object,
    targets: object,
    features: object,
) -> tuple[int | None, int | None, list[str] | None]:
    """``--model`` and the forecasting options, checked before any data is read: returns the
    (lookback, horizon, targets) to train with (a forecaster's defaults filled in from
    :data:`squall.models.catalog.DEFAULT_WINDOW`; all None for the autoencoder)."""
    from squall.limits import MAX_WINDOW_LENGTH

    name = catalog.check_model(model)
    if not catalog.is_forecaster(name):
        for param, value in (("lookback", lookback), ("horizon", horizon), ("targets", targets)):
            if value is not None:
                raise ParameterError(
                    param,
                    f"{NAME} is for a forecasting model ({', '.join(catalog.FORECASTERS)})",
                )
        return None, None, None
    default_lb, default_h = catalog.DEFAULT_WINDOW[name]
    lookback = default_lb if lookback is None else lookback
    horizon = default_h if horizon is None else horizon
    check_number("lookback", lookback, low=1, integer=True)
    check_number("horizon", horizon, low=1, integer=True)
    if lookback + horizon > MAX_WINDOW_LENGTH:  # type: ignore[operator]
        raise ParameterError(
            "lookback",
            f"{NAME} {lookback} + horizon {horizon} is beyond the window limit {MAX_WINDOW_LENGTH}",
        )
    chosen = check_features(targets, "targets") if targets is not None else None
    given = check_features(features)
    if chosen and given:
        unknown = [t for t in chosen if t not in given]
        if unknown:
            raise ParameterError(
                "targets", f"{NAME} name {unknown[0]!r}, not one of the features {given}"
            )
    return int(lookback), int(horizon), chosen  # type: ignore[call-overload]


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> None:
    """Refuse, in one line, a value that is not a number of the right kind in its range.

    ``integer``: an int (``True`` and ``1.5`` are refused: an epoch count of 1.5 or ``True``
    is a caller's mistake, not something to round). Open ends exclude the bound (a quantile of
    1 is the maximum, not a threshold fitted on anything)."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if (
        not isinstance(value, kinds)
        or isinstance(value, (bool, np.bool_))
        or not (integer or np.isfinite(value))
    ):
        raise ParameterError(
            name,
            f"{NAME} must be {'an integer' if integer else 'a finite number'}, got {value!r}",
        )
    if low is not None and (value <= low if low_open else value < low):
        rule = f"above {low:g}" if low_open else f"at least {low:g}"
    elif high is not None and (value >= high if high_open else value > high):
        rule = f"below {high:g}" if high_open else f"at most {high:g}"
    else:
        return
    if low is not None and high is not None:
        rule = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    raise ParameterError(name, f"{NAME} must be {rule}, got {value!r}")


def check_features(features: object, param: str = "features") -> list[str] | None:
    """``features`` (the parameter ``param``: ``features`` or ``targets``): None or a non-empty
    list of column names. A string is refused rather than taken as one name, since
    ``list('value')`` would silently become five one-letter columns and a caller who passes one
    string may as well mean a comma-separated list."""
    if features is None:
        return None
    if isinstance(features, str):
        raise ParameterError(
            param,
            f"{NAME} must be a list of column names, e.g. [{features!r}], not "
            f"the string {features!r}",
        )
    items = list(features) if isinstance(features, (list, tuple)) else None
    if not items or not all(isinstance(f, str) and f.strip() for f in items):
        raise ParameterError(
            param, f"{NAME} must be a non-empty list of column names, got {features!r}"
        )
    if len(set(items)) != len(items):
        raise ParameterError(param, f"{NAME} name a column twice: {items}")
    return items


def check_settings(settings: WindowSettings) -> None:
    """The window settings' own rules, checked before any data is read (see
    :func:`squall.data.windows.check_window_settings`)."""
    check_window_settings(settings)


def check_train_args(
    paths: Paths,
    out,
    *,
    features,
    until,
    settings,
    sizes,
    scaler,
    epochs,
    seed,
    val_fraction,
    threshold_q,
    patience,
) -> Path | None:
    """Every argument of :func:`train` and its output directory, checked before any data is
    read or any epoch is run: a bad option must not cost a training run. Returns ``out`` as a
    Path (None when not saving)."""
    from squall.data.observations import parse_time
    from squall.data.scaling import SCALER_KINDS

    check_number("epochs", epochs, low=1, integer=True)
    check_number("seed", seed, low=0, integer=True)
    check_number("patience", patience, low=1, integer=True)
    check_number("val_fraction", val_fraction, low=0, high=1, high_open=True)
    check_number("threshold_q", threshold_q, low=0, high=1, low_open=True, high_open=True)
    if sizes is not None:
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise ParameterError(
                "sizes", f"{NAME} must be a list of integers like (64, 32), got {sizes!r}"
            )
        for size in sizes:
            check_number("sizes", size, low=1, integer=True)
    if scaler not in SCALER_KINDS:
        raise SquallError(f"scaler must be one of {', '.join(SCALER_KINDS)}, got {scaler!r}")
    check_features(features)
    if settings is not None:
        check_settings(settings)
    if until is not None:
        parse_time(until, "until")
    inputs = expand_paths(_as_list(paths))
    if out is None:
        return None
    return check_output(out, inputs=inputs, directory=True, replaceable=model_dir_replaceable)


def _versions() -> dict:
    import numpy
    import pandas

    out = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
    }
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        pass
    from squall import __version__

    out["squall"] = __version__
    return out


def reconstruct_windows(bundle: Bundle, ws: WindowSet, engine: str = "numpy") -> np.ndarray:
    return get_engine(engine, bundle).reconstruct(ws.x)


def score_windows(bundle: Bundle, ws: WindowSet, engine: str = "numpy") -> Scores:
    """Masked reconstruction scores of every window, a chunk of windows at a time: nothing of
    size (N, T, F) is kept, residuals of no window (see :func:`keep_residuals`)."""
    return scoring.score_windows(scoring.predictor(get_engine(engine, bundle), bundle), ws)


def keep_residuals(
    bundle: Bundle, ws: WindowSet, scores: Scores, windows: np.ndarray, engine: str = "numpy"
) -> Scores:
    """``scores`` with the residuals of ``windows`` (the flagged ones: what ``step_errors.csv``
    and the explanations need), reconstructed again."""
    predict = scoring.predictor(get_engine(engine, bundle), bundle)
    return scoring.with_residuals(scores, predict, ws, windows)


def score_table(
    bundle: Bundle,
    ws: WindowSet,
    engine: str = "numpy",
    threshold: float | None = None,
    threshold_quantile: float | None = None,
    require_threshold: bool = True,
) -> tuple[pd.DataFrame, Scores, dict]:
    """Scores of every window as a table, flagged by the bundle's detector (see
    :func:`squall.report.detection.run_detector`), with the window scores and the threshold
    used."""
    table, result, chosen = run_detector(
        bundle, ws, engine, threshold, threshold_quantile, require_threshold
    )
    return table, result.scores.windows, chosen


def detect(
    bundle: Bundle,
    data: Paths,
    out: str | os.PathLike[str],
    *,
    engine: str = "numpy",
    threshold: float | None = None,
    threshold_quantile: float | None = None,
    plot: bool = True,
    since: str | pd.Timestamp | None = None,
) -> dict:
    """Score ``data`` (files or a windows ``.npz``) with the bundle's detector and write the
    outputs.

    Writes into ``out`` (see :data:`DETECT_OUTPUTS`): ``scores.csv``, ``anomalies.csv`` (the
    flagged windows), ``events.csv`` (the detector's events, with their explanations),
    ``anomaly_windows.csv``, ``step_errors.csv`` (error per time step and feature of each
    flagged window), ``windows.npz`` (so ``extract`` can be redone) and ``scores.png``, recorded
    in ``out``'s run manifest (:func:`squall.io.output_files`). ``out`` is checked first: new,
    empty or an earlier run directory, and holding no input. Files not listed in squall's
    manifest are left alone. A bare ``sequences`` file has no times or tracks: its events and
    anomaly_windows tables are written with headers only. Returns a summary dict.

    ``since``: score only new data: the windows that reach that time (their earlier steps are
    the look-back the model needs), and events only from that time on.

    Stuck sensors (the bundle's stuck detector, on the raw reports of data files) are events of
    ``kind`` ``stuck`` in ``events.csv``, after the model's (``kind`` ``model``).
    """
    when = parse_since(since)
    check_output(out, inputs=_as_list(data), directory=True)
    ws, stuck = windows_and_stuck(bundle, data, when)
    ws = windows_since(ws, when)
    table, result, chosen = run_detector(
        bundle, ws, engine, threshold, threshold_quantile, since=when
    )
    write_detection(bundle, ws, table, result, chosen, out, engine=engine, plot=plot, stuck=stuck)
    return {
        "windows": len(ws),
        "flagged": int(table["flagged"].sum()),
        "events": int(len(result.events)) if ws.traceable else 0,
        "stuck": 0 if stuck is None else int(len(stuck)),
        "threshold": chosen,
        "skipped": int(ws.meta.get("skipped", 0)),
        "out": str(out),
        "explanations": result.explanations,
    }
