"""The HTML report: self-contained, complete, the same from data or from a detect run, figures as
PNG files too, and bad input as one line with nothing written."""

import base64
import io
import re
import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main
from squall.report.html import build_report


@pytest.fixture(scope="module")
def report(scored):
    """The report of the test data, from the bundle and the data files, with labels."""
    return build_report(
        scored / "bundle",
        [scored / "data" / "test.csv"],
        labels=scored / "data" / "labels.csv",
        max_events=4,
    )


def test_the_page_needs_nothing_but_itself(report):
    text = report.html
    assert text.startswith("<!DOCTYPE html>")
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert re.findall(r"<script[^>]*>", text) == ["<script>"]  # one, inline
    assert "@media print" in text and 'name="viewport"' in text
    # every embedded image is a real PNG and is also a figure file
    embedded = [base64.b64decode(s.split(",", 1)[1]) for s in sources if s.startswith("data:")]
    assert len(embedded) == len(report.figures)
    assert [png for _, png in report.figures.values()] == embedded
    for png in embedded:
        assert matplotlib.image.imread(io.BytesIO(png), format="png").std() > 0.01


def test_the_page_shows_run_events_map_metrics_training_and_data(report, scored):
    text = report.html
    for anchor in ("run", "timeline", "events", "map", "evaluation", "training", "data"):
        assert f'id="{anchor}"' in text
    found = pd.read_csv(scored / "found" / "events.csv")
    events = found[found["kind"] == "model"]  # stuck sensor runs have a table, no panel
    stuck = found[found["kind"] == "stuck"]
    assert len(events) > 4
    if len(stuck):
        assert "<h3>Stuck sensors</h3>" in text
        assert all(w.split(";")[0] in text for w in stuck["why"].head(3))
    panels = re.findall(r'<section class="event" id="event-(\d+)">', text)
    assert len(panels) == 4  # --max-events
    top = events.nlargest(4, "score")["event"].sort_values()
    assert [int(p) for p in panels] == list(top)
    assert f"all {len(events)} are in the table" in text
    for e in panels:  # each panel: linked from the table, explanation,
        assert f'<a href="#event-{e}">#{e}</a>' in text  # plot, original reports
        panel = text.split(f'id="event-{e}">')[1].split("</section>")[0]
        assert "<b>Why:</b>" in panel and 'class="event-plot"' in panel
        assert "original reports in the flagged windows" in panel and "DATE" in panel
    assert "mean + 4 standard deviations of the" in text
    assert "validation smoothed step scores" in text
    assert "test.csv" in text and "Precision / recall / F1" in text
    assert list(report.figures)[:2] == ["timeline.png", "event-" + panels[0].zfill(3) + ".png"]
    assert {"map.png", "training.png", "histograms.png", "correlation.png"} <= set(report.figures)


def test_metrics_count_every_label_in_the_data(report, scored):
    labels = pd.read_csv(scored / "data" / "labels.csv")
    found = re.search(r"Found \(tp\)</th><td>(\d+)</td>", report.html)
    missed = re.search(r"Missed \(fn\)</th><td>(\d+)</td>", report.html)
    assert found and missed
    assert int(found.group(1)) + int(missed.group(1)) == len(labels)
    assert int(found.group(1)) >= len(labels) // 2


def test_event_panel_values_are_physical_and_reconstruction_is_the_median(scored):
    from squall import load_bundle, pipeline
    from squall.report.figures import step_series

    bundle = load_bundle(scored / "bundle")
    ws = pipeline.make_windowset(bundle, scored / "data" / "test.csv")
    recon = bundle.scaler.inverse_transform(pipeline.reconstruct_windows(bundle, ws))
    windows = np.arange(10, 14)  # consecutive windows of one track
    assert len(set(ws.track[windows])) == 1
    series = step_series(ws, recon, windows)
    assert series["time"].is_monotonic_increasing and series["step"].is_unique
    step = ws.steps[13, 0]  # in all four windows: t = 3, 2, 1, 0
    row = series.set_index("step").loc[step]
    k = ws.features.index("SEA_LVL_PRES")
    expected = np.median([recon[w, t, k] for w, t in ((10, 3), (11, 2), (12, 1), (13, 0))])
    assert row["recon_SEA_LVL_PRES"] == pytest.approx(expected)
    observed = series["SEA_LVL_PRES"].dropna()
    assert len(observed) and observed.between(950, 1050).all()  # hPa, not scaled


def test_report_from_a_detect_run_agrees_with_the_data(scored, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                "--from",
                str(scored / "found"),
                "--out",
                str(out),
                "--max-events",
                "1",
                "--no-figures",
                "--quiet",
            ]
        )
        == 0
    )
    assert not (tmp_path / "r-figures").exists()
    text = out.read_text()
    events = pd.read_csv(scored / "found" / "events.csv")
    events = events[events["kind"] == "model"]
    assert f"&rarr; <b>{len(events)} events</b>" in text
    assert "Detect run" in text and "validation smoothed step scores" in text
    assert "No labels given" in text
    # a detect run with its own threshold: the report says so
    det = tmp_path / "det"
    assert (
        main(
            [
                "detect",
                str(scored / "bundle"),
                str(scored / "data" / "test.csv"),
                "--out",
                str(det),
                "--threshold",
                "0.5",
                "--no-plot",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                "--from",
                str(det),
                "--out",
                str(out),
                "--max-events",
                "1",
                "--no-figures",
                "--quiet",
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "<b>0.5</b>: as recorded in the detect run" in text
    flagged = int(pd.read_csv(det / "scores.csv")["flagged"].sum())
    assert f"{flagged:,} above the threshold 0.5 " in text


def test_figures_are_written_as_png_files(scored, tmp_path):
    out = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                str(scored / "data" / "test.csv"),
                "--out",
                str(out),
                "--max-events",
                "2",
                "--max-tracks",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    figures = tmp_path / "report-figures"
    index = (figures / "index.txt").read_text().splitlines()
    assert index[0].startswith("squall report figures")
    names = [line.split(":")[0] for line in index[1:]]
    assert names[0] == "timeline.png" and len(names) == 2 + 5
    for name in names:
        assert matplotlib.image.imread(figures / name).shape[1] > 300
    assert "more tracks without events are not drawn" in out.read_text()
    # a second run replaces its own figures directory, never someone else's
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                str(scored / "data" / "test.csv"),
                "--out",
                str(out),
                "--max-events",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    assert len(list(figures.glob("event-*.png"))) == 1
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                str(scored / "data" / "test.csv"),
                "--out",
                str(tmp_path / "other.html"),
                "--figures",
                str(mine),
                "--quiet",
            ]
        )
        == 2
    )
    assert (mine / "notes.txt").read_text() == "keep" and not (tmp_path / "other.html").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["DATA", "--from", "FOUND"], "give either data files or --from"),
        ([], "no data: give data files"),
        (["--from", "NOWHERE"], "no such directory"),
        (["--from", "FOUND", "--threshold", "1"], "--from uses the detect run's threshold"),
        (["DATA", "--labels", "NOWHERE"], "no such labels file"),
        (["DATA", "--max-events", "0"], "--max-events must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(scored, tmp_path, capsys, args, message):
    names = {
        "DATA": str(scored / "data" / "test.csv"),
        "FOUND": str(scored / "found"),
        "NOWHERE": str(tmp_path / "nowhere"),
    }
    out = tmp_path / "r.html"
    argv = [
        "report",
        str(scored / "bundle"),
        *[names.get(a, a) for a in args],
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error: ") and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_report_works_without_torch(scored, tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from squall.cli.main import main\n"
        f"rc = main(['report', {str(scored / 'bundle')!r}, "
        f"{str(scored / 'data' / 'test.csv')!r}, '--out', {str(tmp_path / 'r.html')!r}, "
        "'--max-events', '1', '--no-figures', '--quiet'])\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "sys.exit(rc)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_out_must_be_an_html_file(scored, tmp_path, capsys):
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                "--from",
                str(scored / "found"),
                "--out",
                str(tmp_path / "r.txt"),
            ]
        )
        == 2
    )
    assert "--out must be an .html file name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_page_that_cannot_be_written_leaves_no_figures(scored, tmp_path, capsys):
    figures = tmp_path / "figs"
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                str(scored / "data" / "test.csv"),
                "--out",
                "/proc/squall-report.html",
                "--figures",
                str(figures),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot write /proc/squall-report.html" in err and ".part" not in err
    assert not figures.exists()


def test_from_a_run_whose_data_is_gone_says_why(scored, tmp_path, capsys):
    import shutil

    from squall import load_bundle, pipeline

    data = tmp_path / "moved.csv"
    shutil.copy(scored / "data" / "test.csv", data)
    pipeline.detect(load_bundle(scored / "bundle"), data, tmp_path / "run", plot=False)
    data.unlink()
    assert (
        main(
            [
                "report",
                str(scored / "bundle"),
                "--from",
                str(tmp_path / "run"),
                "--out",
                str(tmp_path / "r.html"),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "needs the run's data files" in err and "moved.csv" in err
    assert not (tmp_path / "r.html").exists()
