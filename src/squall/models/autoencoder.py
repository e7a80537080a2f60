"""A PyTorch module built from a bundle's layer list (the model description lives in one place)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from squall.bundle import Bundle
from squall.convert import torch_state_from_bundle
from squall.errors import SquallError
from squall.model import Conv1d, Decoder, Dense, Gru, Layer, Lstm, Rfft, as_layers
from squall.model import Repeat as RepeatLayer


class Repeat(nn.Module):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B, T, H)
        return x.unsqueeze(1).expand(-1, self.times, -1)


class SequenceLstm(nn.LSTM):
    """``nn.LSTM`` (batch first) giving every step's h (B, T, H) or, without
    ``return_sequences``, the last one (B, H); parameters named as ``nn.LSTM``'s."""

    def __init__(self, inputs: int, hidden: int, return_sequences: bool) -> None:
        super().__init__(inputs, hidden, batch_first=True)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, (h, _) = super().forward(x)
        return out if self.return_sequences else h[-1]


class SequenceGru(nn.GRU):
    """``nn.GRU`` (batch first) giving every step's h (B, T, H) or, without
    ``return_sequences``, the last one (B, H); parameters named as ``nn.GRU``'s."""

    def __init__(self, inputs: int, hidden: int, return_sequences: bool) -> None:
        super().__init__(inputs, hidden, batch_first=True)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, h = super().forward(x)
        return out if self.return_sequences else h[-1]


class SequenceConv1d(nn.Conv1d):
    """``nn.Conv1d`` on (B, T, C) sequences; ``causal``: k - 1 zeros on the left (as many
    steps out as in), else ``valid`` (T - k + 1 out); parameters named as ``nn.Conv1d``'s."""

    def __init__(self, inputs: int, outputs: int, kernel: int, causal: bool) -> None:
        super().__init__(inputs, outputs, kernel)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T', C')
        x = x.transpose(1, 2)
        if self.causal and self.kernel_size[0] > 1:
            x = nn.functional.pad(x, (self.kernel_size[0] - 1, 0))
        return super().forward(x).transpose(1, 2)


class Spectrum(nn.Module):
    """The rfft layer: ``torch.fft.rfft(norm="forward")`` over time, amplitudes then phases
    (``torch.angle``), feature-major, the first ``bins`` frequencies; ``append``: the input
    sequence with that vector at every step. Differentiable (where an amplitude is exactly zero,
    e.g. a constant window's non-DC bins, torch gives the phase a zero gradient, not NaN)."""

    def __init__(self, bins: int, append: bool) -> None:
        super().__init__()
        self.bins, self.append = bins, append

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, 2FK) or (B, T, ...)
        spectrum = torch.fft.rfft(x, dim=1, norm="forward")[:, : self.bins]  # (B, K, F)
        amp = spectrum.abs().transpose(1, 2).flatten(1)  # (B, F K), feature-major
        phase = torch.angle(spectrum).transpose(1, 2).flatten(1)
        out = torch.cat([amp, phase], dim=1)
        if not self.append:
            return out
        return torch.cat([x, out.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=2)


class DecoderCell(nn.Module):
    """The decoder layer: ``h_0 = init(v)`` (an ``nn.Linear`` when the sizes differ, else v),
    then ``steps`` steps of ``nn.GRUCell`` / ``nn.LSTMCell`` on the previous output (zeros
    first), ``y = out(h)``; (B, n) -> (B, steps, m). Differentiable through the fed-back output
    (no teacher forcing, no detach)."""

    def __init__(self, layer: Decoder) -> None:
        super().__init__()
        self.steps, self.outputs, self.lstm = layer.steps, layer.outputs, layer.cell == "lstm"
        self.init = nn.Linear(layer.input, layer.hidden) if layer.projected else None
        self.cell: nn.Module = (nn.LSTMCell if self.lstm else nn.GRUCell)(
            layer.outputs, layer.hidden
        )
        self.out = nn.Linear(layer.hidden, layer.outputs)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        h = self.init(v) if self.init is not None else v
        c = torch.zeros_like(h)
        y = v.new_zeros(v.shape[0], self.outputs)
        ys = []
        for _ in range(self.steps):
            if self.lstm:
                h, c = self.cell(y, (h, c))
            else:
                h = self.cell(y, h)
            y = self.out(h)
            ys.append(y)
        return torch.stack(ys, dim=1)


def _rfft(layer: Rfft) -> nn.Module:
    return Spectrum(layer.frequencies, layer.append)


def _decoder(layer: Decoder) -> nn.Module:
    return DecoderCell(layer)


def _gru(layer: Gru) -> nn.Module:
    return SequenceGru(layer.input, layer.hidden, layer.return_sequences)


def _conv1d(layer: Conv1d) -> nn.Module:
    return SequenceConv1d(layer.input, layer.output, layer.kernel, layer.padding == "causal")


def _lstm(layer: Lstm) -> nn.Module:
    return SequenceLstm(layer.input, layer.hidden, layer.return_sequences)


class Linear(nn.Linear):
    """``nn.Linear`` followed by the dense layer's activation (parameters named as
    ``nn.Linear``'s: ``weight``, ``bias``)."""

    def __init__(self, inputs: int, outputs: int, activation: str = "linear") -> None:
        super().__init__(inputs, outputs)
        if activation not in ACTIVATIONS:
            raise SquallError(f"the torch model has no dense activation {activation!r}")
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation](super().forward(x))


#: Dense activations (:data:`squall.model.DENSE_ACTIVATIONS`) as torch functions.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda a: a,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def _dense(layer: Dense) -> nn.Module:
    return Linear(layer.input, layer.output, layer.activation)


def _repeat(layer: RepeatLayer) -> nn.Module:
    return Repeat(layer.times)


#: Layer type -> the function building its torch module; the module's parameters are named as
#: the layer's ``torch_names`` (:mod:`squall.model`). A new layer type adds one entry.
MODULES: dict[type[Layer], Callable[..., nn.Module]] = {
    Lstm: _lstm,
    Gru: _gru,
    Conv1d: _conv1d,
    Dense: _dense,
    RepeatLayer: _repeat,
    Rfft: _rfft,
    Decoder: _decoder,
}


class LSTMAutoencoder(nn.Module):
    """One module per layer of the model description, in order (:data:`MODULES`);
    ``layers.{i}`` names match the bundle's weight names (see :mod:`squall.convert`)."""

    def __init__(self, layers) -> None:
        super().__init__()
        self.spec = as_layers(layers)
        mods: list[nn.Module] = []
        for i, layer in enumerate(self.spec):
            build = MODULES.get(type(layer))
            if build is None:
                raise SquallError(f"layer {i}: the torch model has no {layer.kind!r} layer")
            mods.append(build(layer))
        self.layers = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, T, F)
        for mod in self.layers:
            x = mod(x)
        return x

    @classmethod
    def from_bundle(cls, bundle: Bundle, dtype: torch.dtype = torch.float32) -> LSTMAutoencoder:
        """The model in ``dtype``; weights are rounded once, from their stored precision, to it
        (a float64 model keeps float64 weights exactly)."""
        model = cls(bundle.layers).to(dtype)
        state = {
            k: torch.from_numpy(np.array(v, dtype=np.float64))
            for k, v in torch_state_from_bundle(bundle).items()
        }
        model.load_state_dict(state, strict=True)  # copies, casting to ``dtype``
        return model

    def state_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
