"""Inference engines: same bundle in, same windows in, same reconstructions out.

``numpy`` (default, fast batch), ``torch`` (reference), ``pure`` (standard library only, for
reading and profiling), ``fixed`` (bit-accurate fixed point, :mod:`squall.engines.fixed`, its
number formats :mod:`squall.engines.fixedpoint`). Engines are looked up by name with
:func:`get_engine`; each module is imported only when asked for, so ``import squall`` stays light
and ``squall.engines.pure`` imports without numpy. :mod:`squall.engines.tools` profiles, traces,
draws and counts what an engine does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Literal, overload

from squall.errors import SquallError

if TYPE_CHECKING:  # the engines' modules are imported only when used (torch, numpy)
    from squall.bundle import Bundle
    from squall.engines.base import Engine, PureEngine
    from squall.engines.fixed import FixedEngine
    from squall.engines.numpy_engine import NumpyEngine
    from squall.engines.torch_engine import TorchEngine

#: name -> "module:Class"; modules are imported only when the engine is used.
ENGINES = {
    "numpy": "squall.engines.numpy_engine:NumpyEngine",
    "torch": "squall.engines.torch_engine:TorchEngine",
    "pure": "squall.engines.base:PureEngine",
    "fixed": "squall.engines.fixed:FixedEngine",
}


@overload
def get_engine(name: Literal["numpy"], bundle: Bundle, **options: Any) -> NumpyEngine: ...
@overload
def get_engine(name: Literal["torch"], bundle: Bundle, **options: Any) -> TorchEngine: ...
@overload
def get_engine(name: Literal["pure"], bundle: Bundle) -> PureEngine: ...
@overload
def get_engine(name: Literal["fixed"], bundle: Bundle, **options: Any) -> FixedEngine: ...
@overload
def get_engine(name: str, bundle: Bundle, **options: Any) -> Engine: ...


def get_engine(name: str, bundle: Bundle, **options: Any) -> Engine:
    """Build engine ``name`` for ``bundle`` (a :class:`squall.bundle.Bundle`); ``options`` go to
    the engine's constructor (``dtype``, ``chunk``, ``threads`` of numpy; ``config``,
    ``backend`` of fixed; ``dtype`` of torch)."""
    if name not in ENGINES:
        raise SquallError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise SquallError(
            f"engine {name!r} needs a package that is not installed ({exc.name}); "
            f"install the train extra: pip install torch==2.13.0 -e '.[train]' in a clone "
            f"(pip install 'squall[train]' from a package index)"
        ) from exc
    engine: Engine = getattr(mod, cls)(bundle, **options)
    return engine


__all__ = ["ENGINES", "get_engine"]
