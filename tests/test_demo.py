"""`squall demo` finds most injected storms with few false events (the README shows its output)."""

import json

import pytest

pytest.importorskip("torch")


def test_demo_finds_storms_with_few_false_events(tmp_path, capsys):
    from squall.demo import run_demo

    summary = run_demo(tmp_path / "demo", seed=0, progress=False)
    storms = summary["per_type"]["storm"]
    assert storms["labels"] == 6
    assert storms["found"] >= 5
    assert summary["recall"] >= 0.75
    assert summary["false_events_per_10_track_days"] <= 1.0
    printed = capsys.readouterr().out
    assert "storm  " in printed and "precision" in printed
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert saved["events"] == summary["events"]
    for name in (
        "scores.csv",
        "anomalies.csv",
        "events.csv",
        "anomaly_windows.csv",
        "scores.png",
        "windows.npz",
    ):
        assert (tmp_path / "demo" / "detect" / name).is_file()
