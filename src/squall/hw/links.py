"""Link models between the host and an accelerator: time to move one call's bytes in and out.

Every model is a small frozen dataclass with its parameters in SI units (bytes/s, seconds, Hz)
and shows them (:meth:`params`, :meth:`describe`), so an answer can always be traced back to
the assumptions behind it.

PCIe (:class:`Pcie`)
    ``time = transactions * latency + (bytes_in + bytes_out) / bandwidth``. Defaults: a Gen4 x4
    link at about 5 GB/s sustained and 500 ns per transaction, one transaction per call (the
    input write and the result read share one round trip, as in the worked example; say 2 for a
    separate write and read).

SPI (:class:`Spi`)
    The call's bytes are cut into link words (``ceil(8 bytes / word bits)``, input and output
    widths separately), sent in transactions of at most ``words_per_transaction`` words, each
    transaction costing ``overhead_cycles`` extra clocks (chip select, command). A word takes
    ``ceil(word bits / bits_per_clock)`` clocks; by default a whole word moves per clock, which is
    what the worked example assumes (64 16-bit words at 25 MHz in 2.56 us). A classic one-wire
    SPI is ``bits_per_clock=1`` (16 times slower for 16-bit words), quad SPI 4.
    ``staggered``: the input, then the output (half duplex): ``in + out``. ``overlapped``: full
    duplex, the next call's input shifts in while this call's output shifts out, so a call
    costs ``max(in, out)``; that needs independent calls in flight (e.g. other windows).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from squall.errors import SquallError

SPI_MODES = ("staggered", "overlapped")


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise SquallError(f"{name} must be {'>= 0' if allow_zero else 'positive'}, got {value!r}")


def _whole(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SquallError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class Pcie:
    """PCIe: sustained bandwidth (bytes/s) and latency (s) per transaction."""

    bandwidth: float = 5e9
    latency: float = 500e-9
    transactions_per_call: int = 1

    name = "pcie"

    def __post_init__(self) -> None:
        _positive("PCIe bandwidth", self.bandwidth)
        _positive("PCIe latency", self.latency, allow_zero=True)
        _whole("PCIe transactions per call", self.transactions_per_call, 1)

    def call_time(self, bytes_in: int, bytes_out: int) -> float:
        """Seconds to move one call's input and output."""
        return self.transactions_per_call * self.latency + (bytes_in + bytes_out) / self.bandwidth

    def bulk_time(self, nbytes: int) -> float:
        """Seconds for a one-off transfer of ``nbytes`` (one transaction, e.g. loading weights)."""
        return self.latency + nbytes / self.bandwidth if nbytes else 0.0

    def params(self) -> dict:
        return {"link": "pcie", **asdict(self)}

    def describe(self) -> str:
        return (
            f"PCIe: {self.bandwidth / 1e9:g} GB/s sustained, {fmt_time(self.latency)} per "
            f"transaction, {self.transactions_per_call} transaction(s) per call"
        )


@dataclass(frozen=True)
class Spi:
    """SPI: clock (Hz), link word widths (bits), words per transaction, overhead (clocks per
    transaction), bits moved per clock (``None``: a whole word per clock), staggered or
    overlapped input and output."""

    clock: float = 25e6
    in_word_bits: int = 16
    out_word_bits: int = 16
    words_per_transaction: int = 64
    overhead_cycles: int = 0
    mode: str = "staggered"
    bits_per_clock: int | None = None

    name = "spi"

    def __post_init__(self) -> None:
        _positive("SPI clock", self.clock)
        _whole("SPI input word width", self.in_word_bits, 1)
        _whole("SPI output word width", self.out_word_bits, 1)
        _whole("SPI words per transaction", self.words_per_transaction, 1)
        _whole("SPI overhead cycles", self.overhead_cycles, 0)
        if self.mode not in SPI_MODES:
            raise SquallError(f"SPI mode must be one of {', '.join(SPI_MODES)}, got {self.mode!r}")
        if self.bits_per_clock is not None:
            _whole("SPI bits per clock", self.bits_per_clock, 1)

    def words(self, nbytes: int, word_bits: int) -> int:
        return math.ceil(8 * nbytes / word_bits)

    def word_time(self, words: int, word_bits: int) -> float:
        """Seconds to send ``words`` link words of ``word_bits`` in one direction, overheads
        included."""
        if words == 0:
            return 0.0
        per_word = 1 if self.bits_per_clock is None else math.ceil(word_bits / self.bits_per_clock)
        transactions = math.ceil(words / self.words_per_transaction)
        return (words * per_word + transactions * self.overhead_cycles) / self.clock

    def in_time(self, nbytes: int) -> float:
        return self.word_time(self.words(nbytes, self.in_word_bits), self.in_word_bits)

    def out_time(self, nbytes: int) -> float:
        return self.word_time(self.words(nbytes, self.out_word_bits), self.out_word_bits)

    def combine(self, t_in: float, t_out: float) -> float:
        return t_in + t_out if self.mode == "staggered" else max(t_in, t_out)

    def call_time(self, bytes_in: int, bytes_out: int) -> float:
        return self.combine(self.in_time(bytes_in), self.out_time(bytes_out))

    def bulk_time(self, nbytes: int) -> float:
        """Seconds for a one-off input transfer of ``nbytes`` (e.g. loading weights)."""
        return self.in_time(nbytes)

    def params(self) -> dict:
        return {"link": "spi", **asdict(self)}

    def describe(self) -> str:
        if self.bits_per_clock is None:
            rate = "one word per clock"
        else:
            rate = f"{self.bits_per_clock} bit(s) per clock"
        return (
            f"SPI: {self.clock / 1e6:g} MHz, {self.in_word_bits}-bit words in, "
            f"{self.out_word_bits}-bit words out, {rate}, {self.words_per_transaction} words "
            f"per transaction, {self.overhead_cycles} overhead clocks per transaction, "
            f"in and out {self.mode}"
        )


def fmt_time(seconds: float | None) -> str:
    """Seconds in the largest unit that keeps the number >= 1, five significant digits
    (607.2 ns, 27.747 ms, 43.16 us)."""
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0 s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.5g} {unit}"
    return f"{seconds / 1e-12:.5g} ps"
