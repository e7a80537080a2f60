"""Test tolerances of the fixed engine, from its formats: one LSTM step's error budget.

The parity ladder compares every engine with the float reference; for the fixed configurations
the tolerance is :func:`parity_tolerance`, derived from the formats and the tables' measured
errors, not chosen by hand.
"""

from __future__ import annotations

import math

import numpy as np

from squall.engines.fixed.config import ConfigLike, resolve_config
from squall.engines.fixed.tables import EXPAND_BITS, Activation, ActivationUnit
from squall.engines.fixedpoint import FixedType

#: How much one step's local error may grow through the recurrence and the layers before it
#: reaches a reconstruction, for the parity ladder (see :func:`parity_tolerance`).
LADDER_GAIN = 8


def _half_lsb(t: FixedType) -> float:
    """The largest rounding error of a register of type ``t``."""
    lsb = 2.0**-t.frac
    return lsb if t.rounding in ("trn", "trn_zero") else lsb / 2


def activation_error(unit: ActivationUnit) -> float:
    """The worst ``|table(code) - f(code)|`` over every input code of the unit's format (every
    code when the format has at most 20 bits, else 2**20 evenly spaced codes): the table's
    approximation, its clamping outside the range and its output rounding, together."""
    inp, out = unit.inp, unit.act.out
    stride = 1 << max(0, inp.width - EXPAND_BITS)
    codes = np.arange(inp.min_code, inp.max_code + 1, stride, dtype=np.int64)
    got = np.ldexp(unit.many(codes).astype(np.float64), -out.frac)
    x = np.ldexp(codes.astype(np.float64), -inp.frac)
    want = np.tanh(x) if unit.act.fn == "tanh" else 0.5 + 0.5 * np.tanh(0.5 * x)
    return float(np.abs(got - want).max())


def error_budget(config: ConfigLike) -> dict[str, float]:
    """One LSTM step's local error bound, from the formats (floats, for reading and tolerances).

    ``e_sigmoid``, ``e_tanh``: :func:`activation_error` of the units (tanh: the worse of its
    pre-activation and c inputs); ``u_preact``, ``u_cell``, ``u_data``: the rounding error of
    each register (half an LSB when rounding to nearest). With exact inputs and ``|c| <= 1``,
    ``h = o tanh(c)`` is off by at most ``step = 4 e_sigmoid + 2 e_tanh + 1.75 u_preact + u_cell
    + u_data`` (o, f, i: ``e_sigmoid + u_preact / 4`` each, sigmoid's slope being at most 1/4;
    g: ``e_tanh + u_preact``; c: ``|df| |c| + di + dg + u_cell``; h: ``do + e_tanh + dc +
    u_data``). Weight rounding is not in it: its effect depends on the weights and inputs."""
    cfg = resolve_config(config)
    sig = Activation("sigmoid", cfg.sigmoid_fn, cfg.sigmoid, cfg.preact)
    tanh = Activation("tanh", cfg.tanh_fn, cfg.tanh, cfg.preact)
    out = {
        "e_sigmoid": activation_error(sig.unit(cfg.preact)),
        "e_tanh": max(
            activation_error(tanh.unit(cfg.preact)), activation_error(tanh.unit(cfg.cell))
        ),
        "u_preact": _half_lsb(cfg.preact),
        "u_cell": _half_lsb(cfg.cell),
        "u_data": _half_lsb(cfg.data),
    }
    out["step"] = (
        4 * out["e_sigmoid"]
        + 2 * out["e_tanh"]
        + 1.75 * out["u_preact"]
        + out["u_cell"]
        + out["u_data"]
    )
    return out


def parity_tolerance(config: ConfigLike, gain: float = LADDER_GAIN) -> float:
    """The parity ladder's tolerance for ``config``: ``gain * error_budget(config)["step"]``,
    rounded up to two significant digits."""
    tol = gain * error_budget(config)["step"]
    scale = 10.0 ** (math.floor(math.log10(tol)) - 1)
    return math.ceil(tol / scale) * scale
