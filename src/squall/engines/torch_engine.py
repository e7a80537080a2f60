"""The reference engine: the PyTorch model the bundle was trained as."""

from __future__ import annotations

import torch

from squall.bundle import Bundle
from squall.engines.base import Engine, Reconstruction, Windows
from squall.models.autoencoder import LSTMAutoencoder


class TorchEngine(Engine):
    """PyTorch ``nn.LSTM`` on the CPU, ``dtype`` float32 (default) or float64.

    The bundle's weights are cast to ``dtype`` once, from their stored precision: in float64
    the reference runs float64 weights exactly."""

    name = "torch"

    def __init__(self, bundle: Bundle, dtype: str = "float32") -> None:
        super().__init__(bundle)
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.model = LSTMAutoencoder.from_bundle(bundle, self.dtype).eval()

    def _reconstruct(self, x: Windows) -> Reconstruction:
        with torch.inference_mode():
            out: torch.Tensor = self.model(torch.as_tensor(x, dtype=self.dtype))
        return out.numpy()
