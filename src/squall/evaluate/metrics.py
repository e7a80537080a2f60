"""Event-level detection metrics pooled over the series of a dataset.

The matching rule (Orion's overlap rule) and the per-series counts live in one place,
:mod:`squall.detect.evaluate`; ``tp``, ``fp`` and ``fn`` are summed over all series of a dataset
before precision, recall and F1 are computed from the sums.
"""

from __future__ import annotations

import pandas as pd

from squall.detect.evaluate import confusion, overlap_matrix, prf

__all__ = ["confusion", "overlap_matrix", "pooled", "prf"]


def pooled(per_series: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Sum ``tp``, ``fp``, ``fn`` of a per-series table over ``by`` and add precision, recall
    and F1 of the sums."""
    sums = per_series.groupby(by, sort=True)[["tp", "fp", "fn"]].sum().reset_index()
    scores = [prf(int(r.tp), int(r.fp), int(r.fn)) for r in sums.itertuples(index=False)]
    return pd.concat([sums, pd.DataFrame(scores, index=sums.index)], axis=1)
