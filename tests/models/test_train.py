import numpy as np
import pytest

torch = pytest.importorskip("torch")

from squall.bundle import seed_layers  # noqa: E402
from squall.errors import SquallError  # noqa: E402
from squall.models.train import TrainConfig, fit, masked_mse  # noqa: E402


def test_masked_mse_ignores_missing_cells():
    x = torch.zeros(2, 3, 2)
    recon = torch.ones(2, 3, 2)
    mask = torch.zeros(2, 3, 2)
    mask[0, 0, 0] = 1
    recon[1] = 100.0  # huge error where nothing is observed
    assert float(masked_mse(recon, x, mask)) == pytest.approx(1.0)


def _data(n, T=8, F=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[None, :, None] + rng.uniform(0, 6, (n, 1, 1))
    x = 0.5 + 0.3 * np.sin(t * np.array([0.7, 1.1]))
    return x.astype(np.float32), np.ones_like(x, dtype=np.float32)


def test_training_reduces_loss_and_is_deterministic():
    x, m = _data(64)
    layers = seed_layers(2, 8, (8, 4))
    cfg = TrainConfig(epochs=6, seed=3, patience=10)
    s1, h1 = fit(layers, x, m, x[:16], m[:16], cfg, progress=False)
    s2, h2 = fit(layers, x, m, x[:16], m[:16], cfg, progress=False)
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]
    assert [r["train_loss"] for r in h1] == [r["train_loss"] for r in h2]
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])


def test_early_stopping_stops_and_keeps_best():
    x, m = _data(32)
    layers = seed_layers(2, 8, (4, 2))
    cfg = TrainConfig(epochs=200, seed=0, patience=2, learning_rate=0.05)
    state, hist = fit(layers, x, m, x[:16], m[:16], cfg, progress=False)
    assert len(hist) < 200
    best = min(r["val_loss"] for r in hist)
    assert hist[-1]["val_loss"] > best  # it stopped after epochs without improvement
    # ... and the weights it returns are those of the best epoch, not the last
    from squall.models.autoencoder import LSTMAutoencoder
    from squall.models.train import masked_mse

    model = LSTMAutoencoder(layers)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    with torch.inference_mode():
        xv = torch.as_tensor(x[:16])
        loss = float(masked_mse(model(xv), xv, torch.as_tensor(m[:16])))
    assert loss == pytest.approx(best, rel=1e-5)


def test_too_few_windows():
    x, m = _data(5)
    with pytest.raises(SquallError, match="only 5 training windows"):
        fit(seed_layers(2, 8, (4, 2)), x, m, x[:0], m[:0], TrainConfig(), progress=False)


def test_a_refused_resume_names_the_differing_settings_with_both_values(tmp_path):
    """The message cut each option set at 60 characters ('its training differs (checkpoint
    {"batch_size": 64, "learning_rate": 0.001, "min_w...'), so the setting that differed was
    often cut off; now it names the setting itself, old and new."""
    from pathlib import Path

    from squall.errors import ParameterError
    from squall.models.checkpoint import Resumed

    training = TrainConfig(epochs=3).to_dict()
    stored = {"model": "lstm-forecaster", "training": training, "data": ["a" * 64]}
    resumed = Resumed(Path("ck"), {"identity": stored}, {}, None, {})
    resumed.check_identity(dict(stored))  # the same identity passes
    now = {**stored, "training": {**training, "seed": 7}}
    with pytest.raises(ParameterError) as info:
        resumed.check_identity(now)
    text = info.value.for_option("--resume")
    assert text.startswith("--resume ck was written by another training: ")
    assert "its training.seed (checkpoint 0, now 7) differs" in text and "\n" not in text
    layers = [{"type": "lstm", "units": 6}, {"type": "dense", "units": 1}]
    stored = {**stored, "layers": layers}
    resumed = Resumed(Path("ck"), {"identity": stored}, {}, None, {})
    now = {
        **stored,
        "layers": [{"type": "lstm", "units": 5}, {"type": "dense", "units": 1}],
        "data": ["b" * 64],
        "training": {**training, "batch_size": 8, "learning_rate": 0.01, "patience": 2},
        "until": "2025-01-02",
    }
    with pytest.raises(ParameterError) as info:
        resumed.check_identity(now)
    text = str(info.value)
    # the first three by key, whole values (a SHA-256 fits), then how many more
    assert f'its data[0] (checkpoint "{"a" * 64}", now "{"b" * 64}") differs' in text
    also = "; also layers[0].units (checkpoint 6, now 5), training.batch_size (checkpoint 64, "
    assert also + "now 8) and 3 other settings" in text
    assert "until (checkpoint (none), now " not in text  # beyond the first three


def test_resume_with_another_seed_names_it(tmp_path):
    from tests.test_train_models import harmonic_csv

    from squall import pipeline

    data = harmonic_csv(tmp_path / "h.csv", steps=80)
    kw = {
        "model": "lstm-forecaster", "lookback": 6, "horizon": 2, "sizes": (3,),
        "reader": {"kind": "csv", "time_column": "timestamp", "track_column": "track"},
        "features": ["a", "b"], "progress": False, "log": lambda *_: None,
    }  # fmt: skip
    pipeline.train(data, tmp_path / "m", epochs=1, checkpoint_every=1, **kw)
    with pytest.raises(SquallError, match=r"its training\.seed \(checkpoint 0, now 3\) differs"):
        pipeline.train(data, tmp_path / "n", epochs=2, seed=3, resume=tmp_path / "m.checkpoint",
                       **kw)  # fmt: skip
    assert not (tmp_path / "n").exists()
