"""Experiment: the numpy engine with a compiled one-pass cell update, against the engine and torch.

    python benchmarks/bench_native_cell.py [--repeats 7] [--sizes 273,10000] [--json OUT]

What would a compiled kernel buy? ``benchmarks/native/cell.c`` does a step's gates, cell state
and output (three sigmoids and two tanh from one exponential each) in one vectorised pass over
the numpy engine's own buffers. This script compiles it with the system C compiler into a
temporary folder (``cc -O3 -march=native -fno-trapping-math``), swaps it in for the engine's
seven ufunc calls per step (``_Cell.update``; the matrix products stay NumPy's), and times
three contenders in interleaved rounds as ``bench_engines.py`` does: the numpy engine, the same
engine with the native cell, and torch. It also reports the native cell's accuracy: its largest
error against a float64 cell, and the seed model's expected MSE reproduced through it.

squall itself does not use the kernel: this measures a design option; see docs/benchmarks.md.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_engines  # noqa: E402  (the benchmark beside this file: data, timing, machine)

SOURCE = HERE / "native" / "cell.c"
FLAGS = ["-O3", "-fno-trapping-math", "-shared", "-fPIC"]


def build(folder: Path, native: bool = True) -> ctypes.CDLL:
    """Compile the cell into ``folder`` and load it; SystemExit with one line if impossible.

    ``native`` adds ``-march=native`` (the benchmark: the host's widest vectors and FMA). Tests
    build without it: the compiler's baseline target gives the same rounding on every x86-64
    CPU, where FMA contraction under ``-march=native`` moves results by about 1e-5 on AVX-512
    hosts (measured 1.31e-5 against the engine)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("bench_native_cell: no C compiler (cc or gcc) on PATH")
    target = folder / "libsquall_cell.so"
    flags = [*FLAGS, "-march=native"] if native else FLAGS
    done = subprocess.run(
        [compiler, *flags, "-o", str(target), str(SOURCE)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"bench_native_cell: {compiler} failed: {done.stderr.strip()[:300]}")
    lib = ctypes.CDLL(str(target))  # CDLL calls release the GIL
    lib.lstm_cell.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_long] * 2
    lib.lstm_cell.restype = None
    return lib


def native_cell_class(lib: ctypes.CDLL):
    """A ``_Cell`` whose update is the compiled pass (float32 buffers only)."""
    from squall.engines import numpy_engine

    class NativeCell(numpy_engine._Cell):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            assert self.z.dtype == np.float32 and self.h.flags.c_contiguous
            self.args = (
                self.z.ctypes.data,
                self.c.ctypes.data,
                self.h.ctypes.data,
                self.h.shape[0],
                self.h.shape[1],
            )

        def update(self) -> None:
            lib.lstm_cell(*self.args)

    return NativeCell


@contextmanager
def cells(cls):
    """The numpy engine builds its cells from ``cls`` inside the block."""
    from squall.engines import numpy_engine

    original, numpy_engine._Cell = numpy_engine._Cell, cls
    try:
        yield
    finally:
        numpy_engine._Cell = original


class NativeEngine:
    """A numpy engine that runs with the native cell (same weights, chunks and threads)."""

    def __init__(self, engine, cls) -> None:
        self.engine, self.cls = engine, cls

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        with cells(self.cls):
            return self.engine.reconstruct(x)


def cell_error(lib: ctypes.CDLL, H: int = 64, n: int = 137) -> float:
    """Largest |error| of c and 2h against the same cell in float64, random pre-activations."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (4 * H, n)).astype(np.float32)
    c = rng.normal(0, 1, (H, n)).astype(np.float32)
    h = np.empty((H, n), np.float32)
    t = np.tanh(z.astype(np.float64))  # o, i, f rows are halved: tanh + 1
    cell = 0.5 * ((t[H : 2 * H] + 1) * t[3 * H :] + (t[2 * H : 3 * H] + 1) * c)
    twice_h = (t[:H] + 1) * np.tanh(cell)
    lib.lstm_cell(z.ctypes.data, c.ctypes.data, h.ctypes.data, H, n)
    return float(max(np.abs(c - cell).max(), np.abs(h - twice_h).max()))


def seed_mse_error(engine, x: np.ndarray) -> float | None:
    """Largest relative error of the seed's expected MSE on its new-data windows ``x`` (as
    ``bench_engines.load_seed`` returns them), if the seed model is present."""
    expected = bench_engines.SEED / "expected_mse_new_data.csv"
    if not expected.is_file():
        return None
    import pandas as pd

    mse = ((engine.reconstruct(x) - x) ** 2).mean(axis=(1, 2))
    want = pd.read_csv(expected)["mse"].to_numpy()
    return float(np.max(np.abs(mse - want) / want))


def main(argv: list[str] | None = None) -> int:
    parser = bench_engines.timing_parser(__doc__)
    parser.add_argument(
        "--portable",
        action="store_true",
        help="build without -march=native (the compiler's baseline target; what the tests use)",
    )
    args = parser.parse_args(argv)

    from squall.engines.numpy_engine import NumpyEngine
    from squall.engines.torch_engine import TorchEngine

    bundle, base, source = bench_engines.load_seed()
    with tempfile.TemporaryDirectory(prefix="squall-cell-") as folder:
        lib = build(Path(folder), native=not args.portable)
        numpy_engine = NumpyEngine(bundle, "float32")
        native = NativeEngine(NumpyEngine(bundle, "float32"), native_cell_class(lib))
        engines = {
            "numpy": numpy_engine,
            "torch": TorchEngine(bundle, "float32"),
            "native_cell": native,
        }
        error = cell_error(lib)
        mse = {name: seed_mse_error(engines[name], base) for name in ("numpy", "native_cell")}
        print(f"data: {source}")
        print(
            f"native cell: {' '.join(FLAGS[:3])}; largest error of c and 2h against float64: "
            f"{error:.2e}"
        )
        if mse["numpy"] is not None:
            print(
                f"seed expected MSE, largest relative error: numpy {mse['numpy']:.2e}, "
                f"native cell {mse['native_cell']:.2e} (the engine's test allows 1e-6)"
            )
        rows = []
        for n in (int(s) for s in args.sizes.split(",") if s.strip()):
            x = bench_engines.make_windows(base, n)
            row = bench_engines.bench_size(engines, x, args.repeats, args.settle, with_floor=False)
            row["native_max_abs_diff"] = row["native_cell"]["max_abs_diff_torch"]
            rows.append(row)

    print(
        f"\n{'windows':>8} {'numpy med':>10} {'native med':>11} {'torch med':>10} "
        f"{'torch/numpy':>12} {'torch/native':>13} {'native max|diff|':>17}"
    )
    for row in rows:
        print(
            f"{row['windows']:>8} {row['numpy']['median_ms']:>8.2f}ms "
            f"{row['native_cell']['median_ms']:>9.2f}ms {row['torch']['median_ms']:>8.2f}ms "
            f"{row['torch']['median_ms'] / row['numpy']['median_ms']:>11.2f}x "
            f"{row['torch']['median_ms'] / row['native_cell']['median_ms']:>12.2f}x "
            f"{row['native_max_abs_diff']:>17.2e}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "source": source,
                    "cell_error": error,
                    "seed_mse_relative_error": mse,
                    "flags": FLAGS,
                    "results": rows,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
