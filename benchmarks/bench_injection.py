"""Storms and sensor faults injected into the last week of a real NOAA box: recall and false events.

    python benchmarks/bench_injection.py [--data FILE] [--until 2025-03-25] [--seeds 0,1,2]
        [--storms 10] [--faults 12] [--epochs 40] [--work DIR] [--json OUT] [--check]
        [--stuck-only]

1. Train on the reports before ``--until`` (the first weeks of the month): the per-track masked
   pipeline with the project defaults (``squall.pipeline.train``), and the pooled original
   pipeline (reports with all six features only, in time order as one sequence, special codes
   kept as values: ``WindowSettings(mode="pooled")``, ``keep_codes=True``).
2. For each seed, two test files of the last week (``--until`` to the end of the file), written
   by :func:`squall.data.inject.inject_file` as NOAA CSVs and read back by the normal reader: one
   with ``--storms`` storms, one with ``--faults`` faults (spike, stuck, drift, offset in turn);
   one track of a ~4-day ship record cannot take a 24-72 h storm and a fault at once. A clean
   copy of the week (nothing injected) is scored too, for the false events of the real data.
3. Detect and match events to labels (``squall.detect.evaluate.match_events``: same track,
   overlapping intervals, ends inclusive).

Per-track pipeline: ``squall.pipeline.detect`` as it is (threshold stored in the bundle), events
= overlapping flagged windows of one track merged. Pooled pipeline: the scaler refitted on the
scored (complete) reports, the threshold the 95th percentile of the scored windows' scores, as
the original did. Its windows mix stations, so each flagged window is attributed to every station
with a report in it (the span of that station's reports in the window); a label is found when a
flagged window holds a report of its track inside its interval, and events are the attributed
windows merged per station, as for the per-track pipeline.

False events per track-day: detected events overlapping no label, divided by the track-days
scored, the sum over tracks of the time from the first to the last report in a scored window.
Target (issue 4): at least 90 % of the storms found with at most one false event per 10
track-days by the per-track pipeline.

Stuck-sensor detector (issue 15, :class:`squall.detect.stuck.StuckDetector`, no model): fitted
on the same training reports, run on every test file. Its table gives the stuck labels whose
track and feature it flags in an overlapping run, the other fault labels it overlaps, and its
false runs (overlapping no label) per 10 track-days, track-days here being the sum over the
file's tracks of first to last report. The stuck labels found by the per-track pipeline or the
stuck detector together are shown too. ``--stuck-only`` runs just this part (no training: seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "noaa" / "10_100_00_110.csv"
TYPES = ("storm", "spike", "stuck", "drift", "offset")

if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))

from squall import pipeline  # noqa: E402
from squall.data import windowset  # noqa: E402
from squall.data.inject import inject_file  # noqa: E402
from squall.data.noaa import read_noaa  # noqa: E402
from squall.data.scaling import Scaler  # noqa: E402
from squall.data.windows import WindowSettings, make_windows  # noqa: E402
from squall.detect.evaluate import match_events  # noqa: E402
from squall.detect.events import merge_events  # noqa: E402
from squall.detect.stuck import StuckDetector  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr)


def track_days(frame: pd.DataFrame) -> float:
    """Sum over tracks of (last end - first start) of the scored windows, in days."""
    if frame.empty:
        return 0.0
    f = frame.assign(start=pd.to_datetime(frame["start"]), end=pd.to_datetime(frame["end"]))
    span = f.groupby("track")["end"].max() - f.groupby("track")["start"].min()
    return float(span.dt.total_seconds().sum() / 86400)


def detect_track(bundle, path: Path, out: Path, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-track pipeline: events and the scores table of ``squall.pipeline.detect``."""
    pipeline.detect(bundle, path, out, plot=False, **options)
    return pd.read_csv(out / "events.csv"), pd.read_csv(out / "scores.csv")


def detect_pooled(bundle, path: Path, q: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The original pipeline: pooled windows, scaler refitted on the scored data, threshold the
    ``q`` quantile of the scored windows. Windows are attributed to each station in them."""
    reader = dict(bundle.provenance["reader"])
    obs = pipeline.read_data(path, reader)
    windows = make_windows(obs, WindowSettings(**bundle.windows))
    values = obs.values()
    complete = ~np.isnan(values).any(axis=1)
    scaler = Scaler(bundle.scaler.kind, list(obs.features)).fit(values[complete])
    ws = windowset.build(windows, obs, scaler)
    score = pipeline.score_windows(bundle, ws).window
    flagged = score > np.quantile(score, q)
    track = obs.frame["track"].astype(str).to_numpy()
    times = obs.frame["time"].to_numpy("datetime64[ns]")
    rows = []
    for i in range(len(ws)):
        reports = windows.rows(i)
        part = pd.DataFrame({"track": track[reports], "time": times[reports]})
        for name, g in part.groupby("track"):
            rows.append((name, g["time"].min(), g["time"].max(), bool(flagged[i]), score[i]))
    att = pd.DataFrame(rows, columns=["track", "start", "end", "flagged", "score"])
    event = merge_events(
        att["track"].to_numpy(),
        att["start"].to_numpy(),
        att["end"].to_numpy(),
        att["flagged"].to_numpy(),
    )
    att["event"] = event
    events = (
        att[event >= 0]
        .groupby("event")
        .agg(
            track=("track", "first"),
            start=("start", "min"),
            end=("end", "max"),
            score=("score", "max"),
        )
        .reset_index()
    )
    return events, att


def covered(spans: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    """Per label: does any row of ``spans`` (track, start, end) overlap it (ends inclusive)?"""
    out = np.zeros(len(labels), dtype=bool)
    if spans.empty:
        return out
    track = spans["track"].astype(str).to_numpy()
    start, end = pd.to_datetime(spans["start"]), pd.to_datetime(spans["end"])
    for j, lb in enumerate(labels.itertuples(index=False)):
        out[j] = bool(
            (
                (track == str(lb.track))
                & (start <= pd.Timestamp(lb.end))
                & (end >= pd.Timestamp(lb.start))
            ).any()
        )
    return out


def evaluate(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    scored: pd.DataFrame,
    clean_events: pd.DataFrame | None,
) -> dict:
    """Event matching plus, per type, the labels the pipeline scored at all (``reachable``: a
    scored window of the track overlaps the label) and those already inside an event of the
    clean week (``preflagged``: a real anomaly of the track there, so finding them proves
    nothing about the injection)."""
    m = match_events(events, labels)
    m["track_days"] = track_days(scored)
    if len(labels):
        found = covered(events, labels)
        reach = covered(scored, labels)
        pre = (
            covered(clean_events, labels)
            if clean_events is not None
            else np.zeros(len(labels), dtype=bool)
        )
        types = labels["type"].astype(str).to_numpy()
        for t, v in m["per_type"].items():
            sel = types == t
            v["reachable"] = int(reach[sel].sum())
            v["preflagged"] = int(pre[sel].sum())
            v["found_not_preflagged"] = int((found & ~pre)[sel].sum())
    return m


def pool(results: list[dict]) -> dict:
    """Sum the counts of several runs."""
    keys = ("labels", "found", "reachable", "preflagged", "found_not_preflagged")
    per_type: dict[str, dict[str, int]] = {}
    for r in results:
        for t, v in r["per_type"].items():
            acc = per_type.setdefault(t, dict.fromkeys(keys, 0))
            for k in keys:
                acc[k] += v.get(k, 0)
    false = sum(r["false_events"] for r in results)
    days = sum(r["track_days"] for r in results)
    total = {k: sum(v[k] for v in per_type.values()) for k in keys}
    return {
        "per_type": per_type,
        **total,
        "recall": total["found"] / total["labels"] if total["labels"] else float("nan"),
        "events": sum(r["events"] for r in results),
        "false_events": false,
        "track_days": days,
        "false_per_10_track_days": 10 * false / days if days else None,
    }


def _pct(found: int, total: int) -> str:
    return f"{found}/{total} ({100 * found / total:.0f} %)" if total else "-"


def fmt_table(summary: dict) -> str:
    """The results table (Markdown) and, per pipeline and type, what was within reach."""
    head = (
        "| pipeline | " + " | ".join(TYPES) + " | all | false events / track-days "
        "| false per 10 track-days | clean week: false per 10 track-days |"
    )
    lines = [head, "|" + "---|" * (len(TYPES) + 5)]
    for name, s in summary["pipelines"].items():
        inj, clean = s["injected"], s["clean"]
        cells = [
            _pct(
                inj["per_type"].get(t, {}).get("found", 0),
                inj["per_type"].get(t, {}).get("labels", 0),
            )
            for t in TYPES
        ]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {_pct(inj['found'], inj['labels'])}"
            + f" | {inj['false_events']} / {inj['track_days']:.1f}"
            + f" | {inj['false_per_10_track_days']:.2f}"
            + f" | {clean['false_per_10_track_days']:.2f} ({clean['false_events']} / "
            f"{clean['track_days']:.1f}) |"
        )
    lines += [
        "",
        "| pipeline | type | labels | scored at all | inside a clean-week event "
        "| found among the others |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary["pipelines"].items():
        for t in TYPES:
            v = s["injected"]["per_type"].get(t)
            if v:
                lines.append(
                    f"| {name} | {t} | {v['labels']} | {v['reachable']} | "
                    f"{v['preflagged']} | "
                    f"{_pct(v['found_not_preflagged'], v['labels'] - v['preflagged'])} |"
                )
    return "\n".join(lines)


def data_track_days(frame: pd.DataFrame) -> float:
    """Sum over the tracks of a file of (last report - first report), in days."""
    span = frame.groupby("track")["time"].agg(["min", "max"])
    return float((span["max"] - span["min"]).dt.total_seconds().sum() / 86400)


def evaluate_stuck(runs: pd.DataFrame, labels: pd.DataFrame, days: float) -> dict:
    """The stuck detector on one file: stuck labels found (a flagged run of the label's track
    and feature overlapping it), other labels overlapped, false runs (overlapping no label)."""
    types = labels["type"].astype(str).to_numpy() if len(labels) else np.array([], dtype=str)
    found = np.zeros(len(labels), dtype=bool)
    used = np.zeros(len(runs), dtype=bool)
    track = runs["track"].astype(str).to_numpy()
    feature = runs["feature"].astype(str).to_numpy()
    for j, lb in enumerate(labels.itertuples(index=False)):
        over = (
            (track == str(lb.track))
            & (runs["start"] <= pd.Timestamp(lb.end)).to_numpy()
            & (runs["end"] >= pd.Timestamp(lb.start)).to_numpy()
        )
        used |= over
        same = over & np.isin(feature, str(lb.features).split(","))
        found[j] = bool(same.any()) if lb.type == "stuck" else bool(over.any())
    stuck = types == "stuck"
    return {
        "stuck_labels": int(stuck.sum()),
        "stuck_found": int(found[stuck].sum()),
        "stuck_found_labels": np.flatnonzero(found & stuck).tolist(),  # label positions
        "other_labels": int((~stuck).sum()),
        "other_overlapped": int(found[~stuck].sum()),
        "runs": int(len(runs)),
        "false_runs": int((~used).sum()),
        "track_days": days,
        "false_runs_list": runs.loc[~used, ["track", "feature", "start", "end", "reports"]]
        .astype(str)
        .to_dict("records"),
    }


def run_stuck(data: Path, until: str, files: list, work: Path) -> dict:
    """Fit the stuck detector on the reports before ``until``; run it on every test file."""
    det = StuckDetector().fit(read_noaa(data).until(until))
    out: dict = {
        "runs": {},
        "parameters": {k: v for k, v in det.to_dict().items() if k not in ("counts", "units")},
    }
    for tag, _seed, labels in files:
        obs = read_noaa(work / f"{tag}.csv")
        result = evaluate_stuck(det.detect(obs), labels, data_track_days(obs.frame))
        out["runs"][tag] = result
        log(
            f"{'stuck detector':22s} {tag:9s} found {result['stuck_found']}/"
            f"{result['stuck_labels']} stuck, {result['false_runs']} false runs over "
            f"{result['track_days']:.1f} track-days"
        )
    injected = [r for t, r in out["runs"].items() if t != "clean"]
    keys = ("stuck_labels", "stuck_found", "other_labels", "other_overlapped", "runs", "false_runs")
    out["injected"] = {k: sum(r[k] for r in injected) for k in keys}
    out["injected"]["track_days"] = sum(r["track_days"] for r in injected)
    out["clean"] = {k: out["runs"]["clean"][k] for k in ("runs", "false_runs", "track_days")}
    return out


def _per10(false: int, days: float) -> str:
    return f"{10 * false / days:.2f} ({false} / {days:.1f})" if days else "-"


def fmt_stuck(stuck: dict, union: tuple[int, int] | None) -> str:
    """The stuck detector's table (Markdown)."""
    inj, clean = stuck["injected"], stuck["clean"]
    lines = [
        "| stuck detector (issue 15) | stuck found | other faults overlapped "
        "| false runs per 10 track-days (injected files) | clean week: false runs per 10 "
        "track-days |",
        "|---|---|---|---|---|",
        f"| StuckDetector() | {_pct(inj['stuck_found'], inj['stuck_labels'])} "
        f"| {inj['other_overlapped']}/{inj['other_labels']} "
        f"| {_per10(inj['false_runs'], inj['track_days'])} "
        f"| {_per10(clean['false_runs'], clean['track_days'])} |",
    ]
    if union is not None:
        lines.append(
            f"\nstuck labels found by the per-track pipeline or the stuck detector: {_pct(*union)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--until", default="2025-03-25", help="start of the test week")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--storms", type=int, default=10, help="storms per seed")
    ap.add_argument("--faults", type=int, default=12, help="faults per seed")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--train-seed", type=int, default=0, help="seed of the model training")
    ap.add_argument("--work", type=Path, default=None, help="keep the files here")
    ap.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    ap.add_argument(
        "--stuck-only",
        action="store_true",
        help="quick: only the stuck-sensor detector (no model training)",
    )
    args = ap.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file {args.data}", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_injection.")
        work = Path(tmp.name)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    log(f"training on {args.data.name} before {args.until}")
    bundles = (
        {}
        if args.stuck_only
        else {
            "per-track (default)": pipeline.train(
                args.data,
                work / "model-track",
                until=args.until,
                epochs=args.epochs,
                seed=args.train_seed,
                progress=False,
                log=log,
            ),
            "pooled (original)": pipeline.train(
                args.data,
                work / "model-pooled",
                until=args.until,
                epochs=args.epochs,
                seed=args.train_seed,
                progress=False,
                log=log,
                reader={"keep_codes": True},
                settings=WindowSettings(mode="pooled"),
            ),
        }
    )
    files = [
        (
            "clean",
            None,
            inject_file(args.data, work / "clean.csv", start=args.until, period_only=True),
        )
    ]
    for seed in seeds:
        for kind, opts in (
            ("storms", {"n_storms": args.storms}),
            ("faults", {"n_faults": args.faults}),
        ):
            path = work / f"{kind}-{seed}.csv"
            labels = inject_file(
                args.data,
                path,
                work / f"{kind}-{seed}-labels.csv",
                start=args.until,
                period_only=True,
                seed=seed,
                **opts,
            )
            files.append((f"{kind}-{seed}", seed, labels))

    summary = {
        "data": str(args.data),
        "until": args.until,
        "seeds": seeds,
        "train_seed": args.train_seed,
        "storms_per_seed": args.storms,
        "faults_per_seed": args.faults,
        "windows": {k: b.windows for k, b in bundles.items()},
        "thresholds": {k: b.threshold for k, b in bundles.items()},
        "pipelines": {},
        "runs": {},
    }
    for name, bundle in bundles.items():
        runs, clean, clean_events = [], None, None
        for tag, _seed, labels in files:  # the clean week first
            path = work / f"{tag}.csv"
            if name.startswith("per-track"):
                events, scored = detect_track(bundle, path, work / f"detect-{tag}-{name[:5]}")
            else:
                events, scored = detect_pooled(bundle, path)
            result = evaluate(events, labels, scored, clean_events)
            summary["runs"][f"{name}: {tag}"] = result
            if tag == "clean":
                clean, clean_events = pool([result]), events
                result["clean_events"] = (
                    events.loc[:, ["track", "start", "end", "score"]].astype(str).to_dict("records")
                )
            else:
                runs.append(result)
            log(
                f"{name:22s} {tag:9s} found {sum(v['found'] for v in result['per_type'].values())}"
                f"/{result['labels']}, {result['false_events']} false events over "
                f"{result['track_days']:.1f} track-days"
            )
        summary["pipelines"][name] = {"injected": pool(runs), "clean": clean}
    stuck = run_stuck(args.data, args.until, files, work)
    summary["stuck_detector"] = stuck
    union = None
    if "per-track (default)" in summary["pipelines"]:
        # stuck labels found by the per-track pipeline's events or the stuck detector's runs
        found = total = 0
        for tag, _seed, labels in files[1:]:
            by_pipe = summary["runs"][f"per-track (default): {tag}"]["found_by"]
            by_stuck = set(stuck["runs"][tag]["stuck_found_labels"])
            for j in np.flatnonzero(labels["type"].astype(str).to_numpy() == "stuck"):
                total += 1
                found += bool(by_pipe[j]) or int(j) in by_stuck
        union = (found, total)
        stuck["union_found"], stuck["union_labels"] = found, total
    summary["seconds"] = round(time.perf_counter() - t_start, 1)
    if args.stuck_only:
        print(fmt_stuck(stuck, None))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1, default=str) + "\n")
        if tmp is not None:
            tmp.cleanup()
        return 0
    table = fmt_table(summary)
    print(table)
    print()
    print(fmt_stuck(stuck, union))
    ours = summary["pipelines"]["per-track (default)"]["injected"]
    storms = ours["per_type"].get("storm", {"found": 0, "labels": 0})
    met = (
        storms["labels"] > 0
        and storms["found"] >= 0.9 * storms["labels"]
        and ours["false_per_10_track_days"] <= 1.0
    )
    summary["target_met"] = bool(met)
    print(
        f"target (>= 90 % storms, <= 1 false event per 10 track-days, per-track): "
        f"{'met' if met else 'missed'}"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
