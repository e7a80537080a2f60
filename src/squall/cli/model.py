"""Commands that make or describe a model bundle: ``train``, ``import-keras``, ``info``, ``graph``.

Each command is a ``add_<name>`` function that adds its parser and a ``cmd_<name>`` function that
runs it; :data:`PARSERS` lists the adders for :mod:`squall.cli.parser`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from squall.cli.common import check_out, messages
from squall.cli.options import (
    BUNDLE,
    BUNDLE_HELP,
    COUNT,
    DATA,
    POSITIVE,
    QUANTILE,
    add_quiet,
    csv_list,
    positive_list,
    ranged,
    reader,
    reader_options,
)
from squall.models.catalog import MODELS
from squall.text import plural


def add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train an autoencoder (or a forecaster) on data files, write a bundle"
    )
    p.add_argument("data", metavar=DATA, nargs="+", help="CSV files or globs (NOAA or generic)")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--until", help="train on reports before this date/time (UTC)")
    reader_options(p)
    g = p.add_argument_group("windows")
    g.add_argument(
        "--length",
        type=ranged("--length", integer=True, low=2),
        default=None,
        help="steps per window (default 24; a forecaster's window is --lookback + --horizon)",
    )
    g.add_argument(
        "--stride",
        type=ranged("--stride", integer=True, **POSITIVE),
        default=1,
        help="steps between windows (default 1)",
    )
    g.add_argument(
        "--mode",
        choices=["track", "pooled"],
        default="track",
        help="per-track windows (default) or the original pooled sequence",
    )
    g.add_argument(
        "--resample",
        default="auto",
        help="step interval: 'auto' (the typical "
        "report interval, rounded up to 1/5/10/15/30 min or 1/2/3/6/12 h), 'none' "
        "(one step per report) or a duration like 1h",
    )
    g.add_argument(
        "--span",
        default="auto",
        help="with --resample auto, the least time a window covers: the interval is made "
        "coarser when needed (default auto: 1D, one daily cycle, for the autoencoder; a "
        "forecaster's steps stay the data's interval; 'none': the data's own interval; "
        "squall evaluate uses the same rule)",
    )
    g.add_argument("--max-gap", help="split tracks at gaps longer than this (default 6 steps)")
    g.add_argument(
        "--min-observed",
        default=0.25,
        type=ranged("--min-observed", low=0, high=1, low_open=True),
        help="fraction of steps with data a window needs (default 0.25)",
    )
    g = p.add_argument_group("model and training")
    g.add_argument(
        "--model",
        choices=MODELS,
        default="autoencoder",
        help="what to train: autoencoder (default: reconstructs windows; squall detect uses "
        "it), lstm-forecaster (LSTM over the lookback -> the next H steps; default 100 -> 10), "
        "cnn-lstm (causal conv1d + LSTM; default 30 -> 10), seq2seq-gru-fft (lookback + its "
        "FFT -> GRU -> GRU decoder; default 100 -> 10); see docs/training.md",
    )
    g.add_argument(
        "--lookback",
        type=ranged("--lookback", integer=True, **POSITIVE),
        help="a forecaster's input steps L (default per model)",
    )
    g.add_argument(
        "--horizon",
        type=ranged("--horizon", integer=True, **POSITIVE),
        help="a forecaster's forecast steps H (default per model); windows are L + H steps",
    )
    g.add_argument(
        "--targets",
        type=csv_list,
        help="features a forecaster forecasts, comma-separated (default: every feature; "
        "it reads every feature)",
    )
    g.add_argument(
        "--curriculum",
        action="store_true",
        help="a forecaster learns the near horizon first: the loss counts H/4, then H/2, then "
        "all H steps, advancing when the validation loss has not improved by 1%% for 2 epochs "
        "(each epoch's stage is in the bundle's history)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=ranged("--checkpoint-every", integer=True, **POSITIVE),
        metavar="N",
        help="write a checkpoint every N epochs (and after the last) into OUT.checkpoint "
        "beside --out (docs/training.md)",
    )
    g.add_argument(
        "--resume",
        metavar="DIR",
        help="go on from the checkpoint directory DIR of a stopped training (same data and "
        "options; --epochs may be larger); gives the result of an uninterrupted training",
    )
    g.add_argument(
        "--hidden",
        type=positive_list,
        default=None,
        help="hidden sizes: the autoencoder's encoder LSTMs, mirrored in the decoder (default "
        "64,32); lstm-forecaster's encoder LSTMs (default 32); cnn-lstm's conv channels,LSTM "
        "units (default 32,32); seq2seq-gru-fft's GRU,embedding (default 10,64)",
    )
    g.add_argument(
        "--scaler",
        choices=["minmax", "standard"],
        default="minmax",
        help="per-feature scaling fitted on the training reports: minmax (training range to "
        "[0, 1], default) or standard (mean 0, standard deviation 1)",
    )
    g.add_argument(
        "--epochs",
        type=ranged("--epochs", integer=True, **POSITIVE),
        default=40,
        help="maximum epochs (default 40; early stopping after 6 without improvement)",
    )
    g.add_argument(
        "--seed",
        type=ranged("--seed", integer=True, **COUNT),
        default=0,
        help="training seed: weights, batch order (default 0)",
    )
    g.add_argument(
        "--val-fraction",
        default=0.2,
        type=ranged("--val-fraction", low=0, high=1, high_open=True),
        help="last part of each track's time used for validation (default 0.2)",
    )
    g.add_argument(
        "--threshold-quantile",
        type=ranged("--threshold-quantile", **QUANTILE),
        default=0.99,
        help="the window-score threshold stored beside the detector: this quantile of the "
        "validation windows' scores (default 0.99; used by window-mode detection and hw "
        "accuracy; squall detect uses the detector's own threshold)",
    )
    add_quiet(g)
    p.set_defaults(func=cmd_train)


def cmd_train(a: argparse.Namespace) -> None:
    from squall import pipeline
    from squall.data.windows import WindowSettings
    from squall.errors import NAME, ParameterError
    from squall.models.catalog import is_forecaster

    say = messages(a)
    if a.length is not None and is_forecaster(a.model):
        raise ParameterError(
            "length",
            f"{NAME} is the autoencoder's window: a forecaster's is --lookback + --horizon",
        )
    resample = None if a.resample.lower() == "none" else a.resample
    length = 24 if a.length is None else a.length
    settings = WindowSettings(length, a.stride, a.mode, resample, a.max_gap, a.min_observed)
    bundle = pipeline.train(
        a.data,
        a.out,
        features=a.features,
        until=a.until,
        reader=reader(a, features=False),
        settings=settings,
        span=None if a.span.strip().lower() in ("none", "", "0") else a.span,
        sizes=a.hidden,
        scaler=a.scaler,
        epochs=a.epochs,
        seed=a.seed,
        val_fraction=a.val_fraction,
        threshold_q=a.threshold_quantile,
        progress=not a.quiet,
        log=say,
        model=a.model,
        lookback=a.lookback,
        horizon=a.horizon,
        targets=a.targets,
        curriculum=a.curriculum,
        checkpoint_every=a.checkpoint_every,
        resume=a.resume,
    )
    what = ""
    if bundle.task.kind == "forecast":
        what = (
            f"{a.model}, lookback {bundle.task.lookback} -> horizon {bundle.task.horizon} of "
            f"{', '.join(bundle.task.targets)}; "
        )
    t = (bundle.detector or {}).get("threshold") or {}
    say(
        f"bundle written to {a.out}: {what}{plural(len(bundle.history), 'epoch')}, final "
        f"validation loss {bundle.history[-1]['val_loss']:.5g}; detector threshold "
        f"{t.get('value', float('nan')):.5g} ({t.get('rule')} of the "
        f"{(bundle.detector or {}).get('fitted_on')} smoothed step scores)"
    )


def add_import_keras(sub: Any) -> None:
    p = sub.add_parser("import-keras", help="convert the seed Keras weights to a bundle")
    p.add_argument("weights", metavar="WEIGHTS", help="Keras .npz (arr_0..arr_13)")
    p.add_argument("--scaler", required=True, help="scaler.json with data_min/data_max")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument(
        "--length",
        type=ranged("--length", integer=True, low=2),
        default=24,
        help="steps per window the model was trained on (default 24)",
    )
    add_quiet(p)
    p.set_defaults(func=cmd_import_keras)


def cmd_import_keras(a: argparse.Namespace) -> None:
    from squall.bundle import replaceable as bundle_replaceable
    from squall.convert import import_keras

    check_out(a, [a.weights, a.scaler], directory=True, replaceable=bundle_replaceable)
    import_keras(a.weights, a.scaler, a.length).save(a.out)
    messages(a)(f"bundle written to {a.out}")


def add_graph(sub: Any) -> None:
    p = sub.add_parser("graph", help="the model's dataflow as Graphviz DOT (and SVG)")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument(
        "--out",
        default="model.dot",
        help="DOT file (an SVG is written beside it when Graphviz is installed; default model.dot)",
    )
    add_quiet(p)
    p.set_defaults(func=cmd_graph)


def cmd_graph(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall import load_bundle
    from squall.engines.tools.graph import write_graph
    from squall.io import check_output

    check_out(a, [a.bundle], suffixes=(".dot",))
    # the SVG written beside the DOT is an output too: checked by the same rules
    check_output(
        Path(a.out).with_suffix(".svg"),
        inputs=[a.bundle],
        suffixes=(".svg",),
        option="--out (its .svg)",
    )
    written = write_graph(load_bundle(a.bundle), a.out)
    messages(a)(
        "written: "
        + ", ".join(written)
        + ("" if len(written) > 1 else " (install Graphviz for an SVG)")
    )


def add_info(sub: Any) -> None:
    p = sub.add_parser(
        "info",
        help="describe a bundle: model, features, windows, scaler, detector, training",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument(
        "--json", action="store_true", help="print the bundle's bundle.json as it is instead"
    )
    p.set_defaults(func=cmd_info)


def cmd_info(a: argparse.Namespace) -> None:
    import json

    from squall import load_bundle

    b = load_bundle(a.bundle)
    if a.json:
        print(json.dumps(b.meta(), indent=1))
    else:
        print(describe_bundle(b, a.bundle))


def _describe_task(b: Any) -> str:
    """What the model does: its name from training when recorded, and its task."""
    name = ((b.provenance or {}).get("training") or {}).get("model")
    task = b.task
    if task.kind == "forecast":
        what = (
            f"forecaster: lookback {task.lookback} -> horizon {task.horizon} of "
            f"{', '.join(task.targets or b.features)} from {', '.join(task.inputs or b.features)}"
        )
    elif task.kind == "classify":
        what = f"classifier: {', '.join(task.classes)}"
    else:
        what = "autoencoder (reconstructs its windows)"
    return f"{name} {what}" if name else what


def describe_bundle(b: Any, path: str) -> str:
    """``squall info``: what a bundle is, one labelled line (or block) per part."""
    rows: list[tuple[str, str]] = [("bundle", f"{path} (fingerprint {b.fingerprint()})")]
    shapes = b.model.weight_shapes()
    params = sum(math.prod(s) for s in shapes.values())
    rows.append(("model", f"{_describe_task(b)}, {plural(params, 'parameter', fmt=',')}"))
    layers = [f"{k}: {layer.describe()}" for k, layer in enumerate(b.layers)]
    rows.append(("layers", "\n".join(layers)))
    units = [f"{f} ({b.units.get(f) or '-'})" for f in b.features]
    rows.append(("features", ", ".join(units)))
    rows.append(("windows", _describe_windows(b.windows)))
    rows.append(("scaler", _describe_scaler(b)))
    rows.append(("detector", _describe_detector(b.detector)))
    rows.append(
        (
            "window threshold",
            _describe_threshold(b.threshold, "window scores")
            if b.threshold
            else "none stored (window-mode detection needs --threshold or --threshold-quantile)",
        )
    )
    rows.append(("training", _describe_training(b.provenance, b.history)))
    width = max(len(k) for k, _ in rows) + 2
    out = []
    for key, text in rows:
        first, *rest = text.splitlines() or [""]
        out.append(f"{key + ':':<{width}}{first}")
        out += [" " * width + line for line in rest]
    return "\n".join(out)


def _describe_windows(w: dict[str, Any]) -> str:
    step = f"of {w['resample']}" if w.get("resample") else "(one report each)"
    text = f"{w.get('length')} steps {step}, stride {w.get('stride')}"
    if w.get("mode") == "pooled":
        return text + "; pooled: all reports in time order as one sequence (original pipeline)"
    text += "; per track"
    if w.get("max_gap"):
        text += f", split at gaps over {w['max_gap']}"
    if w.get("min_observed") is not None:
        text += f", at least {w['min_observed']:.0%} of steps observed"
    return text


def _describe_scaler(b: Any) -> str:
    s = b.scaler.to_dict()
    if s["kind"] == "minmax":
        what = "minmax: each feature's training range to [0, 1]"
        parts = [
            f"{f} {o:.4g}..{o + k:.4g}"
            for f, o, k in zip(s["features"], s["offset"], s["scale"], strict=True)
        ]
    else:
        what = f"{s['kind']}: mean 0, standard deviation 1"
        parts = [
            f"{f} mean {o:.4g} sd {k:.4g}"
            for f, o, k in zip(s["features"], s["offset"], s["scale"], strict=True)
        ]
    return what + "\n" + ", ".join(parts)


def _describe_threshold(t: dict[str, Any], scores: str) -> str:
    """``0.4615 (mean + 4 sd of 392 validation smoothed step scores)``."""
    rule = str(t.get("rule") or t.get("method"))
    how = {
        "sigma": f"mean + {t.get('k', '?'):g} sd" if "k" in t else "mean + k sd",
        "quantile": f"{t.get('q', '?')} quantile",
        "hundman": "Hundman's z search",
        "pot": f"peaks over threshold (risk {t.get('q', '?')}, level {t.get('level', '?')})",
    }.get(rule, rule)
    n = t.get("n")
    of = " ".join(str(x) for x in (f"{n:,}" if n else "", t.get("fitted_on") or "", scores) if x)
    value = t.get("value")
    shown = f"{value:.5g}" if isinstance(value, (int, float)) else "none"
    return f"{shown} ({how} of the {of})"


def _describe_detector(d: dict[str, Any] | None) -> str:
    if not d:
        return (
            "none stored (a bundle from before the detector section, or imported): detection "
            "scores whole windows against the window threshold"
        )
    scoring = d.get("scoring", "?")
    lines = [f"{d.get('name', 'detector')}, {scoring} scoring"]
    if scoring == "step":
        lines[0] += f" ({d.get('point', '?')} per-step scores)"
        steps = d.get("smoothing_steps")
        span = f"{steps:g} steps" if isinstance(steps, (int, float)) else "?"
        lines.append(
            f"smoothing: EWMA span {span} ({d.get('smoothing')} of the longest training track, "
            f"at most {d.get('smoothing_cap')} steps)"
        )
    t = {"fitted_on": d.get("fitted_on")} | dict(d.get("threshold") or {})
    scores = "smoothed step scores" if scoring == "step" else "window scores"
    lines.append("threshold: " + _describe_threshold(t, scores))
    gap = d.get("merge_gap")
    lines.append(
        f"events: flagged steps at most {gap if gap is not None else 'one window length'} "
        f"{'steps ' if gap is not None else ''}apart merged, padded by {d.get('pad', 0)}"
    )
    return "\n".join(lines)


def _describe_training(prov: dict[str, Any], history: list[dict[str, Any]]) -> str:
    if prov.get("source") == "keras":
        return f"imported from Keras: {prov.get('weights')} (scaler {prov.get('scaler')})"
    lines = []
    data = prov.get("data") or []
    if data:
        files = ", ".join(f"{d.get('path')} (sha256 {str(d.get('sha256'))[:12]})" for d in data)
        lines.append(f"data: {files}")
    span = prov.get("time_range") or []
    reports = prov.get("reports")
    if reports is not None:
        text = f"{plural(int(reports), 'report', fmt=',')}"
        if len(span) == 2:
            text += f" from {span[0]} to {span[1]}"
        if prov.get("until"):
            text += f" (before {prov['until']})"
        lines.append(text)
    w = prov.get("windows") or {}
    if w:
        lines.append(
            f"{plural(int(w.get('total', 0)), 'window', fmt=',')}: {w.get('train')} training, "
            f"{w.get('validation')} validation, {w.get('skipped')} skipped"
        )
    tr = prov.get("training") or {}
    if tr:
        run = tr.get("epochs_run", len(history))
        lines.append(
            f"{run} of at most {plural(int(tr.get('epochs', run)), 'epoch')}, seed "
            f"{tr.get('seed')}, batch {tr.get('batch_size')}, learning rate "
            f"{tr.get('learning_rate')}, patience {tr.get('patience')}"
        )
    final = prov.get("final_loss") or (history[-1] if history else None)
    if final:
        losses = [
            f"{k.replace('_loss', '')} {final[k]:.5g}"
            for k in ("train_loss", "val_loss")
            if isinstance(final.get(k), (int, float))
        ]
        if losses:
            lines.append("final loss: " + ", ".join(losses))
    versions = prov.get("versions") or {}
    if versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(lines) or "no provenance recorded"


#: Command name -> the function adding its parser (in :mod:`squall.cli.parser`'s order).
PARSERS: dict[str, Callable[[Any], None]] = {
    "train": add_train,
    "import-keras": add_import_keras,
    "graph": add_graph,
    "info": add_info,
}
