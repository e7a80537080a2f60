"""Issue 12, squall.io: a run killed at any point of an output's swap loses nothing and leaves
nothing the next run does not recover or clean; stale leftovers are told from live ones by the
marker's lock, not by a pid; a killed ``atomic_path`` leaves nothing behind for long.

Kills are real (SIGKILL of a small child process at a chosen rename), so no handler of the
killed run runs; no test depends on time."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from squall import io
from squall.errors import SquallError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

#: A child that writes ``target`` with atomic_dir and SIGKILLs itself at rename number STEP
#: (before it; STEP == "after-last": right after the last rename, before the marker goes).
SWAP_CHILD = """
import os, signal, sys
from pathlib import Path
from squall import io

target, step = Path(sys.argv[1]), sys.argv[2]
real, done = os.replace, []

def replace(src, dst):
    if step == str(len(done)):
        os.kill(os.getpid(), signal.SIGKILL)
    result = real(src, dst)
    done.append(dst)
    if step == "after-last" and Path(dst) == target:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

os.replace = replace
with io.atomic_dir(target, io.written_by("out.json", "test")) as tmp:
    (tmp / "out.json").write_text('{"format": "test"}')
    (tmp / "value.txt").write_text("new")
"""


def _write(target: Path, value: str) -> None:
    with io.atomic_dir(target, io.written_by("out.json", "test")) as tmp:
        (tmp / "out.json").write_text('{"format": "test"}')
        (tmp / "value.txt").write_text(value)


def _child(code: str, *args: object) -> int:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)]).returncode


def _leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


@pytest.mark.parametrize(
    "existing,step,expected",
    [
        (False, "0", None),  # killed before the new output moved in: nothing there yet
        (False, "after-last", "new"),
        (True, "0", "old"),  # before the old output was set aside
        (True, "1", "old"),  # between the two renames: old aside, new not in
        (True, "after-last", "new"),  # the new output in, its marker and the old one not removed
    ],
)
def test_a_swap_killed_at_any_step_is_recovered_by_the_next_run(tmp_path, existing, step, expected):
    target = tmp_path / "out"
    if existing:
        _write(target, "old")
    assert _child(SWAP_CHILD, target, step) == -9
    # the kill left something behind (a marker inside the target at least)
    assert _leftovers(tmp_path, "out") or (target / io.TEMP_MARKER).exists()
    with pytest.raises(SquallError), io.atomic_dir(target, io.written_by("out.json", "test")):
        raise SquallError("the next run fails too")
    if expected is None:
        assert not target.exists()
    else:
        assert (target / "value.txt").read_text() == expected
        assert sorted(p.name for p in target.iterdir()) == ["out.json", "value.txt"]
    assert _leftovers(tmp_path, "out") == []  # recovered or cleaned, nothing left
    _write(target, "newer")
    assert (target / "value.txt").read_text() == "newer"
    assert _leftovers(tmp_path, "out") == [] and not (target / io.TEMP_MARKER).exists()


def _part_dir(tmp_path: Path, pid: object) -> Path:
    part = tmp_path / ".out.k1.part"
    part.mkdir()
    (part / io.TEMP_MARKER).write_text(f"{pid}\n")
    return part


@pytest.mark.parametrize("pid", ["self", 1])
def test_an_unlocked_marker_is_stale_whatever_its_pid(tmp_path, pid):
    """A reused pid (1 in a container, or this very process) does not keep a leftover alive:
    its marker's lock is free, so the writer is gone."""
    part = _part_dir(tmp_path, os.getpid() if pid == "self" else pid)
    io.recover_leftovers(tmp_path / "out")
    assert not part.exists()


def test_a_locked_marker_is_live(tmp_path):
    part = _part_dir(tmp_path, 999999)  # a pid no process has
    with open(part / io.TEMP_MARKER) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer holds it
        io.recover_leftovers(tmp_path / "out")
        assert (part / io.TEMP_MARKER).exists()
    io.recover_leftovers(tmp_path / "out")
    assert not part.exists()


def test_a_temporary_directory_of_this_process_is_live_while_it_writes(tmp_path):
    with io.atomic_dir(tmp_path / "out") as tmp:
        io.recover_leftovers(tmp_path / "out")
        assert tmp.is_dir()
        (tmp / "x").write_text("x")
    assert (tmp_path / "out" / "x").read_text() == "x"
    assert _leftovers(tmp_path, "out") == [] and not (tmp_path / "out" / io.TEMP_MARKER).exists()


#: A child killed while it writes ``target`` through atomic_path.
FILE_CHILD = """
import os, signal, sys
from squall import io

with io.atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half a ta")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_atomic_path_is_cleaned_by_the_next_write(tmp_path):
    target = tmp_path / "table.csv"
    assert _child(FILE_CHILD, target) == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.startswith(".table.") and n.endswith(".part.csv") for n in left), left
    # files squall cannot prove it wrote stay: no marker, a marker that is not squall's (no
    # pid), a live writer's (locked)
    foreign = tmp_path / ".table.abcdefgh.part.csv"
    foreign.write_text("mine")
    (tmp_path / ".table.csv.zzzzzzzz.squall-temp").write_text("")
    (tmp_path / ".table.zzzzzzzz.part.csv").write_text("mine too")
    live_marker = tmp_path / ".table.csv.livelive.squall-temp"
    live_marker.write_text("1\n")
    (tmp_path / ".table.livelive.part.csv").write_text("being written")
    with open(live_marker) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        io.write_text(target, "a,b\n")
    assert target.read_text() == "a,b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "table.csv",
            foreign.name,
            ".table.csv.zzzzzzzz.squall-temp",
            ".table.zzzzzzzz.part.csv",
            live_marker.name,
            ".table.livelive.part.csv",
        ]
    )


def test_atomic_path_leaves_nothing_on_success_or_failure(tmp_path):
    target = tmp_path / "t.json"
    io.write_text(target, json.dumps({"a": 1}))
    with pytest.raises(KeyboardInterrupt), io.atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
    assert json.loads(target.read_text()) == {"a": 1}


def test_a_listed_directory_is_replaced_only_while_it_holds_its_own_files(tmp_path):
    target = tmp_path / "rtl"
    accepts = io.written_by("out.json", "test", listed=True)
    with io.atomic_dir(target, accepts) as tmp:
        (tmp / "out.json").write_text('{"format": "test"}')
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.mem").write_text("00\n")
    assert accepts(target)
    (target / "notes.txt").write_text("keep me")
    assert not accepts(target)
    with pytest.raises(SquallError, match="did not write"), io.atomic_dir(target, accepts):
        pass
    assert (target / "notes.txt").read_text() == "keep me"
    (target / "notes.txt").unlink()
    (target / "sub" / "a.mem").write_text("ff\n")  # edited by the user: theirs now
    assert not accepts(target)
    (target / "sub" / "a.mem").write_text("00\n")
    assert accepts(target)


@pytest.mark.parametrize("moved,expected", [(1, "old"), (2, "new")])
def test_an_interrupt_just_after_a_rename_loses_nothing(tmp_path, monkeypatch, moved, expected):
    """Ctrl-C arriving right after a rename of the swap returned (before the code after it
    ran): the old output is put back when the new one is not in, nothing is left over."""
    target = tmp_path / "out"
    _write(target, "old")
    real, calls = os.replace, []

    def replace(src, dst):
        real(src, dst)
        calls.append(dst)
        if len(calls) == moved:
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _write(target, "new")
    monkeypatch.setattr(os, "replace", real)
    assert (target / "value.txt").read_text() == expected
    assert sorted(p.name for p in target.iterdir()) == ["out.json", "value.txt"]
    assert _leftovers(tmp_path, "out") == []


def test_a_removal_interrupted_midway_leaves_the_rest_marked(tmp_path, monkeypatch):
    """Removing a leftover (or a failed run's temporary directory) takes its marker last: an
    interrupt midway leaves what remains marked, and the next run removes it (a marker removed
    first would leave an unmarked directory that no run ever touches again)."""
    part = tmp_path / ".out.k1.part"
    part.mkdir()
    names = [f"f{i:02d}.txt" for i in range(40)]
    for name in names[:20]:  # the marker in the middle, whatever
        (part / name).write_text(name)  # order the file system lists them in
    (part / io.TEMP_MARKER).write_text("1\n")
    for name in names[20:]:
        (part / name).write_text(name)
    real, removed = os.unlink, []

    def unlink(path, *args, **kwargs):
        if len(removed) == len(names) - 2:
            raise KeyboardInterrupt
        real(path, *args, **kwargs)
        removed.append(os.path.basename(os.fspath(path)))

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        io.recover_leftovers(tmp_path / "out")
    monkeypatch.setattr(os, "unlink", real)
    assert (part / io.TEMP_MARKER).exists()
    io.recover_leftovers(tmp_path / "out")
    assert _leftovers(tmp_path, "out") == []


def test_an_interrupt_while_the_old_output_is_removed_leaves_it_marked(tmp_path, monkeypatch):
    target = tmp_path / "out"
    with io.atomic_dir(target, io.written_by("out.json", "test")) as tmp:
        (tmp / "out.json").write_text('{"format": "test"}')
        for i in range(20):
            (tmp / f"f{i:02d}.txt").write_text("old")
    real, removed = os.unlink, []

    def unlink(path, *args, **kwargs):
        if len(removed) == 5:
            raise KeyboardInterrupt
        real(path, *args, **kwargs)
        removed.append(path)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        _write(target, "new")
    monkeypatch.setattr(os, "unlink", real)
    assert (target / "value.txt").read_text() == "new"
    _write(target, "newer")
    assert (target / "value.txt").read_text() == "newer"
    assert _leftovers(tmp_path, "out") == [] and not (target / io.TEMP_MARKER).exists()


def test_the_old_output_is_kept_when_its_place_was_taken_since(tmp_path):
    """A swap killed between its renames leaves the old output aside; when the target was
    created again since (not by squall), the next run never deletes the old output for it."""
    target = tmp_path / "out"
    _write(target, "old")
    assert _child(SWAP_CHILD, target, "1") == -9
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(SquallError, match="did not write"):
        _write(target, "new")
    assert (target / "notes.txt").read_text() == "mine"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".out.") and p.suffix == ".old"]
    assert len(kept) == 1 and (kept[0] / "previous" / "value.txt").read_text() == "old"


def test_write_report_names_its_path_parameter(tmp_path):
    """A wrong suffix names the parameter; the command line shows its own flag instead."""
    from squall.errors import ParameterError

    target = tmp_path / "report{0}.txt"  # braces in the path are not a template's
    with pytest.raises(ParameterError) as info:
        io.write_report(target, dict, str)
    assert info.value.param == "path"
    assert str(info.value) == f"path must end in .csv or .json, got {target}"
    assert info.value.for_option("--out") == f"--out must end in .csv or .json, got {target}"
    assert not target.exists()
