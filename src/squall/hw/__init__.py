"""Hardware for the model: fixed-point ranges and accuracy, the export, generated RTL and its
simulation, and the accelerator's cost model. Built on the engines (the fixed engine, the engine
tools of :mod:`squall.engines.tools`); nothing below imports it."""
