"""The clocks file of ``squall hw cycles``: what it holds, and reading it back (``hw cost``).

:func:`cycles_summary` makes the document from the clocks measured in simulation
(:func:`squall.hw.sim.measure_cycles`) next to the design's predicted clocks,
:func:`write_clocks` writes it as JSON, and :func:`measured_cycles` reads such a file for
``squall hw cost --cycles-from-sim`` (one-line errors for anything else).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from squall.errors import SquallError
from squall.hw.export_layout import weights_digest
from squall.io import read_json, write_text
from squall.limits import regular_file

if TYPE_CHECKING:
    from squall.hw.design import RtlDesign

FORMAT = "squall-rtl-cycles"
VERSION = 1


def cycles_summary(d: RtlDesign, matvec: dict, step: dict) -> dict:
    """Measured clocks next to :meth:`RtlDesign.predicted_cycles` and the cost model's
    ``ceil(MACs / P)`` per layer."""
    rows = []
    for r in d.layers:
        p = d.predicted_cycles(r.index)
        mv = sorted(set(matvec.get(str(r.index), [])))
        st = sorted(set(step.get(str(r.index), [])))
        rows.append(
            {
                "layer": r.index,
                "kind": r.kind,
                "rows": r.rows,
                "cols": r.cols,
                "macs": p["macs"],
                "ideal_matvec": p["ideal"],
                "predicted_matvec": p["matvec"],
                "measured_matvec": mv,
                "predicted_step": p.get("step"),
                "measured_step": st or None,
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "lanes": d.lanes,
        "weights_digest": weights_digest(d.bundle),
        "length": d.length,
        "clock_ns_in_sim": 10,
        "layers": rows,
    }


def write_clocks(path: str | os.PathLike[str], summary: dict) -> None:
    """Write a :func:`cycles_summary` as the clocks file ``path`` (JSON, atomically)."""
    write_text(path, json.dumps(summary, indent=1) + "\n")


def measured_cycles(path) -> dict:
    """The clocks file ``squall hw cycles`` writes, as ``{"matvec": {layer: clocks}, "step":
    {layer: clocks}, "source": path, "lanes": P}`` (one-line errors)."""
    data = read_json(regular_file(path, "clocks file (the .json of squall hw cycles)"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SquallError(f"{path} is not a clocks file written by `squall hw cycles`")
    out: dict = {
        "matvec": {},
        "step": {},
        "source": f"simulation ({path})",
        "lanes": data.get("lanes"),
        "weights_digest": data.get("weights_digest"),
    }
    try:
        for row in data["layers"]:
            if row["measured_matvec"]:
                out["matvec"][str(row["layer"])] = max(row["measured_matvec"])
            if row.get("measured_step"):
                out["step"][str(row["layer"])] = max(row["measured_step"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SquallError(
            f"{path} is a damaged clocks file ({type(exc).__name__}: {exc})"
        ) from None
    return out
