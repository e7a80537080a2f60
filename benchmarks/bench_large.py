"""Time and peak memory of ``squall detect``, ``windows`` and ``eda`` on a real-size NOAA box file.

The file is the shared box file (``../shared/data/noaa/*.csv``, 6,327 reports) repeated with other
station ids until it reaches ``--mb`` megabytes (500 MB: about 2.3 million reports); every copy
keeps the original times, so each copy is a new set of tracks over the same month. A small bundle
is trained once on the shared file itself (``squall train --epochs 1``, hidden 16,8: its features
are in the big file), then each command runs in a child process, with a fresh output each time,
and its wall time and peak resident memory (``ru_maxrss`` of the child) are printed.

``--baseline REF`` runs the same commands with the code at git ref ``REF`` (checked out with
``git worktree`` into a temporary directory, imported through ``PYTHONPATH``) in the same run,
for a same-machine comparison; ``--timeout`` stops a command that takes longer (the old code on
500 MB ran for more than 11 minutes).

    .venv/bin/python benchmarks/bench_large.py --mb 50
    .venv/bin/python benchmarks/bench_large.py --mb 500 --baseline 72ac916 --timeout 900
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "noaa"
COMMANDS = ("windows", "detect", "eda")
#: The command line, run from the PYTHONPATH given (so a baseline tree can be measured).
CLI = [sys.executable, "-c", "import sys; from squall.cli.main import run; run()"]


def box_file() -> Path:
    found = sorted(glob.glob(str(SHARED / "*.csv")))
    if not found:
        sys.exit(f"no NOAA box file in {SHARED}")
    return Path(found[0])


def generate(target: Path, mb: float) -> int:
    """Write the box file repeated with station ids ``<id>_<copy>`` up to ``mb`` MB; returns the
    number of data lines. The header (with its junk) is written once."""
    lines = box_file().read_text().splitlines(keepends=True)
    header, body = lines[0], [ln for ln in lines[1:] if ln.startswith('"')]
    limit, written, n, copy = int(mb * 1e6), 0, 0, 0
    with open(target, "w") as fh:
        fh.write(header)
        written += len(header)
        while written < limit:
            for ln in body:
                station, rest = ln.split(",", 1)
                out = f'{station[:-1]}_{copy}",{rest}' if copy else ln
                fh.write(out)
                written += len(out)
                n += 1
                if written >= limit:
                    break
            copy += 1
    return n


def run(argv: list[str], env: dict, timeout: float) -> tuple[float, float, int]:
    """Wall seconds and peak RSS (GB) of one child process, and its exit status (-9: timeout)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    rc = subprocess.run(sys.argv[2:], timeout=float(sys.argv[1]),\n"
        "                        stdout=subprocess.DEVNULL).returncode\n"
        "except subprocess.TimeoutExpired:\n"
        "    rc = -9\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)"
        ".ru_maxrss, rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(timeout), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1e6, int(out[2])


def commands(
    bundle: Path, data: Path, work: Path, label: str, quantile: float | None
) -> dict[str, list[str]]:
    """The three command lines, writing into a new directory (nothing there before)."""
    cli, out = CLI, Path(tempfile.mkdtemp(dir=work, prefix=f"{label}-out-"))
    flag = ["--threshold-quantile", str(quantile)] if quantile else []
    return {
        "windows": cli + ["windows", str(bundle), str(data), "--out", str(out / "windows.npz")],
        "detect": cli
        + ["detect", str(bundle), str(data), "--out", str(out / "detect"), "--no-plot", *flag],
        "eda": cli + ["eda", str(data), "--out", str(out / "eda")],
    }


def worktree(ref: str, where: Path) -> Path:
    path = where / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
        check=True,
        capture_output=True,
    )
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=50, help="size of the generated file (MB)")
    p.add_argument("--baseline", help="also run the code at this git ref")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    p.add_argument("--only", default=",".join(COMMANDS), help="commands to run")
    p.add_argument("--keep", help="directory to keep the generated file and bundle in")
    p.add_argument("--no-new", action="store_true", help="run only the baseline")
    p.add_argument(
        "--threshold-quantile",
        type=float,
        help="detect: flag windows above this "
        "quantile of the scored data (e.g. 0.9: 10 %% flagged, to load the tracing "
        "of anomaly_windows.csv; default: the bundle's threshold)",
    )
    a = p.parse_args()
    work = Path(a.keep or tempfile.mkdtemp(prefix="bench-large-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    try:
        data = work / f"box-{a.mb:g}mb.csv"
        if not data.exists():
            n = generate(data, a.mb)
            print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB, {n:,} reports)")
        bundle = work / "bundle"
        if not bundle.exists():
            subprocess.run(
                [
                    *CLI,
                    "train",
                    str(box_file()),
                    "--out",
                    str(bundle),
                    "--epochs",
                    "1",
                    "--hidden",
                    "16,8",
                    "--quiet",
                ],
                check=True,
                env=env,
                capture_output=True,
            )
        trees = {} if a.no_new else {"new": ROOT / "src"}
        if a.baseline:
            trees[a.baseline] = worktree(a.baseline, work) / "src"
        print(f"{'code':>10} {'command':>8} {'seconds':>8} {'peak GB':>8} {'status':>6}")
        for label, src in trees.items():
            tenv = dict(env, PYTHONPATH=str(src))
            for name, argv in commands(
                bundle, data, work, label.replace("/", "_"), a.threshold_quantile
            ).items():
                if name not in a.only.split(","):
                    continue
                seconds, gb, rc = run(argv, tenv, a.timeout)
                status = "ok" if rc == 0 else ("timeout" if rc == -9 else f"rc {rc}")
                print(f"{label:>10} {name:>8} {seconds:8.1f} {gb:8.2f} {status:>6}", flush=True)
    finally:
        if a.baseline:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "baseline")],
                capture_output=True,
            )
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
