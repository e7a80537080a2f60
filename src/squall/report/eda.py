"""Exploratory statistics of the data before any model: what each feature looks like, how much of
it is missing, which features move together.

:func:`eda` reads data files (as ``train`` and ``detect`` do) and returns an :class:`Eda`;
:func:`write_eda` writes it to a directory:

``summary.csv``      per feature: unit, count (observed reports), missing share, mean, std
                     (ddof 1), min, quantiles 1/5/25/50/75/95/99 %, max
``correlation.csv``  Pearson correlation of every pair of features, each pair over the reports
                     where both are observed (NaN with fewer than :data:`MIN_PAIRS` such reports)
``top_pairs.csv``    the pairs by decreasing absolute correlation, with the reports behind each
``histograms.png``   one histogram per feature, physical units
``correlation.png``  the correlation matrix as a heat map
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from squall.data.observations import Observations
from squall.errors import SquallError
from squall.io import output_files, write_csv

#: Quantiles in ``summary.csv`` (columns ``q01`` ... ``q99``).
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: Fewest reports with both features observed for a correlation (else NaN).
MIN_PAIRS = 3
#: Pairs listed in ``top_pairs.csv`` by default.
TOP_PAIRS = 10
#: Files :func:`write_eda` owns in its directory.
EDA_OUTPUTS = (
    "summary.csv",
    "correlation.csv",
    "top_pairs.csv",
    "histograms.png",
    "correlation.png",
)


@dataclass
class Eda:
    """The statistics of one data set (see the module docstring for each table)."""

    summary: pd.DataFrame
    correlation: pd.DataFrame
    top_pairs: pd.DataFrame
    values: pd.DataFrame  # the feature columns, physical units (NaN = missing)
    units: dict[str, str]
    sources: list[str]
    reports: int
    tracks: int
    time_range: tuple[str, str]


def summarize(values: pd.DataFrame, units: dict[str, str]) -> pd.DataFrame:
    """Per-feature summary: unit, count, missing share, mean, std, min, quantiles, max."""
    rows = []
    for name in values.columns:
        col = values[name].to_numpy(np.float64)
        seen = col[np.isfinite(col)]
        with np.errstate(over="ignore", invalid="ignore"):  # 1e308: mean/std inf, no warning
            mean = seen.mean() if len(seen) else np.nan
            std = seen.std(ddof=1) if len(seen) > 1 else np.nan
        row = {
            "feature": name,
            "unit": units.get(name, ""),
            "count": int(len(seen)),
            "missing_share": 1 - len(seen) / len(col) if len(col) else np.nan,
            "mean": mean,
            "std": std,
            "min": seen.min() if len(seen) else np.nan,
        }
        qs = np.quantile(seen, QUANTILES) if len(seen) else np.full(len(QUANTILES), np.nan)
        row.update({f"q{round(100 * q):02d}": v for q, v in zip(QUANTILES, qs, strict=True)})
        row["max"] = seen.max() if len(seen) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def correlations(values: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise Pearson correlation (each pair over its jointly observed reports) and the number
    of those reports, both (F, F) with the feature names as index and columns."""
    seen = values.notna().to_numpy(np.int64)
    counts = pd.DataFrame(seen.T @ seen, index=values.columns, columns=values.columns)
    # a feature constant over the reports of a pair has no correlation: NaN, not a warning
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = values.corr(method="pearson", min_periods=MIN_PAIRS)
    return corr, counts


def top_pairs(corr: pd.DataFrame, counts: pd.DataFrame, n: int = TOP_PAIRS) -> pd.DataFrame:
    """The ``n`` feature pairs with the largest absolute correlation (NaN pairs left out)."""
    names = list(corr.columns)
    rows = [
        {
            "feature_a": a,
            "feature_b": b,
            "correlation": corr.loc[a, b],
            "abs_correlation": abs(corr.loc[a, b]),
            "reports": int(counts.loc[a, b]),
        }
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if np.isfinite(corr.loc[a, b])
    ]
    frame = pd.DataFrame(
        rows, columns=["feature_a", "feature_b", "correlation", "abs_correlation", "reports"]
    )
    return (
        frame.sort_values("abs_correlation", ascending=False, kind="stable")
        .head(n)
        .reset_index(drop=True)
    )


def eda_of(obs: Observations, n_pairs: int = TOP_PAIRS) -> Eda:
    """The statistics of reports already read."""
    if len(obs) == 0:
        raise SquallError("no reports to describe")
    values = obs.frame[list(obs.features)].astype(np.float64)
    corr, counts = correlations(values)
    times = obs.frame["time"]
    return Eda(
        summary=summarize(values, obs.units),
        correlation=corr,
        top_pairs=top_pairs(corr, counts, n_pairs),
        values=values,
        units=dict(obs.units),
        sources=list(obs.sources),
        reports=len(obs),
        tracks=int(obs.frame["track"].nunique()),
        time_range=(_iso(times.min()), _iso(times.max())),
    )


def eda(
    paths, *, reader: dict | None = None, until: str | None = None, n_pairs: int = TOP_PAIRS
) -> Eda:
    """Read data files (NOAA box files or generic CSVs, see
    :func:`squall.data.readers.read_data`) and describe them; ``until`` keeps only reports
    before that time."""
    from squall.data.readers import read_data

    return eda_of(read_data(paths, reader).until(until), n_pairs)


def write_eda(result: Eda, out: str | os.PathLike[str]) -> list[str]:
    """Write the tables and plots into directory ``out`` (all or nothing); returns the names."""
    from squall.report.plots import correlation_figure, histograms_figure, save_figure

    corr = result.correlation.rename_axis("feature").reset_index()
    with output_files(out, EDA_OUTPUTS, "eda") as tmp:
        write_csv(result.summary, tmp / "summary.csv")
        write_csv(corr, tmp / "correlation.csv")
        write_csv(result.top_pairs, tmp / "top_pairs.csv")
        save_figure(histograms_figure(result.values, result.units), tmp / "histograms.png")
        save_figure(correlation_figure(result.correlation), tmp / "correlation.png")
    return list(EDA_OUTPUTS)


def _iso(t) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S")
