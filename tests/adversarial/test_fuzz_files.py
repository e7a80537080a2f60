"""Issue 12, section 8: generated hostile bundle.json and windows .npz files.

Mutations of valid files (types swapped, keys removed, values nested, huge numbers, NaN, arrays
of other dtypes, shapes and index values, metadata JSON replaced) are fed to ``load_bundle``,
``windowset.load`` and ``pipeline.load_windows``, and so are the bytes of a valid windows file
(stored and compressed) with bytes flipped, removed or cut off. Each must return a result or raise
a ``SquallError``, never another exception, and must not allocate more than
:data:`PEAK_BYTES` (traced by ``tracemalloc``; numpy reports its buffers to it). Deterministic
(``derandomize=True``, no example database), so a CI run never flakes. Marked ``slow`` (several
seconds each): the Makefile runs them in the second tier.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_files import arrays_of, run, tiny_bundle  # noqa: F401 - run: a fixture

from squall import pipeline
from squall.bundle import load_bundle
from squall.data import windowset
from squall.errors import SquallError

#: Largest allocation a load of these small files (a few kB) may reach: a file that makes
#: squall allocate 64 MB was trusted for a size it declared instead of being checked.
PEAK_BYTES = 64 << 20

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def survives(load, *args) -> None:
    """``load(*args)`` returns or raises SquallError, within PEAK_BYTES."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load(*args)
    except SquallError as exc:
        assert "\n" not in str(exc)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES, peak


# --------------------------------------------------------------------------- bundle.json

#: Hostile JSON values: wrong types, huge and non-finite numbers, nesting.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 10**3),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    """Every key path into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(meta, path, op, value):
    if not path:
        return value if op != "keep" else meta
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if op == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif op == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = value
    return meta


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_generated_bundle_json_is_loaded_or_refused_in_one_line(
    run,  # noqa: F811 (the fixture imported above)
    tmp_path_factory,
    data,
):
    meta = json.loads((run / "bundle" / "bundle.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(meta))))
        op = data.draw(st.sampled_from(["replace", "delete", "wrap", "keep"]))
        meta = _mutate(meta, path, op, data.draw(VALUES))
    text = json.dumps(meta)
    if data.draw(st.booleans()):
        depth = data.draw(st.sampled_from([10, 5_000, 200_000]))
        text = (
            text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
            if text.endswith("}")
            else "[" * depth + "]" * depth
        )
    root = tmp_path_factory.getbasetemp() / "fuzz-bundle"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(run / "bundle", root)
    (root / "bundle.json").write_text(text)
    survives(load_bundle, root)


# --------------------------------------------------------------------------- windows .npz

DTYPES = [bool, np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64, np.complex64, str]


def _array_op(draw, a):
    """One mutation of one array: another dtype, a shorter/longer shape, shifted values."""
    op = draw(st.sampled_from(["dtype", "truncate", "extend", "shift", "reshape", "scalar"]))
    if op == "dtype":
        try:
            return a.astype(draw(st.sampled_from(DTYPES)))
        except (ValueError, TypeError, OverflowError):
            return a
    if op == "truncate" and a.ndim:
        return a[: draw(st.integers(0, max(0, len(a) - 1)))]
    if op == "extend" and a.ndim:
        return np.concatenate([a, a[:1]]) if len(a) else a
    if op == "shift" and a.dtype.kind in "iuf":
        shift = draw(st.sampled_from([-1, 1, -(10**6), 2**40]))
        try:  # a shift beyond a narrow integer dtype (int32 obs_source) cannot be stored as is
            return a + shift
        except OverflowError:
            return a.astype(np.int64) + shift
    if op == "reshape":
        return a.reshape(-1)
    return np.asarray(a.flat[0]) if a.size else a


META_TEXT = st.one_of(
    VALUES.map(json.dumps), st.just("[" * 100_000), st.just('{"bundle": 5}'), st.text(max_size=10)
)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_generated_windows_files_are_loaded_or_refused_in_one_line(
    run,  # noqa: F811 (the fixture imported above)
    tmp_path_factory,
    data,
):
    arrays = arrays_of(run / "run" / "windows.npz")
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(arrays)))
        what = data.draw(st.sampled_from(["array", "remove", "json"]))
        if what == "remove":
            arrays.pop(name)
        elif what == "json" or name in ("meta", "settings"):
            arrays[data.draw(st.sampled_from(["meta", "settings"]))] = np.asarray(
                data.draw(META_TEXT)
            )
        else:
            arrays[name] = _array_op(data.draw, arrays[name])
    path = tmp_path_factory.getbasetemp() / "fuzz-windows.npz"
    np.savez(path, **arrays)
    survives(windowset.load, path)
    survives(pipeline.load_windows, tiny_bundle(), [path])


# --------------------------------------------------------------------------- corrupted bytes


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_corrupted_windows_file_bytes_are_loaded_or_refused_in_one_line(
    run,  # noqa: F811 (the fixture imported above)
    tmp_path_factory,
    data,
):
    """Bytes of a valid windows file flipped, removed or cut off anywhere: in zip headers, the
    central directory, ``.npy`` headers, deflate streams and array data."""
    root = tmp_path_factory.getbasetemp()
    good = root / "fuzz-good.npz"
    if data.draw(st.booleans()):
        np.savez_compressed(good, **arrays_of(run / "run" / "windows.npz"))
    else:
        np.savez(good, **arrays_of(run / "run" / "windows.npz"))
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "flip", "set", "delete", "truncate"]))
        if op == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set":
            raw[at] = data.draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
        elif op == "delete":
            del raw[at : at + data.draw(st.integers(1, 16))]
        else:
            del raw[at:]
        if not raw:
            break
    path = root / "fuzz-corrupt.npz"
    path.write_bytes(bytes(raw))
    survives(windowset.load, path)
