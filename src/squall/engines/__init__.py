"""Inference engines: same bundle in, same windows in, same reconstructions out.

``numpy`` (default, fast batch), ``torch`` (reference). Engines are looked up by name with
:func:`get_engine`; each module is imported only when asked for, so ``import squall`` stays light.
"""

from squall.engines.base import ENGINES, Engine, get_engine

__all__ = ["ENGINES", "Engine", "get_engine"]
