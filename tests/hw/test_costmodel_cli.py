"""``squall hw cost``: the accelerator cost model, its worked example, the seed model's table."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from squall.bundle import Bundle, load_bundle, seed_layers, weight_shapes
from squall.cli.main import main
from squall.data.scaling import Scaler
from squall.engines.tools.costs import window_costs
from squall.errors import SquallError
from squall.hw.costmodel import (
    BOUNDARIES,
    Compute,
    analytic_calls,
    boundary_costs,
    bundle_cost,
    cost_report,
    max_compute_per_call,
)
from squall.hw.links import Pcie, Spi, fmt_time

SEED = seed_layers(6, 24)  # 6 -> 64 -> 32 -> repeat -> 32 -> 64 -> dense 6


def random_bundle(features=6, length=24, sizes=(64, 32), seed=0) -> Bundle:
    rng = np.random.default_rng(seed)
    layers = seed_layers(features, length, sizes)
    weights = {
        k: (rng.standard_normal(s) * 0.3).astype(np.float32)
        for k, s in weight_shapes(layers).items()
    }
    names = [f"x{k}" for k in range(features)]
    return Bundle(
        layers,
        weights,
        names,
        {n: "" for n in names},
        {
            "length": length,
            "stride": 1,
            "mode": "pooled",
            "resample": None,
            "max_gap": None,
            "min_observed": 0.25,
        },
        Scaler.from_minmax(names, [0] * features, [1] * features),
    ).validate()


@pytest.fixture(scope="module")
def seed_shaped(tmp_path_factory):
    """A bundle with the seed model's layers and random weights (no shared data needed)."""
    path = tmp_path_factory.mktemp("cost") / "seed-shaped"
    random_bundle().save(path)
    return path


@pytest.fixture(scope="module")
def seed(shared_data, tmp_path_factory):
    """The real seed model, imported from the shared Keras weights, and its 476 windows."""
    d = shared_data / "seed-model"
    path = tmp_path_factory.mktemp("cost") / "seed-model"
    assert (
        main(
            [
                "import-keras",
                str(d / "lstm_weights.npz"),
                "--scaler",
                str(d / "scaler.json"),
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path, d / "training_sequences.npz"


def cost_json(capsys, *args) -> dict:
    assert main(["hw", "cost", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- the user's worked example


def test_worked_example():
    # one 6 -> 32 LSTM step in float32: x, h, c in (4*6 + 4*32 + 4*32), h, c out
    (step,) = boundary_costs(
        [{"type": "lstm", "input": 6, "hidden": 32, "return_sequences": True}],
        24,
        "step",
        word_bits=32,
    )
    assert (step.bytes_in, step.bytes_out) == (280, 256)
    assert step.bytes_in + step.bytes_out == 536  # not the 552 of one hand estimate
    assert step.weight_bytes == 19_968  # 4 * (4*32*(6+32) + 4*32)
    # 476 windows x 24 steps x 4 LSTM layers of the seed model
    calls = analytic_calls(boundary_costs(SEED, 24, "step"), 476)
    assert sum(calls.values()) == 45_696
    assert cost_report(SEED, 24, 476).calls_source == (
        "analytic, 476 windows x 24 steps x 4 LSTM layers = 45,696"
    )
    # PCIe at 5 GB/s plus 500 ns per transaction (the defaults)
    pcie = Pcie()
    assert (pcie.bandwidth, pcie.latency) == (5e9, 500e-9)
    per_step = pcie.call_time(step.bytes_in, step.bytes_out)
    assert per_step == pytest.approx(607.2e-9, rel=1e-12)
    assert fmt_time(per_step) == "607.2 ns"
    run = 45_696 * per_step
    assert run == pytest.approx(27.7466112e-3, rel=1e-12)
    # the hand calculation's 27.74 ms is truncated; rounded it is 27.75, shown as 27.747
    assert fmt_time(run) == "27.747 ms" and f"{run * 1e3:.2f}" == "27.75"
    assert math.floor(run * 1e5) / 100 == 27.74
    # a 2 s budget leaves (2 s - 27.747 ms) / 45,696 of compute per step
    left = max_compute_per_call(2.0, run, 45_696)
    assert left == pytest.approx(43.1603070e-6, rel=1e-8)
    assert fmt_time(left) == "43.16 us" and f"{left * 1e6:.2f}" == "43.16"  # not 43.17
    # SPI at 25 MHz: 64 16-bit words in 2.56 us, 64 out 2.56 us
    spi = Spi(clock=25e6, in_word_bits=16, out_word_bits=16)
    assert spi.word_time(64, 16) == pytest.approx(2.56e-6, rel=1e-12)
    assert spi.in_time(128) == pytest.approx(2.56e-6, rel=1e-12)  # 128 B = 64 words
    assert spi.out_time(128) == pytest.approx(2.56e-6, rel=1e-12)
    assert fmt_time(spi.in_time(128)) == "2.56 us"


# ---------------------------------------------------------------- the seed model's table

SEED_STEP = {  # index: (params, weight B, in B, out B, MACs/step) at 32 bits, step boundary
    0: (18_176, 72_704, 536, 512, 17_920),  # 6 -> 64:  x 6, h 64, c 64 in; h, c out
    1: (12_416, 49_664, 512, 256, 12_288),  # 64 -> 32
    3: (8_320, 33_280, 384, 256, 8_192),  # 32 -> 32 after repeat: x = the latent vector
    4: (24_832, 99_328, 640, 512, 24_576),  # 32 -> 64
}


def check_seed_step_table(doc: dict) -> None:
    rows = {r["index"]: r for r in doc["layers"]}
    for i, (params, wbytes, b_in, b_out, macs) in SEED_STEP.items():
        r = rows[i]
        assert (
            r["params"],
            r["weight_bytes"],
            r["bytes_in"],
            r["bytes_out"],
            r["macs_per_step"],
            r["calls"],
        ) == (params, wbytes, b_in, b_out, macs, 11_424)
    assert rows[0]["weight_bytes"] == 4 * (4 * 64 * (6 + 64) + 4 * 64)
    assert rows[2]["kind"] == "repeat" and rows[2]["calls"] == 0
    assert rows[5]["kind"] == "dense" and not rows[5]["offloaded"] and rows[5]["calls"] == 0
    assert rows[5]["params"] == 64 * 6 + 6
    t = doc["totals"]
    assert t["total_calls"] == 45_696
    assert t["weight_bytes_on_chip"] == 72_704 + 49_664 + 33_280 + 99_328
    assert t["bytes_in"] == 11_424 * (536 + 512 + 384 + 640)
    assert t["bytes_out"] == 11_424 * (512 + 256 + 256 + 512)
    assert rows[0]["transfer_s_per_call"]["pcie"] == pytest.approx(500e-9 + 1048 / 5e9)
    assert t["transfer_s"]["pcie"] == pytest.approx(
        11_424 * (4 * 500e-9 + (1048 + 768 + 640 + 1152) / 5e9)
    )
    assert doc["model_call"] is None


def test_seed_table_from_layer_sizes(seed_shaped, capsys):
    doc = cost_json(capsys, seed_shaped, "--windows", 476, "--boundary", "step", "--word-bits", 32)
    check_seed_step_table(doc)
    assert main(["hw", "cost", str(seed_shaped), "--windows", "476", "--budget", "2"]) == 0
    text = capsys.readouterr().out
    assert "476 windows x 24 steps x 4 LSTM layers = 45,696" in text
    assert (
        "0:lstm(6->64)   18,176    72,704     17,920            24          536         512  11,424"
        in (text)
    )
    assert "PCIe: 5 GB/s sustained, 500 ns per transaction" in text
    assert "SPI: 25 MHz, 16-bit words in, 16-bit words out, one word per clock" in text
    assert "compute: 16 MACs in parallel" in text
    assert "5:dense(64->6)" in text and "on the host" in text
    assert "meet the budget 2 s" in text


def test_real_seed_model(seed, capsys):
    bundle_dir, _ = seed
    doc = cost_json(capsys, bundle_dir, "--windows", 476, "--boundary", "step", "--word-bits", 32)
    check_seed_step_table(doc)
    b = load_bundle(bundle_dir)
    assert sum(r["params"] for r in doc["layers"]) == sum(w.size for w in b.weights.values())
    # smaller words: the weight memory scales with them
    for bits, w0 in ((16, 36_352), (8, 18_176)):
        doc = cost_json(capsys, bundle_dir, "--windows", 476, "--word-bits", bits)
        assert doc["layers"][0]["weight_bytes"] == w0
        assert doc["layers"][0]["bytes_in"] == 134 * bits // 8


def test_other_boundaries_of_the_seed_model():
    by = {b: {r.index: r for r in boundary_costs(SEED, 24, b, 32)} for b in BOUNDARIES}
    m = by["matvec"][0]
    assert (m.bytes_in, m.bytes_out, m.macs_per_call, m.calls_per_window) == (280, 1024, 17_920, 24)
    lay = by["layer"]
    assert (lay[0].bytes_in, lay[0].bytes_out) == (24 * 6 * 4, 24 * 64 * 4)
    assert lay[1].bytes_out == 32 * 4  # the last h only
    assert lay[3].bytes_in == 32 * 4  # v once, repeated on chip
    assert lay[3].macs_per_call == 4 * 32 * 32 + 24 * 4 * 32 * 32
    whole = by["window"][None]
    assert (whole.bytes_in, whole.bytes_out, whole.calls_per_window) == (576, 576, 1)
    assert whole.macs_per_call == sum(c.macs for c in window_costs(SEED, 24))  # 1,426,432
    assert whole.weight_bytes == 4 * 64_134
    assert all(r.calls_per_window == 0 for i, r in by["window"].items() if i is not None)
    # a layer call does what the per-window analytic costs say
    for c in window_costs(SEED, 24):
        if c.kind == "lstm":
            assert lay[c.index].macs_per_call == c.macs
    alld = {r.index: r for r in boundary_costs(SEED, 24, "step", 32, offload="all")}
    assert alld[5].offloaded and (alld[5].bytes_in, alld[5].bytes_out) == (256, 24)


# ---------------------------------------------------------------- analytic vs counted calls


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("offload", ["lstm", "all"])
def test_counted_calls_agree_random_bundle(boundary, offload):
    b = random_bundle(features=3, length=6, sizes=(8, 4))
    x = np.random.default_rng(2).uniform(0, 1, (7, 6, 3))
    counted = bundle_cost(b, x=x, boundary=boundary, offload=offload)
    analytic = bundle_cost(b, windows=7, boundary=boundary, offload=offload)
    assert counted.calls_check["agree"] is True
    assert counted.calls == analytic.calls
    assert counted.calls_check["counted"] == sum(analytic.calls.values()) > 0
    assert counted.as_dict()["totals"] == analytic.as_dict()["totals"]


def test_counted_calls_through_the_cli(tmp_path, capsys):
    b = random_bundle(features=3, length=6, sizes=(8, 4))
    b.save(tmp_path / "b")
    np.savez(tmp_path / "w.npz", sequences=np.random.default_rng(3).uniform(0, 1, (5, 6, 3)))
    doc = cost_json(capsys, tmp_path / "b", "--data", tmp_path / "w.npz")
    assert doc["calls_check"] == {"analytic": 5 * 6 * 4, "counted": 120, "agree": True}
    assert doc["windows"] == 5 and "pure engine" in doc["calls_source"]
    doc = cost_json(capsys, tmp_path / "b", "--data", tmp_path / "w.npz", "--limit", 2)
    assert doc["totals"]["total_calls"] == 2 * 6 * 4 and doc["calls_check"]["agree"]


def test_counted_calls_agree_on_real_windows(seed, capsys):
    from squall.engines.tools.profiling import count_run, layer_names

    bundle_dir, windows = seed
    doc = cost_json(capsys, bundle_dir, "--data", windows, "--limit", 4)
    assert doc["calls_check"] == {"analytic": 4 * 24 * 4, "counted": 384, "agree": True}
    # the same counts profiling reports
    b = load_bundle(bundle_dir)
    x = np.load(windows)["sequences"][:4]
    steps = count_run(b, x)["step_calls"]
    names = layer_names(b)
    for r in doc["layers"]:
        if r["offloaded"]:
            assert r["calls"] == steps[names[r["index"]]]
    assert len(np.load(windows)["sequences"]) == 476  # the worked example's run


# ---------------------------------------------------------------- links and compute


def test_spi_staggered_and_overlapped():
    stag, over = Spi(), Spi(mode="overlapped")
    # 536 B in = 268 16-bit words, 512 B out = 256 words, one word per clock at 25 MHz
    assert stag.call_time(536, 512) == pytest.approx((268 + 256) / 25e6)
    assert over.call_time(536, 512) == pytest.approx(268 / 25e6)
    assert over.call_time(128, 128) == pytest.approx(2.56e-6)
    assert stag.call_time(128, 128) == pytest.approx(5.12e-6)
    # a one-wire SPI moves one bit per clock: 16 times slower for 16-bit words
    assert Spi(bits_per_clock=1).in_time(128) == pytest.approx(16 * 2.56e-6)
    # 70 words need two 64-word transactions, each with its overhead clocks
    assert Spi(overhead_cycles=8).in_time(140) == pytest.approx((70 + 2 * 8) / 25e6)
    assert Spi(in_word_bits=32).words(280, 32) == 70


def test_spi_modes_through_the_cli(seed_shaped, capsys):
    base = [seed_shaped, "--windows", 10, "--spi-overhead", 4]
    stag = cost_json(capsys, *base)
    over = cost_json(capsys, *base, "--spi-mode", "overlapped")
    r_s, r_o = stag["layers"][0], over["layers"][0]
    t_in, t_out = (268 + 5 * 4) / 25e6, (256 + 4 * 4) / 25e6
    assert r_s["transfer_s_per_call"]["spi"] == pytest.approx(t_in + t_out)
    assert r_o["transfer_s_per_call"]["spi"] == pytest.approx(max(t_in, t_out))
    assert r_s["transfer_s_per_call"]["pcie"] == r_o["transfer_s_per_call"]["pcie"]
    assert over["links"]["spi"]["mode"] == "overlapped"
    assert stag["links"]["spi"]["overhead_cycles"] == 4


def test_weights_resident_and_streamed(seed_shaped, capsys):
    res = cost_json(capsys, seed_shaped, "--windows", 10)
    stream = cost_json(capsys, seed_shaped, "--windows", 10, "--weights", "streamed")
    for a, b in zip(res["layers"], stream["layers"], strict=True):
        if a["offloaded"]:
            assert b["bytes_in"] == a["bytes_in"] + a["weight_bytes"]
            assert b["streamed_bytes"] == a["weight_bytes"] and a["streamed_bytes"] == 0
            assert b["bytes_out"] == a["bytes_out"]
    chip = 72_704 + 49_664 + 33_280 + 99_328
    assert res["totals"]["weight_bytes_on_chip"] == chip
    assert res["totals"]["weight_load_s"]["pcie"] == pytest.approx(500e-9 + chip / 5e9)
    assert stream["totals"]["weight_bytes_on_chip"] == 0
    assert stream["totals"]["weight_load_s"] == {"pcie": 0.0, "spi": 0.0}
    calls = 10 * 24
    assert stream["totals"]["bytes_in"] == res["totals"]["bytes_in"] + calls * chip
    whole = cost_json(
        capsys, seed_shaped, "--windows", 3, "--boundary", "window", "--weights", "streamed"
    )["model_call"]
    assert whole["bytes_in"] == 576 + 4 * 64_134 and whole["calls"] == 3


def test_compute_budget_and_speedup(seed_shaped, capsys):
    doc = cost_json(
        capsys,
        seed_shaped,
        "--windows",
        476,
        "--macs",
        32,
        "--clock",
        200,
        "--act-latency",
        6,
        "--budget",
        2,
        "--software-time",
        6.5,
    )
    r0 = doc["layers"][0]
    assert r0["cycles_per_call"] == math.ceil(17_920 / 32) + 6
    assert r0["compute_s_per_call"] == pytest.approx(r0["cycles_per_call"] / 200e6)
    t, a = doc["totals"], doc["answers"]
    cycles = 11_424 * sum(math.ceil(m / 32) + 6 for m in (17_920, 12_288, 8_192, 24_576))
    assert t["cycles"] == cycles and t["compute_s"] == pytest.approx(cycles / 200e6)
    for link in ("pcie", "spi"):
        spent = t["transfer_s"][link] + t["weight_load_s"][link]
        assert t["total_s"][link] == pytest.approx(spent + t["compute_s"])
        assert a[link]["max_compute_s_per_call_budget"] == pytest.approx((2 - spent) / 45_696)
        assert a[link]["max_compute_s_per_call_software"] == pytest.approx((6.5 - spent) / 45_696)
        assert a[link]["speedup"] == pytest.approx(6.5 / t["total_s"][link])
        assert a[link]["meets_budget"] == (t["total_s"][link] <= 2)
    assert a["budget_s"] == 2 and a["software_time_s"] == 6.5
    # more MACs in parallel: fewer cycles, a larger speedup
    fast = cost_json(
        capsys,
        seed_shaped,
        "--windows",
        476,
        "--macs",
        256,
        "--clock",
        200,
        "--act-latency",
        6,
        "--software-time",
        6.5,
    )
    assert fast["answers"]["pcie"]["speedup"] > a["pcie"]["speedup"]
    # a budget the transfers alone exceed leaves no compute time, and says so
    assert main(["hw", "cost", str(seed_shaped), "--windows", "476", "--budget", "0.5"]) == 0
    assert "none: the transfers alone take longer" in capsys.readouterr().out


def test_compute_model_cycles():
    c = Compute(macs=16, cycles_per_mac=2, act_latency=5, clock=50e6)
    assert c.cycles([(1, 17_920, True)]) == 2 * 1120 + 5
    assert c.cycles([(1, 4096, False), (24, 4096, True)]) == 512 + 24 * (512 + 5)
    with pytest.raises(SquallError, match="parallel MACs"):
        Compute(macs=0)


# ---------------------------------------------------------------- the interface and errors


def test_json_interface(seed_shaped):
    """The documented interface, in a real process: per-layer keys and run totals."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "squall",
            "hw",
            "cost",
            str(seed_shaped),
            "--windows",
            "476",
            "--boundary",
            "step",
            "--word-bits",
            "32",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    doc = json.loads(out)
    for r in doc["layers"]:
        assert {"weight_bytes", "bytes_in", "bytes_out", "macs_per_step", "calls"} <= set(r)
    assert doc["totals"]["total_calls"] == 45_696
    assert set(doc["totals"]["transfer_s"]) == {"pcie", "spi"}
    assert doc["totals"]["transfer_s"]["pcie"] > 0 and doc["totals"]["transfer_s"]["spi"] > 0
    assert doc["links"]["pcie"]["bandwidth"] == 5e9 and doc["links"]["pcie"]["latency"] == 5e-7
    assert doc["links"]["spi"]["clock"] == 25e6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--boundary", "gate"], "invalid choice: 'gate'"),
        (["--pcie-bandwidth", "-5"], "--pcie-bandwidth: must be a number > 0"),
        (["--pcie-latency", "-1"], "--pcie-latency: must be a number >= 0"),
        (["--spi-clock", "0"], "--spi-clock: must be a number > 0"),
        (["--word-bits", "0"], "word bits must be an integer from 1 to 64"),
        (["--macs", "0"], "parallel MACs must be an integer >= 1"),
        (["--spi-words", "0"], "SPI words per transaction must be an integer >= 1"),
        (["--weights", "cached"], "invalid choice: 'cached'"),
        (["--data", "x.npz"], "give --windows N"),
    ],
)
def test_bad_options(seed_shaped, capsys, args, message):
    assert main(["hw", "cost", str(seed_shaped), "--windows", "3", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error:") and message in err
    assert err.count("\n") == 1


def test_bad_options_one_line_in_a_process(seed_shaped):
    for args in (["--boundary", "gate"], ["--pcie-bandwidth", "-5e9"]):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "squall",
                "hw",
                "cost",
                str(seed_shaped),
                "--windows",
                "3",
                *args,
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("squall: error:")
        assert "Traceback" not in r.stderr


def test_missing_windows_and_library_checks(seed_shaped, capsys):
    assert main(["hw", "cost", str(seed_shaped)]) == 2
    assert "give --windows N" in capsys.readouterr().err
    with pytest.raises(SquallError, match="PCIe bandwidth must be positive"):
        Pcie(bandwidth=-5e9)
    with pytest.raises(SquallError, match="unknown boundary"):
        boundary_costs(SEED, 24, "gate")
    with pytest.raises(SquallError, match="SPI mode"):
        Spi(mode="sideways")
