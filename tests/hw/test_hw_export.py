"""``squall hw export`` and ``check-export``: the .mem files hold the fixed engine's codes in
the documented order, golden steps re-run to the same words, edge cases hit what they claim,
and any changed word is found."""

import csv
import json
import random

import numpy as np
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.cli.main import main
from squall.engines.fixed import PRESETS, FixedModel
from squall.engines.fixedpoint import FixedType
from squall.errors import SquallError
from squall.hw.export import export_bundle
from squall.hw.export_check import check_export
from squall.hw.export_layout import read_mem
from squall.hw.golden import tie_h_possible


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    b = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8)
    root = tmp_path_factory.mktemp("export")
    b.save(root / "bundle")
    x = np.random.default_rng(4).uniform(-0.2, 1.2, (6, 8, 3))
    manifest = export_bundle(b, root / "out", "16", windows=x, random_steps=3)
    return b, root, manifest


def test_files_and_order(exported):
    b, root, manifest = exported
    out = root / "out"
    names = {f["path"] for f in manifest["files"]}
    assert names == {
        "layer0_W.mem",
        "layer0_U.mem",
        "layer0_b.mem",
        "layer1_W.mem",
        "layer1_U.mem",
        "layer1_b.mem",
        "layer3_W.mem",
        "layer3_U.mem",
        "layer3_b.mem",
        "layer4_W.mem",
        "layer4_U.mem",
        "layer4_b.mem",
        "layer5_W.mem",
        "layer5_b.mem",
        "sigmoid_lut.mem",
        "tanh_lut.mem",
    }
    q = FixedType.parse("Q2.14")
    W = b.weights["layers.4.W"]  # (4H, n) = (32, 4)
    words = (out / "layer4_W.mem").read_text().splitlines()
    assert len(words) == W.size and all(len(w) == 4 for w in words)
    # line r * n + j holds W[r][j] (row r: gate r // H, unit r % H), two's complement hex
    for r, j in ((0, 0), (9, 3), (31, 2)):
        code = q.quantize(float(W[r, j]))
        assert words[r * 4 + j] == format(code & 0xFFFF, "04x")
    assert read_mem(out / "layer4_W.mem", q)[9 * 4 + 3] == q.quantize(float(W[9, 3]))
    sig = read_mem(out / "sigmoid_lut.mem", FixedType.parse("UQ1.15"))
    assert len(sig) == 1024 and sig == sorted(sig) and 0 < sig[0] < 20 and sig[-1] > 32750
    readme = (out / "README.md").read_text()
    assert "gate = r // 8, unit = r % 8" in readme and "index k = (clamp(code" in readme
    assert "layer 0: 36 bits" in readme and "| x 3 + h_prev 8 + c_prev 8 | h 8 + c 8 |" in readme
    assert manifest["arithmetic"]["accumulator_bits"]["0"] == 16 + 16 + 4  # 3 + 8 + 1 terms


def test_golden_vectors_are_the_fixed_engine(exported):
    b, root, manifest = exported
    model = FixedModel(b, PRESETS["16"])
    g = manifest["golden"]["1"]
    d, c = FixedType.parse("Q4.12"), FixedType.parse("Q4.12")
    ins = read_mem(root / "out" / "golden/layer1_in.mem", d)
    outs = read_mem(root / "out" / "golden/layer1_out.mem", c)
    per_in, per_out = 8 + 4 + 4, 4 + 4
    assert len(ins) == g["cases"] * per_in and len(outs) == g["cases"] * per_out
    L = model.layers[1]
    for k in range(g["cases"]):
        v = ins[k * per_in : (k + 1) * per_in]
        h, cc = model.lstm_step(L, v[:8], v[8:12], v[12:])
        assert h + cc == outs[k * per_out : (k + 1) * per_out]
    # a chosen step equals the engine's run of that window
    rows = list(csv.DictReader((root / "out" / "golden/layer1_cases.csv").open()))
    assert rows[0]["name"].startswith("window 0, step 0") and rows[0]["source"] == "chosen"
    assert {r["source"] for r in rows} == {"chosen", "random", "edge"}
    detail = json.loads((root / "out" / "golden/cases.json").read_text())["1"][0]
    assert set(detail) >= {"acc", "z", "i", "f", "g", "o", "c", "tanh_c", "h", "events"}


def test_edge_cases_exercise_what_they_claim(exported):
    _, root, _ = exported
    for layer in ("0", "1", "3", "4"):
        rows = list(csv.DictReader((root / "out" / f"golden/layer{layer}_cases.csv").open()))
        events = " ".join(r["events"] for r in rows if r["source"] == "edge")
        for e in ("tie_z=", "sat_z=", "tie_c=", "sat_c="):
            assert e in events, (layer, e)
        tie = [r for r in rows if r["name"].startswith("rounding tie at z")]
        assert tie and "tie_z=" in tie[0]["events"]
    rows = list(csv.DictReader((root / "out" / "golden/layer5_cases.csv").open()))
    events = " ".join(r["events"] for r in rows)
    assert "tie_y=" in events and "sat_y=" in events
    readme = (root / "out" / "README.md").read_text()
    assert "cannot happen with these tables" in readme  # 16-bit tables: no tie at h


def test_tie_at_h_found_with_piecewise_linear_tables(tmp_path):
    b = random_bundle(
        [
            {"type": "lstm", "input": 2, "hidden": 6, "return_sequences": True},
            {"type": "dense", "input": 6, "output": 2},
        ],
        2,
        4,
        seed=2,
    )
    export_bundle(b, tmp_path / "pwl", "16-pwl", random_steps=1)
    rows = list(csv.DictReader((tmp_path / "pwl" / "golden/layer0_cases.csv").open()))
    assert any("tie_h=" in r["events"] for r in rows)
    assert check_export(tmp_path / "pwl", b).ok
    assert (tmp_path / "pwl" / "sigmoid_pwl_slope.mem").is_file()


def test_tie_h_possible_agrees_with_brute_force():
    model = FixedModel(
        random_bundle([{"type": "lstm", "input": 1, "hidden": 1, "return_sequences": True}], 1, 2),
        PRESETS["12"],
    )
    o, t = np.unique(model.sig_z.array), np.unique(model.tanh_c.array)
    shift = model.h_frac - model.config.data.frac
    brute = bool((((o[:, None] * t[None, :]) & ((1 << shift) - 1)) == 1 << (shift - 1)).any())
    assert tie_h_possible(model) == brute


def test_step_detail_equals_the_fast_step():
    b = random_bundle(seed_layers(2, 4, (5,)), 2, 4, seed=7)
    rng = random.Random(0)
    for cfg in ("16", "12", "16-pwl"):
        model = FixedModel(b, PRESETS[cfg])
        L = model.layers[0]
        for _ in range(20):
            x = [rng.randint(-40000, 40000) >> 4 for _ in range(2)]
            h = [rng.randint(-4096, 4096) for _ in range(5)]
            c = [rng.randint(-30000, 30000) for _ in range(5)]
            d = model.step_detail(L, x, h, c)
            assert (d["h"], d["c"]) == model.lstm_step(L, x, h, c)


def test_check_finds_every_kind_of_change(exported, tmp_path):
    import shutil

    b, root, _ = exported
    assert check_export(root / "out", b).ok
    bad = tmp_path / "bad"
    shutil.copytree(root / "out", bad)
    lines = (bad / "layer3_U.mem").read_text().splitlines()
    lines[17] = format((int(lines[17], 16) + 1) & 0xFFFF, "04x")
    (bad / "layer3_U.mem").write_text("\n".join(lines) + "\n")
    golden = (bad / "golden/layer0_out.mem").read_text().splitlines()
    golden[3] = "7fff" if golden[3] != "7fff" else "0000"
    (bad / "golden/layer0_out.mem").write_text("\n".join(golden) + "\n")
    (bad / "tanh_lut.mem").unlink()
    r = check_export(bad, b)
    text = "\n".join(r.problems)
    assert "layer3_U.mem: 1 word(s) differ, first at line 18" in text
    assert "golden/layer0_out.mem: case 0, h[3]" in text
    assert "tanh_lut.mem is missing" in text and len(r.problems) == 3
    other = random_bundle(seed_layers(3, 8, (8, 4)), 3, 8, seed=1)
    r = check_export(root / "out", other)
    assert not r.ok and "weights digest" in r.problems[0]
    with pytest.raises(SquallError, match="other layers"):
        check_export(root / "out", random_bundle(seed_layers(3, 8, (6, 4)), 3, 8))
    with pytest.raises(SquallError, match="not a squall hardware export"):
        check_export(tmp_path, b)


def test_commands_and_atomic_output(exported, tmp_path, capsys):
    b, root, _ = exported
    bundle = str(root / "bundle")
    out = tmp_path / "hw"
    assert main(["hw", "export", bundle, "--out", str(out), "--config", "12", "--random", "2"]) == 0
    assert "golden steps" in capsys.readouterr().out
    assert read_mem(out / "layer0_b.mem", FixedType.parse("Q2.10"))  # 3 hex digits per word
    assert len((out / "layer0_b.mem").read_text().splitlines()[0]) == 3
    assert main(["hw", "check-export", str(out), bundle]) == 0
    assert "all match the bundle" in capsys.readouterr().out
    # an export may replace an earlier export, never other files
    assert main(["hw", "export", bundle, "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["name"] == "16"
    assert not list(tmp_path.glob(".hw.*"))  # no leftovers
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    assert main(["hw", "export", bundle, "--out", str(keep)]) == 2
    assert (keep / "notes.txt").read_text() == "mine"
    (out / "layer0_b.mem").write_text("zz\n")
    assert main(["hw", "check-export", str(out), bundle]) == 2
    assert "squall: error:" in capsys.readouterr().err


def test_seed_export(shared_data, tmp_path):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    b = import_keras(d / "lstm_weights.npz", d / "scaler.json")
    x = np.load(d / "new_data_sequences.npz")["sequences"][:20]
    m = export_bundle(b, tmp_path / "seed", windows=x)
    assert (
        sum(f["words"] for f in m["files"])
        == 1536
        + 16384
        + 256
        + 8192
        + 4096
        + 128
        + 4096
        + 4096
        + 128
        + 8192
        + 16384
        + 256
        + 384
        + 6
        + 2048
    )
    r = check_export(tmp_path / "seed", b)
    assert r.ok and r.cases == sum(g["cases"] for g in m["golden"].values())
