"""Detected events against labelled events (e.g. the synthetic generator's ``labels.csv``).

Event-level matching: a detected event and a label match when they are on the same track and their
time intervals overlap (both ends inclusive). Precision is the share of detected events that match
a label; recall the share of labels matched by at least one event, also given per event type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def match_events(events: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """Precision, recall and per-type recall of ``events`` against ``labels``.

    Both tables need ``track``, ``start`` and ``end``; labels may have ``type``.
    """
    ev_start, ev_end = pd.to_datetime(events["start"]), pd.to_datetime(events["end"])
    lb_start, lb_end = pd.to_datetime(labels["start"]), pd.to_datetime(labels["end"])
    ev_track = events["track"].astype(str).to_numpy()
    lb_track = labels["track"].astype(str).to_numpy()
    hit = np.zeros((len(events), len(labels)), dtype=bool)
    for j in range(len(labels)):
        hit[:, j] = ((ev_track == lb_track[j]) & (ev_start <= lb_end.iloc[j]).to_numpy()
                     & (ev_end >= lb_start.iloc[j]).to_numpy())
    found = hit.any(axis=0)
    true_events = hit.any(axis=1)
    types = labels["type"].astype(str).to_numpy() if "type" in labels else np.full(len(labels),
                                                                                    "event")
    per_type = {t: {"labels": int((types == t).sum()), "found": int(found[types == t].sum())}
                for t in sorted(set(types))}
    return {"events": int(len(events)), "labels": int(len(labels)),
            "true_events": int(true_events.sum()), "false_events": int((~true_events).sum()),
            "precision": float(true_events.mean()) if len(events) else float("nan"),
            "recall": float(found.mean()) if len(labels) else float("nan"),
            "per_type": per_type}
