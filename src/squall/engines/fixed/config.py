"""The fixed engine's configuration: every number format and both activation specs, presets, JSON.

A :class:`FixedConfig` names the :class:`~squall.engines.fixedpoint.FixedType` of every signal of
the model (see :mod:`squall.engines.fixed.model` for where each is used) and how sigmoid and tanh
are computed (:class:`ActivationSpec`, see :mod:`squall.engines.fixed.tables`); it is plain JSON
(``to_dict``/``from_dict``, or a ``.json`` path through :func:`resolve_config`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Any

from squall.engines.fixedpoint import FixedType
from squall.errors import SquallError
from squall.io import read_json
from squall.limits import is_number, regular_file

#: Largest width of a configuration's formats. A product of two such codes fits in 64 bits and
#: every code is exact in float64 (53-bit significand >= 32), so quantizing and converting back
#: are exact; wider formats (64 bits and more) buy nothing for an LSTM and overflow int64.
MAX_FORMAT_BITS = 32
#: Largest activation table: 2**16 entries, the number of codes of a 16-bit input, 64 times the
#: presets' 1024 and already 128 KB of ROM at 16 bits; a 2**31-entry table would be built in
#: memory without bound.
MAX_TABLE = 1 << 16


@dataclass(frozen=True)
class ActivationSpec:
    """How sigmoid or tanh is computed (see the module docstring)."""

    method: str = "lut"
    size: int = 1024
    lo: float = -8.0
    hi: float = 8.0
    slope: str = "Q2.14"  # pwl only: the slope format

    def __post_init__(self) -> None:
        if self.method not in ("lut", "pwl"):
            raise SquallError(f"activation method must be 'lut' or 'pwl', got {self.method!r}")
        if (
            not is_number(self.size, integer=True)
            or self.size < 2
            or self.size & (self.size - 1)
            or self.size > MAX_TABLE
        ):
            raise SquallError(
                f"activation table size must be a power of two in [2, "
                f"{MAX_TABLE}] (2**16), got {self.size!r}"
            )
        for name in ("lo", "hi"):
            value = getattr(self, name)
            if not is_number(value) or not math.isfinite(value):
                raise SquallError(f"activation range {name} must be a finite number, got {value!r}")
        span = float(self.hi) - float(self.lo)
        if not span > 0 or math.frexp(span)[0] != 0.5:
            raise SquallError(
                f"activation input range [{self.lo}, {self.hi}) must span a power of two"
            )
        _bounded_width(FixedType.parse(self.slope), "slope")

    @property
    def size_bits(self) -> int:
        return self.size.bit_length() - 1

    @property
    def span_bits(self) -> int:
        return math.frexp(float(self.hi) - float(self.lo))[1] - 1

    def describe(self) -> str:
        what = "entries" if self.method == "lut" else "segments"
        step = (self.hi - self.lo) / self.size
        return (
            f"{self.method} {self.size} {what} over [{self.lo:g}, {self.hi:g}) "
            f"(step {step:g})" + (f", slopes {self.slope}" if self.method == "pwl" else "")
        )


_TYPES = ("data", "weight", "bias", "preact", "cell", "sigmoid", "tanh")


def _bounded_width(t: FixedType, what: str) -> FixedType:
    if t.width > MAX_FORMAT_BITS:
        raise SquallError(
            f"{what} format {t} has {t.width} bits; formats hold at most "
            f"{MAX_FORMAT_BITS} bits (exact in int64 products and in float64)"
        )
    return t


@dataclass(frozen=True)
class FixedConfig:
    """Every format of the fixed engine; ``to_dict``/``from_dict`` are its JSON form.

    ``data``: x, h and dense outputs (the vectors); ``weight``: W and U; ``bias``: b;
    ``preact``: gate pre-activations (the activation inputs); ``cell``: c; ``sigmoid``/``tanh``:
    the activation outputs.
    """

    name: str
    data: FixedType
    weight: FixedType
    bias: FixedType
    preact: FixedType
    cell: FixedType
    sigmoid: FixedType
    tanh: FixedType
    sigmoid_fn: ActivationSpec = field(default_factory=ActivationSpec)
    tanh_fn: ActivationSpec = field(default_factory=lambda: ActivationSpec(lo=-4.0, hi=4.0))

    def __post_init__(self) -> None:
        for k in _TYPES:
            _bounded_width(getattr(self, k), k)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        out.update({k: getattr(self, k).spec for k in _TYPES})
        for k in ("sigmoid_fn", "tanh_fn"):
            out[k] = dict(getattr(self, k).__dict__)
        return out

    @classmethod
    def from_dict(cls, d: object) -> FixedConfig:
        """The configuration of a JSON object; any missing or mistyped entry is one line."""
        if not isinstance(d, dict):
            raise SquallError(
                f"a fixed-point configuration is a JSON object, got {type(d).__name__}"
            )
        try:
            types: dict[str, Any] = {k: FixedType.parse(d[k]) for k in _TYPES}
            fns: dict[str, Any] = {
                k: ActivationSpec(**d[k]) for k in ("sigmoid_fn", "tanh_fn") if k in d
            }
            return cls(str(d.get("name", "custom")), **types, **fns)
        except KeyError as exc:
            raise SquallError(f"fixed-point configuration lacks {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise SquallError(f"malformed fixed-point configuration ({exc})") from None

    def describe(self) -> str:
        return (
            f"{self.name}: data {self.data}, weights {self.weight}, bias {self.bias}, "
            f"pre-activations {self.preact}, c {self.cell}, sigmoid {self.sigmoid}, tanh "
            f"{self.tanh}; sigmoid {self.sigmoid_fn.describe()}; tanh "
            f"{self.tanh_fn.describe()}; rounding {self.data.rounding}, overflow "
            f"{self.data.overflow}"
        )


def _q(text: str) -> FixedType:
    return FixedType.parse(text)


#: The presets: the user's 16-bit choice (tables of 1024 entries), the same formats with
#: piecewise-linear activations (256 segments), everything at 12 bits, and 8-bit weights (W and
#: U in Q1.7, the smallest format that holds the seed's largest weight, 0.40; biases, which
#: reach 1.06, stay Q2.14). Every preset rounds half up (``rnd``: add half an LSB, truncate) and
#: saturates.
PRESETS: dict[str, FixedConfig] = {
    "16": FixedConfig(
        "16",
        data=_q("Q4.12"),
        weight=_q("Q2.14"),
        bias=_q("Q2.14"),
        preact=_q("Q4.12"),
        cell=_q("Q4.12"),
        sigmoid=_q("UQ1.15"),
        tanh=_q("Q1.15"),
        sigmoid_fn=ActivationSpec("lut", 1024, -8.0, 8.0),
        tanh_fn=ActivationSpec("lut", 1024, -4.0, 4.0),
    ),
    "12": FixedConfig(
        "12",
        data=_q("Q4.8"),
        weight=_q("Q2.10"),
        bias=_q("Q2.10"),
        preact=_q("Q4.8"),
        cell=_q("Q4.8"),
        sigmoid=_q("UQ1.11"),
        tanh=_q("Q1.11"),
        sigmoid_fn=ActivationSpec("lut", 1024, -8.0, 8.0),
        tanh_fn=ActivationSpec("lut", 1024, -4.0, 4.0),
    ),
    "16-pwl": FixedConfig(
        "16-pwl",
        data=_q("Q4.12"),
        weight=_q("Q2.14"),
        bias=_q("Q2.14"),
        preact=_q("Q4.12"),
        cell=_q("Q4.12"),
        sigmoid=_q("UQ1.15"),
        tanh=_q("Q1.15"),
        sigmoid_fn=ActivationSpec("pwl", 256, -8.0, 8.0, "Q2.14"),
        tanh_fn=ActivationSpec("pwl", 512, -8.0, 8.0, "Q2.14"),
    ),
    "8w": FixedConfig(
        "8w",
        data=_q("Q4.12"),
        weight=_q("Q1.7"),
        bias=_q("Q2.14"),
        preact=_q("Q4.12"),
        cell=_q("Q4.12"),
        sigmoid=_q("UQ1.15"),
        tanh=_q("Q1.15"),
        sigmoid_fn=ActivationSpec("lut", 1024, -8.0, 8.0),
        tanh_fn=ActivationSpec("lut", 1024, -4.0, 4.0),
    ),
}


#: What names a configuration: itself, a preset's name, its JSON object or a .json file's path.
ConfigLike = FixedConfig | str | dict[str, Any] | os.PathLike[str]


def resolve_config(config: ConfigLike) -> FixedConfig:
    """A :class:`FixedConfig` from itself, a preset name, a dict or a JSON file's path."""
    if isinstance(config, FixedConfig):
        return config
    if isinstance(config, dict):
        return FixedConfig.from_dict(config)
    text = str(config)
    if text in PRESETS:
        return PRESETS[text]
    if text.endswith(".json"):
        return FixedConfig.from_dict(read_json(regular_file(text, "configuration file")))
    raise SquallError(
        f"unknown fixed-point configuration {text!r}; presets: "
        f"{', '.join(PRESETS)}, or a .json file"
    )


def with_formats(config: FixedConfig, **changes: FixedType | str) -> FixedConfig:
    """A copy of ``config`` with some formats replaced (strings like ``"Q3.13"`` accepted)."""
    fixed: dict[str, Any] = {
        k: FixedType.parse(v) if isinstance(v, str) else v for k, v in changes.items()
    }
    return replace(config, **fixed)
