"""Issue 12, outputs: nothing lost (run manifests, inputs never overwritten, a recoverable
bundle swap), validation before work, Python argument types, a broken pipe, warnings as one
line and the new reader options. One test (or parametrized test) per point; each fails on the
code before the fix (checked against the parent commit of these changes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squall.bundle import load_bundle, random_bundle, seed_layers
from squall.cli.main import main
from squall.data.scaling import Scaler
from squall.errors import SquallError

DETECT_FILES = (
    "scores.csv",
    "anomalies.csv",
    "events.csv",
    "anomaly_windows.csv",
    "step_errors.csv",
    "windows.npz",
    "scores.png",
)


def small_bundle(hidden: int = 3):
    """A 1-feature bundle (``value``, generic CSV reader, pooled windows of 4) with a threshold:
    no training needed."""
    b = random_bundle(seed_layers(1, 4, (hidden,)), 1, 4, seed=hidden)
    b.features, b.units = ["value"], {"value": ""}
    b.scaler = Scaler.from_minmax(["value"], [0.0], [10.0])
    b.threshold = {"method": "value", "value": 0.01, "fitted_on": "user"}
    b.provenance = {
        "reader": {
            "kind": "csv",
            "features": ["value"],
            "time_column": "timestamp",
            "track_column": None,
        }
    }
    return b.validate()


def series_csv(path: Path, n: int = 40) -> Path:
    t = pd.date_range("2025-01-01", periods=n, freq="h")
    v = np.sin(np.arange(n)) * 3 + 5
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": v}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture
def root(tmp_path):
    """A bundle and a data file in ``tmp_path``."""
    small_bundle().save(tmp_path / "bundle")
    series_csv(tmp_path / "data.csv")
    return tmp_path


def one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err
    assert err.startswith("squall: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def detect(root: Path, out: Path) -> int:
    return main(["detect", str(root / "bundle"), str(root / "data.csv"), "--out", str(out)])


@pytest.fixture
def no_training(monkeypatch):
    """Training raises if it is reached: options must be refused before it."""
    pytest.importorskip("torch")

    def boom(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("squall.models.train.fit", boom)


# --------------------------------------------------------------------------- 1. data loss


def _user_dir(tmp_path: Path) -> Path:
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, text in (
        ("scores.csv", "my,table\n"),
        ("scores.png", "my picture"),
        ("summary.csv", "mine\n"),
        ("train.csv", "mine\n"),
        ("notes.txt", "keep me"),
    ):
        (mine / name).write_text(text)
    return mine


@pytest.mark.parametrize("command", ["detect", "eda", "evaluate", "synth", "demo"])
def test_a_directory_squall_did_not_write_is_refused(root, capsys, no_training, command):
    mine = _user_dir(root)
    before = snapshot(mine)
    labels = root / "labels.csv"
    labels.write_text("start,end\n2025-01-01 10:00:00,2025-01-01 12:00:00\n")
    args = {
        "detect": ["detect", str(root / "bundle"), str(root / "data.csv")],
        "eda": ["eda", str(root / "data.csv")],
        "evaluate": [
            "evaluate",
            str(root / "data.csv"),
            "--labels",
            str(labels),
            "--detector",
            "robust-z",
            "--quiet",
        ],
        "synth": ["synth"],
        "demo": ["demo", "--quiet", "--epochs", "1"],
    }[command]
    assert main([*args, "--out", str(mine)]) == 2
    one_line_error(capsys, "did not write")
    assert snapshot(mine) == before and sorted(p.name for p in mine.iterdir()) == sorted(before)


def test_a_run_directory_lists_its_files_and_keeps_the_users(root):
    out = root / "run"
    assert detect(root, out) == 0
    (out / "notes.txt").write_text("keep me")
    assert detect(root, out) == 0
    manifest = json.loads((out / "squall-run.json").read_text())
    assert manifest["format"] == "squall-run" and manifest["complete"] is True
    assert manifest["command"] == "detect" and len(manifest["run_id"]) == 32
    import hashlib

    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(DETECT_FILES)
    for name, entry in listed.items():
        data = (out / name).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*DETECT_FILES, "squall-run.json", "notes.txt"]
    )


def test_an_interrupted_run_is_refused_by_readers_and_a_rerun_cleans_up(root, capsys, monkeypatch):
    out = root / "run"
    assert detect(root, out) == 0
    small_bundle(hidden=5).save(root / "bundle")  # the rerun writes other numbers
    real, moved = os.replace, []

    def replace(src, dst):
        if Path(dst).parent == out and Path(dst).name in DETECT_FILES:
            if len(moved) == 2:
                raise KeyboardInterrupt
            moved.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert detect(root, out) == 130  # interrupted after two files moved
    monkeypatch.setattr(os, "replace", real)
    capsys.readouterr()
    assert (
        main(
            [
                "report",
                str(root / "bundle"),
                "--from",
                str(out),
                "--out",
                str(root / "r.html"),
                "--no-figures",
                "--quiet",
            ]
        )
        == 2
    )
    one_line_error(capsys, "interrupted")
    assert (
        main(
            [
                "extract",
                str(out / "windows.npz"),
                str(out / "anomalies.csv"),
                "--out",
                str(root / "rows.csv"),
            ]
        )
        == 2
    )
    one_line_error(capsys, "interrupted")
    assert not (root / "r.html").exists() and not (root / "rows.csv").exists()
    assert detect(root, out) == 0  # a rerun is accepted and cleans up
    assert json.loads((out / "squall-run.json").read_text())["complete"] is True
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert (
        main(
            [
                "extract",
                str(out / "windows.npz"),
                str(out / "anomalies.csv"),
                "--out",
                str(root / "rows.csv"),
            ]
        )
        == 0
    )


def test_a_single_file_never_replaces_a_file_of_a_run(root, capsys):
    out = root / "run"
    assert detect(root, out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert (
        main(
            [
                "windows",
                str(root / "bundle"),
                str(root / "data.csv"),
                "--out",
                str(out / "windows.npz"),
            ]
        )
        == 2
    )
    one_line_error(capsys, "elsewhere")
    assert snapshot(out) == before


def _windows(root: Path) -> Path:
    assert (
        main(
            ["windows", str(root / "bundle"), str(root / "data.csv"), "--out", str(root / "w.npz")]
        )
        == 0
    )
    assert (
        main(["score", str(root / "bundle"), str(root / "w.npz"), "--out", str(root / "s.csv")])
        == 0
    )
    return root / "w.npz"


@pytest.mark.parametrize(
    "case",
    [
        "score",
        "score-relative",
        "score-symlink",
        "plot",
        "profile",
        "trace",
        "extract",
        "detect-dir",
    ],
)
def test_an_output_that_is_an_input_is_refused(root, capsys, monkeypatch, case):
    _windows(root)
    (root / "link.csv").symlink_to(root / "data.csv")
    monkeypatch.chdir(root)
    b, d = str(root / "bundle"), str(root / "data.csv")
    args = {
        "score": ["score", b, d, "--out", d],
        "score-relative": ["score", b, d, "--out", "./data.csv"],
        "score-symlink": ["score", b, "link.csv", "--out", d],
        "plot": ["plot", "s.csv", "--out", "s.csv"],
        "profile": ["profile", b, d, "--out", d],
        "trace": ["trace", b, d, "--window", "0", "--out", d],
        "extract": ["extract", "w.npz", "s.csv", "--out", "s.csv"],
        "detect-dir": ["detect", b, d, "--out", str(root)],
    }[case]
    before = snapshot(root)
    capsys.readouterr()
    assert main(args) == 2
    one_line_error(capsys)
    assert snapshot(root) == before


@pytest.mark.parametrize(
    "args",
    [
        ["score", "B", "D", "--out", "x.png"],
        ["extract", "W", "S", "--out", "x.png"],
        ["plot", "S", "--out", "x.csv"],
        ["profile", "B", "D", "--out", "x.csv"],
        ["graph", "B", "--out", "x.png"],
    ],
)
def test_an_output_with_the_wrong_extension_is_refused(root, capsys, args):
    _windows(root)
    names = {"B": root / "bundle", "D": root / "data.csv", "W": root / "w.npz", "S": root / "s.csv"}
    args = [str(names.get(a, a)) for a in args]
    args[-1] = str(root / args[-1])
    capsys.readouterr()
    assert main(args) == 2
    one_line_error(capsys, "file name")
    assert not Path(args[-1]).exists()


def test_a_failed_bundle_swap_puts_the_old_bundle_back(root, monkeypatch):
    out = root / "bundle"
    before = load_bundle(out).weights
    real, calls = os.replace, []

    def replace(src, dst):
        if Path(dst) == out and not calls:  # the new bundle moving in: interrupted
            calls.append(src)
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        small_bundle(hidden=5).save(out)
    monkeypatch.setattr(os, "replace", real)
    after = load_bundle(out).weights
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[k], before[k]) for k in before)
    assert [p.name for p in root.iterdir() if p.name.startswith(".bundle.")] == []


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_leftovers_of_a_killed_swap_are_recovered(root):
    """A run killed between the two renames left the old bundle in ``.bundle.X.old/previous``
    and no bundle; the next run for the target puts it back (and removes the unfinished
    ``.part``). Leftovers without squall's marker are never touched."""
    from squall.io import atomic_dir

    pid = _dead_pid()
    old, part, foreign = (
        root / ".bundle.k1.old",
        root / ".bundle.k2.part",
        root / ".bundle.k3.old",
    )
    for d in (old, part, foreign):
        d.mkdir()
    os.replace(root / "bundle", old / "previous")
    (old / ".squall-temp").write_text(f"{pid}\n")
    (part / ".squall-temp").write_text(f"{pid}\n")
    (foreign / "previous").mkdir()
    with pytest.raises(SquallError), atomic_dir(root / "bundle"):
        raise SquallError("the next run fails too")
    assert load_bundle(root / "bundle").features == ["value"]
    assert not old.exists() and not part.exists() and (foreign / "previous").is_dir()


# --------------------------------------------------------------------------- 2. late validation


@pytest.mark.parametrize("case", ["user-dir", "out-holds-input", "quantile-1", "quantile-0"])
def test_train_refuses_bad_options_before_training(root, capsys, no_training, case):
    mine = _user_dir(root)
    args = [
        "train",
        str(root / "data.csv"),
        "--time-column",
        "timestamp",
        "--out",
        str(root / "new"),
    ]
    extra, word = {
        "user-dir": (["--out", str(mine)], "did not write"),
        "out-holds-input": (["--out", str(root)], "input"),
        "quantile-1": (["--threshold-quantile", "1"], "threshold-quantile"),
        "quantile-0": (["--threshold-quantile", "0"], "threshold-quantile"),
    }[case]
    assert main(args + extra) == 2
    one_line_error(capsys, word)


@pytest.mark.parametrize(
    "args,word",
    [
        (["score", "B", "D", "--out", "s.csv", "--threshold-quantile", "1"], "threshold-quantile"),
        (["detect", "B", "D", "--out", "MINE"], "did not write"),
        (["detect", "B", "D", "--out", "d", "--threshold", "nan"], "--threshold"),
        (["report", "B", "D", "--out", "r.html", "--threshold-quantile", "1.5"], "quantile"),
        (["profile", "B", "D", "--out", "p.prof", "--limit", "-1"], "--limit"),
        (["trace", "B", "D", "--out", "t.csv", "--window", "-1"], "--window"),
        (["hw", "export", "B", "--out", "MINE", "--data", "D"], "did not write"),
        (["hw", "ranges", "B", "D", "--out", "r.txt"], "file name"),
        (["detect", "B", "D", "--out", "d", "--engine", "bogus"], "unknown engine"),
        (["score", "B", "D", "--out", "s.csv", "--engine", "bogus"], "unknown engine"),
        (["report", "B", "D", "--out", "r.html", "--engine", "bogus"], "unknown engine"),
        (["profile", "B", "D", "--out", "p.prof", "--engine", "bogus"], "unknown engine"),
    ],
)
def test_commands_refuse_bad_options_before_reading_data(root, capsys, monkeypatch, args, word):
    def boom(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr("squall.pipeline.load_windows", boom)
    monkeypatch.setattr("squall.pipeline.make_windowset", boom)
    names = {"B": root / "bundle", "D": root / "data.csv", "MINE": _user_dir(root)}
    args = [str(names[a]) if a in names else a for a in args]
    args = [
        str(root / a) if a in ("s.csv", "d", "r.html", "p.prof", "t.csv", "r.txt") else a
        for a in args
    ]
    assert main(args) == 2
    one_line_error(capsys, word)


def test_eda_refuses_a_bad_until_before_reading(root, capsys, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr("squall.report.eda.eda", boom)
    assert (
        main(["eda", str(root / "data.csv"), "--out", str(root / "e"), "--until", "not-a-date"])
        == 2
    )
    one_line_error(capsys, "--until")


# --------------------------------------------------------------------------- 3. Python API


@pytest.mark.parametrize(
    "kwargs,word",
    [
        ({"epochs": 1.5}, "epochs must be an integer"),
        ({"epochs": True}, "epochs"),
        ({"features": "value"}, "list of column names"),
        ({"sizes": (8.5,)}, "sizes"),
        ({"seed": "0"}, "seed"),
        ({"progress": "yes"}, "progress"),
        ({"threshold_q": 1.0}, "threshold_q"),
    ],
)
def test_train_refuses_bad_python_arguments(root, no_training, kwargs, word):
    from squall import pipeline

    with pytest.raises(SquallError, match=word) as info:
        pipeline.train(root / "data.csv", reader={"kind": "csv"}, **kwargs)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- 4. broken pipe


def test_a_closed_pipe_ends_quietly(root):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before squall writes a byte
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "squall", "info", str(root / "bundle")],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert proc.stderr == "" and proc.returncode == 141


# --------------------------------------------------------------------------- 5. warnings


def test_squall_warnings_are_one_line_each_once(root, capsys, monkeypatch):
    import warnings

    from squall.errors import SquallWarning

    def warn_twice(*a, **k):
        for _ in range(2):
            warnings.warn("12 reports dropped:\n unparseable DATE", SquallWarning, stacklevel=2)
        raise SquallError("stop here")

    monkeypatch.setattr("squall.report.eda.eda", warn_twice)
    assert main(["eda", str(root / "data.csv"), "--out", str(root / "e")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "squall: warning: 12 reports dropped: unparseable DATE",
        "squall: error: stop here",
    ]


# --------------------------------------------------------------------------- 6. reader options


def test_time_format_and_dayfirst_reach_the_reader_and_the_bundle(root, monkeypatch):
    from squall import pipeline
    from squall.data import readers

    seen = {}
    real = readers.read_sensor_csv

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(readers, "read_sensor_csv", spy)
    assert (
        main(
            [
                "eda",
                str(root / "data.csv"),
                "--time-column",
                "timestamp",
                "--time-format",
                "%Y-%m-%d %H:%M:%S",
                "--dayfirst",
                "--out",
                str(root / "e"),
            ]
        )
        == 0
    )
    assert seen["time_format"] == "%Y-%m-%d %H:%M:%S" and seen["dayfirst"] is True
    obs = pipeline.read_data(
        root / "data.csv", {"kind": "csv", "time_format": "%Y-%m-%d %H:%M:%S", "dayfirst": True}
    )
    stored = pipeline.reader_config(obs, {"time_format": "%Y-%m-%d %H:%M:%S", "dayfirst": True})
    assert stored["time_format"] == "%Y-%m-%d %H:%M:%S" and stored["dayfirst"] is True


def test_a_fifo_in_place_of_a_run_manifest_or_a_scores_csv_is_refused(tmp_path, capsys):
    """Neither the run manifest nor a CSV named on the command line is opened unless it is a
    regular file (a FIFO would block the command forever)."""
    from squall.io import read_manifest

    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "squall-run.json")
    with pytest.raises(SquallError, match="FIFO"):
        read_manifest(tmp_path / "run")
    os.mkfifo(tmp_path / "scores.csv")
    assert main(["plot", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "p.png")]) == 2
    assert "FIFO" in capsys.readouterr().err


def test_a_user_edited_output_in_a_run_directory_is_never_replaced(root, capsys):
    """A file of a run that the user changed since squall wrote it is theirs: a rerun is
    refused before it moves anything, and every file stays as it was."""
    out = root / "run"
    assert detect(root, out) == 0
    (out / "scores.png").write_bytes(b"my annotated plot")
    before = snapshot(out)
    capsys.readouterr()
    assert (
        main(
            ["detect", str(root / "bundle"), str(root / "data.csv"), "--out", str(out), "--no-plot"]
        )
        == 2
    )
    one_line_error(capsys, "scores.png")
    assert snapshot(out) == before


def test_another_commands_run_directory_is_refused(root, capsys):
    out = root / "run"
    assert detect(root, out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert main(["eda", str(root / "data.csv"), "--out", str(out)]) == 2
    one_line_error(capsys, "squall detect")
    assert snapshot(out) == before


def test_a_symlinked_manifest_is_not_squalls(root, capsys):
    assert detect(root, root / "run") == 0
    other = root / "other"
    other.mkdir()
    (other / "squall-run.json").symlink_to(root / "run" / "squall-run.json")
    (other / "scores.png").write_bytes(b"mine")
    assert detect(root, other) == 2
    capsys.readouterr()
    assert (other / "scores.png").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["history.csv", "bundle.json"])
def test_a_file_output_inside_the_bundle_is_refused(root, capsys, name):
    before = snapshot(root / "bundle")
    args = (
        [
            "score",
            str(root / "bundle"),
            str(root / "data.csv"),
            "--out",
            str(root / "bundle" / name),
        ]
        if name.endswith(".csv")
        else [
            "trace",
            str(root / "bundle"),
            str(root / "data.csv"),
            "--window",
            "0",
            "--out",
            str(root / "bundle" / name),
        ]
    )
    assert main(args) == 2
    one_line_error(capsys, "inside the input")
    assert snapshot(root / "bundle") == before


def test_a_bundle_folder_holding_user_files_is_not_replaced(root, capsys):
    (root / "bundle" / "notes.txt").write_text("mine")
    from squall.bundle import load_bundle as load

    with pytest.raises(SquallError, match="did not write"):
        load(root / "bundle").save(root / "bundle")
    assert (root / "bundle" / "notes.txt").read_text() == "mine"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("command", ["hw-rtl", "hw-export", "report-figures"])
def test_a_folder_replaced_whole_is_refused_once_it_holds_a_users_file(root, capsys, command):
    """``hw rtl``, ``hw export`` and ``report --figures`` replace their folder whole: an
    earlier output of theirs is replaced, but once the user put a file beside it (or edited one
    of its files) the folder is theirs: refused in one line, nothing lost."""
    out = root / "out"
    b, d = str(root / "bundle"), str(root / "data.csv")
    args = {
        "hw-rtl": ["hw", "rtl", b, "--out", str(out)],
        "hw-export": ["hw", "export", b, "--out", str(out)],
        "report-figures": [
            "report",
            b,
            d,
            "--out",
            str(root / "r.html"),
            "--figures",
            str(out),
            "--quiet",
        ],
    }[command]
    assert main(args) == 0
    assert main(args) == 0  # its own earlier output: replaced
    capsys.readouterr()
    (out / "notes.txt").write_text("keep me")
    before = _tree(out)
    assert main(args) == 2
    one_line_error(capsys, "did not write")
    assert _tree(out) == before
    (out / "notes.txt").unlink()
    first = sorted(_tree(out))[0]
    (out / first).write_bytes(b"edited by hand")  # an edited file is the user's too
    before = _tree(out)
    assert main(args) == 2
    one_line_error(capsys, "did not write")
    assert _tree(out) == before


@pytest.mark.parametrize(
    "case,word",
    [
        ("no-threshold", "no threshold"),
        ("labels-missing", "no such"),
        ("labels-directory", "labels"),
        ("labels-not-labels", "start"),
        ("labels-bad-json", "JSON"),
    ],
)
def test_report_refuses_bad_labels_and_a_missing_threshold_before_reading_data(
    root, capsys, monkeypatch, case, word
):
    def boom(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr("squall.report.html.collect", boom)
    monkeypatch.setattr("squall.report.collect.load_windows", boom)
    bundle = root / "bundle"
    if case == "no-threshold":
        b = small_bundle()
        b.threshold = None
        b.save(bundle := root / "no-threshold")
    labels = {
        "labels-missing": root / "missing.csv",
        "labels-directory": root / "labels",
        "labels-not-labels": root / "notes.csv",
        "labels-bad-json": root / "l.json",
    }
    (root / "labels").mkdir()
    (root / "notes.csv").write_text("when,what\n2025-01-01,storm\n")
    (root / "l.json").write_text("{not json")
    args = ["report", str(bundle), str(root / "data.csv"), "--out", str(root / "r.html"), "--quiet"]
    if case in labels:
        args += ["--labels", str(labels[case])]
    assert main(args) == 2
    one_line_error(capsys, word)
    assert not (root / "r.html").exists()


def test_an_upper_case_extension_is_refused_before_work(root, capsys):
    """Readers know a windows file by ``.npz`` (and ``np.savez`` appends ``.npz`` to any other
    name): ``--out w.NPZ`` is refused in one line, as every extension check is exact."""
    for args in (
        ["windows", str(root / "bundle"), str(root / "data.csv"), "--out", str(root / "w.NPZ")],
        ["score", str(root / "bundle"), str(root / "data.csv"), "--out", str(root / "s.CSV")],
    ):
        assert main(args) == 2
        one_line_error(capsys, "lower case")
        assert not Path(args[-1]).exists()


@pytest.mark.parametrize("command", ["score", "trace", "profile", "report", "hw-ranges", "hw-cost"])
def test_a_windows_file_of_an_interrupted_run_is_refused_as_data(root, capsys, command):
    """Every command reading a run's ``windows.npz`` as DATA checks it as ``extract`` and
    ``report --from`` do: the run complete, the file the one it wrote."""
    out = root / "run"
    assert detect(root, out) == 0
    manifest = json.loads((out / "squall-run.json").read_text())
    manifest["complete"] = False  # as an interrupted rerun leaves it
    (out / "squall-run.json").write_text(json.dumps(manifest))
    b, w = str(root / "bundle"), str(out / "windows.npz")
    args = {
        "score": ["score", b, w, "--out", str(root / "s.csv")],
        "trace": ["trace", b, w, "--window", "0", "--out", str(root / "t.csv")],
        "profile": ["profile", b, w, "--out", str(root / "p.prof")],
        "report": ["report", b, w, "--out", str(root / "r.html"), "--quiet"],
        "hw-ranges": ["hw", "ranges", b, w],
        "hw-cost": ["hw", "cost", b, "--data", w],
    }[command]
    capsys.readouterr()
    assert main(args) == 2
    one_line_error(capsys, "interrupted")
    assert sorted(p.name for p in root.iterdir()) == ["bundle", "data.csv", "run"]


def test_the_svg_beside_a_graph_is_checked_as_an_output(root, capsys):
    (root / "g.svg").mkdir()  # the SVG's place is taken by a directory
    assert main(["graph", str(root / "bundle"), "--out", str(root / "g.dot")]) == 2
    one_line_error(capsys, "g.svg")
    assert not (root / "g.dot").exists()
