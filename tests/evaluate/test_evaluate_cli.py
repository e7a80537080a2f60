"""``squall evaluate SERIES... --labels LABELS.json --root DIR --out OUT_DIR``."""

import json

import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main


@pytest.fixture
def small(tmp_path):
    """One hourly series with a labelled bump, NAB-style names and labels."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-05-01", periods=24 * 8, freq="1h")
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(len(t)) / 24) + rng.normal(0, 0.3, len(t))
    v[130:136] += 40
    (tmp_path / "data" / "demo").mkdir(parents=True)
    pd.DataFrame({"timestamp": t, "value": v}).to_csv(
        tmp_path / "data" / "demo" / "s.csv", index=False
    )
    labels = {"demo/s.csv": [[str(t[120]), str(t[143])]]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    return tmp_path


def test_evaluate_writes_events_and_summary(small, capsys):
    out = small / "out"
    code = main(
        [
            "evaluate",
            "demo/s.csv",
            "--labels",
            str(small / "labels.json"),
            "--root",
            str(small / "data"),
            "--out",
            str(out),
            "--detector",
            "robust-z",
            "--quiet",
        ]
    )
    assert code == 0
    events = pd.read_csv(out / "events.csv")
    assert list(events.columns[:4]) == ["series", "start", "end", "score"]
    assert (events["series"] == "demo/s.csv").all() and len(events) >= 1
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:7]) == ["dataset", "tp", "fp", "fn", "precision", "recall", "f1"]
    assert summary["dataset"].tolist() == ["demo"] and summary["tp"].tolist() == [1]
    assert (out / "series.csv").is_file() and (out / "results.json").is_file()
    printed = capsys.readouterr().out
    assert "demo/s.csv" in printed and "F1" in printed


def test_evaluate_errors_are_one_line(small, capsys):
    args = [
        "--labels",
        str(small / "labels.json"),
        "--root",
        str(small / "data"),
        "--out",
        str(small / "out"),
    ]
    assert main(["evaluate", "demo/other.csv", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("squall: error: series demo/other.csv is not in the labels file")
    assert len(err.splitlines()) == 1
    assert (
        main(
            [
                "evaluate",
                "demo/s.csv",
                *args[:-2],
                "--out",
                str(small / "o"),
                "--labels",
                str(small / "missing.json"),
            ]
        )
        == 2
    )
    assert "no such labels file" in capsys.readouterr().err
    assert main(["evaluate", "demo/s.csv", *args, "--threshold", "magic"]) == 2
    assert main(["evaluate", "demo/s.csv", *args, "--epochs", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_evaluate_with_the_autoencoder_and_options(small):
    pytest.importorskip("torch")
    out = small / "ae"
    code = main(
        [
            "evaluate",
            "demo/s.csv",
            "--labels",
            str(small / "labels.json"),
            "--root",
            str(small / "data"),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--hidden",
            "8,4",
            "--threshold",
            "hundman",
            "--window",
            "0.5",
            "--prune",
            "0.1",
            "--seed",
            "3",
            "--quiet",
        ]
    )
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    assert data["detector"]["seed"] == 3 and data["detector"]["threshold"] == "hundman"
    assert data["series"][0]["interval"] == "1h"


def test_evaluate_on_a_nab_series(shared_data, tmp_path):
    pytest.importorskip("torch")
    nab = shared_data / "nab"
    out = tmp_path / "nab"
    assert (
        main(
            [
                "evaluate",
                "artificialWithAnomaly/art_daily_jumpsup.csv",
                "--labels",
                str(nab / "combined_windows.json"),
                "--root",
                str(nab),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "summary.csv")
    assert summary["dataset"].tolist() == ["artificialWithAnomaly"]
    assert summary["tp"].iloc[0] + summary["fn"].iloc[0] == 1
    series = pd.read_csv(out / "series.csv")
    assert series["interval"].tolist() == ["1h"] and series["reports"].tolist() == [4032]
