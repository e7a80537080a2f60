"""Atomic file output: a failed run never leaves a half-written file behind, and never deletes
what it did not write.

Rules (and why):

- :func:`check_output` is called by every command before any work: an output that is one of the
  inputs (the same file however it is spelled, through a symbolic link too), a directory output
  that contains or is an input, a file output with the wrong extension and a directory squall
  cannot prove it wrote are refused in one line, so hours of work never end in a refusal and an
  input is never overwritten.
- A run directory (``detect``, ``eda``, ``evaluate``, ``synth``, ``demo``) carries a manifest,
  ``squall-run.json``, written by squall: format, command, run id, time and each file's name,
  size and SHA-256. squall replaces or deletes only files listed there; other files (a user's
  notes) stay. The files of a run move in one by one, so the manifest is first rewritten as
  ``"complete": false`` listing the old and the new names, and marked complete (with the
  hashes) only after the last move: readers (:func:`verify_run_files`) refuse an incomplete
  manifest and any file whose hash differs, so an interrupted run or a mixed set is never
  trusted, and a rerun cleans up.
- A replaced directory (:func:`atomic_dir`: bundles, ``hw rtl``/``hw export``, report figures)
  is swapped in two renames; on any failure (Ctrl-C included) the old directory is moved back,
  and the leftovers of a killed run (``.NAME.*.part``, ``.NAME.*.old/previous``) are recovered
  or removed by the next run for the same target. Every temporary squall makes carries a marker
  (``.squall-temp`` inside a directory; ``.NAME.R.squall-temp`` beside an :func:`atomic_path`
  file ``.STEM.R.part.EXT``) that stays until the output is in place, holding the writer's pid
  (for information) and locked (``flock``) while the writer lives: a leftover is stale exactly
  when its marker's lock can be taken, whatever pid the next process gets. Only stale leftovers
  with squall's marker are ever removed.
- A directory replaced whole that may sit among a user's files (``hw rtl``, ``hw export``,
  report figures) carries a listing, ``.squall-files``, of every file and its SHA-256
  (:func:`listed_dir`): it is replaced only when it holds nothing else and nothing changed since,
  so a user's ``notes.txt`` (or an edited file) makes squall refuse it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from squall.errors import NAME, ParameterError, SquallError

try:
    import fcntl

    _FLOCK = True
except ImportError:  # pragma: no cover - not POSIX: the marker's pid decides alone
    _FLOCK = False

_UMASK = os.umask(0)
os.umask(_UMASK)

#: The manifest of a run directory, and its format marker.
RUN_MANIFEST = "squall-run.json"
RUN_FORMAT = "squall-run"
#: Marker file inside every temporary directory squall makes (locked while its writer lives;
#: it holds the writer's pid, for information).
TEMP_MARKER = ".squall-temp"
#: Suffix of the marker beside an :func:`atomic_path` temporary file.
FILE_MARKER_SUFFIX = ".squall-temp"
#: Listing of every file (and its SHA-256) of a directory written by :func:`atomic_dir` with a
#: :func:`listed_dir` predicate.
LISTING = ".squall-files"
LISTING_FORMAT = "squall-files"
_TOKEN = re.compile(r"[A-Za-z0-9_]+")

PathArg = str | os.PathLike[str]
#: A run manifest (:data:`RUN_MANIFEST`) as read: a JSON object whose entries
#: :func:`read_manifest` has checked.
Manifest = dict[str, Any]


class Table(Protocol):
    """What :func:`write_csv` needs of a table (a pandas DataFrame)."""

    def to_csv(self, path: Path, *, index: bool) -> object: ...


def _target(path: PathArg) -> Path:
    final = Path(path)
    if final.name in ("", ".", ".."):
        final = final.resolve()
    if not final.name:
        raise SquallError(f"cannot write to {str(path)!r}: give a file or directory name")
    return final


def sha256_file(path: PathArg) -> str:
    """SHA-256 of a file, read in 1 MB blocks (the one place squall hashes files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- checks


def _resolved(path: PathArg) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _same_or_inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_output(
    out: PathArg,
    *,
    inputs: Iterable[PathArg] = (),
    suffixes: Sequence[str] = (),
    directory: bool = False,
    replaceable: Callable[[Path], bool] | None = None,
    option: str = "--out",
) -> Path:
    """Refuse a bad output target before any work; returns it as a Path.

    A file output must end in one of ``suffixes``, exactly (what is written: a .png is not a
    .csv; ``.NPZ`` is refused, as the readers only know ``.npz``), must
    not be a directory and must not be one of ``inputs`` (compared by resolved path and
    ``os.path.samefile``, so ``./a.csv``, an absolute spelling and a symbolic link are caught).
    A directory output (``directory=True``) must not be a file, must not be or contain an
    input, and when it exists ``replaceable(path)`` must accept it (default: empty or a run
    directory with squall's manifest, :func:`run_dir_replaceable`).
    """
    final = _target(out)
    name = str(out)
    if not directory and suffixes and not final.name.endswith(tuple(suffixes)):
        # exact, lower case: the readers (a windows file is one ending in .npz) and writers
        # (np.savez appends .npz to any other name) look at the extension as written
        first, others = suffixes[0], ", ".join(suffixes[1:])
        article = "an" if first[1:2].lower() in "aefhilmnorsx" else "a"
        case = (
            " (extensions are lower case)" if final.name.lower().endswith(tuple(suffixes)) else ""
        )
        raise SquallError(
            f"{option} must be {article} {first} file name"
            f"{f' (or {others})' if others else ''}{case}, got {name}"
        )
    target = _resolved(final)
    for item in inputs:
        if item is None:
            continue
        source = _resolved(item)
        same = source == target or (
            final.exists() and Path(item).exists() and os.path.samefile(final, item)
        )
        if same or (directory and _same_or_inside(source, target)):
            what = "is" if same else "contains"
            raise SquallError(
                f"{option} {name} {what} the input {item}; write the output "
                f"elsewhere (squall never overwrites its inputs)"
            )
        # a run directory may take new files beside its own (a report of a detect run); its
        # listed files are protected by _refuse_run_member below
        if (
            source.is_dir()
            and _same_or_inside(target, source)
            and not os.path.lexists(source / RUN_MANIFEST)
        ):
            raise SquallError(
                f"{option} {name} is inside the input {item} (a bundle "
                f"directory); write the output elsewhere"
            )
    if directory:
        if final.exists() and not final.is_dir():
            raise SquallError(f"{option} {name} exists and is not a directory")
        if final.is_dir() and not (replaceable or run_dir_replaceable)(final):
            raise SquallError(
                f"{option} {name} exists and holds files squall did not write "
                f"(no {RUN_MANIFEST} or marker of its own); choose another "
                f"{option} or empty it"
            )
    elif final.is_dir():
        raise SquallError(f"{option} {name} is a directory; give a file name to write")
    else:
        _refuse_run_member(final, option)
    return final


def _refuse_run_member(final: Path, option: str) -> None:
    """A single file must not replace one of a run directory's listed files: the run would
    become a mix that its readers refuse (write it beside the run instead)."""
    try:
        manifest = read_manifest(final.parent)
    except SquallError:
        return
    if manifest is not None and any(f["name"] == final.name for f in manifest["files"]):
        raise SquallError(
            f"{option} {final} is a file of the squall {manifest.get('command')} "
            f"run in {final.parent}; write it elsewhere (or rerun that command)"
        )


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def atomic_path(path: PathArg) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file ``.STEM.R.part.EXT`` keeps the final suffix (writers such as
    ``np.savez`` and matplotlib look at it); its marker ``.NAME.R.squall-temp`` is created
    first and locked while this process writes, and removed only after the file is in place.
    On any exception the temporary file is removed and ``path`` is left untouched; what a
    killed run left for the same ``path`` is removed by the next write to it
    (:func:`_clean_stale_files`).
    """
    final = _target(path)
    if final.is_dir():
        raise SquallError(f"{final} is a directory; give a file name to write")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_files(final)
        marker, lock, tmp_path = _make_temp_file(final)
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        _drop_marker(marker, lock)


def _make_temp_file(final: Path) -> tuple[Path, int, Path]:
    """The marker (created and locked first), its lock and the temporary file beside ``final``."""
    prefix = f".{final.name}."
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=FILE_MARKER_SUFFIX, dir=final.parent)
        marker = Path(name)
        _lock_and_sign(fd)
        token = marker.name[len(prefix) : -len(FILE_MARKER_SUFFIX)]
        tmp_path = _file_temp_name(final, token)
        try:
            os.close(
                os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666 & ~_UMASK)
            )
        except FileExistsError:  # a file of that name that is not ours: leave it, try another
            _drop_marker(marker, fd)
            continue
        except BaseException:
            _drop_marker(marker, fd)
            raise
        return marker, fd, tmp_path


def _file_temp_name(final: Path, token: str) -> Path:
    return final.parent / f".{final.stem}.{token}.part{final.suffix}"


def _clean_stale_files(final: Path) -> None:
    """Remove the temporary files a killed :func:`atomic_path` left for ``final``: only those
    whose marker is squall's and stale (its lock free), and only regular files."""
    prefix = f".{final.name}."
    for marker in sorted(final.parent.glob(glob.escape(prefix) + "*" + FILE_MARKER_SUFFIX)):
        token = marker.name[len(prefix) : -len(FILE_MARKER_SUFFIX)]
        if not _TOKEN.fullmatch(token) or not _marker_stale(marker):
            continue
        tmp_path = _file_temp_name(final, token)
        with contextlib.suppress(OSError):
            if tmp_path.is_file() and not tmp_path.is_symlink():
                tmp_path.unlink()
            marker.unlink()


def write_text(path: PathArg, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# --------------------------------------------------------------------------- temporary dirs


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _lock_and_sign(fd: int) -> None:
    """Lock a new marker (open as ``fd``) for as long as this process keeps it open, then
    write the pid. The lock is taken before the pid is written, so a marker with a pid and a
    free lock was left by a writer that is gone (:func:`_marker_stale`)."""
    try:
        if _FLOCK:
            with contextlib.suppress(OSError):  # a file system without locks: pid only
                fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
    except BaseException:
        os.close(fd)
        raise


def _mark_temp(folder: Path) -> int:
    """Put squall's marker into a new temporary directory; returns its lock (an open file
    descriptor: keep it until the directory is in place or removed)."""
    fd = os.open(
        folder / TEMP_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666 & ~_UMASK
    )
    _lock_and_sign(fd)
    return fd


def _drop_marker(marker: Path, lock: int) -> None:
    """Remove ``marker`` when it is still the file locked by ``lock``, and release the lock."""
    try:
        with contextlib.suppress(OSError):
            here, mine = os.lstat(marker), os.fstat(lock)
            if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                marker.unlink()
    finally:
        with contextlib.suppress(OSError):
            os.close(lock)


def _marker_stale(marker: Path) -> bool:
    """``marker`` is squall's (a regular file holding a pid) and the process that wrote it is
    gone: its lock can be taken. The pid is information only (a reused pid, such as 1 in a
    container, proves nothing); without ``flock`` (another OS, a file system without locks)
    the pid decides."""
    try:
        fd = os.open(marker, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not _regular(fd):
            return False
        if _FLOCK:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # the writer is alive
            except OSError:
                pass  # no locks here: the pid decides
            else:
                return _signed(fd)  # free: stale once the writer had signed it
        return _signed(fd) and not _pid_alive(_signed_pid(fd))
    finally:
        os.close(fd)


def _regular(fd: int) -> bool:
    import stat

    return stat.S_ISREG(os.fstat(fd).st_mode)


def _signed_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return -1


def _signed(fd: int) -> bool:
    return _signed_pid(fd) > 0


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _stale_temp(folder: Path) -> bool:
    """``folder`` holds squall's marker and the process that wrote it is gone (a live run's
    temporary directory is never touched)."""
    return _marker_stale(folder / TEMP_MARKER)


#: Locks of the temporary directories this process made (directory at creation -> lock).
_LOCKS: dict[Path, int] = {}


def _make_temp_dir(parent: Path, prefix: str, suffix: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        _LOCKS[tmp] = _mark_temp(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _unmark_dir(made: Path, now: Path) -> None:
    """The temporary directory ``made`` (now at ``now``: in place, or still where it was made)
    is done: remove its marker and release the lock."""
    lock = _LOCKS.pop(made, None)
    if lock is not None:
        _drop_marker(now / TEMP_MARKER, lock)


def _remove_temp_dir(tmp: Path) -> None:
    """Remove a temporary directory of squall's (this process's, or a stale leftover), its
    marker last: a removal interrupted or killed midway leaves what remains still marked, so
    :func:`recover_leftovers` finishes it; what cannot be removed keeps its marker too."""
    lock = _LOCKS.pop(tmp, None)
    try:
        if not tmp.is_dir() or tmp.is_symlink():
            return
        with contextlib.suppress(OSError):
            for entry in list(os.scandir(tmp)):
                if entry.name == TEMP_MARKER:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        try:
            if any(name != TEMP_MARKER for name in os.listdir(tmp)):
                return  # still marked: the next run tries again
        except OSError:
            return
        if lock is None:  # a stale leftover's marker
            with contextlib.suppress(OSError):
                os.unlink(tmp / TEMP_MARKER)
        else:
            _drop_marker(tmp / TEMP_MARKER, lock)
            lock = None
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)


def recover_leftovers(path: PathArg) -> None:
    """Undo what a killed :func:`atomic_dir` left beside ``path``.

    ``.NAME.*.old`` (holding ``previous``, the old output moved aside) is moved back when
    ``path`` is missing (the new output never moved in), removed when ``path`` is the killed
    run's new output (its stale marker still inside) or when it holds no ``previous``, and
    kept otherwise (``path`` was taken by something else since: the old output is never
    deleted for it); ``.NAME.*.part`` (an unfinished new output) is removed; a stale marker
    left inside ``path`` (killed just after the new output moved in) is removed last. Only
    directories with squall's marker whose writing process is gone (:func:`_marker_stale`)
    are touched, and each is removed marker last (:func:`_remove_temp_dir`).
    """
    final = _target(path)
    if not final.parent.is_dir():
        return
    pattern = glob.escape(f".{final.name}.")
    for old in sorted(final.parent.glob(pattern + "*.old")):
        if not old.is_dir() or old.is_symlink() or not _stale_temp(old):
            continue
        previous = old / "previous"
        if os.path.lexists(previous):
            if not os.path.lexists(final):
                os.replace(previous, final)  # the new output never moved in: put it back
            elif not (final.is_dir() and not final.is_symlink() and _stale_temp(final)):
                # ``path`` is not the new output of the killed run (that still carries its
                # marker): something else took the place since; the old output is kept
                continue
        _remove_temp_dir(old)
    for part in sorted(final.parent.glob(pattern + "*.part")):
        if part.is_dir() and not part.is_symlink() and _stale_temp(part):
            _remove_temp_dir(part)
    if final.is_dir() and not final.is_symlink() and _stale_temp(final):
        with contextlib.suppress(OSError):
            (final / TEMP_MARKER).unlink()


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def written_by(
    manifest: str, fmt: str, only: Iterable[str] | None = None, *, listed: bool = False
) -> Callable[[Path], bool]:
    """A ``replaceable`` predicate for :func:`atomic_dir`: an empty directory, or one whose JSON
    file ``manifest`` says ``"format": fmt`` (an earlier output of the same writer). With
    ``only``, the directory must also hold nothing but those names: the swap replaces the
    directory whole, so a file the user added beside the writer's own (notes, a detect run
    inside a bundle folder) makes it theirs. With ``listed`` (writers whose file names vary),
    the same rule by the directory's own listing (:func:`listed_dir`)."""
    allowed = None if only is None else {*only, TEMP_MARKER}

    def replaceable(path: Path) -> bool:
        if _empty_dir(path):
            return True
        if allowed is not None and any(p.name not in allowed for p in path.iterdir()):
            return False
        try:
            return bool(json.loads((path / manifest).read_text()).get("format") == fmt)
        except (OSError, ValueError, AttributeError, RecursionError):
            return False

    return listed_dir(replaceable) if listed else replaceable


def listed_dir(accepts: Callable[[Path], bool]) -> Callable[[Path], bool]:
    """A ``replaceable`` predicate for :func:`atomic_dir` that makes it write a listing,
    ``.squall-files``, of every file of the new directory with its SHA-256; an existing
    directory is replaceable when empty, or when ``accepts`` it and it holds exactly files its
    listing records, unchanged (a user's file beside them, or an edited one, makes it theirs:
    refused, never deleted)."""

    def replaceable(path: Path) -> bool:
        if _empty_dir(path):
            return True
        return accepts(path) and _matches_listing(path)

    replaceable.listing = True  # type: ignore[attr-defined]
    return replaceable


def _files_of(folder: Path) -> dict[str, Path] | None:
    """Every file under ``folder`` by relative POSIX path; None when it holds a symbolic link
    or anything but regular files and directories (never squall's)."""
    found: dict[str, Path] = {}
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            p = Path(top) / name
            if p.is_symlink() or not (p.is_dir() or p.is_file()):
                return None
        for name in files:
            p = Path(top) / name
            found[p.relative_to(folder).as_posix()] = p
    return found


def _write_listing(folder: Path) -> None:
    files = _files_of(folder) or {}
    entries = {
        rel: sha256_file(p) for rel, p in sorted(files.items()) if rel not in (LISTING, TEMP_MARKER)
    }
    (folder / LISTING).write_text(
        json.dumps({"format": LISTING_FORMAT, "files": entries}, indent=1) + "\n"
    )


def _matches_listing(folder: Path) -> bool:
    try:
        doc = json.loads((folder / LISTING).read_text())
        recorded = doc["files"] if doc.get("format") == LISTING_FORMAT else None
        files = _files_of(folder)
        if not isinstance(recorded, dict) or files is None:
            return False
        return all(
            rel in (LISTING, TEMP_MARKER)
            or (recorded.get(rel) is not None and sha256_file(p) == recorded[rel])
            for rel, p in files.items()
        )
    except (OSError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return False


@contextlib.contextmanager
def atomic_dir(path: PathArg, replaceable: Callable[[Path], bool] = _empty_dir) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` only if the block succeeds.

    An existing ``path`` is replaced whole only when ``replaceable(path)`` says so (default: an
    empty directory); anything else is refused with a one-line error, so an ``--out`` typo never
    deletes a user's files. Readers never see a mix of old and new files. The swap is two
    renames (old aside into ``.NAME.*.old/previous``, new in); if the second fails or is
    interrupted, the old directory is renamed back before the error goes on. Both temporary
    directories keep their locked marker until the new output is in place, so whatever a
    killed run left is recovered by the next one (:func:`recover_leftovers`). A ``replaceable``
    made by :func:`listed_dir` makes the new directory carry its listing.
    """
    final = _target(path)
    recover_leftovers(final)
    if final.exists() and not replaceable(final):
        kind = "directory" if final.is_dir() else "file"
        raise ParameterError(
            "out",
            f"{final} exists and is a {kind} squall did not write; choose another "
            f"{NAME} or remove it",
        )
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _make_temp_dir(final.parent, f".{final.name}.", ".part")
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    try:
        yield tmp
        if getattr(replaceable, "listing", False):
            _write_listing(tmp)
        _swap_in(tmp, final)
    except BaseException:
        if not tmp.exists():  # interrupted just after the new output moved in
            _unmark_dir(tmp, final)
        _remove_temp_dir(tmp)
        raise
    _unmark_dir(tmp, final)


def _swap_in(new: Path, final: Path) -> None:
    """Move ``new`` to ``final``; an existing ``final`` is set aside first and put back if the
    move in fails or is interrupted. ``new`` keeps its marker through the swap (a kill between
    the renames leaves both halves marked for :func:`recover_leftovers`)."""
    if not final.exists():
        os.replace(new, final)
        return
    old = _make_temp_dir(final.parent, f".{final.name}.", ".old")
    previous = old / "previous"
    try:
        os.replace(final, previous)
        os.replace(new, final)
    except BaseException:
        # decided by what is on disk, not by a flag an interrupt could leave unset
        if os.path.lexists(previous) and not os.path.lexists(final):
            os.replace(previous, final)
        if not os.path.lexists(previous) or not os.path.lexists(new):
            _remove_temp_dir(old)  # the old output is back, or the new one is in place
        raise
    _remove_temp_dir(old)


# --------------------------------------------------------------------------- run directories


def _safe_name(name: object) -> bool:
    """A plain file name inside the run directory (a hostile manifest naming ``../x`` or an
    absolute path must never make squall delete or trust anything outside it)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..", RUN_MANIFEST)
        and Path(name).name == name
        and "\\" not in name
        and "\0" not in name
    )


def read_manifest(folder: PathArg) -> Manifest | None:
    """The run manifest of ``folder``: None when there is none; a manifest that is not
    squall's (other format, malformed entries) is a one-line ``SquallError``."""
    path = Path(folder) / RUN_MANIFEST
    if not os.path.lexists(path):
        return None
    if path.is_symlink():
        raise SquallError(f"{path} is a symbolic link, not a manifest squall wrote")
    data = read_json(path)
    files = data.get("files") if isinstance(data, dict) else None
    ok = (
        isinstance(data, dict)
        and data.get("format") == RUN_FORMAT
        and isinstance(data.get("run_id"), str)
        and isinstance(data.get("complete"), bool)
        and isinstance(files, list)
        and isinstance(data.get("previous", []), list)
        and all(isinstance(f, dict) and _safe_name(f.get("name")) for f in files)
        and all(_safe_name(n) for n in data.get("previous", []))
    )
    if not ok:
        raise SquallError(f"{path} is not a manifest squall wrote")
    assert isinstance(data, dict)  # checked just above; for the type checker
    return data


def run_dir_replaceable(path: Path) -> bool:
    """A directory a run may write into: empty, or holding squall's run manifest."""
    if _empty_dir(path):
        return True
    try:
        return read_manifest(path) is not None
    except SquallError:
        return False


def _write_manifest(
    folder: Path,
    command: str,
    run_id: str,
    files: list[dict[str, Any]],
    previous: Iterable[str],
    complete: bool,
) -> None:
    doc = {
        "format": RUN_FORMAT,
        "version": 1,
        "command": command,
        "run_id": run_id,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": complete,
        "files": files,
        "previous": sorted(set(previous)),
    }
    write_text(folder / RUN_MANIFEST, json.dumps(doc, indent=1) + "\n")


def prepare_run_dir(out: PathArg, command: str = "squall") -> Path:
    """Check ``out`` (:func:`check_output`), create it and, when it has no manifest yet, claim it
    with an incomplete one (so a run that fails after writing subdirectories, as ``demo`` does,
    can be rerun into it, and readers refuse it)."""
    final = check_output(out, directory=True)
    try:
        final.mkdir(parents=True, exist_ok=True)
        if read_manifest(final) is None:
            _write_manifest(final, command, uuid.uuid4().hex, [], [], complete=False)
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    return final


def _owned_names(manifest: Manifest | None) -> set[str]:
    if manifest is None:
        return set()
    return {f["name"] for f in manifest["files"]} | set(manifest.get("previous", []))


def _check_ours(final: Path, old: Manifest | None, names: Iterable[str], command: str) -> None:
    """Refuse, before anything moves, to replace or remove a file squall cannot prove it wrote.

    A name may be replaced or removed when nothing is there, when the manifest records it with
    the SHA-256 it still has (a file the user edited since is theirs now), or when the manifest
    is incomplete and lists it among the names of an interrupted run (recovery). A directory
    holding another command's run is refused whole: ``eda`` into a ``detect`` folder would
    otherwise remove the detect run's files."""
    if old is None:
        return
    if old.get("command") != command:
        raise ParameterError(
            "out",
            f"{final} holds the outputs of 'squall {old.get('command')}'; write "
            f"'squall {command}' into another {NAME}",
        )
    recorded = {f["name"]: f.get("sha256") for f in old["files"]}
    recovering = set(old.get("previous", [])) if not old["complete"] else set()
    for name in sorted(set(names) | _owned_names(old)):
        path = final / name
        if not os.path.lexists(path) or name in recovering:
            continue
        sha = recorded.get(name)
        if sha is None or path.is_symlink() or not path.is_file() or sha256_file(path) != sha:
            raise SquallError(
                f"{path} is not the file squall wrote there (changed since, or "
                f"never listed in {RUN_MANIFEST}); move it away or choose another "
                f"--out"
            )


@contextlib.contextmanager
def output_files(out: PathArg, names: Iterable[str], command: str = "squall") -> Iterator[Path]:
    """Write a run's output files (``names``) into directory ``out``, recorded in its manifest.

    Yields a temporary directory inside ``out``; when the block succeeds the manifest is
    rewritten as incomplete (old and new names), every file produced moves into ``out`` (each
    move atomic), files the old manifest listed that this run did not produce are removed, and
    the manifest is written complete with each file's size and SHA-256. Files not listed in
    squall's manifest are never touched. On failure ``out`` keeps what it had.
    """
    names = list(names)
    final = _target(out)
    existed = final.is_dir()
    claimed = not existed or read_manifest(final) is None
    _check_ours(final, read_manifest(final) if existed else None, names, command)
    final = prepare_run_dir(final, command)
    for part in final.glob(".squall-*.part"):
        if part.is_dir() and not part.is_symlink() and _stale_temp(part):
            _remove_temp_dir(part)
    try:
        tmp = _make_temp_dir(final, ".squall-", ".part")
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    try:
        yield tmp
        produced = sorted(p.name for p in tmp.iterdir() if p.name != TEMP_MARKER)
        unknown = [n for n in produced if n not in names]
        assert not unknown, f"undeclared outputs {unknown}"
        _commit(final, tmp, produced, command)
    except BaseException:
        _remove_temp_dir(tmp)
        if claimed:
            _unclaim(final, remove_dir=not existed)
        raise
    _remove_temp_dir(tmp)


def _commit(final: Path, tmp: Path, produced: list[str], command: str) -> None:
    old = read_manifest(final)
    run_id = uuid.uuid4().hex
    files = []
    for name in produced:
        os.chmod(tmp / name, 0o666 & ~_UMASK)
        files.append(
            {"name": name, "size": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
        )
    stale = _owned_names(old) - set(produced)
    _check_ours(final, old, produced, command)
    _write_manifest(final, command, run_id, files, stale | set(produced), complete=False)
    for name in produced:
        os.replace(tmp / name, final / name)
    for name in sorted(stale):
        target = final / name
        if target.is_file() or target.is_symlink():
            target.unlink()
    _write_manifest(final, command, run_id, files, [], complete=True)


def _unclaim(final: Path, remove_dir: bool) -> None:
    """Remove the claim of a run that failed in a directory it created or found empty: the
    incomplete manifest with no files, then (``remove_dir``) the directory if it is empty."""
    try:
        manifest = read_manifest(final)
        if manifest is not None and not manifest["complete"] and not _owned_names(manifest):
            (final / RUN_MANIFEST).unlink()
            if remove_dir:
                final.rmdir()
    except (OSError, SquallError):
        pass


def verify_run_files(
    folder: PathArg, names: Iterable[str], *, required: bool = True
) -> Manifest | None:
    """Check that the files ``names`` of run directory ``folder`` are one complete run's.

    Each must be listed in the manifest with the SHA-256 it has now; an incomplete manifest
    (an interrupted run) or a changed or foreign file is a one-line ``SquallError``, so a
    reader never combines files of two runs. Without a manifest: an error when ``required``,
    else None (files the user put together themselves).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        if required:
            raise SquallError(
                f"{folder} has no {RUN_MANIFEST}: not the output of a complete "
                f"squall run; rerun the command that writes it"
            )
        return None
    if not manifest["complete"]:
        raise SquallError(
            f"{folder} holds an interrupted run ({RUN_MANIFEST} is not marked "
            f"complete); rerun the command that writes it"
        )
    listed = {f["name"]: f for f in manifest["files"]}
    for name in names:
        entry = listed.get(name)
        path = folder / name
        if entry is None or not path.is_file() or sha256_file(path) != entry.get("sha256"):
            raise SquallError(
                f"{path} is not the file run {manifest['run_id']} wrote (changed "
                f"or from another run); rerun the command that writes {folder}"
            )
    return manifest


def check_run_file(path: PathArg) -> str | None:
    """A file given on its own (``extract``'s windows and scores): when it lies in a run
    directory, that run must be complete and, if the manifest lists the file, its hash must
    match. Returns the run id of a listed file (None for a file outside any run, or one the
    user added to the directory)."""
    path = Path(path)
    manifest = read_manifest(path.parent)
    if manifest is None:
        return None
    listed = any(f["name"] == path.name for f in manifest["files"])
    if not manifest["complete"] or listed:
        verify_run_files(path.parent, [path.name])
        run_id: str = manifest["run_id"]  # checked a str by read_manifest
        return run_id
    return None


# --------------------------------------------------------------------------- JSON


def write_report(
    path: PathArg, as_dict: Callable[[], dict[str, Any]], as_csv: Callable[[], str]
) -> None:
    """Write a report as JSON or CSV, chosen by the suffix of ``path``, atomically."""
    text = str(path)
    if text.endswith(".json"):
        write_text(path, json.dumps(as_dict(), indent=1) + "\n")
    elif text.endswith(".csv"):
        write_text(path, as_csv())
    else:
        raise ParameterError("path", f"{NAME} must end in .csv or .json, got {text}")


def parse_json(text: str | bytes, what: str) -> object:
    """Parse JSON that came from a file (``what`` names it in the error): malformed or hostile
    text (invalid syntax, nesting deep enough to exhaust the parser's recursion, ``NaN``
    literals where the caller forbids them later) is a one-line ``SquallError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise SquallError(f"{what}: JSON nested too deeply to be a squall file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SquallError(f"{what} is not valid JSON ({str(exc).splitlines()[0]})") from None


def read_json(path: PathArg, what: str | None = None) -> object:
    """Read and parse a JSON file; a missing, unreadable or malformed file is a one-line
    ``SquallError`` naming it; so is anything but a regular file (a FIFO would block, a device
    never end)."""
    from squall.limits import regular_file

    name = what or str(path)
    try:
        data = regular_file(path, what or "JSON file").read_bytes()
    except FileNotFoundError:
        raise SquallError(f"no such file: {path}") from None
    except OSError as exc:
        raise SquallError(f"cannot read {name}: {exc.strerror or exc}") from None
    return parse_json(data, name)


def write_csv(frame: Table, path: PathArg) -> None:
    """Write a table (a pandas DataFrame) atomically, without its index. Floats are written in
    their shortest form that reads back to the same number (pandas' default ``repr``), so a
    CSV squall writes round-trips exactly; ``%.10g`` would not."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
