"""scores.png names the tracks its windows are grouped by."""

import numpy as np
import pandas as pd

from squall.report import plots


def test_score_plot_names_each_track_along_the_top(monkeypatch, tmp_path):
    saved = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.setdefault("fig", fig))
    table = pd.DataFrame(
        {
            "score": np.linspace(0.1, 1, 30),
            "threshold": 0.5,
            "track": ["SHIP1"] * 10 + ["BUOY2"] * 15 + ["C"] * 5,
        }
    )
    plots.plot_scores(table, tmp_path / "s.png", what="peak smoothed step score")
    ax = saved["fig"].axes[0]
    tops = ax.child_axes  # the secondary x axis
    labels = [t.get_text() for t in tops[0].get_xticklabels()]
    assert labels == ["SHIP1", "BUOY2", "C"]
    assert ax.get_legend().get_texts()[0].get_text() == "peak smoothed step score"
