"""Names a newcomer sees must match: event numbers (the ``event`` column of events.csv) in the
report's page, figures and messages; track names on the score plot; and a command-line flag in
a library message shown as the flag on the command line but as the parameter in Python."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main
from squall.errors import ParameterError
from squall.report import figures

# --------------------------------------------------------------------------- event numbers


def _events(ids: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A scores table of two tracks and events ``ids`` on them (one per track)."""
    n = 20
    table = pd.DataFrame(
        {
            "window": np.arange(2 * n),
            "track": ["SHIP1"] * n + ["BUOY2"] * n,
            "start": list(pd.date_range("2025-01-01", periods=n, freq="h").astype(str)) * 2,
            "end": list(pd.date_range("2025-01-02", periods=n, freq="h").astype(str)) * 2,
            "score": np.linspace(0.1, 1, 2 * n),
            "flagged": [False] * 15 + [True] * 5 + [False] * 15 + [True] * 5,
            "lat_min": 10.0,
            "lat_max": 10.5,
            "lon_min": np.linspace(-30, -20, 2 * n),
            "lon_max": np.linspace(-30, -20, 2 * n) + 0.1,
        }
    )
    events = pd.DataFrame(
        {
            "event": ids,
            "track": ["SHIP1", "BUOY2"],
            "start": [table["start"][15], table["start"][35]],
            "end": [table["end"][19], table["end"][39]],
            "peak_window": [19, 39],
        }
    )
    return table, events


def test_figures_number_events_as_the_events_table():
    table, events = _events([0, 1])
    fig = figures.timeline_figure(table, events, ["SHIP1", "BUOY2"], 0.5)
    shown = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert shown == ["#0", "#1"]
    ids = np.full(len(table), -1)
    ids[15:20], ids[35:40] = 0, 1
    fig = figures.map_figure(table, events, ids)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["#0", "#1"]


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    """A tiny bundle and a detect run with events (a low quantile threshold)."""
    pytest.importorskip("torch")
    from squall import pipeline
    from squall.data.synthetic import generate_demo_data

    root = tmp_path_factory.mktemp("names")
    paths = generate_demo_data(root / "data", seed=0)
    bundle = pipeline.train(
        paths["train"], root / "bundle", epochs=2, sizes=(8, 4), progress=False, log=lambda m: 0
    )
    pipeline.detect(bundle, paths["test"], root / "found", plot=False, threshold_quantile=0.9)
    return root


def test_the_report_page_and_messages_use_the_event_column(detected, tmp_path, capsys):
    found = pd.read_csv(detected / "found" / "events.csv")
    assert found["event"].tolist() == list(range(len(found)))
    events = found[found["kind"] == "model"]  # stuck-sensor runs come after, without panels
    assert len(events) > 3
    out = tmp_path / "r.html"
    argv = ["report", str(detected / "bundle"), "--from", str(detected / "found")]
    assert main([*argv, "--out", str(out), "--max-events", "3", "--no-figures"]) == 0
    page = out.read_text()
    messages = capsys.readouterr().err
    drawn = events.nlargest(3, "score")["event"].tolist()
    panels = [int(e) for e in re.findall(r'<section class="event" id="event-(\d+)">', page)]
    assert sorted(panels) == sorted(drawn)
    for e in drawn:
        assert f"<h3>Event #{e}: " in page and f'<a href="#event-{e}">#{e}</a>' in page
        assert f"event #{e}" in messages  # the progress message names the same number
    said = [int(n) for n in re.findall(r"event panel \d+ of 3: event #(\d+)", messages)]
    assert sorted(said) == sorted(drawn)
    for e in set(events["event"]) - set(drawn):  # in the table, without a link
        assert f"<td>#{e}</td>" in page


# --------------------------------------------------------------------------- score plot


def test_squall_plot_names_the_tracks_on_its_axis(tmp_path, monkeypatch):
    from squall.report import plots

    saved = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.setdefault("fig", fig))
    table, _ = _events([0, 1])
    table = table.assign(threshold=0.5, step_score=table["score"])
    table.to_csv(tmp_path / "scores.csv", index=False)
    assert main(["plot", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "s.png")]) == 0
    ax = saved["fig"].axes[0]
    names = [t.get_text() for t in ax.child_axes[0].get_xticklabels()]
    assert names == ["SHIP1", "BUOY2"]
    assert "track" in ax.get_xlabel()


def test_the_report_timeline_names_each_track():
    table, events = _events([0, 1])
    fig = figures.timeline_figure(table, events, ["BUOY2", "SHIP1"], 0.5)
    assert [ax.get_ylabel() for ax in fig.axes] == ["BUOY2", "SHIP1"]
    assert "time" in fig.axes[-1].get_xlabel()


# --------------------------------------------------------------------------- flags in messages


def test_ranges_bits_names_the_parameter(capsys):
    from squall.bundle import random_bundle, seed_layers
    from squall.hw.ranges import measure

    b = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8)
    with pytest.raises(ParameterError) as info:
        measure(b, np.zeros((1, 8, 3), np.float32), bits=3)
    assert str(info.value) == "bits must be between 4 and 32, got 3"
    assert info.value.for_option("--bits") == "--bits must be between 4 and 32, got 3"


def test_resample_that_cannot_be_chosen_names_the_parameter():
    from squall.data.observations import Observations
    from squall.data.windows import typical_interval

    frame = pd.DataFrame(
        {
            "source": 0,
            "row": [0, 1],
            "track": ["A", "B"],
            "time": pd.to_datetime(["2025-01-01", "2025-01-02"]),
            "lat": np.nan,
            "lon": np.nan,
            "x": [1.0, 2.0],
        }
    )
    obs = Observations(frame, ["x"], {"x": ""}, ["hand-made"])
    with pytest.raises(ParameterError) as info:
        typical_interval(obs, 24)
    assert str(info.value).endswith("give resample explicitly") and "--" not in str(info.value)
    assert info.value.option() == "--resample"


@pytest.fixture
def clocks(tmp_path):
    """A saved bundle and a clocks file of it, measured (as written) with 5 lanes."""
    from squall.bundle import random_bundle, seed_layers
    from squall.hw.clocks import cycles_summary, write_clocks
    from squall.hw.design import RtlDesign

    b = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8)
    b.save(tmp_path / "b")
    d = RtlDesign(b, lanes=5)
    matvec = {str(r.index): [d.predicted_cycles(r.index)["matvec"]] for r in d.layers}
    step = {
        str(r.index): [d.predicted_cycles(r.index)["step"]] for r in d.layers if r.kind == "lstm"
    }
    write_clocks(tmp_path / "clocks.json", cycles_summary(d, matvec, step))
    return tmp_path


def test_measured_clocks_name_the_parameter_and_the_cli_its_flag(clocks, capsys):
    from squall import load_bundle
    from squall.hw.clocks import measured_cycles
    from squall.hw.costmodel import bundle_cost, check_measured

    b, m = load_bundle(clocks / "b"), measured_cycles(clocks / "clocks.json")
    with pytest.raises(ParameterError) as info:
        bundle_cost(b, windows=1, boundary="window", measured=m).table()
    assert str(info.value).startswith("measured (clocks measured in simulation) gives clocks")
    with pytest.raises(ParameterError) as info:
        check_measured(m, b, 16)
    assert "but macs is 16; leave macs out or give 5" in str(info.value)
    cost = ["hw", "cost", str(clocks / "b"), "--windows", "1"]
    cost += ["--cycles-from-sim", str(clocks / "clocks.json")]
    assert main([*cost, "--boundary", "window"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error: --cycles-from-sim (clocks measured in simulation)")
    assert main([*cost, "--macs", "16"]) == 2
    assert "but --macs is 16; leave --macs out or give 5" in capsys.readouterr().err


def test_report_options_name_their_parameter(tmp_path, capsys):
    from squall.report.html import build_report, check_targets

    with pytest.raises(ParameterError) as info:
        build_report(tmp_path, max_events=0)
    assert str(info.value) == "max_events must be at least 1, got 0"
    (tmp_path / "figs").write_text("a file")
    with pytest.raises(ParameterError) as info:
        check_targets(tmp_path / "r.html", tmp_path / "figs")
    assert str(info.value).startswith(f"figures_dir {tmp_path / 'figs'} exists and is not")
    (tmp_path / "{odd}").write_text("a file")  # braces in a path are kept as they are
    with pytest.raises(ParameterError) as info:
        check_targets(tmp_path / "r.html", tmp_path / "{odd}")
    assert str(info.value).startswith(f"figures_dir {tmp_path / '{odd}'} exists and is not")
    argv = ["report", str(tmp_path / "b"), "--from", str(tmp_path / "run")]
    argv += ["--out", str(tmp_path / "r.html"), "--figures", str(tmp_path / "figs")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"squall: error: --figures {tmp_path / 'figs'} exists and is not a directory" in err


def test_the_command_line_translates_every_parameter_it_maps(monkeypatch, capsys):
    """A ParameterError raised inside a command is shown with that command's flag: the mapped
    names (_FLAGS) and the dashed ones alike; a parameter the command has no flag for is shown
    by its name (the command would refuse the flag)."""
    import argparse

    from squall.cli import main as cli_main
    from squall.cli import model
    from squall.errors import NAME

    for param, flag in [*cli_main._FLAGS.items(), ("val_fraction", "--val-fraction")]:
        exc = ParameterError(param, f"{NAME} is wrong, says {NAME}")
        has = argparse.Namespace(**{flag.lstrip("-").replace("-", "_"): None})
        assert cli_main._shown(exc, has) == f"{flag} is wrong, says {flag}"
        assert cli_main._shown(exc, argparse.Namespace()) == f"{param} is wrong, says {param}"

    def boom(a):
        raise ParameterError("json", f"{NAME} is wrong")

    monkeypatch.setattr(model, "cmd_info", boom)
    assert main(["info", "anything"]) == 2
    assert capsys.readouterr().err == "squall: error: --json is wrong\n"


def test_deprecated_spelling_warns_once_in_one_line(tmp_path, capsys):
    labels = tmp_path / "l.json"
    labels.write_text(json.dumps({"s.csv": []}))
    (tmp_path / "s.csv").write_text("timestamp,value\n2025-01-01,1\n")
    argv = ["evaluate", "s.csv", "--labels", str(labels), "--root", str(tmp_path)]
    argv += ["--out", str(tmp_path / "o"), "--detector", "robust-z", "--quiet"]
    assert main([*argv, "--threshold", "pot"]) == 0
    err = capsys.readouterr().err
    assert err == (
        "squall: warning: squall evaluate --threshold is now --threshold-rule; the old name "
        "will be removed in the next release\n"
    )
