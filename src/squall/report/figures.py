"""The report's figures: error timeline per track, one panel per event, the map of events.

Each function returns a matplotlib Figure (see :mod:`squall.report.plots` for saving it or
embedding it); none reads files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from squall.report.plots import new_figure

EVENT_COLOR = "#cc0000"
LABEL_COLOR = "#4e9a06"


def timeline_figure(
    table: pd.DataFrame,
    events: pd.DataFrame,
    tracks: list[str],
    threshold: float,
    labels: pd.DataFrame | None = None,
):
    """Error per window against the window's end time, one row per track of ``tracks``, with the
    threshold line, each event shaded and numbered and, when given, labelled events as green bars
    under the curve."""
    from matplotlib.ticker import NullFormatter

    fig = new_figure(11, 0.5 + 1.35 * max(1, len(tracks)))
    end = pd.to_datetime(table["end"])
    positive = table["score"].to_numpy(float)
    log = bool(
        len(positive) and (positive > 0).all() and positive.max() / max(positive.min(), 1e-12) > 100
    )
    # one y scale for all tracks: the threshold is at the same height everywhere
    axes = fig.subplots(max(1, len(tracks)), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, track in zip(axes, tracks, strict=False):
        sel = (table["track"] == track).to_numpy()
        y = table["score"].to_numpy(float)[sel]
        x = end[sel].to_numpy()
        ax.plot(*_break_gaps(x, y), lw=0.8, color="#3465a4")
        flagged = table["flagged"].to_numpy(bool)[sel]
        ax.scatter(x[flagged], y[flagged], s=6, color=EVENT_COLOR, zorder=3)
        ax.axhline(threshold, color=EVENT_COLOR, ls="--", lw=0.9)
        for _, ev in events[events["track"] == track].iterrows():
            ax.axvspan(
                pd.Timestamp(ev["start"]),
                pd.Timestamp(ev["end"]),
                color=EVENT_COLOR,
                alpha=0.12,
                lw=0,
            )
            ax.annotate(
                f"#{int(ev['event'])}",
                (pd.Timestamp(ev["start"]), 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=7,
                color=EVENT_COLOR,
            )
        if labels is not None and len(labels):
            mine = labels[(labels["track"] == "") | (labels["track"] == track)]
            for _, lb in mine.iterrows():
                ax.axvspan(
                    pd.Timestamp(lb["start"]),
                    pd.Timestamp(lb["end"]),
                    ymin=0,
                    ymax=0.06,
                    color=LABEL_COLOR,
                    lw=0,
                )
        if log:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(track, fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel(
        "window end time (UTC); dashed: threshold"
        + ("; green bars: labelled events" if labels is not None else ""),
        fontsize=8,
    )
    axes[0].set_title("Reconstruction error per window", fontsize=10)
    fig.tight_layout()
    return fig


def step_series(ws, recon_phys: np.ndarray, windows: np.ndarray) -> pd.DataFrame:
    """Per time step covered by ``windows``: its time, the observed value of each feature
    (physical units, NaN when missing) and the reconstruction (``recon_<F>``: the median over
    the windows that contain the step)."""
    w = np.asarray(windows, dtype=np.int64)
    T = ws.steps.shape[1]
    step = ws.steps[w].reshape(-1)  # (len(w) * T,)
    frame = pd.DataFrame({"step": step, "time": ws.step_time[step]})
    values = ws.window_values(w).reshape(len(w) * T, -1)  # (len(w) * T, F)
    recon = recon_phys[w].reshape(len(w) * T, -1)
    for k, name in enumerate(ws.features):
        frame[name] = values[:, k]
        frame[f"recon_{name}"] = recon[:, k]
    agg = {name: "first" for name in ws.features}
    agg |= {f"recon_{name}": "median" for name in ws.features}
    agg["time"] = "first"
    return frame.groupby("step", sort=False).agg(agg).sort_values("time").reset_index()


def event_figure(
    series: pd.DataFrame,
    features: list[str],
    units: dict[str, str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    title: str,
    deviations: dict[str, dict] | None = None,
):
    """One row per observed feature: observed values (dots and line), the model's
    reconstruction (dashed), the event shaded and the time of the largest deviation marked."""
    shown = [f for f in features if series[f].notna().any()]
    fig = new_figure(10, 0.7 + 1.25 * max(1, len(shown)))
    axes = fig.subplots(max(1, len(shown)), 1, sharex=True, squeeze=False)[:, 0]
    t = pd.to_datetime(series["time"])
    for ax, name in zip(axes, shown, strict=False):
        ax.axvspan(start, end, color=EVENT_COLOR, alpha=0.1, lw=0)
        seen = series[name].notna().to_numpy()  # join reports across empty steps
        ax.plot(
            *_break_gaps(t[seen], series[name][seen]),
            "o-",
            ms=2.5,
            lw=0.8,
            color="#204a87",
            label="observed",
        )
        ax.plot(
            *_break_gaps(t, series[f"recon_{name}"]),
            "--",
            lw=1.1,
            color="#f57900",
            label="reconstruction",
        )
        info = (deviations or {}).get(name)
        if info and info.get("time"):
            ax.axvline(pd.Timestamp(info["time"]), color=EVENT_COLOR, lw=0.7, ls=":")
        unit = units.get(name, "")
        ax.set_ylabel(f"{name}\n({unit})" if unit and unit != "1" else name, fontsize=7)
        ax.tick_params(labelsize=7)
    if not shown:
        axes[0].text(
            0.5, 0.5, "no observed values", ha="center", va="center", transform=axes[0].transAxes
        )
    axes[0].legend(loc="upper left", fontsize=7, ncol=2)
    axes[-1].set_xlabel("time (UTC); shaded: the event; dotted: largest deviation", fontsize=8)
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def map_figure(table: pd.DataFrame, events: pd.DataFrame, ids: np.ndarray):
    """Where the events happened, on a plain frame with no coastline: the positions of every
    scored window in grey; per event (``ids``: its event id per window, -1 for none) the path of
    its windows in red, a dot at the peak window and the event's number."""
    fig = new_figure(7, 5.5)
    ax = fig.add_subplot()
    lat = (table["lat_min"] + table["lat_max"]).to_numpy(float) / 2
    lon = (table["lon_min"] + table["lon_max"]).to_numpy(float) / 2
    ax.scatter(lon, lat, s=3, color="0.75", label="scored windows", zorder=1)
    names: dict[tuple[float, float], list[str]] = {}
    for _, ev in events.iterrows():
        e, peak = int(ev["event"]), int(ev["peak_window"])
        mine = np.flatnonzero(ids == e)
        ax.plot(lon[mine], lat[mine], lw=1.6, color=EVENT_COLOR, alpha=0.6, zorder=2)
        if np.isfinite(lon[peak]) and np.isfinite(lat[peak]):
            names.setdefault((round(lon[peak], 1), round(lat[peak], 1)), []).append(f"#{e}")
    xy = np.array(list(names), dtype=float).reshape(-1, 2)
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=36,
        color=EVENT_COLOR,
        zorder=3,
        label="events (at the peak window)" if len(xy) else None,
    )
    for (x, y), labels in names.items():
        ax.annotate(
            ", ".join(labels),
            (x, y),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=8,
            color=EVENT_COLOR,
        )
    finite = np.isfinite(lat)
    if finite.any():  # degrees of longitude shrink with cos(latitude)
        ax.set_aspect(1 / max(np.cos(np.radians(np.nanmean(lat[finite]))), 0.1))
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.grid(color="0.9", lw=0.5)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Where the events happened", fontsize=10)
    fig.tight_layout()
    return fig


def _break_gaps(times: pd.Series, *columns: np.ndarray) -> tuple:
    """Insert a NaN row where consecutive times are more than 3 typical steps apart, so lines
    are not drawn across gaps in the data."""
    t = pd.to_datetime(pd.Series(times)).to_numpy()
    if len(t) < 3:
        return (t, *columns)
    dt = np.diff(t).astype("timedelta64[s]").astype(float)
    gaps = np.flatnonzero(dt > 3 * np.median(dt[dt > 0]) if (dt > 0).any() else dt < 0) + 1
    t = np.insert(t, gaps, t[gaps - 1] + (t[gaps] - t[gaps - 1]) / 2)
    return (t, *(np.insert(np.asarray(c, dtype=float), gaps, np.nan) for c in columns))
