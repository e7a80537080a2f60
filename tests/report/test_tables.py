import numpy as np
import pandas as pd
import pytest

from squall.report.tables import events_frame


def _scores(rows):
    base = {"lat_min": 1.0, "lat_max": 2.0, "lon_min": 100.0, "lon_max": 101.0}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_feature_shares_weight_each_feature_by_its_own_observed_cells():
    # feature a: 4 observed cells of squared error 0.01; b: 1 cell of 0.04 -> equal shares
    table = _scores(
        [
            {
                "window": 0,
                "track": "S",
                "start": "2025-01-01T00:00:00",
                "end": "2025-01-01T04:00:00",
                "score": 0.016,
                "flagged": True,
                "observed": 5,
                "err_a": 0.01,
                "err_b": 0.04,
                "n_a": 4,
                "n_b": 1,
            }
        ]
    )
    ev = events_frame(table, ["a", "b"])
    assert ev.loc[0, "share_a"] == pytest.approx(0.5)
    assert ev.loc[0, "share_b"] == pytest.approx(0.5)


def test_events_merge_and_describe_windows():
    rows = []
    for w, (start, end, score, flagged) in enumerate(
        [
            ("2025-01-01T00:00", "2025-01-01T05:00", 0.5, True),
            ("2025-01-01T01:00", "2025-01-01T06:00", 0.9, True),
            ("2025-01-01T02:00", "2025-01-01T07:00", 0.1, False),
            ("2025-01-02T00:00", "2025-01-02T05:00", 0.7, True),
        ]
    ):
        rows.append(
            {
                "window": w,
                "track": "S",
                "start": start,
                "end": end,
                "score": score,
                "flagged": flagged,
                "observed": 10,
                "err_a": score,
                "err_b": score / 9,
                "n_a": 5,
                "n_b": 5,
                "lat_min": float(w),
                "lat_max": float(w) + 0.5,
            }
        )
    ev = events_frame(_scores(rows), ["a", "b"])
    assert len(ev) == 2
    first = ev.iloc[0]
    assert first["n_windows"] == 2 and first["peak_window"] == 1
    assert first["score"] == pytest.approx(0.9)
    assert first["start"] == "2025-01-01T00:00" and first["end"] == "2025-01-01T06:00"
    assert first["lat_min"] == 0.0 and first["lat_max"] == 1.5
    assert first["top_features"].startswith("a 90%")
    assert ev.iloc[1]["peak_window"] == 3


def test_a_step_detectors_peak_window_is_the_peak_of_its_step_score():
    """With a step detector the event's peak window is where the smoothed step score the
    detector thresholds peaks, not where the window MSE does; events given by the detector
    (ids, not table order) are grouped without a scan per event."""
    rows = [
        {
            "window": w,
            "track": "S",
            "start": f"2025-01-0{w + 1}T00:00",
            "end": f"2025-01-0{w + 1}T05:00",
            "score": mse,
            "step_score": step,
            "flagged": True,
            "observed": 10,
            "err_a": mse,
            "n_a": 10,
        }
        for w, (mse, step) in enumerate([(0.9, 0.2), (0.1, 0.8), (0.5, 0.3), (0.4, 0.6)])
    ]
    ev = events_frame(_scores(rows), ["a"], event=np.array([1, 0, 1, 0]))
    assert ev["event"].tolist() == [0, 1]
    assert ev["n_windows"].tolist() == [2, 2]
    assert ev["peak_window"].tolist() == [1, 2]  # by step_score (MSE would give 3 and 0)
    assert ev["start"].tolist() == ["2025-01-02T00:00", "2025-01-01T00:00"]


def test_anomaly_rows_of_a_generic_csv_with_blank_lines(tmp_path):
    from squall import pipeline
    from squall.bundle import Bundle, seed_layers, weight_shapes
    from squall.data.scaling import Scaler

    lines = ["timestamp,value"]
    t0 = pd.Timestamp("2025-01-01")
    for k in range(120):
        lines.append(f"{(t0 + pd.Timedelta(minutes=10 * k)).isoformat()},{k}")
        if k % 25 == 0:
            lines.append("")  # blank lines shift naive row numbering
    path = tmp_path / "series.csv"
    path.write_text("\n".join(lines) + "\n")
    layers = seed_layers(1, 6, (4, 2))
    rng = np.random.default_rng(0)
    weights = {
        k: rng.normal(0, 0.3, s).astype(np.float32) for k, s in weight_shapes(layers).items()
    }
    bundle = Bundle(
        layers,
        weights,
        ["value"],
        {"value": ""},
        {
            "length": 6,
            "stride": 1,
            "mode": "track",
            "resample": None,
            "max_gap": "1h",
            "min_observed": 0.25,
        },
        Scaler.from_minmax(["value"], [0], [120]),
        {"method": "value", "value": 0.0},
        {
            "reader": {
                "kind": "csv",
                "features": ["value"],
                "time_column": "timestamp",
                "track_column": None,
            }
        },
    )
    result = pipeline.detect(bundle, path, tmp_path / "out", plot=False)
    assert result["flagged"] > 0
    rows = pd.read_csv(tmp_path / "out" / "anomaly_windows.csv")
    text = path.read_text().splitlines()
    for _, r in rows.iterrows():  # each extracted report is the file's line `line`
        assert text[int(r["line"]) - 1] == f"{r['timestamp']},{r['value']}"
    assert set(rows["value"]) <= set(range(120))


def test_scores_frame_track_names_share_the_window_sets_strings():
    from squall.report.tables import _names

    names = np.array(["A", "B", "A"], dtype=object)
    assert _names(names) is names
    for other in (np.array(["A", "B"]), np.array([1, "B"], dtype=object)):
        np.testing.assert_array_equal(_names(other), other.astype(str))


def _series_bundle(length=6):
    from squall.bundle import Bundle, seed_layers, weight_shapes
    from squall.data.scaling import Scaler

    layers = seed_layers(1, length, (4, 2))
    rng = np.random.default_rng(0)
    weights = {
        k: rng.normal(0, 0.3, s).astype(np.float32) for k, s in weight_shapes(layers).items()
    }
    return Bundle(
        layers,
        weights,
        ["value"],
        {"value": ""},
        {
            "length": length,
            "stride": 1,
            "mode": "track",
            "resample": None,
            "max_gap": "1h",
            "min_observed": 0.25,
        },
        Scaler.from_minmax(["value"], [0], [120]),
        {"method": "value", "value": 0.0},
        {
            "reader": {
                "kind": "csv",
                "features": ["value"],
                "time_column": "timestamp",
                "track_column": None,
            }
        },
    )


def test_each_source_is_hashed_once_per_call_not_across_calls(tmp_path, monkeypatch):
    """anomaly_windows: each source's SHA-256 is computed once per call (not once for its
    columns and again for its rows), and again on the next call (the file may have changed)."""
    import squall.io
    from squall import pipeline
    from squall.report import tables

    paths = []
    for name in ("a", "b"):
        t0 = pd.Timestamp("2025-01-01")
        path = tmp_path / f"{name}.csv"
        path.write_text(
            "timestamp,value\n"
            + "".join(f"{(t0 + pd.Timedelta(minutes=10 * k)).isoformat()},{k}\n" for k in range(30))
        )
        paths.append(path)
    ws = pipeline.make_windowset(_series_bundle(), paths)
    hashed, opened = [], []
    real_sha, real_blocks = squall.io.sha256_file, tables._blocks
    monkeypatch.setattr(squall.io, "sha256_file", lambda p: hashed.append(p) or real_sha(p))
    monkeypatch.setattr(tables, "_blocks", lambda p, k: opened.append(p) or real_blocks(p, k))
    everything = np.arange(len(ws))
    frame = tables.anomaly_windows_frame(ws, everything)
    assert set(frame["file"]) == {str(p) for p in paths}
    assert sorted(map(str, hashed)) == sorted(map(str, paths))
    assert len(opened) == 2 * len(paths)  # the header once, the rows once
    tables.anomaly_windows_frame(ws, everything)
    assert len(hashed) == 2 * len(paths)


def _three_feature_csv(path, steps=150):
    """One hourly track: a complete, b with every third value missing, c complete (a feature
    the forecaster below only reads)."""
    i = np.arange(steps)
    rng = np.random.default_rng(1)
    a = np.sin(2 * np.pi * i / 24) + 0.1 * rng.standard_normal(steps)
    b = np.cos(2 * np.pi * i / 12) + 0.1 * rng.standard_normal(steps)
    b[i % 3 == 0] = np.nan
    c = 0.5 * np.sin(2 * np.pi * i / 7)
    time = pd.date_range("2025-01-01", periods=steps, freq="h")
    frame = pd.DataFrame({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), "a": a, "b": b, "c": c})
    frame.to_csv(path, index=False)
    return path


def test_a_forecasters_per_feature_counts_and_event_shares_cover_its_residual_only(
    tmp_path, capsys
):
    """n_<F> counted every observed step of the L + H window while the residual covers only
    the horizon of the target features: with b gappy and a complete, b's share came out
    skewed, and c (read, never forecast) had a count without an error."""
    pytest.importorskip("torch")
    from squall import pipeline
    from squall.cli.main import main
    from squall.detect.explain import explain
    from squall.detect.scoring import predictor, score, with_residuals
    from squall.engines import get_engine
    from squall.prepare import make_windowset
    from squall.report.detection import run_detector
    from squall.report.tables import predicted_cells

    data = _three_feature_csv(tmp_path / "h.csv")
    L, H = 6, 3
    bundle = pipeline.train(
        data, tmp_path / "m", model="lstm-forecaster", lookback=L, horizon=H, targets=["a", "b"],
        features=["a", "b", "c"], sizes=(4,), epochs=1, progress=False, log=lambda *_: None,
    )  # fmt: skip
    cells = predicted_cells(bundle)
    assert cells is not None and cells.shape == (L + H, 3)
    assert cells[L:, :2].all() and not cells[:L].any() and not cells[:, 2].any()

    out = tmp_path / "run"
    args = ["detect", tmp_path / "m", data, "--out", out, "--threshold-quantile", "0.7"]
    code = main([str(a) for a in [*args, "--quiet", "--no-plot"]])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "scores.csv")
    ws = make_windowset(bundle, data)
    mask = ws.mask
    assert len(table) == len(ws) and table["flagged"].any()
    # the counts are the observed cells of the horizon of each target, nothing of c
    assert (table["n_a"] == mask[:, L:, 0].sum(axis=1)).all() and (table["n_a"] == H).all()
    assert (table["n_b"] == mask[:, L:, 1].sum(axis=1)).all()
    assert (table["n_c"] == 0).all() and table["err_c"].isna().all()
    assert table["observed"].tolist() == (table["n_a"] + table["n_b"]).tolist()

    # each event's shares: its windows' squared residuals per feature, by hand (the events
    # as the detector grouped the windows: the same run in memory)
    same, result, _ = run_detector(bundle, ws, "numpy", threshold_quantile=0.7)
    assert same["flagged"].tolist() == table["flagged"].tolist()
    ids = result.window_event
    residual = score(ws.x, predictor(get_engine("numpy", bundle), bundle)(ws.x), mask).residual
    events = pd.read_csv(out / "events.csv")
    assert len(events) == ids.max() + 1 >= 1
    for e, row in events.iterrows():
        sq = np.nansum(residual[ids == e] ** 2, axis=(0, 1))
        assert row["share_a"] == pytest.approx(sq[0] / sq.sum(), rel=1e-4)
        assert row["share_b"] == pytest.approx(sq[1] / sq.sum(), rel=1e-4)
        assert row["share_a"] + row["share_b"] == pytest.approx(1.0)
        assert np.isnan(row["share_c"]) and np.isnan(row["dev_c"])  # empty: not forecast
        named = [p.split(" ")[0] for p in f"{row['top_features']}; {row['why']}".split("; ")]
        assert "a" in named and "b" in named and "c" not in named
    # explain weights each feature by its cells with a residual, whatever the table says
    flagged = np.flatnonzero(result.window_flags)
    kept = with_residuals(result.scores.windows, predictor(get_engine("numpy", bundle), bundle),
                          ws, flagged)  # fmt: skip
    stale = same.assign(n_a=L + H, n_b=L + H, n_c=L + H)  # a table counting whole windows
    for why in (explain(same, ws, kept, bundle.scaler, bundle.units, ids=ids),
                explain(stale, ws, kept, bundle.scaler, bundle.units, ids=ids)):  # fmt: skip
        for e, ex in enumerate(why):
            assert set(ex["features"]) == {"a", "b"}
            share = events.loc[e, ["share_a", "share_b"]].to_numpy(float)
            got = [ex["features"][f]["share"] for f in ("a", "b")]
            assert got == pytest.approx(share, rel=1e-4)
