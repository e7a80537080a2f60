"""What a newcomer reads: counts with the right plural, ``--quiet``, progress that stays plain
lines in a log file, ``squall info`` as a summary (and ``--json``), evaluate's line per series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main
from squall.text import plural


def test_plural_is_singular_for_exactly_one():
    assert plural(1, "track") == "1 track"
    assert plural(0, "track") == "0 tracks"
    assert plural(2, "epoch") == "2 epochs"
    assert plural(1, "series", "series") == "1 series" and plural(3, "series", "series") == (
        "3 series"
    )
    assert plural(1058, "window", fmt=",") == "1,058 windows"
    assert plural(1, "flagged window") == "1 flagged window"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Synthetic data and a tiny bundle (2 epochs), trained quietly through the CLI."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("messages")
    assert main(["synth", "--out", str(root / "data"), "--quiet"]) == 0
    args = ["train", str(root / "data" / "train.csv"), "--out", str(root / "bundle")]
    assert main([*args, "--epochs", "2", "--hidden", "8,4", "--quiet"]) == 0
    return root


# --------------------------------------------------------------------------- --quiet


def test_quiet_silences_stderr_and_keeps_stdout(small, tmp_path, capfd):
    data = str(small / "data" / "train.csv")
    assert main(["eda", data, "--out", str(tmp_path / "eda")]) == 0
    loud = capfd.readouterr()
    assert "written to" in loud.err and "feature" in loud.out
    assert main(["eda", data, "--out", str(tmp_path / "eda2"), "--quiet"]) == 0
    quiet = capfd.readouterr()
    assert quiet.err == "" and quiet.out == loud.out  # the table stays, the messages go
    bundle, test = str(small / "bundle"), str(small / "data" / "test.csv")
    for argv in (
        ["synth", "--out", str(tmp_path / "s")],
        ["windows", bundle, test, "--out", str(tmp_path / "w.npz")],
        ["score", bundle, str(tmp_path / "w.npz"), "--out", str(tmp_path / "s.csv")],
        ["plot", str(tmp_path / "s.csv"), "--out", str(tmp_path / "s.png")],
        [
            "trace",
            bundle,
            str(tmp_path / "w.npz"),
            "--window",
            "0",
            "--out",
            str(tmp_path / "t.csv"),
        ],
        ["detect", bundle, test, "--out", str(tmp_path / "d"), "--no-plot"],
    ):
        assert main([*argv, "--quiet"]) == 0, argv
        got = capfd.readouterr()
        assert got.err == "", (argv, got.err)


# --------------------------------------------------------------------------- progress


def test_training_progress_in_a_log_file_is_plain_lines(small, tmp_path, capfd):
    """stderr is not a terminal here (captured, as in a log file or a pipe): one line per
    epoch, no carriage returns of a progress bar."""
    data = str(small / "data" / "train.csv")
    argv = ["train", data, "--out", str(tmp_path / "b"), "--epochs", "3", "--hidden", "8,4"]
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert "\r" not in err
    epochs = [ln for ln in err.splitlines() if ln.startswith("training: epoch ")]
    assert [ln.split()[2] for ln in epochs] == ["1/3:", "2/3:", "3/3:"]
    assert all("train loss" in ln and "validation loss" in ln for ln in epochs)
    assert "3 epochs" in err.splitlines()[-1]


def test_long_epochs_print_a_line_every_few_seconds(small, tmp_path, capfd, monkeypatch):
    from squall.models import train

    monkeypatch.setattr(train._progress, "EVERY", 0.0)  # every batch is "long"
    data = str(small / "data" / "train.csv")
    argv = ["train", data, "--out", str(tmp_path / "b"), "--epochs", "1", "--hidden", "8,4"]
    assert main(argv) == 0
    err = capfd.readouterr().err
    within = [ln for ln in err.splitlines() if " windows (" in ln and "training: epoch 1/1" in ln]
    assert len(within) > 3 and "\r" not in err
    assert "1 epoch," in err.splitlines()[-1]  # and the count is singular


def test_a_terminal_gets_the_bar(monkeypatch):
    pytest.importorskip("tqdm")
    from squall.models import train

    monkeypatch.setattr(train, "_is_terminal", lambda stream: True)
    assert train._progress(3, True).bar is not None
    monkeypatch.setattr(train, "_is_terminal", lambda stream: False)
    assert train._progress(3, True).bar is None
    assert train._progress(3, False).bar is None


@pytest.fixture
def labelled(tmp_path):
    """One hourly series with a labelled bump, NAB-style names and labels."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-05-01", periods=24 * 8, freq="1h")
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(len(t)) / 24) + rng.normal(0, 0.3, len(t))
    v[130:136] += 40
    (tmp_path / "data" / "demo").mkdir(parents=True)
    for name in ("s.csv", "t.csv"):
        pd.DataFrame({"timestamp": t, "value": v}).to_csv(
            tmp_path / "data" / "demo" / name, index=False
        )
    labels = {f"demo/{n}": [[str(t[120]), str(t[143])]] for n in ("s.csv", "t.csv")}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    return tmp_path


def _evaluate(root, *extra):
    return main(
        [
            "evaluate",
            "demo/s.csv",
            "demo/t.csv",
            "--labels",
            str(root / "labels.json"),
            "--root",
            str(root / "data"),
            "--out",
            str(root / "out"),
            *extra,
        ]
    )


def test_evaluate_prints_a_line_per_series_and_fit(labelled, capfd):
    pytest.importorskip("torch")
    assert _evaluate(labelled, "--epochs", "1", "--hidden", "4,2") == 0
    err = capfd.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    for k, name in ((1, "demo/s.csv"), (2, "demo/t.csv")):
        mine = [ln for ln in lines if ln.startswith(f"[{k}/2] {name}: ")]
        assert "training the autoencoder" in mine[0]
        assert any("reports" in ln and "windows" in ln for ln in mine)  # the fit
        assert " tp " in mine[-1] and mine[-1].endswith(" s)")
    assert _evaluate(labelled, "--epochs", "1", "--hidden", "4,2", "--quiet") == 0
    assert capfd.readouterr().err == ""


def test_evaluate_counts_events_with_their_plural(labelled, capfd):
    assert _evaluate(labelled, "--detector", "robust-z") == 0
    err = capfd.readouterr().err
    ends = [ln for ln in err.splitlines() if " tp " in ln]
    assert len(ends) == 2
    for ln in ends:
        n = int(ln.split(": ")[1].split()[0])
        assert f"{n} event{'s' if n != 1 else ''}," in ln


# --------------------------------------------------------------------------- info


def test_info_prints_a_readable_summary(small, capsys):
    from squall import load_bundle

    b = load_bundle(small / "bundle")
    assert main(["info", str(small / "bundle")]) == 0
    out = capsys.readouterr().out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    keys = [ln.split(":")[0] for ln in out.splitlines() if not ln.startswith(" ")]
    assert keys == [
        "bundle",
        "model",
        "layers",
        "features",
        "windows",
        "scaler",
        "detector",
        "window threshold",
        "training",
    ]
    assert b.fingerprint() in out
    assert "lstm(6->8)" in out and "dense(8->6)" in out  # layers with their sizes
    assert "AIR_TEMP (degC)" in out and "SEA_LVL_PRES (hPa)" in out  # features and units
    assert f"{b.length} steps of {b.windows['resample']}, stride 1" in out
    assert "minmax" in out and "SEA_LVL_PRES " in out.split("scaler:")[1]
    detector = out.split("detector:")[1].split("window threshold:")[0]
    t = b.detector["threshold"]
    assert "step scoring" in detector and "EWMA span" in detector
    assert f"{t['value']:.5g} (mean + 4 sd of the {t['n']:,} validation" in detector
    assert "2 of at most 2 epochs" in out and "train.csv (sha256 " in out
    assert "torch" in out.split("versions:")[1]


def test_info_json_is_the_bundle_json(small, capsys):
    assert main(["info", str(small / "bundle"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((small / "bundle" / "bundle.json").read_text())
    assert "scaler" in printed


def test_info_of_an_imported_bundle_without_detector(tmp_path, capsys):
    from squall.bundle import random_bundle, seed_layers

    random_bundle(seed_layers(3, 8, (8, 4)), 3, 8).save(tmp_path / "b")
    assert main(["info", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "detector: " in out and "none stored" in out
    assert "window threshold: none stored" in out and "--threshold" in out


def test_info_says_what_the_model_does(tmp_path, capsys):
    """The model line names the task: an autoencoder reconstructs, a forecaster forecasts its
    horizon's targets from its lookback (not "LSTM autoencoder" for every bundle)."""
    from squall.bundle import random_bundle
    from squall.model import Dense, Lstm, Repeat

    auto = random_bundle([Lstm(1, 4, False), Repeat(5), Lstm(4, 4, True), Dense(4, 1)], 1, 5)
    auto.save(tmp_path / "a")
    task = {"kind": "forecast", "lookback": 6, "horizon": 2, "targets": ["f1"]}
    fc = random_bundle(
        [Lstm(2, 4, False), Repeat(2), Lstm(4, 4, True), Dense(4, 1)], 2, 8, task=task
    )
    fc.save(tmp_path / "f")
    assert main(["info", str(tmp_path / "a")]) == 0
    model = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("model:")]
    assert "autoencoder (reconstructs its windows)" in model[0]
    assert main(["info", str(tmp_path / "f")]) == 0
    model = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("model:")]
    assert "forecaster: lookback 6 -> horizon 2 of f1 from f0, f1" in model[0]
