"""The Detector (fit / score_samples / predict / detect / save / load), the fittable threshold
rules and the one-pass chunked scoring it runs on."""

import numpy as np
import pandas as pd
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.data import windowset
from squall.data.scaling import Scaler
from squall.data.sensor_csv import read_sensor_csv
from squall.data.windows import WindowSettings, make_windows, resolve_settings
from squall.detect.detector import Detector
from squall.detect.pointwise import HOW, score_all, step_scores
from squall.detect.scoring import score_windows
from squall.detect.thresholds import (
    RULES,
    HundmanThreshold,
    PotThreshold,
    QuantileThreshold,
    SigmaThreshold,
    make_threshold,
    threshold_from_dict,
)
from squall.engines import get_engine
from squall.errors import SquallError


def _series(tmp_path, n=400, spike_at=(250,), tracks=("a", "b")):
    t = pd.date_range("2024-01-01", periods=n, freq="1h")
    rng = np.random.default_rng(1)
    paths = []
    for k, name in enumerate(tracks):
        x = 0.05 * rng.normal(size=n)
        for at in spike_at:
            x[at : at + 3] += 4.0 * (k + 1)
        pd.DataFrame({"timestamp": t, "x": x, "y": 0.05 * rng.normal(size=n)}).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
        paths.append(tmp_path / f"{name}.csv")
    obs = read_sensor_csv(paths)
    settings = resolve_settings(WindowSettings(length=12), obs)
    ws = windowset.build(
        make_windows(obs, settings), obs, Scaler("minmax", obs.features).fit(obs.values())
    )
    bundle = random_bundle(seed_layers(2, 12, (6, 3)), 2, 12, scale=0.4)
    bundle.features = list(obs.features)
    return ws, bundle


def _constant_model(bundle):
    """The bundle with its last dense layer set to output the scaled value 0 everywhere: a
    model of 'normal = the typical level', so a step's score is its distance from it."""
    last = max(int(k.split(".")[1]) for k in bundle.weights)
    for name in (f"layers.{last}.W", f"layers.{last}.b"):
        bundle.weights[name] = np.zeros_like(bundle.weights[name])
    return bundle


@pytest.fixture
def data(tmp_path):
    return _series(tmp_path)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("chunk", [64, 97, 300, 10_000])
def test_one_pass_scoring_equals_scoring_everything_at_once(data, how, chunk):
    ws, bundle = data
    reconstruct = get_engine("numpy", bundle).reconstruct
    full = step_scores(ws, reconstruct(ws.x), how)
    windows, steps = score_all(reconstruct, ws, how, chunk=chunk)
    assert np.array_equal(full.step, steps.step)
    assert np.array_equal(full.track.astype(str), steps.track.astype(str))
    np.testing.assert_allclose(steps.score, full.score, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(steps.recon, full.recon, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(windows.window, score_windows(reconstruct, ws).window, rtol=1e-12)


def test_threshold_rules_fit_flag_and_round_trip():
    x = np.random.default_rng(0).normal(size=2000)
    for rule in (r for r in RULES if r != "dynamic"):  # dynamic: refitted on what it flags
        fitted = make_threshold(rule).fit(x)
        back = threshold_from_dict(fitted.to_dict())
        assert back.to_dict() == fitted.to_dict()
        flags = fitted.flags(np.array([np.nan, fitted.value_ + 1, fitted.value_ - 1]))
        assert flags.tolist() == [False, True, False]
    assert QuantileThreshold(0.9).fit(np.arange(11.0)).value_ == pytest.approx(9.0)
    assert SigmaThreshold(2).fit(np.array([0.0, 2.0])).value_ == pytest.approx(3.0)
    assert HundmanThreshold().fit(x).value_ > x.mean()
    assert PotThreshold(q=0.01, level=0.9).fit(x).value_ > np.quantile(x, 0.9)


@pytest.mark.parametrize(
    "bad", [np.zeros((3, 2)), np.array(["a", "b"]), np.full(4, np.nan), np.zeros(0)]
)
def test_threshold_input_checked_once_in_the_base(bad):
    for rule in RULES:
        with pytest.raises(SquallError):
            make_threshold(rule).fit(bad)


def test_threshold_parameter_errors_are_one_line():
    with pytest.raises(SquallError, match="one of"):
        make_threshold("median")
    with pytest.raises(SquallError, match="not z"):
        make_threshold("sigma", z=3)
    with pytest.raises(SquallError, match=r"in \(0, 1\)"):
        QuantileThreshold(1.0)
    with pytest.raises(SquallError, match="positive"):
        SigmaThreshold(-1)
    with pytest.raises(SquallError, match="not fitted"):
        SigmaThreshold().flags(np.zeros(3))
    with pytest.raises(SquallError, match="finite"):
        threshold_from_dict({"rule": "sigma", "k": 4, "value": float("nan")})
    with pytest.raises(SquallError, match="unknown threshold rule"):
        threshold_from_dict({"rule": "magic"})


def test_detector_constructor_stores_and_checks_configuration():
    d = Detector()
    assert d.scoring == "step" and isinstance(d.threshold, SigmaThreshold) and d.bundle_ is None
    assert isinstance(Detector("window").threshold, QuantileThreshold)
    for kwargs in (
        {"scoring": "both"},
        {"point": "max"},
        {"smoothing": -1},
        {"pad": 1.5},
        {"merge_gap": -2},
        {"threshold": "magic"},
    ):
        with pytest.raises(SquallError):
            Detector(**kwargs)
    with pytest.raises(SquallError, match="trained model"):
        Detector().fit(None)


def test_detector_finds_the_injected_spikes_as_one_event_per_track(data):
    ws, bundle = data
    det = Detector(threshold=SigmaThreshold(3.0)).fit(ws, _constant_model(bundle))
    result = det.detect(ws)
    assert det.threshold.value_ is not None and det.span_ >= 1
    assert sorted(result.events["track"]) == ["a", "b"]
    for ev in result.events.itertuples():
        assert ev.start <= pd.Timestamp("2024-01-01") + pd.Timedelta(hours=252)
        assert ev.end >= pd.Timestamp("2024-01-01") + pd.Timedelta(hours=250)
    # predict() is detect()'s flags; each flagged window belongs to an event and vice versa
    assert np.array_equal(det.predict(ws), result.flags)
    assert np.array_equal(result.window_event >= 0, result.window_flags)
    assert set(result.window_event[result.window_event >= 0]) == set(range(len(result.events)))


def test_window_mode_is_the_window_quantile_rule(data):
    ws, bundle = data
    det = Detector("window", threshold=QuantileThreshold(0.95)).fit(ws, bundle)
    scores = det.score_samples(ws)
    assert scores.steps is None
    expected = np.quantile(scores.windows.window, 0.95)
    assert det.threshold.value_ == pytest.approx(expected)
    result = det.detect(ws)
    assert np.array_equal(result.flags, scores.windows.window > expected)
    assert result.events["size"].sum() == result.flags.sum()


def test_detector_section_round_trips_and_a_bundle_without_one_runs_its_threshold(data):
    ws, bundle = data
    det = Detector(smoothing=0.05, threshold=PotThreshold(0.02, 0.9)).fit(ws, bundle)
    back = Detector.from_dict(det.to_dict(), bundle)
    assert back.to_dict() == det.to_dict()
    assert np.array_equal(back.detect(ws).flags, det.detect(ws).flags)
    with pytest.raises(SquallError, match="unknown keys"):
        Detector.from_dict(det.to_dict() | {"colour": 1})
    bundle.detector = None
    bundle.threshold = {"method": "quantile", "q": 0.99, "value": 0.5, "fitted_on": "validation"}
    legacy = Detector.from_bundle(bundle)
    assert legacy.scoring == "window" and legacy.threshold.value_ == 0.5
    flags = legacy.predict(ws)
    assert np.array_equal(
        flags, score_windows(get_engine("numpy", bundle).reconstruct, ws).window > 0.5
    )


def test_windows_belong_to_events_through_their_flagged_steps_only(tmp_path):
    # two spikes 9 steps apart (merged: gap <= window length) and padding: a window that holds
    # only merged-in or padded steps is not flagged and belongs to no event (the per-window
    # outputs keep residuals of flagged windows only)
    ws, bundle = _series(tmp_path, spike_at=(250, 259), tracks=("a",))
    result = (
        Detector(threshold=SigmaThreshold(3.0), pad=2).fit(ws, _constant_model(bundle)).detect(ws)
    )
    assert len(result.events) == 1
    assert np.array_equal(result.window_event >= 0, result.window_flags)
    result.check_windows()


def test_events_sharing_all_their_windows_are_refused_for_per_window_outputs(tmp_path):
    ws, bundle = _series(tmp_path, spike_at=(390, 396), tracks=("a",))
    det = Detector(threshold=SigmaThreshold(3.0), merge_gap=0).fit(ws, _constant_model(bundle))
    result = det.detect(ws)
    assert len(result.events) == 2
    with pytest.raises(SquallError, match="merge_gap"):
        result.check_windows()


def test_smoothing_span_can_come_from_the_whole_training_set(data):
    ws, bundle = data
    tail = ws.subset(np.arange(len(ws) - 60, len(ws)))
    short = Detector(smoothing=0.05).fit(tail, bundle)
    whole = Detector(smoothing=0.05).fit(tail, bundle, span_windows=ws)
    assert whole.span_ == pytest.approx(0.05 * 400) and short.span_ < whole.span_
    assert Detector.from_dict(whole.to_dict(), bundle).span_ == whole.span_


def test_windows_in_any_order_score_alike_with_few_open_cells(data):
    """A windows file may store its windows in any order: the one-pass scoring visits them in
    step order, so the per-step scores are the same and only a few steps' cells stay open
    (before, a shuffled set kept every cell until the end, re-concatenated at each chunk)."""
    import tracemalloc

    ws, bundle = data
    reconstruct = get_engine("numpy", bundle).reconstruct
    shuffled = ws.subset(np.random.default_rng(0).permutation(len(ws)))
    score_all(reconstruct, ws, chunk=64)  # first-call allocations (imports, caches) not counted
    peaks = []
    for s in (ws, shuffled):
        tracemalloc.start()
        try:
            windows, steps = score_all(reconstruct, s, chunk=64)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        if s is ws:
            ordered = (windows, steps)
    assert np.array_equal(ordered[1].step, steps.step)
    np.testing.assert_allclose(steps.score, ordered[1].score, rtol=1e-12, equal_nan=True)
    perm = np.argsort(np.random.default_rng(0).permutation(len(ws)))
    np.testing.assert_allclose(windows.window[perm], ordered[0].window, rtol=1e-12)
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_dynamic_threshold_refits_per_track_and_round_trips():
    """The research variants of ``squall evaluate`` (sliding windows, Hundman's pruning) are a
    threshold rule of the one Detector: refitted on each track's own scores, short tracks
    pooled, serialised with its base rule."""
    from squall.detect.dynamic import dynamic_flags
    from squall.detect.thresholds import DynamicThreshold

    rng = np.random.default_rng(1)
    quiet, loud = rng.normal(0, 1, 300), rng.normal(0, 10, 300)
    quiet[150] = 30.0  # an outlier only against its own track's spread
    scores = np.concatenate([quiet, loud, rng.normal(0, 1, 20)])
    tracks = [("a", np.arange(300)), ("b", np.arange(300, 600)), ("c", np.arange(600, 620))]
    rule = DynamicThreshold(SigmaThreshold(4.0), window=0.33, step=0.1, min_track_steps=100)
    rule.fit(scores)
    flags = rule.flags_by_track(scores, tracks)
    assert flags[150]  # one global mean + 4 sd (about 25) could miss it; per track it stands out
    own, level = dynamic_flags(quiet, method="sigma", k=4.0, window=99, step=30)
    assert np.array_equal(flags[:300], own)
    assert rule.level_ <= float(np.min(level))
    back = threshold_from_dict(rule.to_dict())
    assert isinstance(back, DynamicThreshold) and back.to_dict() == rule.to_dict()
    assert np.array_equal(back.flags_by_track(scores, tracks), flags)
    pruned = DynamicThreshold("quantile", prune=0.5).fit(scores)
    assert pruned.flags(loud).sum() <= DynamicThreshold("quantile").flags(loud).sum()
    with pytest.raises(SquallError, match="window"):
        DynamicThreshold(window=-1)
    with pytest.raises(SquallError, match="fixed rule"):
        DynamicThreshold(DynamicThreshold())


def test_a_forecaster_is_a_detector_on_its_forecast_residuals(tmp_path):
    """A forecasting bundle goes through the same Detector: each step's prediction is the
    median of the forecasts of it made from every origin whose horizon holds it, its score the
    mean absolute residual over the target features; steps no window forecasts (a track's
    first L steps) have no score and are never flagged."""
    from squall.bundle import Bundle
    from squall.detect.scoring import predictor
    from squall.model import Dense, Lstm, Repeat, Task

    ws, _ = _series(tmp_path)
    L, H = 8, 4
    bundle = random_bundle(
        [Lstm(2, 6, False), Repeat(H), Lstm(6, 6, True), Dense(6, 1)],
        2,
        L + H,
        task={"kind": "forecast", "lookback": L, "horizon": H, "targets": ["f0"]},
        scale=0.4,
    )
    bundle.features = list(ws.features)
    bundle.task = Task("forecast", L, H, ("x", "y"), ("x",))
    assert isinstance(bundle, Bundle)
    engine = get_engine("numpy", bundle)
    cells = predictor(engine, bundle)(ws.x)
    assert np.isnan(cells[:, :L]).all() and np.isnan(cells[:, L:, 1]).all()
    np.testing.assert_array_equal(cells[:, L:, 0], engine.run(ws.x[:, :L])[:, :, 0])

    det = Detector("step", smoothing=0).fit(ws, bundle)
    found = det.detect(ws)
    steps = found.scores.steps
    # by hand: the median forecast of each step over the windows predicting it
    preds: dict[int, list[float]] = {}
    for w in range(len(ws)):
        for t in range(L, L + H):
            preds.setdefault(int(ws.steps[w, t]), []).append(cells[w, t, 0])
    value = ws.scaled_steps[:, 0]
    want = {s: abs(value[s] - float(np.median(p))) for s, p in preds.items()}
    got = dict(zip(steps.step.tolist(), steps.score.tolist(), strict=True))
    for s, score in got.items():
        if s in want:
            assert score == pytest.approx(want[s], rel=1e-9)
        else:
            assert np.isnan(score)
    assert not found.flags[np.isnan(steps.score)].any()
    assert np.isfinite(found.scores.windows.window).all()
    bundle.task = Task("classify", classes=("a", "b"))
    with pytest.raises(SquallError, match="task is classify"):
        predictor(engine, bundle)


def test_a_track_without_training_history_is_judged_against_its_own_scores_too(tmp_path):
    """Issue 15: a track the model never learned scores high everywhere; it must not become one
    event over its whole length, only where it stands out from itself."""
    n = 400
    t = pd.date_range("2024-01-01", periods=n, freq="1h")
    rng = np.random.default_rng(3)
    # b sits far from the model's "normal"; c, never trained on either, looks like a
    for name, offset in (("a", 0.0), ("b", 1.5), ("c", 0.0)):
        x = offset + 0.05 * rng.normal(size=n)
        x[250:253] += 2.0 + offset
        frame = pd.DataFrame({"timestamp": t, "x": x, "y": 0.05 * rng.normal(size=n)})
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    obs = read_sensor_csv([tmp_path / f"{name}.csv" for name in "abc"])
    settings = resolve_settings(WindowSettings(length=12), obs)
    trained = (obs.frame["track"].astype(str) == "a").to_numpy()  # the scaler too knows a only
    scaler = Scaler("standard", obs.features).fit(obs.values()[trained])
    ws = windowset.build(make_windows(obs, settings), obs, scaler)
    bundle = random_bundle(seed_layers(2, 12, (6, 3)), 2, 12, scale=0.4)
    bundle.features = list(obs.features)
    bundle = _constant_model(bundle)
    train = ws.subset(np.flatnonzero(ws.track.astype(str) == "a"))  # b: no training history
    det = Detector(threshold=SigmaThreshold(4.0)).fit(train, bundle)
    assert det.history_ == {"a": n} and det.to_dict()["history"] == {"a": n}
    result = det.detect(ws)
    ev = result.events.set_index("track")
    spike = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=250)
    for track in ("a", "b", "c"):
        assert ev.loc[[track], "start"].min() <= spike + pd.Timedelta(hours=2)
        assert ev.loc[[track], "end"].max() >= spike
    # b is judged against its own scores too: its events cover the spike, not the whole track
    assert ev.loc[["b"], "size"].sum() < 0.2 * n
    assert set(ev.loc[["b"], "basis"]) == {"own"} and set(ev.loc[["a"], "basis"]) == {"training"}
    # c has no history either, but the training threshold flags only its spike: kept as is
    assert set(ev.loc[["c"], "basis"]) == {"training"}
    assert "b" in det.own_ and "a" not in det.own_ and "c" not in det.own_
    # the same detector without the treatment flags b nearly everywhere
    plain = Detector(threshold=SigmaThreshold(4.0), min_history=0).fit(train, bundle)
    flood = plain.detect(ws).events.set_index("track")
    assert flood.loc[["b"], "size"].sum() > 0.8 * n
    # the history and the rule survive the bundle round trip
    back = Detector.from_dict(det.to_dict(), bundle)
    assert back.history_ == det.history_
    assert np.array_equal(back.detect(ws).flags, result.flags)
    # events say how long they lasted and where they peaked
    assert (result.events["hours"] >= 0).all() and (result.events["peaks"] >= 1).all()
    inside = (result.events["peak"] >= result.events["start"]) & (
        result.events["peak"] <= result.events["end"]
    )
    assert inside.all()
