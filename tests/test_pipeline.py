"""The pipeline functions end to end on real NOAA data and on synthetic data."""

import numpy as np
import pandas as pd
import pytest

from squall import load_bundle, pipeline
from squall.data.noaa import read_noaa
from squall.data.windows import WindowSettings

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def noaa_model(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("noaa") / "model"
    box = shared_data / "noaa" / "10_100_00_110.csv"
    bundle = pipeline.train(
        box, out, until="2025-03-22", epochs=2, sizes=(16, 8), progress=False, log=lambda *_: None
    )
    return box, out, bundle


def test_a_box_with_few_complete_reports_trains_and_scores(noaa_model, tmp_path):
    box, out, bundle = noaa_model
    obs = read_noaa(box)
    complete = ~np.isnan(obs.values()).any(axis=1)
    assert complete.mean() < 0.1  # almost no report has all six features ...
    w = bundle.provenance["windows"]
    assert w["train"] + w["validation"] > 500  # ... yet the masked pipeline has many windows
    ws = pipeline.make_windowset(bundle, box)
    assert 0.2 < ws.mask.mean() < 0.9  # and trains/scores on partly observed ones
    result = pipeline.detect(bundle, box, tmp_path / "found", plot=False)
    assert result["windows"] == len(ws)
    rows = pd.read_csv(tmp_path / "found" / "anomaly_windows.csv", dtype=str)
    lines = box.read_text().splitlines()
    for _, r in rows.head(30).iterrows():  # row n of the file's data is line n + 2 (1-based)
        line = lines[int(r["row"]) + 1]
        assert line.startswith(f'"{r["STATION"]}","{r["DATE"]}"')


def test_until_and_scaler_use_training_reports_only(noaa_model):
    box, out, bundle = noaa_model
    obs = read_noaa(box)
    before = obs.frame[obs.frame["time"] < pd.Timestamp("2025-03-22")]
    k = bundle.features.index("SEA_LVL_PRES")
    # the scaler saw only the reports behind training windows (not validation, not later data)
    from squall.data.windows import WindowSettings, make_windows

    train_obs = obs.until("2025-03-22")
    windows = make_windows(train_obs, WindowSettings(**bundle.windows))
    tr, va = pipeline.split_by_time(windows, 0.2)
    rows = np.unique(np.concatenate([windows.rows(i) for i in tr]))
    slp = train_obs.frame["SEA_LVL_PRES"].to_numpy()
    assert bundle.scaler.offset_[k] == pytest.approx(np.nanmin(slp[rows]))
    assert bundle.scaler.scale_[k] == pytest.approx(np.nanmax(slp[rows]) - np.nanmin(slp[rows]))
    assert len(va) > 0 and len(rows) < len(train_obs)
    assert pd.Timestamp(bundle.provenance["time_range"][1]) < pd.Timestamp("2025-03-22")
    assert bundle.provenance["data"][0]["sha256"] and bundle.provenance["reports"] == len(before)
    # the bundle on disk is the same bundle
    loaded = load_bundle(out)
    assert loaded.threshold == bundle.threshold


def test_validation_is_split_by_time(tmp_path):
    from squall.data import windowset
    from squall.data.scaling import Scaler
    from squall.data.synthetic import generate_demo_data
    from squall.data.windows import make_windows, resolve_settings

    paths = generate_demo_data(tmp_path, seed=2)
    obs = pipeline.read_data(paths["train"])
    w = make_windows(obs, resolve_settings(WindowSettings(), obs))
    ws = windowset.build(w, obs, Scaler("minmax", obs.features).fit(obs.values()))
    tr, va = pipeline.split_by_time(ws, 0.2)
    assert len(tr) and len(va) and not set(tr) & set(va)
    for track in np.unique(ws.track):
        t_tr = [i for i in tr if ws.track[i] == track]
        t_va = [i for i in va if ws.track[i] == track]
        if t_tr and t_va:  # every validation window starts after every training window ends
            assert ws.start[t_va].min() > ws.end[t_tr].max()


def test_detect_since_scores_only_new_data_and_says_which_events_are_new(noaa_model, tmp_path):
    """Issue 15: ``--since`` scores the windows reaching a time (their look-back included) and
    reports events from it on; every event says whether it is inside the training period."""
    from squall.errors import ParameterError

    box, out, bundle = noaa_model
    full = pipeline.detect(bundle, box, tmp_path / "all", plot=False)
    every = pd.read_csv(tmp_path / "all" / "events.csv")
    trained = pd.Timestamp(bundle.provenance["time_range"][1])
    # the model trained until 2025-03-22: events are labelled by period
    assert set(every["period"]) <= {"new", "training"}
    starts = pd.to_datetime(every["start"])
    assert ((every["period"] == "new") == (starts > trained)).all()
    since = "2025-03-22"
    part = pipeline.detect(bundle, box, tmp_path / "new", plot=False, since=since)
    assert 0 < part["windows"] < full["windows"]
    new = pd.read_csv(tmp_path / "new" / "events.csv")
    assert (pd.to_datetime(new["end"]) >= pd.Timestamp(since)).all()
    scored = pd.read_csv(tmp_path / "new" / "scores.csv")
    assert (pd.to_datetime(scored["end"]) >= pd.Timestamp(since)).all()
    with pytest.raises(ParameterError, match="cannot read 'yesterday-ish' as a time"):
        pipeline.detect(bundle, box, tmp_path / "bad", since="yesterday-ish")
    with pytest.raises(ParameterError, match="no windows reach"):
        pipeline.detect(bundle, box, tmp_path / "late", since="2031-01-01")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "late").exists()


def test_a_stuck_sensor_is_an_event_of_its_own_kind(noaa_model, tmp_path):
    """Issue 15: the bundle keeps a stuck-sensor detector fitted on its training reports;
    ``detect`` adds the stuck runs of the raw reports to events.csv with their own ``why``."""
    import csv
    import io

    box, out, bundle = noaa_model
    assert bundle.detector["stuck"]["counts"]  # fitted on the training reports
    text = box.read_text()
    raw = pd.read_csv(
        io.StringIO(text[text.index('"STATION"') :]), dtype=str, keep_default_na=False
    )
    after = raw[(raw["DATE"] >= "2025-03-23") & (raw["SEA_LVL_PRES"] != "")]
    station = after["STATION"].value_counts().index[0]
    rows = after.index[after["STATION"] == station][5:45]  # 40 reports in a row stuck
    raw.loc[rows, "SEA_LVL_PRES"] = raw.loc[rows[0], "SEA_LVL_PRES"]
    stuck_file = tmp_path / "stuck.csv"
    raw.to_csv(stuck_file, index=False, quoting=csv.QUOTE_ALL)
    summary = pipeline.detect(bundle, stuck_file, tmp_path / "found", plot=False)
    events = pd.read_csv(tmp_path / "found" / "events.csv", dtype={"track": str})
    stuck = events[events["kind"] == "stuck"]
    assert summary["stuck"] == len(stuck) >= 1
    mine = stuck[(stuck["track"] == station) & (stuck["top_features"] == "SEA_LVL_PRES")]
    assert len(mine) == 1
    first, last = raw.loc[rows[0], "DATE"], raw.loc[rows[-1], "DATE"]
    assert pd.Timestamp(mine["start"].iloc[0]) <= pd.Timestamp(first) + pd.Timedelta("1h")
    assert pd.Timestamp(mine["end"].iloc[0]) >= pd.Timestamp(last)
    assert "SEA_LVL_PRES repeated" in mine["why"].iloc[0]
    # event numbers go on after the model's events; the model's rows say kind model
    assert events["event"].is_unique and set(events["kind"]) <= {"model", "stuck"}
    # the same file without the stuck stretch: that run is not there
    pipeline.detect(bundle, box, tmp_path / "clean", plot=False)
    clean = pd.read_csv(tmp_path / "clean" / "events.csv", dtype={"track": str})
    same = clean[(clean["kind"] == "stuck") & (clean["track"] == station)]
    assert not (same["top_features"] == "SEA_LVL_PRES").any()
