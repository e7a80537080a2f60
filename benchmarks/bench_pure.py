"""The pure-Python engine against the straightforward pure-Python LSTM (standard library only).

    python benchmarks/bench_pure.py [--bundle DIR] [--repeats 3] [--limit N] [--json OUT] [--check]

Baseline: the textbook implementation. Per step, each of the four gates computes its own input
mat-vec and its own recurrent mat-vec, each a nested comprehension
``[sum(w * v for w, v in zip(row, vec)) for row in M]``, then adds them and the bias with
elementwise helpers that return new lists; the decoder recomputes the repeated latent vector's
projection at every step. It is checked to give the same reconstruction errors as the engine
before anything is timed.

Both run the seed model on its 273 new-data windows (``../shared/data/seed-model``), one after the
other in each round (order alternating), ``--repeats`` rounds; reported: median seconds per run,
ms per window, and the ratio baseline / engine (target: at least 3x). This script needs only the
standard library, so it runs on any interpreter (``math.sumprod`` exists from Python 3.12): pass
``--bundle`` with a bundle directory of the seed model (``squall import-keras`` writes one);
without it the script makes one with squall (which needs numpy).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import platform
import statistics
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "data" / "seed-model"
TARGET = 3.0
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))
from squall.engines import pure  # noqa: E402  (standard library only)

# ----------------------------------------------------------------- the straightforward version


def b_matvec(M, v):
    return [sum(w * x for w, x in zip(row, v)) for row in M]


def b_add(a, b):
    return [x + y for x, y in zip(a, b)]


def b_mul(a, b):
    return [x * y for x, y in zip(a, b)]


def b_sigmoid(v):
    return [1.0 / (1.0 + math.exp(-x)) for x in v]


def b_tanh(v):
    return [math.tanh(x) for x in v]


def baseline_step(layer, x, h, c):
    H = layer.hidden
    gates = []
    for k in range(4):  # i, f, g, o: separate mat-vecs per gate
        Wk, Uk, bk = (
            layer.W[k * H : (k + 1) * H],
            layer.U[k * H : (k + 1) * H],
            layer.b[k * H : (k + 1) * H],
        )
        gates.append(b_add(b_add(b_matvec(Wk, x), b_matvec(Uk, h)), bk))
    i, f, g, o = b_sigmoid(gates[0]), b_sigmoid(gates[1]), b_tanh(gates[2]), b_sigmoid(gates[3])
    c = b_add(b_mul(f, c), b_mul(i, g))
    h = b_mul(o, b_tanh(c))
    return h, c


def baseline_reconstruct(model, window):
    seq, latent = window, None
    for layer in model.layers:
        if isinstance(layer, pure.LstmLayer):
            h, c = [0.0] * layer.hidden, [0.0] * layer.hidden
            outs = []
            for t in range(model.length):
                h, c = baseline_step(layer, latent if latent is not None else seq[t], h, c)
                outs.append(h)
            seq, latent = (outs, None) if layer.return_sequences else (None, h)
        elif isinstance(layer, pure.DenseLayer):
            seq = [b_add(b_matvec(layer.W, x), layer.b) for x in seq]
    return seq


# ----------------------------------------------------------------- data (no numpy needed)


def load_npy_from_npz(path: Path, key: str) -> list:
    """An array from a .npz as nested lists, read with zipfile and struct (float64/32, C order)."""
    with zipfile.ZipFile(path) as z:
        raw = z.read(f"{key}.npy")
    major = raw[6]
    hlen_size = 2 if major == 1 else 4
    hlen = int.from_bytes(raw[8 : 8 + hlen_size], "little")
    header = ast.literal_eval(raw[8 + hlen_size : 8 + hlen_size + hlen].decode("latin1"))
    if header["fortran_order"] or header["descr"] not in ("<f8", "<f4"):
        raise SystemExit(f"{path}:{key}: unsupported array layout {header}")
    code = "d" if header["descr"] == "<f8" else "f"
    count = math.prod(header["shape"])
    flat = struct.unpack(f"<{count}{code}", raw[8 + hlen_size + hlen :])
    n, T, F = header["shape"]
    return [[list(flat[(i * T + t) * F : (i * T + t + 1) * F]) for t in range(T)] for i in range(n)]


def mse(a, b) -> float:
    total = sum(
        (x - y) ** 2 for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)
    )
    return total / (len(a) * len(a[0]))


def seed_bundle() -> Path:
    from squall.convert import import_keras

    out = Path(tempfile.mkdtemp()) / "seed"
    import_keras(SEED / "lstm_weights.npz", SEED / "scaler.json").save(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="seed-model bundle directory (default: made with squall)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N windows")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--check", action="store_true", help="exit 1 if the 3x target is missed")
    args = ap.parse_args()
    if not (SEED / "new_data_sequences.npz").is_file():
        print(f"skipped: {SEED} is absent (the benchmark needs the seed model's windows)")
        return 0
    model = pure.load(args.bundle or seed_bundle())
    windows = load_npy_from_npz(SEED / "new_data_sequences.npz", "sequences")
    if args.limit:
        windows = windows[: args.limit]
    # same answers first: the baseline is a correct LSTM, not a strawman
    for w in windows[:3]:
        a, b = mse(w, baseline_reconstruct(model, w)), mse(w, model.reconstruct(w))
        assert abs(a - b) <= 1e-12 * abs(b), (a, b)

    def run(fn):
        start = time.perf_counter()
        for w in windows:
            fn(w)
        return time.perf_counter() - start

    runs = {"baseline": [], "engine": []}
    fns = {"baseline": lambda w: baseline_reconstruct(model, w), "engine": model.reconstruct}
    for r in range(args.repeats):
        order = ("baseline", "engine") if r % 2 == 0 else ("engine", "baseline")
        for name in order:
            runs[name].append(run(fns[name]))
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["baseline"] / med["engine"]
    result = {
        "python": platform.python_version(),
        "sumprod": hasattr(math, "sumprod"),
        "windows": len(windows),
        "repeats": args.repeats,
        "runs_s": runs,
        "median_s": med,
        "ms_per_window": {k: 1000 * v / len(windows) for k, v in med.items()},
        "ratio": ratio,
        "target": TARGET,
    }
    print(
        f"python {result['python']} (math.sumprod: {result['sumprod']}), {len(windows)} "
        f"windows, {args.repeats} runs each"
    )
    for k in ("baseline", "engine"):
        print(f"  {k:9s} median {med[k]:8.3f} s  ({result['ms_per_window'][k]:6.2f} ms/window)")
    print(f"  speedup  {ratio:.2f}x (target {TARGET}x: {'ok' if ratio >= TARGET else 'MISS'})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 1 if args.check and ratio < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
