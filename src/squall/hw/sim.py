"""Run the generated RTL: cocotb simulations (Icarus Verilog or Verilator), lint, Yosys synthesis.

The expected integers of every case come from the fixed engine before the simulator starts
(:func:`matvec_cases`, :func:`cell_cases`, :func:`layer_cases`); the testbenches in
:mod:`squall.hw.tb` drive the DUT, compare and count clocks, and :func:`run` returns their
results. :func:`measure_cycles` is what ``squall hw cycles`` runs: clocks per mat-vec and per
LSTM step of every layer, the file ``squall hw cost --cycles-from-sim`` reads.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from squall.engines.fixed import FixedLstm
from squall.errors import SquallError
from squall.hw.clocks import cycles_summary
from squall.hw.design import RtlDesign
from squall.hw.export_layout import weights_digest
from squall.hw.rtl import load_design

SIMULATORS = {"icarus": "iverilog", "verilator": "verilator"}


def available(simulator: str) -> bool:
    return shutil.which(SIMULATORS.get(simulator, simulator)) is not None


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        raise SquallError(
            f"{tool} is not installed (Debian: apt-get install {tool}; `make test` installs it)"
        )


def sources(rtl_dir: Path) -> list[Path]:
    manifest = load_design(rtl_dir)
    return [Path(rtl_dir) / name for name in manifest["sources"]]


# ---------------------------------------------------------------- cases


def _random_vector(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    """Mostly uniform codes, some extremes and zeros (the edges get hit often)."""
    pick = rng.random()
    if pick < 0.05:
        return [rng.choice((lo, hi)) for _ in range(n)]
    if pick < 0.08:
        return [0] * n
    return [rng.randint(lo, hi) for _ in range(n)]


def matvec_cases(d: RtlDesign, count: int, seed: int = 0, layers=None) -> list[dict]:
    """``count`` random vectors spread over the layers, with the exact accumulators."""
    rng = random.Random(seed)
    t = d.config.data
    chosen = [r for r in d.layers if layers is None or r.index in layers]
    out = []
    for k in range(count):
        r = chosen[k % len(chosen)]
        M, _ = d.matrix(r)
        v = _random_vector(rng, r.cols, t.min_code, t.max_code)
        acc = [
            sum(w * x for w, x in zip(row, v, strict=True)) + b
            for row, b in zip(M, d.fixed_layer(r.index).b_acc, strict=True)
        ]
        out.append({"layer": r.index, "vector": v, "acc": acc})
    return out


def cell_cases(d: RtlDesign, count: int, seed: int = 0, layers=None) -> list[dict]:
    """``count`` random LSTM steps (x, h_prev, c_prev) with the fixed engine's (h, c)."""
    rng = random.Random(seed)
    cfg, m = d.config, d.model
    chosen = [r for r in d.layers if r.kind == "lstm" and (layers is None or r.index in layers)]
    out = []
    for k in range(count):
        r = chosen[k % len(chosen)]
        L = d.fixed_layer(r.index)
        x = _random_vector(rng, r.inputs, cfg.data.min_code, cfg.data.max_code)
        h = _random_vector(rng, r.hidden, cfg.data.min_code, cfg.data.max_code)
        c = _random_vector(rng, r.hidden, cfg.cell.min_code, cfg.cell.max_code)
        h2, c2 = m.lstm_step(L, x, h, c)
        out.append(
            {
                "layer": r.index,
                "x": x,
                "h_prev": h,
                "c_prev": c,
                "h": h2,
                "c": c2,
                "name": f"random {k}",
            }
        )
    return out


def random_layer_cases(d: RtlDesign, runs: int, seed: int = 0) -> list[dict]:
    """``runs`` whole-layer runs from zero state on random input vectors (T per run), spread
    over the LSTM layers, with every step's h from the fixed engine."""
    rng = random.Random(seed)
    t = d.config.data
    lstms = [r for r in d.layers if r.kind == "lstm"]
    out = []
    for k in range(runs):
        r = lstms[k % len(lstms)]
        L = d.fixed_layer(r.index)
        h, c, xs, hs, cs = [0] * r.hidden, [0] * r.hidden, [], [], []
        for _ in range(d.length):
            x = _random_vector(rng, r.inputs, t.min_code, t.max_code)
            h, c = d.model.lstm_step(L, x, h, c)
            xs.append(x)
            hs.append(h)
            cs.append(c)
        out.append({"layer": r.index, "xs": xs, "hs": hs, "cs": cs})
    return out


def golden_cases(d: RtlDesign, rtl_dir: Path) -> list[dict]:
    """The export's golden LSTM cases (``export/golden/cases.json``) as cell cases."""
    detail = json.loads((Path(rtl_dir) / "export" / "golden" / "cases.json").read_text())
    out = []
    for layer, cases in detail.items():
        if d.fixed_layer(int(layer)).__class__ is not FixedLstm:
            continue
        for c in cases:
            out.append(
                {
                    "layer": int(layer),
                    "x": c["x"],
                    "h_prev": c["h_prev"],
                    "c_prev": c["c_prev"],
                    "h": c["h"],
                    "c": c["c"],
                    "name": f"{c['source']}: {c['name']}",
                }
            )
    return out


def layer_cases(d: RtlDesign, windows_codes, index: int) -> list[dict]:
    """Whole-layer runs: the layer's inputs over the T steps of each window (data codes, the
    model run up to the layer) and every step's h."""
    out = []
    for window in windows_codes:
        trace: list = []
        d.model.reconstruct_codes([list(map(int, row)) for row in window], trace)
        recs = [r for r in trace if r["layer"] == index]
        out.append(
            {
                "layer": index,
                "xs": [r["x"] for r in recs],
                "hs": [r["h"] for r in recs],
                "cs": [r["c"] for r in recs],
            }
        )
    return out


# ---------------------------------------------------------------- running


def run(
    rtl_dir,
    top: str,
    test: str,
    job: dict,
    simulator: str = "icarus",
    build_dir=None,
    extra_env: dict | None = None,
) -> dict:
    """Build ``top`` from the generated sources and run testbench ``test`` of
    :mod:`squall.hw.tb` on ``job``; returns the testbench's results. A testbench failure is a
    :class:`SquallError` naming the first mismatch."""
    _need(SIMULATORS[simulator])
    rtl_dir = Path(rtl_dir).resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cocotb.runner import get_results, get_runner
    with tempfile.TemporaryDirectory(prefix="squall-sim-") as tmp:
        work = Path(tmp)
        build = Path(build_dir) if build_dir else work / "build"
        job = dict(job, results=str(work / "results.json"))
        (work / "job.json").write_text(json.dumps(job))
        keep = os.environ.get("SQUALL_SIM_KEEP")
        runner = get_runner(simulator)
        args = ["-Wno-fatal"] if simulator == "verilator" else []
        try:
            runner.build(
                sources=[str(p) for p in sources(rtl_dir)],
                hdl_toplevel=top,
                build_dir=str(build),
                build_args=args,
                always=build_dir is None,
                log_file=str(work / "build.log"),
                timescale=("1ns", "1ps"),
            )
        except SystemExit as exc:  # cocotb's runner exits when the HDL does not compile
            log = (work / "build.log").read_text(errors="replace").strip().splitlines()
            first = next((line for line in log if "error" in line.lower()), str(exc))
            raise SquallError(f"{simulator} could not build {top}: {first.strip()}") from None
        env = {"SQUALL_TB_JOB": str(work / "job.json"), **(extra_env or {})}
        # cocotb's runner names its results after a pytest test when it runs inside one and
        # then refuses an explicit results file: keep the results out of the RTL directory
        current = os.environ.pop("PYTEST_CURRENT_TEST", None)
        try:
            xml = runner.test(
                hdl_toplevel=top,
                test_module="squall.hw.tb",
                testcase=test,
                test_dir=str(rtl_dir),
                build_dir=str(build),
                extra_env=env,
                results_xml=str(work / "results.xml"),
                log_file=str(work / "sim.log"),
            )
        finally:
            if current is not None:
                os.environ["PYTEST_CURRENT_TEST"] = current
        if not (work / "results.json").exists():
            sim_log = (
                (work / "sim.log").read_text(errors="replace")
                if (work / "sim.log").exists()
                else ""
            )
            if keep:
                shutil.copytree(work, keep, dirs_exist_ok=True)
            errors = re.findall(r"\b(\w+Error: .*)", sim_log)
            error = errors[-1].strip() if errors else "see the simulator log"
            raise SquallError(f"simulation of {top} ({test}) produced no results: {error}")
        results = json.loads((work / "results.json").read_text())
        _tests, failed = get_results(xml)
        results["failed"] = failed
    return results


def measure_cycles(bundle, rtl_dir, simulator: str = "icarus") -> dict:
    """Clocks of one mat-vec and one LSTM step of every layer, in simulation."""
    manifest = load_design(rtl_dir)
    if (
        manifest["bundle"]["weights_digest"] != weights_digest(bundle)
        or manifest["bundle"]["layers"] != bundle.model.to_json()
    ):
        raise SquallError(
            f"{rtl_dir} was generated from another bundle (weights digest "
            f"{manifest['bundle']['weights_digest']}, this bundle "
            f"{weights_digest(bundle)}); regenerate it with squall hw rtl"
        )
    d = RtlDesign(bundle, manifest["config"], manifest["lanes"])
    mv = run(
        rtl_dir, "squall_matvec", "matvec", {"cases": matvec_cases(d, len(d.layers))}, simulator
    )
    st = run(
        rtl_dir,
        "squall_lstm_cell",
        "cell",
        {"cases": cell_cases(d, sum(r.kind == "lstm" for r in d.layers))},
        simulator,
    )
    for res in (mv, st):
        if res["mismatches"]:
            raise SquallError(f"the RTL differs from the fixed engine: {res['mismatches'][0]}")
    return cycles_summary(d, mv["cycles"], st["cycles"])


# ---------------------------------------------------------------- lint and synthesis


def lint(rtl_dir) -> dict[str, dict[str, str]]:
    """``iverilog -g2012`` and ``verilator --lint-only`` on every top module, and Verilator on
    all the files as they are (no top named); returns ``{top: {tool: "ok" | message}}``."""
    rtl_dir = Path(rtl_dir)
    manifest = load_design(rtl_dir)
    files = [str(p) for p in sources(rtl_dir)]
    out = {}
    for tool in ("iverilog", "verilator"):
        _need(tool)
    p = subprocess.run(
        ["verilator", "--lint-only", *files], capture_output=True, text=True, cwd=rtl_dir
    )
    text = (p.stdout + p.stderr).strip()
    out["(all files)"] = {"verilator": "ok" if p.returncode == 0 and not text else text}
    for top in manifest["tops"]:
        if f"{top}.sv" not in manifest["sources"]:
            continue
        out[top] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for tool, cmd in (
                (
                    "iverilog",
                    ["iverilog", "-g2012", "-s", top, "-o", str(Path(tmp) / "a.vvp"), *files],
                ),
                ("verilator", ["verilator", "--lint-only", "--top-module", top, *files]),
            ):
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=rtl_dir)
                text = (p.stdout + p.stderr).strip()
                out[top][tool] = "ok" if p.returncode == 0 and not text else text or "failed"
    return out


def synthesize(rtl_dir, top: str) -> dict:
    """Yosys generic synthesis of ``top``: cell counts by type, flip-flops, latches, memory
    bits, and the longest combinational path in cells (``ltp -noff``)."""
    _need("yosys")
    rtl_dir = Path(rtl_dir)
    files = " ".join(str(p.resolve()) for p in sources(rtl_dir))
    script = (
        f"read_verilog -sv {files}; synth -top {top} -flatten; "
        f"tee -o stat.txt stat; tee -o ltp.txt ltp -noff"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mem in rtl_dir.glob("*.mem"):
            shutil.copy(mem, tmp)
        p = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, cwd=tmp)
        if p.returncode != 0:
            raise SquallError(
                f"yosys failed on {top}: {(p.stderr or p.stdout).strip().splitlines()[-1:]}"
            )
        stat = (Path(tmp) / "stat.txt").read_text()
        ltp = (Path(tmp) / "ltp.txt").read_text()
    cells = {
        m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\$\S+)\s*$", stat, re.M)
    }
    if not cells:  # yosys 0.23 prints "name count"
        cells = {
            m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\$\S+)\s+(\d+)\s*$", stat, re.M)
        }
    total = re.search(r"Number of cells:\s+(\d+)", stat)
    longest = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", ltp)
    ffs = sum(v for k, v in cells.items() if "DFF" in k.upper() or "_SDFF" in k.upper())
    latches = sum(v for k, v in cells.items() if "DLATCH" in k.upper() or "_SR_" in k.upper())
    return {
        "top": top,
        "cells": int(total.group(1)) if total else sum(cells.values()),
        "flip_flops": ffs,
        "latches": latches,
        "longest_path": int(longest.group(1)) if longest else None,
        "by_type": cells,
    }
