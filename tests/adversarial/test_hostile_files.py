"""Issue 12, hostile and malformed files: windows files, bundles, inputs that are not regular
files, npz sizes, numbers that blow up. One test (or parametrized case) per point; every one
fails on the code before the fix. New modules are imported inside the tests so each case fails
on its own on the old code."""

from __future__ import annotations

import io
import json
import os
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squall.bundle import load_bundle, random_bundle, seed_layers
from squall.cli.main import main
from squall.data import windowset
from squall.data.scaling import Scaler
from squall.errors import SquallError, SquallWarning

# --------------------------------------------------------------------------- fixtures


def tiny_bundle():
    """A 1-feature bundle (``value``, generic CSV reader, pooled windows of 4) with a threshold:
    no training needed."""
    b = random_bundle(seed_layers(1, 4, (3,)), 1, 4)
    b.features, b.units = ["value"], {"value": ""}
    b.scaler = Scaler.from_minmax(["value"], [0.0], [10.0])
    b.threshold = {"method": "value", "value": 0.5, "fitted_on": "user"}
    b.provenance = {
        "reader": {
            "kind": "csv",
            "features": ["value"],
            "time_column": "timestamp",
            "track_column": None,
        }
    }
    return b.validate()


def write_series(path: Path, spike: float | None = None) -> Path:
    t = pd.date_range("2025-01-01", periods=40, freq="h")
    v = np.sin(np.arange(40)) * 3 + 5
    if spike is not None:
        v[20] = spike
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": v}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A bundle, its data and a detect run over it (``windows.npz``, ``scores.csv``, ...)."""
    root = tmp_path_factory.mktemp("hostile")
    tiny_bundle().save(root / "bundle")
    write_series(root / "data.csv")
    assert (
        main(["detect", str(root / "bundle"), str(root / "data.csv"), "--out", str(root / "run")])
        == 0
    )
    return root


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite(src: Path, dst: Path, **changes) -> Path:
    """``src`` with arrays replaced (a value of None removes the array)."""
    data = arrays_of(src)
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    np.savez(dst, **data)
    return dst


def meta_of(path: Path) -> dict:
    return json.loads(str(arrays_of(path)["meta"]))


# --------------------------------------------------------------------------- 1. sources


@pytest.mark.parametrize("drop", ["sources_sha256", "bundle"])
def test_windows_file_without_hashes_or_fingerprint_is_refused(run, tmp_path, drop):
    secret = tmp_path / "secret.csv"
    secret.write_text("timestamp,value\n2025-01-01 00:00:00,SECRET\n")
    meta = {k: v for k, v in meta_of(run / "run" / "windows.npz").items() if k != drop}
    crafted = rewrite(
        run / "run" / "windows.npz",
        tmp_path / "crafted.npz",
        sources=np.asarray([str(secret)]),
        meta=np.asarray(json.dumps(meta)),
    )
    with pytest.raises(SquallError, match="meta"):
        windowset.load(crafted)


def test_extract_never_copies_a_file_named_by_a_crafted_windows_file(run, tmp_path, capsys):
    secret = tmp_path / "secret.csv"
    secret.write_text(
        "timestamp,value\n" + "".join(f"2025-01-01 {h:02d}:00:00,SECRET{h}\n" for h in range(24))
    )
    meta = {k: v for k, v in meta_of(run / "run" / "windows.npz").items() if k != "sources_sha256"}
    crafted = rewrite(
        run / "run" / "windows.npz",
        tmp_path / "crafted.npz",
        sources=np.asarray([str(secret)]),
        meta=np.asarray(json.dumps(meta)),
    )
    out = tmp_path / "aw.csv"
    status = main(["extract", str(crafted), str(run / "run" / "scores.csv"), "--out", str(out)])
    assert status == 2 and not out.exists()
    assert capsys.readouterr().err.count("\n") == 1


def test_windows_in_memory_without_source_hashes_open_no_source(run):
    """The tracer itself refuses a source without its hash (not only the .npz loader)."""
    from squall.report.tables import anomaly_windows_frame

    ws = windowset.load(run / "run" / "windows.npz")
    assert len(anomaly_windows_frame(ws, np.array([0]))) > 0  # as written: traced
    ws.meta = {k: v for k, v in ws.meta.items() if k != "sources_sha256"}
    with pytest.raises(SquallError, match="SHA-256"):
        anomaly_windows_frame(ws, np.array([0]))


def test_a_source_replaced_by_a_fifo_is_refused_without_blocking(run, tmp_path):
    from squall.report.tables import anomaly_windows_frame

    ws = windowset.load(run / "run" / "windows.npz")
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    ws.sources = [str(fifo)]
    with pytest.raises(SquallError, match="FIFO"):
        anomaly_windows_frame(ws, np.array([0]))


# --------------------------------------------------------------------------- 2. not regular


@pytest.fixture(params=["fifo", "device"])
def special(request, tmp_path):
    """A FIFO (a writer thread feeds each reader a line, so the old code does not block) or
    /dev/null (a character device; /dev/zero is the same kind and would fill memory)."""
    if request.param == "device":
        yield Path("/dev/null")
        return
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed():  # every reader that opens the FIFO gets a line, then end of file
        while not stop.is_set():
            try:
                with open(fifo, "w") as fh:
                    fh.write("not,data\n")
            except OSError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    yield fifo
    stop.set()
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # releases the writer waiting for a reader
    writer.join(5)
    os.close(fd)


def _link(tmp_path: Path, name: str, target: Path) -> Path:
    link = tmp_path / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _bundle_with(tmp_path, name, target):
    root = tmp_path / "b"
    tiny_bundle().save(root)
    (root / name).unlink()
    _link(root, name, target)
    return root


def _read_data(tmp_path, p):
    from squall.pipeline import read_data

    read_data([_link(tmp_path, "data.csv", p)])


def _labels_json(tmp_path, p):
    from squall.data.labels import read_nab_labels

    read_nab_labels(_link(tmp_path, "labels.json", p))


def _labels_csv(tmp_path, p):
    from squall.data.labels import read_label_csv

    read_label_csv(_link(tmp_path, "labels.csv", p))


def _keras(tmp_path, p):
    from squall.convert import import_keras

    scaler = tmp_path / "scaler.json"
    scaler.write_text(json.dumps({"features": ["AIR_TEMP"], "data_min": [0], "data_max": [1]}))
    import_keras(_link(tmp_path, "w.npz", p), scaler)


def _keras_scaler(tmp_path, p):
    from squall.convert import import_keras

    np.savez(tmp_path / "w.npz", np.zeros(3))
    import_keras(tmp_path / "w.npz", _link(tmp_path, "scaler.json", p))


def _fixed_config(tmp_path, p):
    from squall.engines.fixed import resolve_config

    resolve_config(str(_link(tmp_path, "cfg.json", p)))


def _manifest(tmp_path, p):
    from squall.hw.export_check import check_export

    check_export(_link(tmp_path, "exp/manifest.json", p).parent, tiny_bundle())


READERS = {
    "data file": _read_data,
    "windows npz": lambda tmp, p: windowset.load(_link(tmp, "w.npz", p)),
    "bundle.json": lambda tmp, p: load_bundle(_bundle_with(tmp, "bundle.json", p)),
    "weights": lambda tmp, p: load_bundle(_bundle_with(tmp, "weights.safetensors", p)),
    "labels json": _labels_json,
    "labels csv": _labels_csv,
    "keras npz": _keras,
    "scaler json": _keras_scaler,
    "fixed config": _fixed_config,
    "export manifest": _manifest,
}


@pytest.mark.parametrize("reader", list(READERS))
def test_inputs_that_are_not_regular_files_are_refused(tmp_path, special, reader):
    with pytest.raises(SquallError, match="FIFO|character device"):
        READERS[reader](tmp_path, special)


def test_pure_engine_refuses_a_device_as_bundle_json(tmp_path):
    from squall.engines import pure

    root = _bundle_with(tmp_path, "bundle.json", Path("/dev/null"))
    with pytest.raises(pure.PureError, match="character device"):
        pure.load(root)


# --------------------------------------------------------------------------- 3. npz sizes


def _npz_with_member(path: Path, name: str, header: dict, payload: bytes) -> Path:
    """An .npz whose member ``name`` has the .npy ``header`` given and raw ``payload``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.npy", buf.getvalue() + payload)
    return path


def test_npz_header_claiming_1e12_windows_is_refused(tmp_path):
    path = _npz_with_member(
        tmp_path / "big.npz",
        "sequences",
        {"descr": "<f8", "fortran_order": False, "shape": (10**12, 24, 6)},
        b"\0" * 1000,
    )
    with pytest.raises(SquallError, match="declares shape"):
        windowset.load(path)


def test_npz_member_with_more_bytes_than_its_shape_is_refused(tmp_path):
    """Zip-bomb padding: the entry inflates to far more than the header's shape needs."""
    path = _npz_with_member(
        tmp_path / "pad.npz",
        "sequences",
        {"descr": "<f8", "fortran_order": False, "shape": (1, 4, 3)},
        b"\0" * (12 * 8 + 10_000_000),
    )
    assert path.stat().st_size < 100_000
    with pytest.raises(SquallError, match="declares shape"):
        windowset.load(path)


def test_npz_beyond_the_memory_budget_is_refused(tmp_path, monkeypatch):
    from squall.data import npzfile

    monkeypatch.setattr(npzfile, "memory_budget", lambda: 10_000)
    np.savez_compressed(tmp_path / "w.npz", sequences=np.zeros((10, 24, 6)))
    with pytest.raises(SquallError, match="memory"):
        windowset.load(tmp_path / "w.npz")


def test_float32_windows_are_not_copied_to_float64(run):
    ws = windowset.load(run / "run" / "windows.npz")
    assert ws.x.dtype == np.float32


# --------------------------------------------------------------------------- 4/5. windows


def _swap_ptr(ptr):
    bad = ptr.copy()
    bad[1], bad[2] = bad[2] + 1, bad[1]
    return bad


def _settings_length(d):
    return np.asarray(json.dumps(json.loads(str(d["settings"])) | {"length": 7}))


#: Each mutation of a valid windows file, as ``data -> {array: new value}``.
MUTATIONS = {
    "bool sequences": lambda d: {"sequences": d["sequences"] > 0.5},
    "str sequences": lambda d: {"sequences": d["sequences"].astype(str)},
    "complex sequences": lambda d: {"sequences": d["sequences"].astype(np.complex64)},
    "negative step_obs": lambda d: {"step_obs": d["step_obs"] - 1},
    "step_obs beyond the reports": lambda d: {"step_obs": d["step_obs"] + len(d["obs_source"])},
    "step_ptr not from 0": lambda d: {"step_ptr": d["step_ptr"] + 1},
    "step_ptr decreasing": lambda d: {"step_ptr": _swap_ptr(d["step_ptr"])},
    "step_ptr short of step_obs": lambda d: {
        "step_ptr": np.minimum(d["step_ptr"], d["step_ptr"][-1] - 1)
    },
    "steps beyond the step table": lambda d: {"steps": d["steps"] + len(d["step_time"])},
    "negative steps": lambda d: {"steps": d["steps"] - 1},
    "obs_source out of range": lambda d: {"obs_source": d["obs_source"] + 1},
    "negative obs_row": lambda d: {"obs_row": d["obs_row"] - 100},
    "track too short": lambda d: {"track": d["track"][:-1]},
    "start too short": lambda d: {"start": d["start"][:-1]},
    "step_values of another shape": lambda d: {"step_values": d["step_values"][:, :-1]},
    "step_values as str": lambda d: {"step_values": d["step_values"].astype(str)},
    "meta a list": lambda d: {"meta": np.asarray("[1, 2]")},
    "meta nested": lambda d: {"meta": np.asarray("[" * 100_000 + "]" * 100_000)},
    "settings length wrong": lambda d: {"settings": _settings_length(d)},
    "features as numbers": lambda d: {"features": np.arange(d["sequences"].shape[2])},
}


@pytest.mark.parametrize("case", MUTATIONS)
def test_hostile_windows_files_are_refused(run, tmp_path, case):
    src = run / "run" / "windows.npz"
    changes = MUTATIONS[case](arrays_of(src))
    with pytest.raises(SquallError):
        windowset.load(rewrite(src, tmp_path / "bad.npz", **changes))


def test_an_empty_windows_file_is_refused(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(SquallError, match="npz"):
        windowset.load(tmp_path / "empty.npz")


# --------------------------------------------------------------------------- 5. 1e308


@pytest.fixture(scope="module")
def huge_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("huge")
    tiny_bundle().save(root / "bundle")
    write_series(root / "data.csv", spike=1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["detect", str(root / "bundle"), str(root / "data.csv"), "--out", str(root / "run")])
    return root


def test_detect_outputs_with_1e308_are_read_back_by_score(huge_run):
    assert (huge_run / "run" / "windows.npz").is_file()
    assert (
        main(
            [
                "score",
                str(huge_run / "bundle"),
                str(huge_run / "run" / "windows.npz"),
                "--out",
                str(huge_run / "scores2.csv"),
            ]
        )
        == 0
    )
    scores = pd.read_csv(huge_run / "scores2.csv")["score"]
    assert np.isfinite(scores).all() and scores.max() > 1e6


def test_detect_outputs_with_1e308_are_read_back_by_report_from(huge_run):
    from squall.report.collect import collect

    run = collect(huge_run / "bundle", from_dir=huge_run / "run")
    assert np.isfinite(run.table["score"]).all()


def test_event_of_a_1e308_value_says_why(huge_run):
    events = pd.read_csv(huge_run / "run" / "events.csv", keep_default_na=False)
    spike = events[events["why"].str.contains("1e+308", regex=False)]
    assert len(spike) == 1 and "above expected" in spike["why"].iloc[0]
    assert (events["why"] != "").all()


def test_shares_of_infinite_errors_are_not_nan():
    from squall.detect.explain import shares

    got = shares(np.array([[np.inf, 1.0], [1e308, 2.0]]), np.array([[4.0, 4.0], [4.0, 4.0]]))
    np.testing.assert_allclose(got, [1.0, 0.0])


def test_scores_of_float32_windows_far_out_are_finite():
    from squall.detect.scoring import score

    x = np.full((1, 2, 1), 1e30, np.float32)
    s = score(x, np.zeros_like(x), np.ones(x.shape, bool))
    assert np.isfinite(s.window).all()


@pytest.mark.parametrize("engine", ["pure", "numpy"])
def test_engines_take_1e308_without_overflow(engine):
    import squall

    x = np.zeros((1, 4, 1))
    x[0, 1, 0] = 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = squall.reconstruct(tiny_bundle(), x, engine)
    assert np.isfinite(out).all()


# --------------------------------------------------------------------------- 6. scaler


def test_scaler_refuses_an_infinite_range():
    with pytest.raises(SquallError, match="non-finite"):
        Scaler("minmax", ["v"]).fit(np.array([[1e308], [-1e308], [1.0]]))


def test_scaler_warns_when_one_value_dominates_and_only_then():
    normal = np.random.default_rng(0).normal(20, 2, (100_000, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SquallWarning)
        Scaler("minmax", ["v"]).fit(normal)
    with pytest.warns(SquallWarning, match="dominate"):
        Scaler("minmax", ["v"]).fit(np.concatenate([normal[:1000], [[1e308]]]))


def test_bundle_meta_is_never_written_with_nan():
    """NaN in provenance (a run without validation windows has no validation loss) is stored as
    null; a NaN threshold is refused; either way the JSON is strict."""
    b = tiny_bundle()
    b.provenance = {"final_loss": {"train_loss": 0.1, "val_loss": float("nan")}}
    meta = b.meta()
    json.dumps(meta, allow_nan=False)
    assert meta["provenance"]["final_loss"] == {"train_loss": 0.1, "val_loss": None}
    b.threshold = {"value": float("inf")}
    with pytest.raises(SquallError, match="non-finite"):
        b.meta()


# --------------------------------------------------------------------------- 7. bundles


def _deep(meta):
    return "[" * 100_000 + "]" * 100_000


BUNDLE_JSON = {
    "threshold NaN": lambda m: m | {"threshold": {"value": float("nan")}},
    "threshold 5": lambda m: m | {"threshold": 5},
    "threshold abc": lambda m: m | {"threshold": "abc"},
    "threshold value true": lambda m: m | {"threshold": {"value": True}},
    "threshold value huge int": lambda m: m | {"threshold": {"value": 10**400}},
    "version 1.0": lambda m: m | {"version": 1.0},
    "version true": lambda m: m | {"version": True},
    "reader a string": lambda m: m | {"provenance": {"reader": "csv"}},
    "reader unknown key": lambda m: m | {"provenance": {"reader": {"kind": "csv", "x": 1}}},
    "provenance a list": lambda m: m | {"provenance": []},
    "min_observed true": lambda m: m | {"windows": m["windows"] | {"min_observed": True}},
    "resample a number": lambda m: m | {"windows": m["windows"] | {"resample": 5}},
    "scaler offset bool": lambda m: m | {"scaler": m["scaler"] | {"offset": [True]}},
    "deeply nested": _deep,
}


@pytest.mark.parametrize("case", list(BUNDLE_JSON))
def test_malformed_bundle_json_is_a_one_line_error(tmp_path, case):
    tiny_bundle().save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    new = BUNDLE_JSON[case](meta)
    (tmp_path / "b" / "bundle.json").write_text(new if isinstance(new, str) else json.dumps(new))
    with pytest.raises(SquallError):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize("dtype", [bool, np.int8, np.int32, np.complex64, np.float16])
def test_weights_of_other_dtypes_are_refused(tmp_path, dtype):
    from safetensors.numpy import load_file, save_file

    tiny_bundle().save(tmp_path / "b")
    path = tmp_path / "b" / "weights.safetensors"
    weights = {k: v.astype(dtype) for k, v in load_file(str(path)).items()}
    save_file(weights, str(path))
    with pytest.raises(SquallError, match="dtype"):
        load_bundle(tmp_path / "b")


def test_weights_beyond_the_limit_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    tiny_bundle().save(tmp_path / "b")
    path = tmp_path / "b" / "weights.safetensors"
    weights = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
    weights["layers.0.W"][0, 0] = 1e300
    save_file(weights, str(path))
    with pytest.raises(SquallError, match="beyond"):
        load_bundle(tmp_path / "b")


def test_load_bundle_of_none():
    with pytest.raises(SquallError, match="path"):
        load_bundle(None)


@pytest.mark.parametrize("dtype", [object, str, complex, bool])
def test_reconstruct_refuses_non_numeric_windows(dtype):
    import squall

    with pytest.raises(SquallError, match="real numbers"):
        squall.reconstruct(tiny_bundle(), np.zeros((1, 4, 1)).astype(dtype))


def test_reconstruct_refuses_a_path_for_a_bundle(tmp_path):
    import squall

    with pytest.raises(SquallError, match="Bundle"):
        squall.reconstruct(str(tmp_path), np.zeros((1, 4, 1)))


# --------------------------------------------------------------------------- 8. numbers


def _config(**changes):
    from squall.engines.fixed import PRESETS

    d = PRESETS["16"].to_dict()
    for k, v in changes.items():
        d[k] = v if not isinstance(v, dict) else d[k] | v
    return d


@pytest.mark.parametrize(
    "changes",
    [
        {"sigmoid_fn": {"size": 2**31}},
        {"tanh_fn": {"size": 2**17}},
        {"data": "Q40.40"},
        {"weight": "Q64.64"},
        {"preact": "Q4.100000"},
        {"sigmoid_fn": {"hi": "abc"}},
    ],
)
def test_fixed_configurations_beyond_the_bounds_are_refused(changes):
    from squall.engines.fixed import resolve_config

    with pytest.raises(SquallError):
        resolve_config(_config(**changes))


@pytest.mark.parametrize(
    "text",
    [json.dumps({"format": "squall-hw-export", "version": 1}), "wrong types", "escaping path"],
)
def test_check_export_with_a_malformed_manifest_is_one_line(tmp_path, text):
    from squall.hw.export_check import check_export
    from squall.hw.export_layout import FORMAT

    good = {
        "format": FORMAT,
        "version": 1,
        "bundle": {"layers": tiny_bundle().model.to_json(), "weights_digest": "x"},
        "config": _config(),
        "files": [],
        "golden": {},
    }
    if text == "wrong types":
        text = json.dumps(good | {"files": {"a": 1}, "golden": []})
    elif text == "escaping path":
        text = json.dumps(good | {"files": [{"path": "../../../../etc/passwd"}]})
    else:
        text = text.replace("squall-hw-export", FORMAT)
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "manifest.json").write_text(text)
    with pytest.raises(SquallError, match="manifest|export"):
        check_export(tmp_path / "exp", tiny_bundle())


def test_labels_json_nested_deeply_is_one_line(tmp_path):
    from squall.data.labels import read_nab_labels

    (tmp_path / "labels.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SquallError):
        read_nab_labels(tmp_path / "labels.json")


@pytest.mark.parametrize("text", ["[1, 2]", "[" * 100_000 + "]" * 100_000])
def test_a_malformed_rtl_manifest_is_one_line(tmp_path, text, capsys):
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "rtl.json").write_text(text)
    assert main(["hw", "synth", str(tmp_path / "rtl"), "--out", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error:") and err.count("\n") == 1


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "fifo"])
def test_a_malformed_clocks_file_is_one_line(tmp_path, text):
    from squall.hw.clocks import measured_cycles

    path = tmp_path / "cycles.json"
    if text == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(text)
    with pytest.raises(SquallError):
        measured_cycles(path)


# --------------------------------------------------------------------------- review: npz members


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize("raw", ["another array", "not an array"])
def test_npz_member_not_named_npy_is_refused(tmp_path, raw):
    """``np.load(...)["sequences"]`` opens a member named exactly ``sequences`` before
    ``sequences.npy``: next to a checked ``sequences.npy`` it would be read unchecked."""
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sequences.npy", _npy(np.zeros((2, 4, 1))))
        zf.writestr(
            "sequences", _npy(np.ones((3, 4, 1))) if raw == "another array" else b"x" * 100_000
        )
    with pytest.raises(SquallError, match="not an .npy"):
        windowset.load(path)


def test_npz_with_a_member_twice_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("sequences.npy", _npy(np.zeros((2, 4, 1))))
            zf.writestr("sequences.npy", _npy(np.ones((2, 4, 1))))
    with pytest.raises(SquallError, match="twice"):
        windowset.load(path)


def test_npz_with_an_encrypted_member_is_refused(tmp_path):
    np.savez(tmp_path / "w.npz", sequences=np.zeros((2, 4, 1)))
    data = bytearray((tmp_path / "w.npz").read_bytes())
    data[data.find(b"PK\x01\x02") + 8] |= 1  # central directory entry: "encrypted" flag
    data[data.find(b"PK\x03\x04") + 6] |= 1  # local header: the same
    (tmp_path / "w.npz").write_bytes(bytes(data))
    with pytest.raises(SquallError, match="encrypted"):
        windowset.load(tmp_path / "w.npz")


def test_npz_with_corrupted_member_bytes_is_refused_in_one_line(tmp_path):
    """A flipped byte in a member's data, compressed (a broken deflate stream: zlib.error) or
    stored (a CRC mismatch): never a traceback, never values other than the ones written."""
    for save in (np.savez_compressed, np.savez):
        save(tmp_path / "good.npz", sequences=np.random.default_rng(0).random((20, 4, 1)))
        good = (tmp_path / "good.npz").read_bytes()
        local = good.find(b"PK\x03\x04")
        start = (
            local
            + 30
            + int.from_bytes(good[local + 26 : local + 28], "little")
            + int.from_bytes(good[local + 28 : local + 30], "little")
        )
        for offset in range(0, 120, 7):
            bad = bytearray(good)
            bad[start + offset] ^= 0x5A
            (tmp_path / "bad.npz").write_bytes(bytes(bad))
            with pytest.raises(SquallError) as exc:
                windowset.load(tmp_path / "bad.npz")
            assert "\n" not in str(exc.value)


def test_memory_budget_is_all_of_the_available_memory(tmp_path, monkeypatch):
    """Half of MemAvailable made ``score`` refuse the windows file ``detect`` had just written
    on a machine whose free memory had dropped in between."""
    from squall.data import npzfile

    (tmp_path / "meminfo").write_text("MemTotal:  8000000 kB\nMemAvailable:  3000000 kB\n")
    monkeypatch.setattr(npzfile, "MEMINFO", tmp_path / "meminfo")
    assert npzfile.memory_budget() == 3000000 * 1024


# --------------------------------------------------------------------------- review: bounds


def _with_windows(meta: dict, **changes) -> dict:
    meta["windows"].update(changes)
    if "length" in changes:
        for layer in meta["layers"]:
            if layer["type"] == "repeat":
                layer["times"] = changes["length"]
    return meta


@pytest.mark.parametrize(
    "changes", [{"stride": 10**30}, {"length": 10**30}, {"length": 10**9}, {"stride": 2**63}]
)
def test_bundle_window_length_and_stride_beyond_the_limits_are_refused(tmp_path, changes):
    tiny_bundle().save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(_with_windows(meta, **changes)))
    with pytest.raises(SquallError, match="at most"):
        load_bundle(tmp_path / "b")


def test_windows_file_settings_beyond_the_limits_are_refused(run, tmp_path):
    src = run / "run" / "windows.npz"
    settings = json.loads(str(arrays_of(src)["settings"])) | {"stride": 10**30}
    with pytest.raises(SquallError, match="at most"):
        windowset.load(
            rewrite(src, tmp_path / "bad.npz", settings=np.asarray(json.dumps(settings)))
        )


def test_layer_sizes_beyond_the_limit_are_refused():
    with pytest.raises(SquallError, match="at most"):
        random_bundle(seed_layers(1, 4, (10**12,)), 1, 4)


def test_check_export_with_a_superscript_digit_as_golden_key_is_one_line(tmp_path):
    from squall.hw.export import FORMAT, check_export

    manifest = {
        "format": FORMAT,
        "version": 1,
        "bundle": {"layers": tiny_bundle().model.to_json(), "weights_digest": "x"},
        "config": _config(),
        "files": [],
        "golden": {"\u00b2": {"cases": 0, "files": ["in.mem", "out.mem"]}},
    }
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SquallError, match="golden"):
        check_export(tmp_path / "exp", tiny_bundle())


def test_a_directory_in_place_of_an_export_file_is_named_with_an(tmp_path):
    from squall.limits import regular_file

    with pytest.raises(SquallError, match="expected an export file"):
        regular_file(tmp_path, "export file")
