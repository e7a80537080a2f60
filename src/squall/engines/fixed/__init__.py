"""The fixed engine: the bit-accurate model of the accelerator, integer arithmetic throughout.

``get_engine("fixed", bundle, config=..., backend=...)``. The package's modules, one job each:

- :mod:`~squall.engines.fixed.config`: :class:`FixedConfig` (every format), :class:`ActivationSpec`,
  the presets, JSON;
- :mod:`~squall.engines.fixed.tables`: the sigmoid and tanh tables on integer codes;
- :mod:`~squall.engines.fixed.model`: :class:`FixedModel` (the arithmetic of a step, both
  backends), one builder per layer type (:data:`BUILD`) and :class:`FixedEngine`;
- :mod:`~squall.engines.fixed.tolerance`: the error budget and the parity ladder's tolerance.

The number formats themselves are :mod:`squall.engines.fixedpoint`. Every public name is
importable from here.
"""

from __future__ import annotations

from squall.engines.fixed.config import (
    MAX_FORMAT_BITS,
    MAX_TABLE,
    PRESETS,
    ActivationSpec,
    FixedConfig,
    resolve_config,
    with_formats,
)
from squall.engines.fixed.model import (
    BUILD,
    INT64_BITS,
    FixedDense,
    FixedEngine,
    FixedLstm,
    FixedModel,
    requantizer,
)
from squall.engines.fixed.tables import EXPAND_BITS, FUNCTIONS, Activation, ActivationUnit
from squall.engines.fixed.tolerance import (
    LADDER_GAIN,
    activation_error,
    error_budget,
    parity_tolerance,
)

__all__ = [
    "BUILD",
    "EXPAND_BITS",
    "FUNCTIONS",
    "INT64_BITS",
    "LADDER_GAIN",
    "MAX_FORMAT_BITS",
    "MAX_TABLE",
    "PRESETS",
    "Activation",
    "ActivationSpec",
    "ActivationUnit",
    "FixedConfig",
    "FixedDense",
    "FixedEngine",
    "FixedLstm",
    "FixedModel",
    "activation_error",
    "error_budget",
    "parity_tolerance",
    "requantizer",
    "resolve_config",
    "with_formats",
]
