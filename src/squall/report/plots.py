"""Plots (matplotlib, written headless with the Agg backend)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from squall.errors import SquallError
from squall.io import atomic_path


def plot_scores(scores: pd.DataFrame, path: str | os.PathLike[str], threshold: float | None = None,
                title: str = "Reconstruction error per window") -> None:
    """Error per window (in window order) with the threshold line; flagged windows in red."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if "score" not in scores:
        raise SquallError("the scores table has no 'score' column (expected squall's scores.csv)")
    if threshold is None:
        if "threshold" not in scores or scores["threshold"].isna().all():
            raise SquallError("no threshold given and none in the scores table")
        threshold = float(scores["threshold"].iloc[0])
    y = scores["score"].to_numpy(float)
    x = np.arange(len(y))
    flagged = y > threshold
    # a Figure with its own Agg canvas: no pyplot state, no change of the user's backend
    fig = Figure(figsize=(11, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, y, lw=0.8, color="#3465a4", label="window score (masked MSE)")
    ax.scatter(x[flagged], y[flagged], s=10, color="#cc0000", zorder=3,
               label=f"flagged ({int(flagged.sum())} of {len(y)})")
    ax.axhline(threshold, color="#cc0000", ls="--", lw=1, label=f"threshold {threshold:.4g}")
    if "track" in scores and scores["track"].nunique() > 1:  # mark where each track starts
        starts = np.flatnonzero(scores["track"].ne(scores["track"].shift()).to_numpy())[1:]
        for s in starts:
            ax.axvline(s - 0.5, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("window (grouped by track)" if "track" in scores else "window")
    ax.set_ylabel("reconstruction error")
    ax.set_yscale("log" if (y > 0).all() and y.max() / max(y.min(), 1e-12) > 100 else "linear")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
