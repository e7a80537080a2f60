"""detect scores a chunk of windows at a time and keeps residuals of the flagged windows only;
its tables are those of scoring all windows at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from squall import pipeline
from squall.bundle import random_bundle, seed_layers
from squall.data.scaling import Scaler
from squall.detect import scoring
from squall.detect.explain import explain
from squall.report.tables import scores_frame, step_errors_frame


def small_bundle():
    b = random_bundle(seed_layers(2, 6, (4,)), 2, 6)
    b.features, b.units = ["a", "b"], {"a": "", "b": ""}
    b.scaler = Scaler.from_minmax(["a", "b"], [0.0, 0.0], [10.0, 10.0])
    b.threshold = {"method": "value", "value": 0.0, "fitted_on": "user"}
    b.provenance = {
        "reader": {
            "kind": "csv",
            "features": ["a", "b"],
            "time_column": "timestamp",
            "track_column": None,
        }
    }
    return b.validate()


def write_data(path, n=400):
    rng = np.random.default_rng(1)
    t = pd.date_range("2025-01-01", periods=n, freq="h")
    a = np.sin(np.arange(n) / 5) * 3 + 5
    b = rng.normal(5, 1, n)
    b[rng.random(n) < 0.1] = np.nan
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "a": a, "b": b}).to_csv(
        path, index=False
    )
    return path


def test_detect_tables_equal_those_of_all_windows_scored_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK", 100)  # several chunks and a joined last one
    bundle = small_bundle()
    data = write_data(tmp_path / "data.csv")
    ws = pipeline.make_windowset(bundle, [data])
    chunked = pipeline.score_windows(bundle, ws)
    assert chunked.residual.shape[0] == 0  # no (N, T, F) residuals kept
    recon = pipeline.reconstruct_windows(bundle, ws)
    whole = scoring.score(ws.x, recon, ws.mask)
    for name in ("window", "feature", "step", "observed"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    threshold = float(np.quantile(whole.window, 0.8))
    pipeline.detect(bundle, [data], tmp_path / "run", threshold=threshold, plot=False)
    table = scores_frame(ws, whole, threshold)
    idx = table.index[table["flagged"]].to_numpy()
    assert 0 < len(idx) < len(ws)
    expected = step_errors_frame(ws, whole, idx)
    got = pd.read_csv(tmp_path / "run" / "step_errors.csv")
    pipeline.write_csv(expected, tmp_path / "expected.csv")
    assert (tmp_path / "expected.csv").read_bytes() == (
        tmp_path / "run" / "step_errors.csv"
    ).read_bytes()
    assert len(got) == len(idx) * bundle.length
    why = [e["text"] for e in explain(table, ws, whole, bundle.scaler, bundle.units)]
    events = pd.read_csv(tmp_path / "run" / "events.csv", keep_default_na=False)
    assert events["why"].tolist() == [w.split(" | QC: ")[0] for w in why]
