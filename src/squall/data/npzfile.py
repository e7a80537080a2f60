"""Reading ``.npz`` files from outside without trusting their sizes or types.

Before any array is read, every member's ``.npy`` header (shape, dtype) and the zip's declared
uncompressed size are read and checked:

- every member is a ``NAME.npy`` file, each name once: ``np.load(...)["x"]`` opens a member
  named exactly ``x`` before ``x.npy``, and a zip may hold two entries of one name, so any other
  member could be read in place of the one checked. Arrays are then read through the very
  ``ZipInfo`` whose header was checked, never looked up by name again;
- the declared size must be exactly the header plus ``prod(shape) * itemsize`` bytes: a member
  whose header claims 1e12 windows but whose data is 7 MB, or whose zip entry declares more
  bytes than its shape needs (a zip bomb padding), is refused instead of being allocated;
- the arrays to be loaded must together fit :func:`memory_budget` (the memory available now).
  The budget is all of it, not a share: the declared-size check above already stops a file from
  lying about its size, so the budget only turns "this machine cannot hold it" into one line
  before the allocation fails; a share of a figure that moves with every other program would
  make ``score`` refuse the windows file ``detect`` had just written;
- object arrays are refused (they would need pickle), and each caller names the dtype kinds it
  accepts per array;
- encrypted members, unsupported compression, broken deflate streams and CRC mismatches are
  one-line errors.

Only the arrays asked for are read, in the dtype they are stored in (no float64 copy of a
float32 array).
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from squall.errors import SquallError
from squall.limits import regular_file

#: Budget when the available memory cannot be read (no /proc/meminfo, no sysconf): 8 GiB, the
#: memory of a small laptop, so a file that needs more is refused rather than swapping.
FALLBACK_BUDGET = 8 << 30
#: Where Linux states the memory available (``MemAvailable``).
MEMINFO = "/proc/meminfo"
#: What reading a member can raise: a damaged zip (BadZipFile, also for a CRC mismatch), a broken
#: deflate stream (zlib.error), a truncated one (EOFError, ValueError from numpy), an unsupported
#: compression method (NotImplementedError), an encrypted entry (RuntimeError), a name that is not
#: valid UTF-8 (UnicodeDecodeError, a ValueError), the disk (OSError).
READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    ValueError,
    RuntimeError,
    OSError,
)


@dataclass(frozen=True)
class Member:
    """One array of an ``.npz`` as its header declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    #: The zip entry whose header was checked: :func:`load` reads this one, not a name.
    info: zipfile.ZipInfo | None = field(default=None, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def memory_budget() -> int:
    """Bytes one file's arrays may take: all the memory available now (see the module doc)."""
    try:
        with open(MEMINFO, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
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
            raise SquallError(
                f"{path}: array {name!r} has a malformed header "
                f"({str(exc).splitlines()[0] if str(exc) else 'truncated'})"
            ) from None
        offset = fh.tell()
    member = Member(name, tuple(int(n) for n in shape), np.dtype(dtype), info)
    if member.dtype.hasobject:
        raise SquallError(f"{path}: array {name!r} holds Python objects (would need pickle)")
    if info.file_size != offset + member.nbytes:
        raise SquallError(
            f"{path}: array {name!r} declares shape {member.shape} "
            f"({member.nbytes} bytes) but its zip entry holds "
            f"{info.file_size - offset} bytes"
        )
    return member


def _unreadable(path: object, exc: BaseException) -> SquallError:
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return SquallError(f"{path} is not a readable .npz of plain arrays ({detail})")


def _entries(zf: zipfile.ZipFile, path: str) -> list[zipfile.ZipInfo]:
    """The zip's entries, each a ``NAME.npy`` named once and not encrypted (module doc)."""
    seen: set[str] = set()
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise SquallError(
                f"{path}: member {name[:100]!r} is not an .npy array (an .npz "
                f"holds NAME.npy members only)"
            )
        if name in seen:
            raise SquallError(f"{path}: member {name[:100]!r} is in the file twice")
        if info.flag_bits & 0x1:
            raise SquallError(f"{path}: member {name[:100]!r} is encrypted")
        seen.add(name)
    return zf.infolist()


def members(path: str | os.PathLike[str]) -> dict[str, Member]:
    """Every member's declared shape and dtype, checked as the module doc says."""
    p = regular_file(path, ".npz file")
    try:
        with zipfile.ZipFile(p) as zf:
            return {m.name: m for m in (_header(zf, info, str(p)) for info in _entries(zf, str(p)))}
    except READ_ERRORS as exc:
        raise _unreadable(p, exc) from None


def check_kind(path: str | os.PathLike[str], member: Member, kinds: str) -> None:
    """Refuse ``member`` unless its dtype kind is one of ``kinds`` (numpy kind letters: ``f``
    float, ``i``/``u`` integers, ``b`` bool, ``U`` str)."""
    if member.dtype.kind not in kinds:
        names = {
            "f": "float",
            "i": "integer",
            "u": "integer",
            "b": "bool",
            "U": "str",
            "c": "complex",
            "S": "bytes",
            "V": "raw",
            "M": "datetime",
            "m": "timedelta",
        }
        want = " or ".join(dict.fromkeys(names.get(k, k) for k in kinds))
        raise SquallError(
            f"{path}: array {member.name!r} has dtype {member.dtype}, expected {want}"
        )


def _read(zf: zipfile.ZipFile, member: Member, path: str) -> np.ndarray:
    """The array of ``member``, read from the zip entry whose header was checked (its header is
    checked again: the file may have changed since), to the end of the entry so that its CRC is
    checked too."""
    info = member.info
    entry = next(
        (
            i
            for i in zf.infolist()
            if info is not None
            and i.filename == info.filename
            and i.header_offset == info.header_offset
        ),
        None,
    )
    if entry is None or _header(zf, entry, path) != member:
        raise SquallError(f"{path} changed while it was being read")
    with zf.open(entry) as fh:
        array = np.lib.format.read_array(fh, allow_pickle=False)
        if fh.read(1):
            raise SquallError(f"{path}: array {member.name!r} has bytes beyond its shape")
    return array


def load(
    path: str | os.PathLike[str], wanted: Iterable[str], header: dict[str, Member] | None = None
) -> dict[str, np.ndarray]:
    """The arrays ``wanted`` (those present) of the ``.npz`` at ``path``, after the checks of
    the module doc; ``header`` is :func:`members`' answer when the caller already has it."""
    header = members(path) if header is None else header
    names = [n for n in dict.fromkeys(wanted) if n in header]
    total = sum(header[n].nbytes for n in names)
    budget = memory_budget()
    if total > budget:
        raise SquallError(
            f"{path}: its arrays would take {total / 2**30:.3g} GiB, more than "
            f"the memory available ({budget / 2**30:.3g} GiB)"
        )
    p = regular_file(path, ".npz file")
    try:
        with zipfile.ZipFile(p) as zf:
            _entries(zf, str(p))
            return {n: _read(zf, header[n], str(p)) for n in names}
    except READ_ERRORS as exc:
        raise _unreadable(p, exc) from None
