"""Every intermediate of one window, from the pure engine: the golden vectors for hardware tests.

Per LSTM layer and time step: the step's input, the four gate pre-activations (i, f, g, o) and
activations, the cell state c and the output h; per GRU step its input, the gates r, z, n and h;
per conv1d step the k input steps it sees and its output; per dense step its input and output;
per rfft layer (one record, step 0) the amplitudes and phases; per decoder step its input (the
previous output), h and output.
A wrong
transpose shows at once (e.g. a tanh that only ever sees zeros).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from squall.bundle import Bundle
from squall.engines import get_engine
from squall.engines.pure import TraceRecord
from squall.engines.tools.profiling import layer_names
from squall.errors import NAME, ParameterError
from squall.io import write_text

LSTM_QUANTITIES = ("input", "pre_i", "pre_f", "pre_g", "pre_o", "i", "f", "g", "o", "c", "h")
GRU_QUANTITIES = ("input", "r", "z", "n", "h")
DENSE_QUANTITIES = ("input", "output")
#: The quantities of each layer kind's records (a conv1d step's input: the k steps it sees).
QUANTITIES = {
    "lstm": LSTM_QUANTITIES,
    "gru": GRU_QUANTITIES,
    "conv1d": DENSE_QUANTITIES,
    "dense": DENSE_QUANTITIES,
    "rfft": ("amplitude", "phase"),
    "decoder": ("input", "h", "output"),
}


def trace_window(bundle: Bundle, window: NDArray[np.floating[Any]]) -> list[TraceRecord]:
    """Records of every intermediate of one scaled window (the model's input shape: (T, F), a
    forecaster's lookback), in execution order."""
    engine = get_engine("pure", bundle)
    records: list[TraceRecord] = []
    engine.model.trace = records
    engine.run(window[None])  # any task: a forecaster's window is its lookback
    names = layer_names(bundle)
    for rec in records:
        rec["layer_name"] = names[rec["layer"]]
    return records


def to_rows(records: list[TraceRecord]) -> Iterator[tuple[int, str, str, int, str, int, str]]:
    """Long format: layer, layer_name, kind, step, quantity, index, value."""
    for rec in records:
        quantities = QUANTITIES.get(rec["kind"], DENSE_QUANTITIES)
        for q in quantities:
            for k, v in enumerate(rec[q]):
                yield rec["layer"], rec["layer_name"], rec["kind"], rec["step"], q, k, repr(v)


def write_trace(
    bundle: Bundle, window: NDArray[np.floating[Any]], index: int, path: str | os.PathLike[str]
) -> int:
    """Write the trace of window ``index`` as CSV (long format) or JSON (by the suffix)."""
    records = trace_window(bundle, window)
    text_path = str(path)
    if text_path.endswith(".json"):
        doc = {
            "window": index,
            "features": bundle.features,
            "input": window.tolist(),
            "layers": bundle.model.to_json(),
            "records": records,
        }
        write_text(path, json.dumps(doc) + "\n")
    elif text_path.endswith(".csv"):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["layer", "layer_name", "kind", "step", "quantity", "index", "value"])
        w.writerows(to_rows(records))
        write_text(path, buf.getvalue())
    else:
        raise ParameterError("path", f"{NAME} must end in .csv or .json, got {text_path}")
    return len(records)
