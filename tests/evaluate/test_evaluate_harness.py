"""The evaluation harness end to end on small generated series (no shared data needed)."""

import json

import numpy as np
import pandas as pd
import pytest

from squall.errors import SquallError
from squall.evaluate.detectors import DetectorConfig
from squall.evaluate.family import detect_series
from squall.evaluate.harness import (
    EVENT_COLUMNS,
    evaluate,
    format_summary,
    load_labels,
    write_results,
)


def series(path, days=8, anomaly_day=5, features=("value",), seed=0):
    """Hourly daily cycle with noise; one day doubled (a labelled anomaly)."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-01", periods=24 * days, freq="1h")
    base = 10 + 5 * np.sin(2 * np.pi * np.arange(len(t)) / 24)
    frame = pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S")})
    for j, f in enumerate(features):
        v = base * (1 + j) + rng.normal(0, 0.3, len(t))
        if anomaly_day is not None:
            v[24 * anomaly_day + 8 : 24 * anomaly_day + 14] += 40
        frame[f] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    if anomaly_day is None:
        return None
    day = t[24 * anomaly_day]
    return [str(day), str(day + pd.Timedelta("23h"))]


@pytest.fixture
def nab_like(tmp_path):
    root = tmp_path / "data"
    labels = {
        "groupA/one.csv": [series(root / "groupA" / "one.csv")],
        "groupA/two.csv": [series(root / "groupA" / "two.csv", anomaly_day=3, seed=1)],
        "groupB/multi.csv": [series(root / "groupB" / "multi.csv", seed=2, features=("a", "b"))],
        "groupB/quiet.csv": [],
    }
    series(root / "groupB" / "quiet.csv", anomaly_day=None)
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    return root, tmp_path / "labels.json"


def test_robust_z_evaluation_writes_every_output(nab_like, tmp_path):
    root, labels = nab_like
    names = ["groupA/one.csv", "groupA/two.csv", "groupB/multi.csv", "groupB/quiet.csv"]
    result = evaluate(names, labels, root=root, config=DetectorConfig(kind="robust-z"))
    files = write_results(result, tmp_path / "out")
    assert [f.name for f in files] == [
        "events.csv",
        "scores.csv",
        "series.csv",
        "summary.csv",
        "results.json",
    ]
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert list(scores.columns) == ["series", "track", "timestamp", "score", "label"]
    assert set(scores["label"]) == {0, 1} and set(scores["series"]) <= set(names)
    # robust z per report: the 6-hour bumps rank high inside their day-long labels
    labelled = result.series.dropna(subset=["auc_roc"])
    assert len(labelled) == 3 and (labelled["auc_roc"] > 0.6).all()
    assert (labelled["auc_pr"] > 1 / 8).all()  # above the prevalence of a 1-day label in 8
    events = pd.read_csv(tmp_path / "out" / "events.csv")
    assert list(events.columns) == EVENT_COLUMNS
    assert set(events["series"]) <= set(names)
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary.columns[:7]) == ["dataset", "tp", "fp", "fn", "precision", "recall", "f1"]
    assert summary["dataset"].tolist() == ["groupA", "groupB"]
    # the 40-unit bumps are found by the z-score in every labelled series
    per = result.series.set_index("series")
    assert per.loc[["groupA/one.csv", "groupA/two.csv", "groupB/multi.csv"], "tp"].tolist() == [
        1,
        1,
        1,
    ]
    assert per.loc["groupB/quiet.csv", "labels"] == 0
    assert summary.set_index("dataset").loc["groupA", "tp"] == 2
    assert np.isfinite(summary["nab_score"]).all()
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["detector"]["kind"] == "robust-z" and len(data["series"]) == 4
    text = format_summary(result, tmp_path / "out")
    assert "groupA/one.csv" in text and "groupB" in text and len(text.splitlines()) < 25


def test_labels_must_name_every_series_and_files_must_exist(nab_like):
    root, labels = nab_like
    with pytest.raises(SquallError, match="not in the labels file"):
        evaluate(["groupA/three.csv"], labels, root=root)
    with pytest.raises(SquallError, match="no such series file"):
        evaluate(["groupA/one.csv"], labels, root=root / "nowhere")
    with pytest.raises(SquallError, match="no such labels file"):
        load_labels(root / "none.json", ["a.csv"])
    bad = root / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SquallError, match="expected an object"):
        load_labels(bad, ["a.csv"])
    bad.write_text('{"a.csv": [["2024-01-02", "later"]]}')
    with pytest.raises(SquallError, match="cannot read 'later' as a time"):
        load_labels(bad, ["a.csv"])


def test_detector_options_are_checked():
    with pytest.raises(SquallError, match="detector must be"):
        DetectorConfig(kind="magic")
    with pytest.raises(SquallError, match="threshold must be"):
        DetectorConfig(threshold="magic")
    with pytest.raises(SquallError, match="unknown detector option"):
        DetectorConfig().with_options(colour="red")
    assert DetectorConfig().with_options(k=3.0, pad=None).k == 3.0


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("threshold", ["sigma", "hundman", "pot", "quantile"])
def test_autoencoder_on_a_multivariate_series(nab_like, threshold):
    root, _ = nab_like
    config = DetectorConfig(epochs=2, hidden=(8, 4), threshold=threshold, window=0.5, step=0.25)
    found = detect_series(root / "groupB" / "multi.csv", config)
    assert found.info["interval"] == "1h" and found.info["epochs_run"] <= 2
    assert list(found.events.columns) == ["track", "start", "end", "score"]
    assert len(found.times) == 24 * 8


def test_original_pipeline_baseline(nab_like):
    root, labels = nab_like
    result = evaluate(
        ["groupA/one.csv"], labels, root=root, config=DetectorConfig(kind="original", epochs=1)
    )
    row = result.series.iloc[0]
    # 5 % of the windows are above the 95th percentile, whatever the data: some events
    assert row["events"] >= 1 and row["threshold"] > 0


def test_synthetic_generator_labels_with_a_separate_training_file(tmp_path):
    from squall.data.synthetic import generate_demo_data

    paths = generate_demo_data(
        tmp_path / "synth", seed=0, days_train=6, days_test=6, n_storms=2, n_faults=2
    )
    labels = load_labels(paths["labels"], ["test.csv"])
    assert {"track", "type"} <= set(labels.columns) and (labels["track"] != "").all()
    result = evaluate(
        ["test.csv"],
        paths["labels"],
        root=tmp_path / "synth",
        config=DetectorConfig(epochs=1, hidden=(8, 4)),
        train=paths["train"],
    )
    row = result.series.iloc[0]
    assert row["labels"] == len(labels) and row["tp"] + row["fn"] == len(labels)
    assert np.isnan(row["nab_score"])  # several tracks: no single NAB time line


def test_forecaster_detector_finds_the_bump_from_forecast_residuals(nab_like):
    """Hundman-style: a one-step forecaster's residuals, the same Detector as the autoencoder."""
    root, labels = nab_like
    config = DetectorConfig(kind="forecaster", updates=400, hidden=(16,))
    result = evaluate(["groupA/one.csv"], labels, root=root, config=config)
    row = result.series.iloc[0]
    # a 40-unit bump on a 5-unit daily cycle: forecast residuals flag it, and only it
    assert row["tp"] == 1 and row["fn"] == 0 and row["fp"] <= 1
    assert row["epochs_run"] >= 1 and np.isfinite(row["threshold"])
    assert "lstm-forecaster forecasting 1 from 24 steps" in format_summary(result)


def test_forecaster_detector_options_are_checked():
    with pytest.raises(SquallError, match="model must be a forecasting model"):
        DetectorConfig(kind="forecaster", model="autoencoder")
    with pytest.raises(SquallError, match="horizon must be at least 1"):
        DetectorConfig(kind="forecaster", horizon=0)
    assert DetectorConfig(kind="forecaster").sizes is None  # the model's own default
    assert DetectorConfig().sizes == (32, 16)
