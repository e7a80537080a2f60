"""Old import path of :mod:`squall.engines.tools.profiling` (kept for ``squall.cli.main``)."""

from squall.engines.tools.profiling import profile_run

__all__ = ["profile_run"]
