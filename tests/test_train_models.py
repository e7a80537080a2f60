"""Training the named models (squall train --model): forecasters on a small harmonic series,
their bundles run by every engine, the options' one-line errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import squall  # noqa: E402
from squall import load_bundle, pipeline  # noqa: E402
from squall.cli.main import main  # noqa: E402
from squall.data.windows import WindowSettings  # noqa: E402
from squall.errors import SquallError  # noqa: E402
from squall.model import Task  # noqa: E402
from squall.models.autoencoder import LSTMAutoencoder  # noqa: E402
from squall.models.catalog import layers as catalog_layers  # noqa: E402

QUIET = {"progress": False, "log": lambda *_: None}
READER = {"kind": "csv", "time_column": "timestamp", "track_column": "track"}


def harmonic_csv(path, steps=160, seed=0):
    """Two tracks of hourly harmonics (periods 24 and 7 h, a cosine of 12 h), a few gaps."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, track in enumerate(("buoy-a", "buoy-b")):
        i = np.arange(steps)
        a = np.sin(2 * np.pi * i / 24 + k) + 0.3 * np.sin(2 * np.pi * i / 7)
        b = np.cos(2 * np.pi * i / 12) + 0.05 * rng.standard_normal(steps)
        a[rng.choice(steps, 10, replace=False)] = np.nan  # missing cells: masked
        time = pd.date_range("2025-01-01", periods=steps, freq="h")
        frames.append(
            pd.DataFrame(
                {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), "track": track, "a": a, "b": b}
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return harmonic_csv(tmp_path_factory.mktemp("harmonic") / "h.csv")


def _train(data, out, model, **kw):
    kw = {"lookback": 12, "horizon": 4, "sizes": (6,), "epochs": 2, **kw}
    return pipeline.train(data, out, model=model, reader=READER, features=["a", "b"], **QUIET, **kw)


@pytest.mark.parametrize(
    ("model", "sizes", "targets"),
    [
        ("lstm-forecaster", (6,), None),
        ("cnn-lstm", (5, 6), ["a"]),
        ("seq2seq-gru-fft", (4, 6), ["b"]),
    ],
)
def test_forecaster_trains_saves_and_runs_on_every_engine(data, tmp_path, model, sizes, targets):
    bundle = _train(data, tmp_path / "m", model, sizes=sizes, targets=targets, epochs=1)
    loaded = load_bundle(tmp_path / "m")
    want = targets or ["a", "b"]
    assert loaded.task == Task("forecast", 12, 4, ("a", "b"), tuple(want))
    assert loaded.length == 16 and loaded.windows["length"] == 16
    # the Detector scores forecast residuals (detect.scoring.predictor), fitted on validation
    assert loaded.detector["scoring"] == "step" and loaded.detector["threshold"]["value"] > 0
    assert loaded.provenance["training"]["model"] == model
    assert [lay.to_json() for lay in loaded.layers] == [lay.to_json() for lay in bundle.layers]
    # the scaled windows of the data, cut as the training cut them
    ws = pipeline.make_windowset(loaded, data)
    x, y, m = pipeline.forecast_arrays(ws.x, ws.mask.astype(np.float32), loaded.task, ["a", "b"])
    assert x.shape[1:] == (12, 2) and y.shape[1:] == (4, len(want))
    out = squall.run(loaded, x, engine="numpy")
    assert out.shape == (len(x), 4, len(want))
    reference = LSTMAutoencoder.from_bundle(loaded, torch.float64)
    with torch.inference_mode():
        expected = reference(torch.as_tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(squall.run(loaded, x, engine="torch"), expected, atol=1e-5)
    np.testing.assert_allclose(squall.run(loaded, x[:2], engine="pure"), expected[:2], atol=1e-9)


def test_the_loss_is_the_masked_mse_of_the_horizon(data, tmp_path):
    """The validation loss in the history is the masked MSE between the model's output and the
    scaled targets of the last H steps over observed cells, recomputed with the numpy engine."""
    bundle = _train(data, tmp_path / "m", "lstm-forecaster", epochs=1, val_fraction=0.3)
    ws = pipeline.make_windowset(bundle, data)
    x, y, m = pipeline.forecast_arrays(ws.x, ws.mask.astype(np.float32), bundle.task, ["a", "b"])
    _, va = pipeline.split_by_time(ws, 0.3)
    assert len(va) > 8
    out = squall.run(bundle, x[va])
    loss = float(((out - y[va]) ** 2 * m[va]).sum() / m[va].sum())
    assert loss == pytest.approx(bundle.history[-1]["val_loss"], rel=1e-4)


def test_forecast_arrays_take_the_lookback_and_the_horizon():
    steps = np.arange(10, dtype=np.float32)
    x = np.stack([steps, 100 + steps, 200 + steps], axis=1)[None]  # (1, 10, 3)
    mask = np.ones_like(x)
    mask[0, 8, 2] = 0
    task = Task("forecast", 6, 4, ("f0", "f2"), ("f2", "f1"))
    xin, y, m = pipeline.forecast_arrays(x, mask, task, ["f0", "f1", "f2"])
    np.testing.assert_array_equal(xin[0], np.stack([steps[:6], 200 + steps[:6]], axis=1))
    np.testing.assert_array_equal(y[0], np.stack([200 + steps[6:], 100 + steps[6:]], axis=1))
    assert m[0, 2, 0] == 0 and m.sum() == 7


def test_catalog_layer_lists_end_with_the_forecast():
    s2s = catalog_layers("seq2seq-gru-fft", inputs=1, targets=1, length=100, horizon=10)
    assert s2s == squall.model.seq2seq_gru_fft_layers(1, 100, 10, 1, (10, 64))
    for name in ("lstm-forecaster", "cnn-lstm", "seq2seq-gru-fft"):
        layers = catalog_layers(name, inputs=3, targets=2, length=30, horizon=10)
        spec = Task("forecast", 30, 10, ("a", "b", "c"), ("a", "b")).model(layers, "abc", 40)
        assert spec.output_shape == (10, 2)
    ae = catalog_layers("autoencoder", inputs=3, targets=3, length=24)
    assert ae == squall.bundle.seed_layers(3, 24, (64, 32))


def test_seq2seq_gru_fft_needs_the_fft_layers(data, tmp_path, monkeypatch):
    import squall.model

    assert catalog_layers("seq2seq-gru-fft", inputs=2, targets=1, length=12, horizon=4)[0].append
    monkeypatch.delitem(squall.model.LAYER_TYPES, "decoder")
    with pytest.raises(SquallError, match="model seq2seq-gru-fft is not available yet: .*decoder"):
        _train(data, tmp_path / "m", "seq2seq-gru-fft")


def test_autoencoder_default_is_unchanged(data, tmp_path):
    short = WindowSettings(length=8, stride=4)
    bundle = pipeline.train(
        data, tmp_path / "ae", reader=READER, settings=short, epochs=1, sizes=(4, 2), **QUIET
    )
    assert bundle.task == Task() and bundle.detector is not None
    assert "model" not in bundle.provenance["training"]
    assert sorted(p.name for p in (tmp_path / "ae").iterdir()) == [
        "bundle.json",
        "history.csv",
        "weights.safetensors",
    ]


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"model": "transformer"}, "model must be one of autoencoder"),
        ({"lookback": 5}, "lookback is for a forecasting model"),
        ({"model": "cnn-lstm", "horizon": 0}, "horizon must be at least 1"),
        ({"model": "cnn-lstm", "targets": ["z"], "features": ["a"]}, "targets name 'z'"),
        ({"model": "cnn-lstm", "targets": ["z"]}, "targets name 'z', not a feature"),
    ],
)
def test_bad_options_are_one_line_errors_before_training(data, tmp_path, kw, text):
    with pytest.raises(SquallError) as err:
        pipeline.train(data, tmp_path / "m", reader=READER, epochs=1, **QUIET, **kw)
    assert text in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "m").exists()


def test_cli_trains_a_forecaster_and_detects_on_its_forecasts(data, tmp_path, capsys):
    out = tmp_path / "m"
    base = ["train", str(data), "--time-column", "timestamp", "--track-column", "track"]
    args = [*base, "--model", "cnn-lstm", "--lookback", "8", "--horizon", "3"]
    assert (
        main([*args, "--targets", "b", "--epochs", "1", "--hidden", "3,3", "--out", str(out)]) == 0
    )
    assert "cnn-lstm, lookback 8 -> horizon 3 of b" in capsys.readouterr().err
    assert load_bundle(out).task.targets == ("b",)
    assert main([*args, "--length", "9", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("squall: error: --length is the autoencoder's window") and "\n" not in err
    # squall detect runs the forecaster's own Detector on its forecast residuals
    assert main(["detect", str(out), str(data), "--out", str(tmp_path / "d"), "--quiet"]) == 0
    scores = pd.read_csv(tmp_path / "d" / "scores.csv")
    assert len(scores) and np.isfinite(scores["score"]).all()
    assert (scores["threshold"] == load_bundle(out).detector["threshold"]["value"]).all()


# --------------------------------------------------------------------------- curriculum


def test_curriculum_stages_and_rule():
    from squall.models.curriculum import Curriculum, stage_horizons

    assert stage_horizons(10) == (3, 5, 10)
    assert stage_horizons(4) == (1, 2, 4)
    assert stage_horizons(2) == (1, 2) and stage_horizons(1) == (1,)
    plan = Curriculum((3, 5, 10), patience=2, improvement=0.01)
    # 0.995 and 0.994 are not 1 % better than 1.0: two stalled epochs advance the stage
    assert [plan.observe(v) for v in (1.0, 0.995, 0.994)] == [False, False, True]
    assert plan.stage == 1 and plan.horizon == 5 and plan.stalled == 0
    assert [plan.observe(v) for v in (2.0, 1.5, 1.0, 0.999, 0.998)] == [False] * 4 + [True]
    assert plan.last and plan.horizon == 10 and not plan.observe(5.0)  # the last stage stays
    assert Curriculum.from_dict(plan.to_dict()) == plan


def _forecast_data(n=32, lookback=6, horizon=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(lookback + horizon)[None, :, None] + rng.uniform(0, 6, (n, 1, 1))
    w = (0.5 + 0.3 * np.sin(t * 0.7)).astype(np.float32)
    return w[:, :lookback], w[:, lookback:], np.ones_like(w[:, lookback:])


def test_curriculum_advances_and_counts_only_the_stage_horizon():
    from squall.models.train import TrainConfig, fit

    x, y, m = _forecast_data()
    layers = catalog_layers("lstm-forecaster", inputs=1, targets=1, length=6, horizon=4, sizes=(4,))
    # improvement 100 %: no epoch ever counts as better, so every epoch advances a stage
    cfg = TrainConfig(epochs=5, seed=1, curriculum=True, curriculum_patience=1)
    cfg = TrainConfig(**{**cfg.to_dict(), "curriculum_improvement": 1.0})
    _, hist = fit(layers, x, m, x[:8], m[:8], cfg, progress=False, y_train=y, y_val=y[:8])
    assert [(r["stage"], r["horizon"]) for r in hist] == [(1, 1), (2, 2), (3, 4), (3, 4), (3, 4)]
    # in stage 1 only the first horizon step counts: wild later steps change nothing
    wild = y.copy()
    wild[:, 1:] = 1000.0
    calm = TrainConfig(epochs=2, seed=1, curriculum=True, curriculum_patience=50)
    _, h1 = fit(layers, x, m, x[:8], m[:8], calm, progress=False, y_train=wild, y_val=wild[:8])
    _, h2 = fit(layers, x, m, x[:8], m[:8], calm, progress=False, y_train=y, y_val=y[:8])
    assert [r["val_loss"] for r in h1] == [r["val_loss"] for r in h2]
    assert {r["stage"] for r in h1} == {1}


def test_curriculum_is_recorded_in_the_bundle(data, tmp_path):
    from squall.errors import SquallWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _train(data, tmp_path / "m", "lstm-forecaster", epochs=3, curriculum=True)
    loaded = load_bundle(tmp_path / "m")
    stopped = [
        w for w in seen if issubclass(w.category, SquallWarning) and "curriculum" in str(w.message)
    ]
    # a run that ends before the last stage says so (the loss never counted the whole horizon)
    assert bool(stopped) == (loaded.history[-1]["horizon"] < 4)
    stages = [r["stage"] for r in loaded.history]
    assert stages[0] == 1 and stages == sorted(stages)
    assert [r["horizon"] for r in loaded.history][0] == 1
    assert loaded.provenance["training"]["curriculum"] is True
    assert loaded.provenance["training"]["curriculum_horizons"] == [1, 2, 4]
    with pytest.raises(SquallError, match="curriculum is for a forecasting model"):
        pipeline.train(data, tmp_path / "x", reader=READER, curriculum=True, **QUIET)


# --------------------------------------------------------------------------- checkpoints


def _weights(path):
    from safetensors.numpy import load_file

    return load_file(str(path / "weights.safetensors"))


@pytest.fixture
def one_thread():
    """One torch thread: the same sums in the same order in both trainings."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_killed_training_resumed_ends_as_an_uninterrupted_one(
    data, tmp_path, monkeypatch, one_thread
):
    import json

    import squall.models.train as train_module

    kw = {"epochs": 4, "patience": 10, "curriculum": True, "checkpoint_every": 2}
    straight = _train(data, tmp_path / "a", "cnn-lstm", sizes=(3, 4), **kw)
    real_save = train_module.save_checkpoint

    def save_then_die(where, **state):
        real_save(where, **state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt  # killed just after the epoch-2 checkpoint

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _train(data, tmp_path / "b", "cnn-lstm", sizes=(3, 4), **kw)
    monkeypatch.undo()
    assert not (tmp_path / "b").exists()  # no half-written bundle
    ckpt = tmp_path / "b.checkpoint"
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "best.npz",
        "checkpoint.json",
        "optimizer.npz",
        "weights.npz",
    ]
    doc = json.loads((ckpt / "checkpoint.json").read_text())
    assert doc["epoch"] == 2 and doc["every"] == 2 and len(doc["loop"]["history"]) == 2
    with np.load(ckpt / "optimizer.npz", allow_pickle=False) as opt:
        assert any(k.endswith(".exp_avg_sq") for k in opt.files)
    kw["checkpoint_every"] = None
    resumed = _train(data, tmp_path / "b", "cnn-lstm", sizes=(3, 4), resume=ckpt, **kw)
    assert resumed.history == straight.history
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # the experiment log: start, 2 epochs, resume, 2 epochs, end, with the curriculum stage
    text = (tmp_path / "b" / "training-log.jsonl").read_text()
    lines = [json.loads(t) for t in text.splitlines()]
    events = ["start", "epoch", "epoch", "resume", "epoch", "epoch", "end"]
    assert [r["event"] for r in lines] == events
    assert lines[0]["options"]["model"] == "cnn-lstm" and lines[0]["data"][0]["sha256"]
    assert [r["epoch"] for r in lines if r["event"] == "epoch"] == [1, 2, 3, 4]
    assert all("stage" in r and "val_loss" in r for r in lines if r["event"] == "epoch")
    assert json.loads((ckpt / "checkpoint.json").read_text())["epoch"] == 4


def test_resume_refuses_other_options_or_data(data, tmp_path):
    _train(data, tmp_path / "a", "lstm-forecaster", epochs=1, checkpoint_every=1)
    ckpt = tmp_path / "a.checkpoint"
    with pytest.raises(SquallError, match="resume .* was written by another training: its layers"):
        _train(data, tmp_path / "b", "lstm-forecaster", epochs=2, sizes=(5,), resume=ckpt)
    with pytest.raises(SquallError, match="resume .* is not a training checkpoint"):
        _train(data, tmp_path / "b", "lstm-forecaster", resume=tmp_path / "a")
    with pytest.raises(SquallError, match="checkpoint_every must be at least 1"):
        _train(data, tmp_path / "b", "lstm-forecaster", checkpoint_every=0)
    assert not (tmp_path / "b").exists()


def test_cli_checkpoint_and_resume(data, tmp_path):
    out = tmp_path / "m"
    base = ["train", str(data), "--time-column", "timestamp", "--track-column", "track"]
    args = [*base, "--model", "lstm-forecaster", "--lookback", "6", "--horizon", "2"]
    args += ["--hidden", "3", "--out", str(out), "--quiet"]
    assert main([*args, "--epochs", "1", "--checkpoint-every", "1"]) == 0
    assert (tmp_path / "m.checkpoint" / "checkpoint.json").is_file()
    assert main([*args, "--epochs", "2", "--resume", str(tmp_path / "m.checkpoint")]) == 0
    assert len(load_bundle(out).history) == 2
    assert (out / "training-log.jsonl").is_file()


def test_a_lookback_longer_than_every_track_is_one_line(data, tmp_path):
    with pytest.raises(SquallError) as err:
        _train(data, tmp_path / "m", "cnn-lstm", lookback=400)
    text = str(err.value)
    assert text.startswith("no training windows of lookback 400 + horizon 4 = 404 steps")
    assert "\n" not in text and not (tmp_path / "m").exists()


def test_an_autoencoder_checkpoints_and_resumes_with_its_detector(data, tmp_path):
    short = WindowSettings(length=8, stride=4)
    kw = {"reader": READER, "settings": short, "sizes": (3, 2), **QUIET}
    pipeline.train(data, tmp_path / "a", epochs=1, checkpoint_every=1, **kw)
    ckpt = tmp_path / "a.checkpoint"
    bundle = pipeline.train(data, tmp_path / "a", epochs=2, resume=ckpt, **kw)
    assert len(bundle.history) == 2 and bundle.detector is not None
    assert (tmp_path / "a" / "training-log.jsonl").is_file()
    # a plain autoencoder training may replace it (and leaves today's three files)
    pipeline.train(data, tmp_path / "a", epochs=1, **kw)
    assert "training-log.jsonl" not in {p.name for p in (tmp_path / "a").iterdir()}


def test_sizes_a_model_does_not_use_are_refused():
    """cnn-lstm and seq2seq-gru-fft take two sizes: a third was silently dropped (review)."""
    from squall.errors import ParameterError
    from squall.models import catalog

    for name in ("cnn-lstm", "seq2seq-gru-fft"):
        with pytest.raises(ParameterError, match="at most two sizes"):
            catalog.layers(name, inputs=1, targets=1, length=12, horizon=4, sizes=(4, 4, 4))
    assert len(catalog.layers("lstm-forecaster", inputs=1, targets=1, length=12, horizon=4,
                              sizes=(4, 4, 4))) == 6  # fmt: skip


def test_a_repeated_target_is_named_as_a_target():
    from squall.errors import ParameterError

    with pytest.raises(ParameterError, match=r"^targets name a column twice") as info:
        pipeline.check_features(["value", "value"], "targets")
    assert info.value.option() == "--targets"
