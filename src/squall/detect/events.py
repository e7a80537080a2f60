"""Events: overlapping flagged windows of one track merged into one event."""

from __future__ import annotations

import numpy as np
import pandas as pd


def merge_events(
    track: np.ndarray, start: np.ndarray, end: np.ndarray, flagged: np.ndarray
) -> np.ndarray:
    """Event id per window (-1 where not flagged).

    Flagged windows of one track whose time spans overlap or touch (sorted by start, a window
    joins the current event when it starts no later than the event's end) form one event.
    Event ids are numbered in order of (track, start).
    """
    event = np.full(len(track), -1, dtype=np.int64)
    idx = np.flatnonzero(flagged)
    if len(idx) == 0:
        return event
    frame = pd.DataFrame(
        {"i": idx, "track": np.asarray(track, dtype=str)[idx], "start": start[idx], "end": end[idx]}
    )
    frame = frame.sort_values(["track", "start", "end"], kind="stable")
    current, cur_track, cur_end = -1, None, None
    for i, tr, s, e in frame.itertuples(index=False):
        if tr != cur_track or s > cur_end:
            current += 1
            cur_track, cur_end = tr, e
        else:
            cur_end = max(cur_end, e)
        event[i] = current
    return event
