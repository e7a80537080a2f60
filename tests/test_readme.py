"""Every command in the README runs, in order, in a fresh directory."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from squall.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(console|python|sh)\n(.*?)```", README, flags=re.S)

#: The one folder every README example writes into (ignored by git: .gitignore's /squall-out/).
OUT = "squall-out"


def _commands(block: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]


def _all_commands() -> list[list[str]]:
    return [argv for kind, block in BLOCKS if kind == "console" for argv in _commands(block)]


def test_every_example_writes_under_one_ignored_folder():
    """Every --out of a README command, and every path the Python example writes, is under
    squall-out/, which .gitignore ignores: running the README leaves the checkout clean."""
    outs = [argv[argv.index("--out") + 1] for argv in _all_commands() if "--out" in argv]
    assert len(outs) >= 20
    assert [o for o in outs if not o.startswith(OUT + "/")] == []
    written = re.findall(r'pipeline\.(?:train|detect)\([^)]*?"([^"]+)"(?:, epochs|\))', README)
    assert written and all(w.startswith(OUT + "/") for w in written), written
    assert f"/{OUT}/" in (ROOT / ".gitignore").read_text().split()
    # commands whose output has a default (profile, graph) give --out in the README
    assert all("--out" in argv for argv in _all_commands() if argv[1] in ("profile", "graph"))


def test_install_without_make_is_described():
    text = " ".join(README.split())
    assert "pip install ." in text and "pip install -e '.[train]'" in text
    assert "pip install 'squall[train]'" in text


def test_first_lines_are_the_two_commands():
    pytest.importorskip("torch")
    kind, first = BLOCKS[0]
    lines = [ln.split("#")[0].strip() for ln in first.splitlines() if ln.strip()]
    assert lines == ["make demo", "make test"]
    dry = subprocess.run(
        ["make", "-n", "demo", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "squall demo" in dry and "pytest" in dry
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()  # never an unpinned torch
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.slow
def test_readme_commands_run(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    shared = ROOT.parent / "shared"
    work = tmp_path / "work"
    work.mkdir()
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    monkeypatch.chdir(work)
    ran = 0
    missing: set[str] = set()  # outputs of commands skipped for lack of the shared data
    for kind, block in BLOCKS:
        if kind == "console":
            for argv in _commands(block):
                assert argv[0] == "squall"
                if not shared.is_dir() and any("../shared" in a or a in missing for a in argv):
                    if "--out" in argv:  # the shared data set is absent: skip this command
                        missing.add(argv[argv.index("--out") + 1])  # and those using its output
                    continue
                assert main(argv[1:]) == 0, argv
                ran += 1
        elif kind == "python":
            exec(compile(block, "README.md", "exec"), {})
            ran += 1
    assert ran >= 9
    assert (work / OUT / "found" / "events.csv").is_file()
    assert (work / OUT / "found" / "anomaly_windows.csv").stat().st_size > 0
    assert os.path.isdir(work / OUT / "model")
    assert sorted(p.name for p in work.iterdir()) == [OUT]  # nothing beside it
