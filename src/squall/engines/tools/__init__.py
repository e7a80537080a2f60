"""Tools of the engines: profiling, tracing, the dataflow graph and the analytic per-window costs.

They look at what an engine does with a bundle (calls, counts, every intermediate); the hardware
package (:mod:`squall.hw`) builds on them, never the other way round.
"""
