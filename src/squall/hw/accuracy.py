"""How far the fixed engine is from float, and whether it changes what is flagged
(``squall hw accuracy``).

For each configuration the windows are reconstructed by the fixed engine and by the float64
numpy engine; per window: the reconstruction error (masked MSE against the input, as scoring
computes it) of both, their difference, and the largest absolute output difference. The anomaly
flags are both score sets against the same threshold (the bundle's, or one given, or by default
the 0.95 quantile of the float scores, stated in the report); a changed flag is listed by window.
Saturations count, per round-and-saturate point, how many values hit the format's limits on
these windows (``x``: the quantized inputs, ``z`` pre-activations, ``c``, ``h``, ``y`` dense
outputs).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field

import numpy as np

from squall.bundle import Bundle
from squall.detect.scoring import score
from squall.detect.thresholds import resolve_threshold
from squall.engines import get_engine
from squall.engines.fixed import FixedModel, resolve_config
from squall.errors import SquallError
from squall.io import write_report as _write_report
from squall.text import plural

#: The configurations compared by default.
DEFAULT_CONFIGS = ("16", "12", "8w")
#: Threshold quantile of the float scores when the bundle has none and none is given.
DEFAULT_QUANTILE = 0.95


@dataclass
class ConfigAccuracy:
    name: str
    description: str
    scores: np.ndarray  # (N,) masked MSE of the fixed reconstructions
    max_error: np.ndarray  # (N,) max |fixed - float| output difference per window
    flags: np.ndarray  # (N,) bool
    saturations: dict[str, int]
    threshold: float

    def summary(self, float_scores: np.ndarray, float_flags: np.ndarray) -> dict:
        diff = np.abs(self.scores - float_scores)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = diff / np.abs(float_scores)
        changed = np.flatnonzero(self.flags != float_flags)
        margin = (
            float(np.max(np.abs(float_scores[changed] - self.threshold) / abs(self.threshold)))
            if len(changed)
            else None
        )
        return {
            "config": self.name,
            "description": self.description,
            "max_abs_output_error": float(self.max_error.max()),
            "mean_window_max_error": float(self.max_error.mean()),
            "max_score_difference": float(diff.max()),
            "max_relative_score_difference": float(np.nanmax(rel)),
            "flagged": int(self.flags.sum()),
            "flags_changed": int(len(changed)),
            "changed_windows": changed.tolist(),
            "changed_within": margin,  # their float scores' largest distance from the
            # threshold, relative to it
            "newly_flagged": np.flatnonzero(self.flags & ~float_flags).tolist(),
            "no_longer_flagged": np.flatnonzero(~self.flags & float_flags).tolist(),
            "saturations": dict(self.saturations),
        }


@dataclass
class AccuracyReport:
    windows: int
    threshold: dict
    float_scores: np.ndarray
    float_flags: np.ndarray
    configs: list[ConfigAccuracy] = field(default_factory=list)

    def summaries(self) -> list[dict]:
        return [c.summary(self.float_scores, self.float_flags) for c in self.configs]

    def as_dict(self) -> dict:
        return {
            "windows": self.windows,
            "threshold": self.threshold,
            "float_flagged": int(self.float_flags.sum()),
            "configs": self.summaries(),
        }

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = ["window", "score_float", "flag_float"]
        for c in self.configs:
            head += [
                f"score_{c.name}",
                f"score_diff_{c.name}",
                f"max_error_{c.name}",
                f"flag_{c.name}",
            ]
        w.writerow(head)
        for k in range(self.windows):
            row = [k, repr(float(self.float_scores[k])), bool(self.float_flags[k])]
            for c in self.configs:
                row += [
                    repr(float(c.scores[k])),
                    repr(float(c.scores[k] - self.float_scores[k])),
                    repr(float(c.max_error[k])),
                    bool(c.flags[k]),
                ]
            w.writerow(row)
        return buf.getvalue()

    def table(self) -> str:
        t = self.threshold
        how = (
            f"q={t['q']} of the float scores"
            if t.get("method") == "quantile"
            else t.get("fitted_on", t.get("method", ""))
        )
        lines = [
            f"{plural(self.windows, 'window')}; threshold {t['value']:.6g} ({how}); float flags "
            f"{int(self.float_flags.sum())}",
            "",
            f"{'config':8s} {'max |out err|':>13s} {'mean win max':>12s} "
            f"{'max |dscore|':>12s} {'max rel':>8s} {'flagged':>7s} {'changed':>7s}  "
            f"saturations",
        ]
        for s in self.summaries():
            sat = ", ".join(f"{k} {v:,}" for k, v in s["saturations"].items() if v) or "none"
            lines.append(
                f"{s['config']:8s} {s['max_abs_output_error']:13.4g} "
                f"{s['mean_window_max_error']:12.4g} {s['max_score_difference']:12.3g} "
                f"{s['max_relative_score_difference']:8.2%} {s['flagged']:7d} "
                f"{s['flags_changed']:7d}  {sat}"
            )
        for s in self.summaries():
            if s["flags_changed"]:
                lines.append(
                    f"{s['config']}: newly flagged windows {s['newly_flagged']}, no "
                    f"longer flagged {s['no_longer_flagged']} (float scores within "
                    f"{s['changed_within']:.2%} of the threshold)"
                )
        lines.append("")
        lines += [c.description for c in self.configs]
        return "\n".join(lines)


def accuracy(
    bundle: Bundle,
    x: np.ndarray,
    mask: np.ndarray | None = None,
    configs=DEFAULT_CONFIGS,
    threshold: float | None = None,
    threshold_quantile: float | None = None,
) -> AccuracyReport:
    """Compare the fixed engine under each configuration with float64 on windows ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or len(x) == 0:
        raise SquallError("no windows to compare")
    mask = np.ones(x.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    ref = get_engine("numpy", bundle, dtype="float64").reconstruct(x)
    float_scores = score(x, ref, mask).window
    if (
        threshold is None
        and threshold_quantile is None
        and (bundle.threshold is None or "value" not in bundle.threshold)
    ):
        threshold_quantile = DEFAULT_QUANTILE
    chosen = resolve_threshold(bundle.threshold, threshold, threshold_quantile, float_scores)
    float_flags = float_scores > chosen["value"]
    report = AccuracyReport(len(x), chosen, float_scores, float_flags)
    for c in configs:
        cfg = resolve_config(c)
        model = FixedModel(bundle, cfg)
        sat: dict[str, int] = {}
        out = model.reconstruct(x, "numpy", sat)
        s = score(x, out, mask).window
        report.configs.append(
            ConfigAccuracy(
                cfg.name,
                cfg.describe(),
                s,
                np.abs(out - ref).max(axis=(1, 2)),
                s > chosen["value"],
                sat,
                chosen["value"],
            )
        )
    return report


def write_report(report: AccuracyReport, path: str | os.PathLike[str]) -> None:
    """Write the report as CSV or JSON (by the suffix)."""
    _write_report(path, report.as_dict, report.csv)
