"""Limits on what squall accepts from outside, each stated once with its reason.

Standard library only (:mod:`squall.engines.pure` uses it).

- Every input squall opens is a regular file (or a directory where a directory is expected),
  checked before it is opened: ``/dev/zero`` would be read until memory runs out, a FIFO blocks
  forever, and neither is a file a user can mean as data, a bundle or a configuration.
- Scaled values are bounded by :data:`SCALED_LIMIT`, window settings by
  :data:`MAX_WINDOW_LENGTH` and :data:`MAX_STRIDE`, layer widths by :data:`MAX_UNITS` (see each).
- A number read from a file (JSON) is an ``int`` or ``float``, never a ``bool``:
  :func:`is_number`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from squall.errors import SquallError

#: Largest magnitude of a scaled value (in scaler units: training ranges for min-max, standard
#: deviations for standard scaling). Windows are clipped to it when they are built and engines
#: clip their input to it. Any value that far out is an anomaly whatever the bound, the LSTM gates
#: saturate long before it, and it keeps everything downstream finite in float32 as well as
#: float64: a squared error is at most ``(2e6)^2 = 4e12`` and a window's sum of them (T x F cells,
#: far fewer than 1e20) stays below float32's 3.4e38, so scores, ``why`` shares and the windows
#: file written as float32 never become infinite.
SCALED_LIMIT = 1e6

#: Longest window, in time steps (``windows.length`` of a bundle or windows file, and so the
#: repeat layer's ``times``). A window is one LSTM sequence, stepped one step at a time by every
#: engine and held as ``length x features`` values per window; 100,000 steps is more than eleven
#: years of hourly reports, far beyond any window an autoencoder is trained on (tens to hundreds),
#: while a larger length only ever produces an error (no series that long) or an OverflowError.
MAX_WINDOW_LENGTH = 100_000
#: Largest stride between window starts, in time steps: a 32-bit signed index. Window starts are
#: computed in numpy int64, where a stride beyond int64 is an OverflowError; and any stride longer
#: than a series already gives one window per segment, so a larger one would change nothing.
MAX_STRIDE = 2**31 - 1
#: Widest layer (LSTM hidden size, layer input, dense output, so also the number of features).
#: An LSTM's recurrent weights are ``4H x H``: at H = 16,384 that is 2**30 values, 4 GiB in
#: float32, as much as a laptop can hold; trained sensor autoencoders use tens to hundreds.
MAX_UNITS = 16_384


def is_number(value: object, *, integer: bool = False) -> bool:
    """``value`` is a number as a file states it: an ``int`` or (unless ``integer``) a
    ``float``, never a ``bool`` (JSON ``true`` is not 1 in a file squall reads)."""
    return isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)


def _a(what: str) -> str:
    """``what`` with its indefinite article ("an export file", "a labels file")."""
    return f"{'an' if what[:1].lower() in tuple('aeiou') else 'a'} {what}"


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _mode(path: object, what: str, missing: str = "no such file: {p}") -> tuple[Path, int]:
    """``path`` as a Path and its ``stat`` mode (links followed), or a one-line error."""
    if not isinstance(path, (str, os.PathLike)):
        raise SquallError(f"{what}: expected a path, got {type(path).__name__}")
    p = Path(path)
    try:
        return p, p.stat().st_mode
    except FileNotFoundError:
        raise SquallError(missing.format(p=p, what=what)) from None
    except OSError as exc:
        raise SquallError(f"cannot read {what} {p}: {exc.strerror or exc}") from None


def regular_file(
    path: str | os.PathLike[str], what: str = "file", missing: str = "no such file: {p}"
) -> Path:
    """``path`` as a Path if it is a regular file (symbolic links followed); otherwise a one-line
    ``SquallError`` naming ``what`` it should have been. Only ``stat`` is called, so a FIFO is
    refused without blocking and a device without reading from it. A missing file (or a broken
    link) gives ``missing``, formatted with ``p`` (the path) and ``what``: no separate
    ``exists()`` check is needed."""
    p, mode = _mode(path, what, missing)
    if stat.S_ISDIR(mode):
        raise SquallError(f"{p} is a directory, expected {_a(what)}")
    if not stat.S_ISREG(mode):
        raise SquallError(f"{p} is {_kind(mode)}, expected {_a(what)} (a regular file)")
    return p


def directory(path: str | os.PathLike[str], what: str = "directory") -> Path:
    """``path`` as a Path if it is a directory; otherwise a one-line ``SquallError``."""
    p, mode = _mode(path, what, "no {what} at {p}")
    if not stat.S_ISDIR(mode):
        raise SquallError(
            f"{p} is {'a file' if stat.S_ISREG(mode) else _kind(mode)}, expected {_a(what)}"
        )
    return p
