"""The forecasting figures (matplotlib on its own Agg canvas, no pyplot state): spectra with
their dominant periods, history with extrapolation or forecasts, error against horizon. At
most :data:`MAX_PANELS` panels per figure, the longest series first; the CSV files hold
everything."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_PANELS", "error_by_horizon_figure", "history_figure", "save", "spectrum_figure"]

#: Most panels one figure draws (track-feature pairs beyond are in the CSV files only).
MAX_PANELS = 12


def _figure(panels: int, height: float = 2.4) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(1, min(panels, MAX_PANELS))
    fig = Figure(figsize=(9.0, 1.0 + height * n), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    return fig, list(axes)


def save(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as PNG to ``path`` (inside a run's temporary directory: the run's
    commit makes it appear atomically)."""
    fig.savefig(path, format="png")


def spectrum_figure(spectrum: pd.DataFrame, periods: pd.DataFrame) -> Any:
    """Amplitude against period (log scale) per track and feature, dominant periods marked."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    sizes = spectrum.groupby(["track", "feature"], sort=False).size()
    keys = list(sizes.sort_values(ascending=False, kind="stable").index)  # longest first
    fig, axes = _figure(len(keys))
    for ax, (track, feature) in zip(axes, keys, strict=False):
        part = spectrum[(spectrum["track"] == track) & (spectrum["feature"] == feature)]
        ax.plot(part["period_hours"], part["amplitude"], lw=0.8)
        ax.set_xscale("log")
        # plain tick labels: the log axis's default mathtext labels look fonts up (and warn on
        # installs without matplotlib's STIX fonts)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        top = periods[(periods["track"] == track) & (periods["feature"] == feature)]
        for _, row in top.iterrows():
            ax.axvline(row["period_hours"], color="tab:red", lw=0.6, ls="--")
            ax.annotate(f"{row['period_hours']:.3g} h", (row["period_hours"], row["amplitude"]))
        ax.set_title(f"{track} {feature} ({part['method'].iloc[0]})", fontsize=9)
        ax.set_ylabel("amplitude")
    axes[-1].set_xlabel("period (hours)")
    return fig


def history_figure(
    history: pd.DataFrame, ahead: pd.DataFrame, value: str, label: str, tail: int = 500
) -> Any:
    """The last ``tail`` values of each track and feature (``history``: track, feature, time,
    value) and what comes after (``ahead``: track, feature, time and column ``value``)."""
    sizes = history.groupby(["track", "feature"], sort=False)["value"].count()
    keys = list(sizes.sort_values(ascending=False, kind="stable").index)  # longest first
    fig, axes = _figure(len(keys))
    for ax, (track, feature) in zip(axes, keys, strict=False):
        h = history[(history["track"] == track) & (history["feature"] == feature)].tail(tail)
        ax.plot(h["time"], h["value"], lw=0.8, label="data")
        a = ahead[(ahead["track"] == track) & (ahead["feature"] == feature)]
        if len(a):
            ax.plot(a["time"], a[value], lw=1.0, color="tab:red", label=label)
        ax.set_title(f"{track} {feature}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    return fig


def error_by_horizon_figure(metrics: pd.DataFrame, column: str = "mase") -> Any:
    """``column`` against the horizon step per model, one panel per feature."""
    features = list(dict.fromkeys(metrics["feature"]))
    fig, axes = _figure(len(features), height=3.0)
    for ax, feature in zip(axes, features, strict=False):
        part = metrics[metrics["feature"] == feature]
        for model, rows in part.groupby("model", sort=False):
            ax.plot(rows["step"], rows[column], marker="o", ms=3, label=str(model))
        ax.set_title(f"{feature}: {column.upper()} per horizon step", fontsize=9)
        ax.set_xlabel("horizon step")
        ax.set_ylabel(column.upper())
        ax.set_xticks(np.unique(part["step"]))
        ax.legend(fontsize=7)
    return fig
