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

pytest.importorskip("torch")


def _commands(block: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]


def test_first_lines_are_the_two_commands():
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
    assert (work / "found" / "events.csv").is_file()
    assert (work / "found" / "anomaly_windows.csv").stat().st_size > 0
    assert os.path.isdir(work / "model")
