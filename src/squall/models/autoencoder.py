"""A PyTorch module built from a bundle's layer list (the model description lives in one place)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from squall.bundle import Bundle
from squall.convert import torch_state_from_bundle


class Repeat(nn.Module):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (B, H) -> (B, T, H)
        return x.unsqueeze(1).expand(-1, self.times, -1)


class LSTMAutoencoder(nn.Module):
    """One ``nn.LSTM``/``nn.Linear``/``Repeat`` per IR layer, in order; ``layers.{i}`` names match
    the bundle's weight names (see :mod:`squall.convert`)."""

    def __init__(self, layers: list[dict]) -> None:
        super().__init__()
        self.spec = layers
        mods: list[nn.Module] = []
        for layer in layers:
            if layer["type"] == "lstm":
                mods.append(nn.LSTM(layer["input"], layer["hidden"], batch_first=True))
            elif layer["type"] == "repeat":
                mods.append(Repeat(layer["times"]))
            else:
                mods.append(nn.Linear(layer["input"], layer["output"]))
        self.layers = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (B, T, F) -> (B, T, F)
        for spec, mod in zip(self.spec, self.layers, strict=True):
            if spec["type"] == "lstm":
                out, (h, _) = mod(x)
                x = out if spec["return_sequences"] else h[-1]   # (B, T, H) or (B, H)
            else:
                x = mod(x)
        return x

    @classmethod
    def from_bundle(cls, bundle: Bundle, dtype: torch.dtype = torch.float32) -> LSTMAutoencoder:
        """The model in ``dtype``; weights are rounded once, from their stored precision, to it
        (a float64 model keeps float64 weights exactly)."""
        model = cls(bundle.layers).to(dtype)
        state = {k: torch.from_numpy(np.array(v, dtype=np.float64))
                 for k, v in torch_state_from_bundle(bundle).items()}
        model.load_state_dict(state, strict=True)            # copies, casting to ``dtype``
        return model

    def state_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
