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
