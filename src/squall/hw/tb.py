"""cocotb testbenches for the generated RTL (:mod:`squall.hw.rtl`), run by :mod:`squall.hw.sim`.

Each test reads a job (JSON, path in ``SQUALL_TB_JOB``): the cases to drive and the expected
integers, computed beforehand by the fixed engine. It drives the DUT, compares every output
code, counts clocks, and writes its results (JSON, path in the job) before asserting that
nothing differed. The drivers follow the ports' documented protocol: ``start`` for one clock,
the input stream one value per clock, the outputs read after each rising edge.

``cosim`` is different: the fixed engine's plain-Python backend runs a whole window in a thread
(``cocotb.external``) with every LSTM step of one layer sent to the simulated cell and waited
for (``cocotb.function``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer, with_timeout

#: Clock period of the system clock in ns (100 MHz).
CLOCK_NS = 10
#: Longest a single case may take (1,000,000 clocks): a hung DUT fails the test instead of
#: running forever.
TIMEOUT_NS = 1_000_000 * CLOCK_NS


async def _bounded(coro):
    return await with_timeout(coro, TIMEOUT_NS, "ns")


def _job() -> dict:
    return json.loads(Path(os.environ["SQUALL_TB_JOB"]).read_text())


def _finish(job: dict, results: dict) -> None:
    Path(job["results"]).write_text(json.dumps(results))
    bad = results.get("mismatches", [])
    assert not bad, f"{len(bad)} mismatches, first: {bad[0]}"


def _first_difference(got: list, want: list) -> int:
    """The first index where two lists differ (the shorter length when one is a prefix)."""
    return next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )


def _read(dut, name: str) -> int:
    """A port's value: two's complement for the data ports, unsigned for indices."""
    v = getattr(dut, name).value
    return v.signed_integer if name in ("out_acc", "out_h", "out_c") else v.integer


async def _start(dut, inputs: tuple[str, ...]) -> None:
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, units="ns").start())
    for name in inputs:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def _collect(
    dut, valid: str, fields: tuple[str, ...], done: str = "done", count: int | None = None
):
    """Read ``fields`` after every rising edge where ``valid`` is high, until ``done`` (or
    ``count`` results), counting clocks; waits on edges of ``valid``/``done`` in between, not
    on every clock."""
    clk, v, d = dut.clk, getattr(dut, valid), getattr(dut, done)
    out, clocks = [], 0
    while True:
        await RisingEdge(clk)
        clocks += 1
        await ReadOnly()
        if v.value == 1:
            out.append(tuple(_read(dut, f) for f in fields))
        if d.value == 1 or len(out) == count:
            break
        if v.value == 0:  # skip the quiet clocks: wait for the next result or the end
            t0 = cocotb.utils.get_sim_time("ns")
            await First(RisingEdge(v), RisingEdge(d))
            clocks += round((cocotb.utils.get_sim_time("ns") - t0) / CLOCK_NS) - 1
            await ReadOnly()
            # the edge of valid/done happened at a clock edge: read it as above
            clocks += 1
            if v.value == 1:
                out.append(tuple(_read(dut, f) for f in fields))
            if d.value == 1 or len(out) == count:
                break
    await Timer(1, "ns")  # leave the read-only phase before driving again
    return out, clocks


async def _stream(dut, valid: str, data: str, values, ready: str | None = None) -> int:
    """Drive ``values`` one per clock (holding each until ``ready``); returns clocks used."""
    clocks = 0
    for value in values:
        getattr(dut, valid).value = 1
        getattr(dut, data).value = int(value)
        while True:
            await RisingEdge(dut.clk)
            clocks += 1
            if ready is None or getattr(dut, ready).value == 1:
                break
    getattr(dut, valid).value = 0
    return clocks


# ---------------------------------------------------------------- mat-vec


async def matvec_once(dut, layer: int, vector: list[int]) -> tuple[list[int], int]:
    dut.layer.value = layer
    dut.start.value = 1
    await RisingEdge(dut.clk)  # clock 1: start sampled
    dut.start.value = 0
    clocks = 1 + await _stream(dut, "in_valid", "in_data", vector)
    out, more = await _collect(dut, "out_valid", ("out_row", "out_acc"))
    rows = [r for r, _ in out]
    if rows != list(range(len(rows))):
        raise AssertionError(f"rows came out as {rows[:8]}...")
    return [a for _, a in out], clocks + more


@cocotb.test()
async def matvec(dut):
    job = _job()
    await _start(dut, ("start", "layer", "in_valid", "in_data"))
    bad, cycles = [], {}
    for k, case in enumerate(job["cases"]):
        got, clocks = await _bounded(matvec_once(dut, case["layer"], case["vector"]))
        cycles.setdefault(str(case["layer"]), []).append(clocks)
        if got != case["acc"]:
            first = _first_difference(got, case["acc"])
            bad.append(
                {
                    "case": k,
                    "layer": case["layer"],
                    "row": first,
                    "got": got[first : first + 1],
                    "want": case["acc"][first : first + 1],
                    "rows": len(got),
                }
            )
    _finish(job, {"mismatches": bad, "cycles": cycles, "cases": len(job["cases"])})


# ---------------------------------------------------------------- LSTM cell


async def cell_step(
    dut, layer: int, x: list[int], h: list[int] | None, c: list[int] | None
) -> tuple[list[int], list[int], int]:
    """One step; with ``h``/``c`` the state registers are written first (not counted)."""
    if h is not None:
        assert c is not None, "h and c are written together"
        for k, (hv, cv) in enumerate(zip(h, c, strict=True)):
            dut.st_we.value = 1
            dut.st_idx.value = k
            dut.st_h.value = hv
            dut.st_c.value = cv
            await RisingEdge(dut.clk)
        dut.st_we.value = 0
    dut.layer.value = layer
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    clocks = 1 + await _stream(dut, "x_valid", "x_data", x, "x_ready")
    out, more = await _collect(dut, "out_valid", ("out_idx", "out_h", "out_c"))
    if [o[0] for o in out] != list(range(len(out))):
        raise AssertionError("units came out of order")
    return [o[1] for o in out], [o[2] for o in out], clocks + more


@cocotb.test()
async def cell(dut):
    job = _job()
    await _start(
        dut, ("start", "layer", "clear", "x_valid", "x_data", "st_we", "st_idx", "st_h", "st_c")
    )
    bad, cycles = [], {}
    for k, case in enumerate(job["cases"]):
        h, c, clocks = await _bounded(
            cell_step(dut, case["layer"], case["x"], case["h_prev"], case["c_prev"])
        )
        cycles.setdefault(str(case["layer"]), []).append(clocks)
        if h != case["h"] or c != case["c"]:
            bad.append(
                {
                    "case": k,
                    "layer": case["layer"],
                    "name": case.get("name", ""),
                    "h": [h[:4], case["h"][:4]],
                    "c": [c[:4], case["c"][:4]],
                }
            )
    _finish(job, {"mismatches": bad, "cycles": cycles, "cases": len(job["cases"])})


# ---------------------------------------------------------------- layer sequencer


@cocotb.test()
async def layer(dut):
    job = _job()
    await _start(dut, ("start", "layer", "x_valid", "x_data"))
    bad, cycles = [], {}
    for k, case in enumerate(job["cases"]):
        await _bounded(_layer_run(dut, k, case, bad, cycles))
    _finish(job, {"mismatches": bad, "cycles": cycles, "cases": len(job["cases"])})


async def _layer_run(dut, k: int, case: dict, bad: list, cycles: dict) -> None:
    """One whole-layer run of the sequencer (its clocks into ``cycles``)."""
    dut.layer.value = case["layer"]
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    T, H = len(case["xs"]), len(case["hs"][0])
    got: list[list[int]] = []
    clocks = 1
    for t in range(T):
        clocks += await _stream(dut, "x_valid", "x_data", case["xs"][t], "x_ready")
        out, more = await _collect(dut, "out_valid", ("out_step", "out_idx", "out_h"), count=H)
        clocks += more
        got.append([o[2] for o in out])
        if any(o[0] != t for o in out) or len(out) != H:
            bad.append({"case": k, "step": t, "problem": "wrong step index or count"})
    while dut.done.value != 1:  # the sequencer's done follows the last unit
        await RisingEdge(dut.clk)
        clocks += 1
        await ReadOnly()
    await Timer(1, "ns")
    cycles.setdefault(str(case["layer"]), []).append(clocks)
    if got != case["hs"]:
        t = _first_difference(got, case["hs"])
        bad.append(
            {
                "case": k,
                "layer": case["layer"],
                "step": t,
                "got": got[t][:4],
                "want": case["hs"][t][:4],
            }
        )


# ---------------------------------------------------------------- SPI

#: Half an SCLK period in ns: 25 MHz.
SPI_HALF_NS = 20


async def spi_transaction(
    dut,
    words: list[tuple[int, int]],
    read_words: int = 0,
    read_bits: int = 32,
    gap_ns: float = 4 * CLOCK_NS,
) -> tuple[list[int], float]:
    """An SPI mode 0 master: CS low, each ``(value, bits)`` MSB first on MOSI, then
    ``read_words`` words of ``read_bits`` clocked in from MISO (MOSI low); CS high at the last
    falling edge. Returns the words read and the time CS was low, in ns."""
    bits = [(v >> (n - 1 - i)) & 1 for v, n in words for i in range(n)]
    bits += [0] * (read_words * read_bits)
    start = cocotb.utils.get_sim_time("ns")
    dut.cs_n.value = 0
    got = []
    for b in bits:
        dut.mosi.value = b
        await Timer(SPI_HALF_NS, "ns")
        got.append(int(dut.miso.value))  # the master samples on the rising edge
        dut.sclk.value = 1
        await Timer(SPI_HALF_NS, "ns")
        dut.sclk.value = 0
    dut.cs_n.value = 1
    elapsed = cocotb.utils.get_sim_time("ns") - start
    await Timer(gap_ns, "ns")  # CS high between transactions
    skip = len(bits) - read_words * read_bits
    out = []
    for k in range(read_words):
        word = 0
        for b in got[skip + k * read_bits : skip + (k + 1) * read_bits]:
            word = word << 1 | b
        out.append(word)
    return out, elapsed


def _signed16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


@cocotb.test()
async def spi(dut):
    """Steps of layers through the SPI top: write (command + x), wait for ``ready``, read."""
    job = _job()
    await _start(dut, ("sclk", "mosi"))
    dut.cs_n.value = 1
    bad, times = [], []
    gap = job.get("gap_ns", 4 * CLOCK_NS)
    await Timer(job.get("phase_ns", 0) + 1, "ns")  # SCLK edges off the system clock's
    for k, case in enumerate(job["cases"]):
        if k and job.get("reset_between"):
            # an interrupted write (3 words: the toggle's parity flips) and then a reset
            await spi_transaction(
                dut, [(case["layer"], 16), (0x0041, 16), (0x0123, 16)], gap_ns=gap
            )
            await RisingEdge(dut.clk)
            dut.rst.value = 1
            for _ in range(3):
                await RisingEdge(dut.clk)
            dut.rst.value = 0
            await Timer(CLOCK_NS // 2, "ns")
        for t, x in enumerate(case["xs"]):
            cmd = (1 << 14 if t == 0 else 0) | case["layer"]
            _, write_ns = await spi_transaction(
                dut, [(cmd, 16)] + [(v & 0xFFFF, 16) for v in x], gap_ns=gap
            )
            waited = 0
            while dut.ready.value != 1:
                await Timer(CLOCK_NS, "ns")
                waited += 1
                if waited > TIMEOUT_NS // CLOCK_NS:
                    raise AssertionError(f"ready never rose (case {k}, step {t})")
            words, read_ns = await spi_transaction(
                dut, [(0x8000, 16)], read_words=len(case["hs"][t]), gap_ns=gap
            )
            h = [_signed16(w) for w in words]
            c = [_signed16(w >> 16) for w in words]
            times.append(
                {
                    "layer": case["layer"],
                    "in_words": len(x),
                    "out_words": len(words),
                    "write_ns": write_ns,
                    "read_ns": read_ns,
                    "compute_clocks": waited,
                }
            )
            if h != case["hs"][t] or c != case["cs"][t]:
                bad.append(
                    {
                        "case": k,
                        "step": t,
                        "h": [h[:4], case["hs"][t][:4]],
                        "c": [c[:4], case["cs"][t][:4]],
                    }
                )
    _finish(job, {"mismatches": bad, "transactions": times, "cases": len(job["cases"])})


# ---------------------------------------------------------------- co-simulation


@cocotb.test()
async def cosim(dut):
    """The fixed engine's plain-Python run of one window, every LSTM step of one layer done by
    the simulated cell; the reconstruction must equal the fixed engine's own."""
    from squall.bundle import load_bundle
    from squall.engines.fixed import FixedModel, resolve_config

    job = _job()
    await _start(
        dut, ("start", "layer", "clear", "x_valid", "x_data", "st_we", "st_idx", "st_h", "st_c")
    )
    model = FixedModel(load_bundle(job["bundle"]), resolve_config(job["config"]))
    calls = []

    @cocotb.function
    async def rtl_step(L, x, h, c):
        h2, c2, clocks = await cell_step(dut, L.index, x, h, c)
        calls.append(clocks)
        return h2, c2

    out = await cocotb.external(model.reconstruct_codes)(
        job["window"], None, {job["layer"]: rtl_step}
    )
    t = _first_difference(out, job["expected"])
    bad = (
        []
        if out == job["expected"]
        else [
            {
                "problem": "reconstruction differs",
                "first": (t, _first_difference(out[t], job["expected"][t]) if t < len(out) else 0),
            }
        ]
    )
    _finish(job, {"mismatches": bad, "rtl_steps": len(calls), "clocks": calls, "cases": 1})


@cocotb.test()
async def spi_slave(dut):
    """The SPI slave alone: random 16-bit words in (64 per transaction, after a command word)
    must arrive on ``rx_data``; random 32-bit words loaded with ``tx_we`` must come out."""
    job = _job()
    await _start(dut, ("sclk", "mosi", "tx_we", "tx_addr", "tx_data"))
    dut.cs_n.value = 1
    received: list[tuple[int, int]] = []

    async def monitor():
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if dut.rx_valid.value == 1:
                received.append((int(dut.rx_first.value), int(dut.rx_data.value)))

    cocotb.start_soon(monitor())
    await Timer(1, "ns")
    bad, sent = [], []
    for k, words in enumerate(job["in"]):
        cmd = k & 0x3FFF
        sent.append((1, cmd))
        sent += [(0, w) for w in words]
        await spi_transaction(dut, [(cmd, 16)] + [(w, 16) for w in words])
    await Timer(10 * CLOCK_NS, "ns")
    if received != sent:
        first = _first_difference(received, sent)
        bad.append(
            {
                "problem": "received words differ",
                "index": first,
                "got": received[first : first + 1],
                "want": sent[first : first + 1],
            }
        )
    for k, words in enumerate(job["out"]):
        for a, w in enumerate(words):
            await RisingEdge(dut.clk)
            dut.tx_we.value = 1
            dut.tx_addr.value = a
            dut.tx_data.value = w
        await RisingEdge(dut.clk)
        dut.tx_we.value = 0
        got, _ = await spi_transaction(dut, [(0x8000, 16)], read_words=len(words))
        if got != words:
            i = _first_difference(got, words)
            bad.append({"transaction": k, "word": i, "got": got[i], "want": words[i]})
    _finish(
        job,
        {
            "mismatches": bad,
            "in_words": sum(map(len, job["in"])),
            "out_words": sum(map(len, job["out"])),
            "cases": len(job["in"]),
        },
    )
