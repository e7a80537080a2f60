"""Hardware co-design tools beside the engines: profiling, tracing, the dataflow graph and the
analytic cost model they share."""
