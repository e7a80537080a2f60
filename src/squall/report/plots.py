"""Plots (matplotlib, written headless with the Agg backend).

Every figure is a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot state, no
change of the user's backend. :func:`save_figure` writes one as a PNG atomically,
:func:`png_bytes` gives the PNG for embedding (the HTML report).
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pandas as pd

from squall.errors import SquallError
from squall.io import atomic_path

#: Resolution of every PNG (the report embeds the same images it writes).
DPI = 110


def new_figure(width: float, height: float):
    """A Figure of ``width`` x ``height`` inches on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike[str]) -> None:
    """Write the figure as a PNG, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


#: Most track names written along the top of the window-score plot.
MAX_TRACK_NAMES = 40


def plot_scores(
    scores: pd.DataFrame,
    path: str | os.PathLike[str],
    threshold: float | None = None,
    title: str = "Reconstruction error per window",
    what: str = "window score (masked MSE)",
) -> None:
    """Error per window (in window order) with the threshold line; flagged windows in red."""
    if "score" not in scores:
        raise SquallError("the scores table has no 'score' column (expected squall's scores.csv)")
    if threshold is None:
        if "threshold" not in scores or scores["threshold"].isna().all():
            raise SquallError("no threshold given and none in the scores table")
        threshold = float(scores["threshold"].iloc[0])
    y = scores["score"].to_numpy(float)
    x = np.arange(len(y))
    flagged = y > threshold
    fig = new_figure(11, 4)
    ax = fig.add_subplot()
    ax.plot(x, y, lw=0.8, color="#3465a4", label=what)
    ax.scatter(
        x[flagged],
        y[flagged],
        s=10,
        color="#cc0000",
        zorder=3,
        label=f"flagged ({int(flagged.sum())} of {len(y)})",
    )
    ax.axhline(threshold, color="#cc0000", ls="--", lw=1, label=f"threshold {threshold:.4g}")
    if "track" in scores and scores["track"].nunique() > 1:  # mark and name each track
        starts = np.flatnonzero(scores["track"].ne(scores["track"].shift()).to_numpy())
        for s in starts[1:]:
            ax.axvline(s - 0.5, color="0.85", lw=0.6, zorder=0)
        if len(starts) <= MAX_TRACK_NAMES:  # more names than that would overprint each other
            names = scores["track"].astype(str).to_numpy()[starts]
            ends = np.append(starts[1:], len(scores))
            top = ax.secondary_xaxis("top")
            top.set_xticks(
                (starts + ends - 1) / 2,
                labels=names,
                fontsize=7,
                rotation=30 if len(starts) > 8 else 0,
            )
            top.tick_params(length=0)
    ax.set_xlabel(
        "window (grouped by track; grey lines: track boundaries)" if "track" in scores else "window"
    )
    ax.set_ylabel("reconstruction error")
    ax.set_yscale("log" if (y > 0).all() and y.max() / max(y.min(), 1e-12) > 100 else "linear")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def histograms_figure(values: pd.DataFrame, units: dict[str, str]):
    """One histogram per feature column of ``values`` (physical units; missing values left out,
    their share in the title)."""
    names = list(values.columns)
    cols = min(3, max(1, len(names)))
    rows = math.ceil(len(names) / cols) if names else 1
    fig = new_figure(3.6 * cols, 2.5 * rows)
    for k, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, k + 1)
        col = values[name].to_numpy(np.float64)
        seen = col[np.isfinite(col)]
        note = _histogram(ax, seen)
        unit = units.get(name, "")
        ax.set_xlabel(f"{name} ({unit})" if unit and unit != "1" else name, fontsize=8)
        missing = 1 - len(seen) / len(col) if len(col) else 0.0
        ax.set_title(f"n={len(seen):,}, missing {missing:.0%}{note}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


#: A histogram's range is the values' [min, max] narrowed to Tukey-style fences
#: ``q25 - FENCE * IQR`` and ``q75 + FENCE * IQR`` (an IQR of 0, most values equal, is replaced
#: by ``max(1, |q25|)``). FENCE is wide (10, against Tukey's 1.5 for flagging outliers): the true
#: minimum and maximum are shown unless they lie more than ten IQRs beyond the quartiles, so the
#: real tails of a series (often the very anomaly) stay in the plot, while one value of 1e308
#: can neither stretch the range into one full bin nor make the bin count overflow. Values
#: outside are counted in the edge bins, their number in the title.
FENCE = 10.0


def _histogram(ax, seen: np.ndarray) -> str:
    """Draw the histogram of finite values ``seen`` on ``ax``; returns a note for the title."""
    if not len(seen):
        return _no_plot(ax, "no values")
    q25, q75 = np.quantile(seen, [0.25, 0.75], method="nearest")
    lo, hi = seen.min(), seen.max()
    with np.errstate(over="ignore", invalid="ignore"):
        iqr = q75 - q25
        spread = iqr if iqr > 0 else max(1.0, abs(float(q25)))
        lo, hi = max(lo, q25 - FENCE * spread), min(hi, q75 + FENCE * spread)
        if not np.isfinite(hi - lo):
            return _no_plot(ax, "values spread too widely to plot")
    outside = int(np.count_nonzero((seen < lo) | (seen > hi)))
    clipped = np.clip(seen, lo, hi)
    ax.hist(clipped, bins=_bins(clipped), color="#3465a4")
    return f", {outside:,} outside [{lo:.4g}, {hi:.4g}] in the edge bins" if outside else ""


def _no_plot(ax, text: str) -> str:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    return ""


def _bins(seen: np.ndarray) -> np.ndarray:
    """Histogram bin edges that respect the data's resolution (NOAA values come in steps of
    0.1 or 0.5): bin widths are whole multiples of the smallest step between values, so no bin
    is empty merely because no value can fall into it."""
    values = np.unique(seen)
    if len(values) < 2:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    step = np.diff(values).min()
    width = np.diff(np.histogram_bin_edges(seen, bins=min(50, max(5, int(np.sqrt(len(seen)))))))[0]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = width / step
        if ratio < 1e6:  # else the resolution is far finer than a bin: nothing to respect
            width = step * max(1, round(ratio))
        start, stop = values[0] - step / 2, values[-1] + width
        count = (stop - start) / width
    if not (np.isfinite(start) and np.isfinite(stop) and count < 1000):
        return np.linspace(values[0], values[-1], 6)  # near the float limit: plain bins
    return np.arange(start, stop, width)


def correlation_figure(corr: pd.DataFrame):
    """The correlation matrix as a heat map (-1 blue, +1 red), each cell with its value."""
    names = list(corr.columns)
    size = max(3.5, 0.75 * len(names) + 1.8)
    fig = new_figure(size + 0.8, size)
    ax = fig.add_subplot()
    data = corr.to_numpy(np.float64)
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            v = data[i, j]
            ax.text(
                j,
                i,
                "-" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(np.nan_to_num(v)) > 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    ax.set_title("Correlation (pairwise observed reports)", fontsize=9)
    fig.tight_layout()
    return fig


def training_figure(history: list[dict]):
    """Training and validation loss per epoch (a bundle's ``history.csv``), log scale."""
    fig = new_figure(7, 3)
    ax = fig.add_subplot()
    epochs = [r.get("epoch", k + 1) for k, r in enumerate(history)]
    for key, color in (("train_loss", "#3465a4"), ("val_loss", "#f57900")):
        ys = [r.get(key, np.nan) for r in history]
        if np.isfinite(np.asarray(ys, dtype=float)).any():
            ax.plot(epochs, ys, marker="o", ms=3, color=color, label=key.replace("_", " "))
    from matplotlib.ticker import MaxNLocator, NullFormatter

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (masked MSE, scaled units)")
    losses = np.asarray(
        [r.get(k, np.nan) for r in history for k in ("train_loss", "val_loss")], dtype=float
    )
    if (losses[np.isfinite(losses)] > 0).all() and np.isfinite(losses).any():
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    ax.set_title("Training curves", fontsize=9)
    fig.tight_layout()
    return fig
