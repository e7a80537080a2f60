"""Reading ``.npz`` files from outside without trusting their sizes or types.

Before any array is read, every member's ``.npy`` header (shape, dtype) and the zip's declared
uncompressed size are read and checked:

- the declared size must be exactly the header plus ``prod(shape) * itemsize`` bytes: a member
  whose header claims 1e12 windows but whose data is 7 MB, or whose zip entry declares more
  bytes than its shape needs (a zip bomb padding), is refused instead of being allocated;
- the arrays to be loaded must together fit :func:`memory_budget` (half the memory available
  now: the caller holds the arrays and then works on them, e.g. scaling, reconstructions and
  scores of the same size, so it needs at least as much again);
- object arrays are refused (they would need pickle), and each caller names the dtype kinds it
  accepts per array.

Only the arrays asked for are read, in the dtype they are stored in (no float64 copy of a
float32 array).
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from squall.errors import SquallError
from squall.limits import regular_file

#: Budget when the available memory cannot be read (no /proc/meminfo, no sysconf): 8 GiB, the
#: memory of a small laptop, so a file that needs more is refused rather than swapping.
FALLBACK_BUDGET = 8 << 30


@dataclass(frozen=True)
class Member:
    """One array of an ``.npz`` as its header declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def memory_budget() -> int:
    """Bytes one file's arrays may take: half the memory available now (see the module doc)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return FALLBACK_BUDGET


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> Member:
    name = info.filename[:-4]
    with zf.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, TypeError, EOFError) as exc:
            raise SquallError(f"{path}: array {name!r} has a malformed header "
                              f"({str(exc).splitlines()[0] if str(exc) else 'truncated'})"
                              ) from None
        offset = fh.tell()
    member = Member(name, tuple(int(n) for n in shape), np.dtype(dtype))
    if member.dtype.hasobject:
        raise SquallError(f"{path}: array {name!r} holds Python objects (would need pickle)")
    if info.file_size != offset + member.nbytes:
        raise SquallError(f"{path}: array {name!r} declares shape {member.shape} "
                          f"({member.nbytes} bytes) but its zip entry holds "
                          f"{info.file_size - offset} bytes")
    return member


def members(path: str | os.PathLike[str]) -> dict[str, Member]:
    """Every ``.npy`` member's declared shape and dtype, checked as the module doc says."""
    p = regular_file(path, ".npz file")
    try:
        with zipfile.ZipFile(p) as zf:
            return {m.name: m for m in (_header(zf, info, str(p)) for info in zf.infolist()
                                        if info.filename.endswith(".npy"))}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError,
            EOFError) as exc:
        raise SquallError(f"{p} is not a readable .npz of plain arrays ({exc})") from None


def check_kind(path: str | os.PathLike[str], member: Member, kinds: str) -> None:
    """Refuse ``member`` unless its dtype kind is one of ``kinds`` (numpy kind letters: ``f``
    float, ``i``/``u`` integers, ``b`` bool, ``U`` str)."""
    if member.dtype.kind not in kinds:
        names = {"f": "float", "i": "integer", "u": "integer", "b": "bool", "U": "str",
                 "c": "complex", "S": "bytes", "V": "raw", "M": "datetime", "m": "timedelta"}
        want = " or ".join(dict.fromkeys(names.get(k, k) for k in kinds))
        raise SquallError(f"{path}: array {member.name!r} has dtype {member.dtype}, expected "
                          f"{want}")


def load(path: str | os.PathLike[str], wanted: Iterable[str],
         header: dict[str, Member] | None = None) -> dict[str, np.ndarray]:
    """The arrays ``wanted`` (those present) of the ``.npz`` at ``path``, after the checks of
    the module doc; ``header`` is :func:`members`' answer when the caller already has it."""
    header = members(path) if header is None else header
    names = [n for n in dict.fromkeys(wanted) if n in header]
    total = sum(header[n].nbytes for n in names)
    budget = memory_budget()
    if total > budget:
        raise SquallError(f"{path}: its arrays would take {total / 2**30:.3g} GiB, more than "
                          f"half the memory available ({budget / 2**30:.3g} GiB)")
    try:
        with np.load(regular_file(path, ".npz file"), allow_pickle=False) as z:
            return {n: z[n] for n in names}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise SquallError(f"{path} is not a readable .npz of plain arrays ({exc})") from None
