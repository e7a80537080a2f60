"""The detector family behind one API: fit / score / predict / save / load (issue 15)."""

import numpy as np
import pandas as pd
import pytest

from squall.errors import SquallError
from squall.evaluate.detectors import DetectorConfig
from squall.evaluate.family import SeriesDetector, _normalised

torch = pytest.importorskip("torch")


def series(path, days=10, bump_day=7, seed=0):
    """Hourly daily cycle with noise; a 6-hour bump of +40 on one day."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-01", periods=24 * days, freq="1h")
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(len(t)) / 24) + rng.normal(0, 0.3, len(t))
    if bump_day is not None:
        v[24 * bump_day + 8 : 24 * bump_day + 14] += 40
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": v}).to_csv(
        path, index=False
    )
    return t[24 * bump_day + 8] if bump_day is not None else None


@pytest.fixture
def bumpy(tmp_path):
    path = tmp_path / "s.csv"
    return path, series(path)


def _finds(events, at):
    hit = (events["start"] <= at + pd.Timedelta("6h")) & (events["end"] >= at)
    return bool(hit.any())


@pytest.mark.parametrize(
    "config",
    [
        DetectorConfig(kind="autoencoder", updates=300, hidden=(8, 4)),
        DetectorConfig(kind="forecaster", updates=300, hidden=(8,)),
    ],
    ids=["autoencoder", "forecaster"],
)
def test_a_model_detector_fits_scores_predicts_and_round_trips(bumpy, tmp_path, config):
    path, at = bumpy
    det = SeriesDetector(config).fit(path)
    scores = det.score(path)
    assert list(scores.columns) == ["track", "start", "end", "score"]
    # a forecaster scores no step of its first lookback: 24 of 240 here
    assert len(scores) >= 200 and np.isfinite(scores["score"]).mean() >= 0.9
    events = det.predict(path)
    assert _finds(events, at) and len(events) <= 2
    # the highest score is in the bump
    top = scores.loc[scores["score"].idxmax(), "start"]
    assert at - pd.Timedelta("2h") <= top <= at + pd.Timedelta("12h")
    saved = det.save(tmp_path / "det")
    back = SeriesDetector.load(saved)
    assert back.kind == det.kind
    pd.testing.assert_frame_equal(back.score(path), scores, rtol=1e-6)
    pd.testing.assert_frame_equal(back.predict(path), events, rtol=1e-6)


def test_an_ensemble_combines_normalised_member_scores(bumpy):
    path, at = bumpy
    det = SeriesDetector(
        "ensemble",
        members=("autoencoder", "forecaster"),
        updates=300,
        normalise="rank",
        combine="max",
        threshold="quantile",
        quantile=0.97,
    ).fit(path)
    raw = det.raw_scores(path)
    # rank-normalised members combined by max: every combined score is a rank in [0, 1]
    finite = raw["score"].to_numpy()[np.isfinite(raw["score"])]
    assert len(finite) > 200 and finite.min() >= 0 and finite.max() <= 1
    assert _finds(det.predict(path), at)
    with pytest.raises(SquallError, match="not supported"):
        det.save(path.parent / "ens")


def test_normalisation_rules():
    ref = np.sort(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    z = _normalised(np.array([3.0, 3.0 + 1.4826, np.nan]), ref, "robust-z")
    # median 3, MAD 1: z = (s - 3) / 1.4826
    np.testing.assert_allclose(z[:2], [0.0, 1.0]) and np.isnan(z[2])
    r = _normalised(np.array([0.0, 3.0, 9.0]), ref, "rank")
    np.testing.assert_allclose(r, [0.0, 0.6, 1.0])
    flat = _normalised(np.array([2.0]), np.array([1.0, 1.0, 1.0, 3.0]), "robust-z")
    assert np.isfinite(flat).all()  # MAD 0: the standard deviation instead


def test_the_family_refuses_baselines_and_bad_ensembles():
    with pytest.raises(SquallError, match="baseline"):
        SeriesDetector("robust-z")
    with pytest.raises(SquallError, match="members of an ensemble must be among"):
        DetectorConfig(kind="ensemble", members=("ensemble",))
    with pytest.raises(SquallError, match="use threshold quantile with it"):
        DetectorConfig(kind="ensemble", normalise="rank")
    with pytest.raises(SquallError, match="combine must be one of"):
        DetectorConfig(kind="ensemble", combine="median")
    with pytest.raises(SquallError, match="not fitted"):
        SeriesDetector("autoencoder").score("x.csv")


def test_a_backward_forecaster_reads_the_series_reversed_and_maps_times_back(bumpy):
    path, at = bumpy
    config = DetectorConfig(kind="forecaster", backward=True, updates=300, hidden=(8,))
    det = SeriesDetector(config).fit(path)
    scores = det.score(path)
    times = pd.to_datetime(pd.read_csv(path)["timestamp"])
    # the series' own step times, in time order; the last lookback has no forecast now
    assert scores["start"].min() == times.min() and scores["start"].max() == times.max()
    assert scores["start"].is_monotonic_increasing
    assert np.isfinite(scores["score"].iloc[:200]).all()
    assert not np.isfinite(scores["score"].iloc[-24:]).any()
    top = scores.loc[scores["score"].idxmax(), "start"]
    assert at - pd.Timedelta("12h") <= top <= at + pd.Timedelta("8h")
    events = det.predict(path)
    assert _finds(events, at) and (events["start"] <= events["end"]).all()
    with pytest.raises(SquallError, match="backward"):
        DetectorConfig(kind="autoencoder", backward=True)


def test_the_hybrid_combines_reconstruction_and_prediction_from_both_sides(bumpy):
    path, at = bumpy
    det = SeriesDetector("hybrid", updates=300).fit(path)
    assert det.members == ("autoencoder", "forecaster", "backward-forecaster")
    assert [m.config.backward for m in det.members_] == [False, False, True]
    raw = det.raw_scores(path)
    assert len(raw) == 240 and np.isfinite(raw["score"]).all()  # each step has a member score
    assert _finds(det.predict(path), at)


def test_a_classical_detector_saves_as_json_and_arrays(bumpy, tmp_path):
    pytest.importorskip("sklearn")
    path, at = bumpy
    det = SeriesDetector("pca", k=3.0).fit(path)
    scores = det.score(path)
    top = scores.loc[scores["score"].idxmax(), "start"]
    assert at - pd.Timedelta("24h") <= top <= at + pd.Timedelta("24h")
    saved = det.save(tmp_path / "pca")
    assert sorted(p.name for p in saved.iterdir()) == ["detector.json", "scorer.npz"]
    back = SeriesDetector.load(saved)
    pd.testing.assert_frame_equal(back.score(path), scores)
    pd.testing.assert_frame_equal(back.predict(path), det.predict(path))
