"""Old import path of :mod:`squall.engines.tools.trace` (kept for ``squall.cli.main``)."""

from squall.engines.tools.trace import write_trace

__all__ = ["write_trace"]
