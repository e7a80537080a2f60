"""The command line, through ``squall.cli.main.main`` and (for error output) a real process."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Synthetic data and a small bundle trained on it through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    assert main(["synth", "--out", str(root / "data"), "--seed", "1"]) == 0
    assert (
        main(
            [
                "train",
                str(root / "data" / "train.csv"),
                "--out",
                str(root / "bundle"),
                "--epochs",
                "3",
                "--hidden",
                "16,8",
                "--quiet",
            ]
        )
        == 0
    )
    return root


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "squall", *map(str, args)], capture_output=True, text=True
    )


def test_train_writes_a_bundle(trained):
    meta = json.loads((trained / "bundle" / "bundle.json").read_text())
    assert meta["threshold"]["value"] > 0
    assert meta["provenance"]["reader"]["kind"] == "noaa"
    assert meta["windows"]["resample"] != "auto"  # resolved to a concrete interval
    assert (trained / "bundle" / "history.csv").read_text().startswith("epoch,train_loss")


def test_detect_outputs(trained):
    out = trained / "det"
    assert (
        main(
            [
                "detect",
                str(trained / "bundle"),
                str(trained / "data" / "test.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    scores = pd.read_csv(out / "scores.csv")
    anomalies = pd.read_csv(out / "anomalies.csv")
    events = pd.read_csv(out / "events.csv")
    rows = pd.read_csv(out / "anomaly_windows.csv", dtype=str)
    assert len(anomalies) == int(scores["flagged"].sum()) > 0
    # the bundle's detector flags a window holding a flagged step: its peak smoothed step score
    # is above the threshold, and only flagged windows are above it
    assert (anomalies["step_score"] > anomalies["threshold"]).all()
    assert not (scores.loc[~scores["flagged"], "step_score"] > scores["threshold"].iloc[0]).any()
    meta = json.loads((trained / "bundle" / "bundle.json").read_text())
    assert meta["detector"]["name"] == "squall.Detector" and meta["detector"]["scoring"] == "step"
    assert scores["threshold"].iloc[0] == pytest.approx(meta["detector"]["threshold"]["value"])
    assert {"track", "start", "end", "score"} <= set(events.columns)
    pd.to_datetime(events["start"], format="ISO8601")
    # every extracted report is a real line of the source file, with its original columns
    raw = pd.read_csv(trained / "data" / "test.csv", dtype=str, keep_default_na=False)
    some = rows.sample(min(20, len(rows)), random_state=0)
    for _, r in some.iterrows():
        original = raw.iloc[int(r["row"])]
        assert original["STATION"] == r["STATION"] == r["track"]
        assert original["DATE"] == r["DATE"]
        assert original["SEA_LVL_PRES"] == (
            r["SEA_LVL_PRES"] if isinstance(r["SEA_LVL_PRES"], str) else ""
        )
    assert set(rows["window"].astype(int)) == set(anomalies["window"])
    assert (out / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_steps_rerun_alone_give_the_same_numbers(trained):
    out = trained / "steps"
    data = trained / "data" / "test.csv"
    assert main(["windows", str(trained / "bundle"), str(data), "--out", str(out / "w.npz")]) == 0
    assert (
        main(
            ["score", str(trained / "bundle"), str(out / "w.npz"), "--out", str(out / "scores.csv")]
        )
        == 0
    )
    assert (
        main(
            [
                "score",
                str(trained / "bundle"),
                str(data),
                "--out",
                str(out / "scores_direct.csv"),
                "--engine",
                "torch",
            ]
        )
        == 0
    )
    a, b = pd.read_csv(out / "scores.csv"), pd.read_csv(out / "scores_direct.csv")
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-4)
    assert (
        main(
            ["extract", str(out / "w.npz"), str(out / "scores.csv"), "--out", str(out / "rows.csv")]
        )
        == 0
    )
    rows = pd.read_csv(out / "rows.csv")
    assert set(rows["window"]) == set(a.loc[a["flagged"], "window"])
    assert main(["plot", str(out / "scores.csv"), "--out", str(out / "p.png")]) == 0
    assert (out / "p.png").stat().st_size > 1000


def test_threshold_override(trained):
    out = trained / "thr"
    assert (
        main(
            [
                "score",
                str(trained / "bundle"),
                str(trained / "data" / "test.csv"),
                "--out",
                str(out / "s.csv"),
                "--threshold",
                "1e9",
            ]
        )
        == 0
    )
    assert not pd.read_csv(out / "s.csv")["flagged"].any()


def test_import_keras_and_score_seed_windows(shared_data, tmp_path):
    d = shared_data / "seed-model"
    assert (
        main(
            [
                "import-keras",
                str(d / "lstm_weights.npz"),
                "--scaler",
                str(d / "scaler.json"),
                "--out",
                str(tmp_path / "seed"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "score",
                str(tmp_path / "seed"),
                str(d / "new_data_sequences.npz"),
                "--out",
                str(tmp_path / "s.csv"),
                "--threshold-quantile",
                "0.95",
            ]
        )
        == 0
    )
    s = pd.read_csv(tmp_path / "s.csv")
    expected = pd.read_csv(d / "expected_mse_new_data.csv")["mse"]
    np.testing.assert_allclose(s["score"], expected, rtol=1e-6)
    assert s["flagged"].sum() == int(np.ceil(0.05 * len(s)))


def _one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    # progress lines may come first; the error itself is one line, the last one
    errors = [ln for ln in lines if "error" in ln.lower()]
    assert errors == [lines[-1]] and lines[-1].startswith("squall: error:"), result.stderr
    for n in needles:
        assert n in lines[-1], lines[-1]


def test_bad_inputs_give_one_line_errors(trained, tmp_path):
    bundle, train = trained / "bundle", trained / "data" / "train.csv"
    _one_line_error(
        run_cli("train", tmp_path / "nope.csv", "--out", tmp_path / "b"), "no such file"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(run_cli("train", empty, "--out", tmp_path / "b", "--time-column", "t"), "empty")
    _one_line_error(run_cli("train", train, "--out", tmp_path / "b", "--features", "NOPE"), "NOPE")
    short = tmp_path / "short.csv"
    short.write_text(
        "timestamp,value\n" + "".join(f"2025-01-01 00:{m:02d}:00,{m}\n" for m in range(30))
    )
    _one_line_error(
        run_cli("train", short, "--out", tmp_path / "b", "--resample", "none", "--epochs", "1"),
        "training windows",
    )
    nan = tmp_path / "nan.csv"
    nan.write_text("timestamp,a,b\n2025-01-01 00:00,1,\n2025-01-01 01:00,2,\n")
    _one_line_error(run_cli("train", nan, "--out", tmp_path / "b"), "b", "no observed values")
    inf = tmp_path / "inf.csv"
    inf.write_text("timestamp,a\n2025-01-01 00:00,1\n2025-01-01 01:00,inf\n")
    _one_line_error(run_cli("train", inf, "--out", tmp_path / "b"), "infinite")
    _one_line_error(
        run_cli("detect", tmp_path / "nobundle", train, "--out", tmp_path / "o"), "no bundle"
    )
    _one_line_error(
        run_cli("detect", bundle, train, "--out", tmp_path / "o", "--engine", "x"), "unknown engine"
    )
    bad = np.full((3, 24, 6), np.nan)
    np.savez(tmp_path / "bad.npz", sequences=bad)
    _one_line_error(
        run_cli("score", bundle, tmp_path / "bad.npz", "--out", tmp_path / "s.csv"), "NaN"
    )
    assert not (tmp_path / "b").exists() and not (tmp_path / "o").exists()
    assert not (tmp_path / "s.csv").exists()


def test_bundle_problems_give_one_line_errors(trained, tmp_path):
    import shutil

    data = trained / "data" / "test.csv"
    old = tmp_path / "old"
    shutil.copytree(trained / "bundle", old)
    meta = json.loads((old / "bundle.json").read_text())
    meta["version"] = 0
    (old / "bundle.json").write_text(json.dumps(meta))
    _one_line_error(run_cli("detect", old, data, "--out", tmp_path / "o"), "version 0")
    broken = tmp_path / "broken"
    shutil.copytree(trained / "bundle", broken)
    (broken / "weights.safetensors").write_bytes(b"garbage")
    _one_line_error(run_cli("detect", broken, data, "--out", tmp_path / "o"), "corrupted")
    assert not (tmp_path / "o").exists()


def test_pooled_original_pipeline_reproduces_seed_windows(shared_data, tmp_path):
    """--mode pooled --keep-codes rebuilds the original pipeline's windows from the CSV."""
    from squall import load_bundle, pipeline

    box = shared_data / "noaa" / "10_100_00_110.csv"
    assert (
        main(
            [
                "train",
                str(box),
                "--out",
                str(tmp_path / "pooled"),
                "--mode",
                "pooled",
                "--keep-codes",
                "--epochs",
                "1",
                "--hidden",
                "8,4",
                "--quiet",
            ]
        )
        == 0
    )
    bundle = load_bundle(tmp_path / "pooled")
    assert bundle.windows["mode"] == "pooled"
    assert bundle.provenance["windows"]["total"] == 476
    # scaled with the seed's scaler, the windows are the seed's training windows
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    seed = import_keras(d / "lstm_weights.npz", d / "scaler.json")
    seed.windows = bundle.windows
    seed.provenance["reader"] = bundle.provenance["reader"]
    ws = pipeline.make_windowset(seed, box)
    expected = np.load(shared_data / "seed-model" / "training_sequences.npz")["sequences"]
    np.testing.assert_allclose(ws.x, expected, rtol=0, atol=1e-12)


def test_out_never_deletes_user_files(trained, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    r = run_cli("train", trained / "data" / "train.csv", "--out", precious, "--epochs", "1")
    _one_line_error(r, "exists")
    assert (precious / "notes.txt").read_text() == "keep me"
    # an earlier bundle may be replaced (one training: the earlier bundle is saved directly)
    from squall import load_bundle

    load_bundle(trained / "bundle").save(tmp_path / "b")
    assert json.loads((tmp_path / "b" / "bundle.json").read_text())["layers"][0]["hidden"] != 6
    args = ["train", str(trained / "data" / "train.csv"), "--out", str(tmp_path / "b")]
    assert main([*args, "--epochs", "1", "--hidden", "6,2", "--quiet"]) == 0
    assert json.loads((tmp_path / "b" / "bundle.json").read_text())["layers"][0]["hidden"] == 6


def test_detect_replaces_its_own_outputs_only(trained, tmp_path, shared_data):
    out = tmp_path / "d"
    out.mkdir()
    (out / "mine.txt").write_text("mine")  # a directory squall did not write is refused
    _one_line_error(
        run_cli("detect", trained / "bundle", trained / "data" / "test.csv", "--out", out),
        "did not write",
    )
    (out / "mine.txt").unlink()
    assert (
        main(
            [
                "detect",
                str(trained / "bundle"),
                str(trained / "data" / "test.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (out / "mine.txt").write_text("mine")  # added to squall's run directory: left alone
    assert (out / "windows.npz").exists() and (out / "events.csv").stat().st_size > 0
    # a bare sequences file has no reports: the second run must not leave the first run's
    # windows.npz behind, and writes header-only events/anomaly_windows tables
    bare = tmp_path / "bare.npz"
    ws = np.load(out / "windows.npz")["sequences"][:5]
    np.savez(bare, sequences=ws)
    assert main(["detect", str(trained / "bundle"), str(bare), "--out", str(out)]) == 0
    assert not (out / "windows.npz").exists()
    assert len(pd.read_csv(out / "events.csv")) == 0
    assert (out / "mine.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_windows_of_another_bundle_are_refused(trained, tmp_path):
    other = tmp_path / "other"
    assert (
        main(
            [
                "train",
                str(trained / "data" / "train.csv"),
                "--out",
                str(other),
                "--epochs",
                "1",
                "--hidden",
                "4,2",
                "--scaler",
                "standard",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "windows",
                str(other),
                str(trained / "data" / "test.csv"),
                "--out",
                str(tmp_path / "w.npz"),
            ]
        )
        == 0
    )
    _one_line_error(
        run_cli("score", trained / "bundle", tmp_path / "w.npz", "--out", tmp_path / "s.csv"),
        "another bundle",
    )


def test_extract_refuses_scores_of_other_windows(trained, tmp_path):
    data = trained / "data" / "test.csv"
    assert (
        main(["windows", str(trained / "bundle"), str(data), "--out", str(tmp_path / "w.npz")]) == 0
    )
    assert (
        main(
            [
                "score",
                str(trained / "bundle"),
                str(tmp_path / "w.npz"),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "s.csv")
    shifted = scores.copy()
    shifted["window"] = (shifted["window"] + 1) % len(shifted)  # same indices, other windows
    shifted["flagged"] = True
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    _one_line_error(
        run_cli(
            "extract", tmp_path / "w.npz", tmp_path / "shifted.csv", "--out", tmp_path / "rows.csv"
        ),
        "does not describe",
    )
    _one_line_error(
        run_cli("extract", tmp_path / "w.npz", tmp_path / "w.npz", "--out", tmp_path / "rows.csv"),
        "cannot read",
    )
    assert not (tmp_path / "rows.csv").exists()


def test_changed_source_file_is_refused(trained, tmp_path):
    import shutil

    data = tmp_path / "test.csv"
    shutil.copy(trained / "data" / "test.csv", data)
    assert (
        main(["windows", str(trained / "bundle"), str(data), "--out", str(tmp_path / "w.npz")]) == 0
    )
    assert (
        main(
            [
                "score",
                str(trained / "bundle"),
                str(tmp_path / "w.npz"),
                "--out",
                str(tmp_path / "s.csv"),
                "--threshold",
                "0",
            ]
        )
        == 0
    )
    data.write_text(data.read_text().replace('"2025', '"2024', 1))
    _one_line_error(
        run_cli("extract", tmp_path / "w.npz", tmp_path / "s.csv", "--out", tmp_path / "rows.csv"),
        "changed",
    )
