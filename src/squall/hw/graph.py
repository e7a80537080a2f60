"""Old import path of :mod:`squall.engines.tools.graph` (kept for ``squall.cli.main``)."""

from squall.engines.tools.graph import write_graph

__all__ = ["write_graph"]
