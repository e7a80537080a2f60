"""Atomic file output: a failed run never leaves a half-written file behind, and never deletes
what it did not write."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from squall.errors import SquallError

_UMASK = os.umask(0)
os.umask(_UMASK)


def _target(path: str | os.PathLike[str]) -> Path:
    final = Path(path)
    if final.name in ("", ".", ".."):
        final = final.resolve()
    if not final.name:
        raise SquallError(f"cannot write to {str(path)!r}: give a file or directory name")
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file keeps the final suffix (writers such as ``np.savez`` and matplotlib look
    at it). On any exception the temporary file is removed and ``path`` is left untouched.
    """
    final = _target(path)
    if final.is_dir():
        raise SquallError(f"{final} is a directory; give a file name to write")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{final.suffix}",
                                   dir=final.parent)
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def written_by(manifest: str, fmt: str) -> Callable[[Path], bool]:
    """A ``replaceable`` predicate for :func:`atomic_dir`: an empty directory, or one whose JSON
    file ``manifest`` says ``"format": fmt`` (an earlier output of the same writer)."""

    def replaceable(path: Path) -> bool:
        if _empty_dir(path):
            return True
        try:
            return json.loads((path / manifest).read_text()).get("format") == fmt
        except (OSError, ValueError, AttributeError):
            return False

    return replaceable


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str],
               replaceable: Callable[[Path], bool] = _empty_dir) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` only if the block succeeds.

    An existing ``path`` is replaced whole only when ``replaceable(path)`` says so (default: an
    empty directory); anything else is refused with a one-line error, so an ``--out`` typo never
    deletes a user's files. Readers never see a mix of old and new files.
    """
    final = _target(path)
    if final.exists() and not replaceable(final):
        kind = "directory" if final.is_dir() else "file"
        raise SquallError(f"{final} exists and is a {kind} squall did not write; choose another "
                          f"--out or remove it")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    except OSError as exc:
        raise SquallError(f"cannot write {final}: {exc.strerror or exc}") from None
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old",
                                        dir=final.parent))
            os.replace(final, old / "previous")
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def output_files(out: str | os.PathLike[str], names: Iterable[str]) -> Iterator[Path]:
    """Write a run's output files (``names``) into directory ``out`` all or nothing.

    Yields a temporary directory inside ``out``; when the block succeeds, every file produced
    there moves into ``out`` (each move atomic) and files of ``names`` this run did not produce
    are removed, so no output of an earlier run is left beside the new ones. Other files in
    ``out`` are never touched. On failure ``out`` keeps what it had.
    """
    final = _target(out)
    if final.exists() and not final.is_dir():
        raise SquallError(f"{final} exists and is not a directory; --out needs a directory")
    final.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".squall-", suffix=".part", dir=final))
    names = list(names)
    try:
        yield tmp
        unknown = sorted(p.name for p in tmp.iterdir() if p.name not in names)
        assert not unknown, f"undeclared outputs {unknown}"
        for name in names:
            produced = tmp / name
            if produced.exists():
                os.chmod(produced, 0o666 & ~_UMASK)
                os.replace(produced, final / name)
            else:
                (final / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_report(path: str | os.PathLike[str], as_dict: Callable[[], dict],
                 as_csv: Callable[[], str]) -> None:
    """Write a report as JSON or CSV, chosen by the suffix of ``path``, atomically."""
    import json

    text = str(path)
    if text.endswith(".json"):
        write_text(path, json.dumps(as_dict(), indent=1) + "\n")
    elif text.endswith(".csv"):
        write_text(path, as_csv())
    else:
        raise SquallError(f"--out must end in .csv or .json, got {text}")


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


def read_json(path: str | os.PathLike[str], what: str | None = None) -> object:
    """Read and parse a JSON file; a missing, unreadable or malformed file is a one-line
    ``SquallError`` naming it."""
    name = what or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SquallError(f"no such file: {path}") from None
    except OSError as exc:
        raise SquallError(f"cannot read {name}: {exc.strerror or exc}") from None
    return parse_json(data, name)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
