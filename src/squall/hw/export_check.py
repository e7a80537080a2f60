"""Reading an export back: every file and golden step checked against the bundle.

:func:`check_export` (``squall hw check-export``) reads the manifest with the type of every entry
checked, re-quantizes the bundle's weights and tables and compares every word, and re-runs every
golden step with the fixed engine's fast step. File names from the manifest stay inside the
export.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from squall.bundle import Bundle
from squall.engines.fixed import FixedLstm, FixedModel, resolve_config
from squall.engines.fixedpoint import FixedPointError, FixedType
from squall.errors import SquallError
from squall.hw.export_layout import (
    FORMAT,
    VERSION,
    export_text,
    fixed_layer,
    golden_layout,
    read_mem,
    table_files,
    weight_files,
    weights_digest,
)
from squall.io import read_json
from squall.limits import directory as _directory
from squall.limits import is_number, regular_file
from squall.text import plural


@dataclass
class CheckReport:
    files: int = 0
    words: int = 0
    cases: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (
            f"{plural(self.files, 'file')}, {plural(self.words, 'word', fmt=',')}, "
            f"{plural(self.cases, 'golden step')} re-run: "
        ) + ("all match the bundle" if self.ok else plural(len(self.problems), "problem"))
        return "\n".join([head] + [f"  {p}" for p in self.problems[:20]])


def check_export(directory: str | os.PathLike[str], bundle: Bundle) -> CheckReport:
    """Load an export back and re-check every word against ``bundle``: weights and tables
    re-quantized, every golden step re-run by the fixed engine's fast step."""
    root = _directory(directory, "hardware export directory")
    manifest = read_manifest(root)
    report = CheckReport()
    if manifest["bundle"]["layers"] != bundle.model.to_json():
        raise SquallError(f"{root} was exported from a bundle with other layers")
    if manifest["bundle"]["weights_digest"] != weights_digest(bundle):
        report.problems.append(
            "the bundle's weights differ from the exported bundle's (weights digest)"
        )
    model = FixedModel(bundle, resolve_config(manifest["config"]))
    expected = {f"{k}.mem": (codes, t) for k, (codes, t, _, _) in weight_files(model).items()}
    expected.update({f"{k}.mem": (codes, t) for k, (codes, t, _) in table_files(model).items()})
    listed = {f["path"] for f in manifest["files"]}
    for name in sorted(set(expected) - listed):
        report.problems.append(f"{name} is not in the manifest")
    for f in manifest["files"]:
        if f["path"] not in expected:
            report.problems.append(f"{f['path']}: not a file this bundle and configuration have")
            continue
        codes, t = expected[f["path"]]
        report.problems += _compare(root / f["path"], t, codes)
        report.files += 1
        report.words += len(codes)
    for key, g in manifest["golden"].items():
        L = fixed_layer(model, int(key))
        ins, outs = golden_layout(model, L)
        got_in = _read_words(root / g["files"][0], ins, g["cases"], report)
        got_out = _read_words(root / g["files"][1], outs, g["cases"], report)
        report.files += 2
        if got_in is None or got_out is None:
            continue
        for k, (vin, vout) in enumerate(zip(got_in, got_out, strict=True)):
            if isinstance(L, FixedLstm):
                want = list(model.lstm_step(L, vin[0], vin[1], vin[2]))
            else:
                want = [model.dense(L, vin[0])]
            report.cases += 1
            report.words += sum(map(len, vin)) + sum(map(len, vout))
            for (name, _, _), a, b in zip(outs, vout, want, strict=True):
                if a != b:
                    j = next(n for n in range(len(a)) if a[n] != b[n])
                    report.problems.append(
                        f"{g['files'][1]}: case {k}, {name}[{j}] is {a[j]}, "
                        f"the fixed engine computes {b[j]}"
                    )
    return report


def _inside(rel: object, what: str) -> str:
    """A file name from the manifest: a relative path inside the export (no ``..``, not
    absolute), so a crafted manifest cannot make the checker read other files."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise SquallError(
            f"manifest.json: {what} must be a file name inside the export, got {rel!r}"[:200]
        )
    return rel


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise SquallError(f"manifest.json is malformed: {what}")


def read_manifest(root: Path) -> dict:
    """``manifest.json`` of an export, with the type of every entry the checker uses checked
    (format, integer version, bundle layers and digest, config, files, golden layers)."""
    path = root / "manifest.json"
    manifest = read_json(
        regular_file(
            path,
            "manifest.json",
            missing="{p.parent} is not a squall hardware export (no manifest.json)",
        )
    )
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SquallError(f"{root} is not a squall hardware export")
    version = manifest.get("version")
    if not is_number(version, integer=True) or version != VERSION:
        raise SquallError(f"{root}: export version {version!r}, this squall reads {VERSION}")
    b = manifest.get("bundle")
    _need(
        isinstance(b, dict)
        and isinstance(b.get("layers"), list)
        and isinstance(b.get("weights_digest"), str),
        "bundle needs layers and weights_digest",
    )
    _need(isinstance(manifest.get("config"), dict), "config must be an object")
    files = manifest.get("files")
    _need(
        isinstance(files, list) and all(isinstance(f, dict) for f in files),
        "files must be a list of objects",
    )
    assert isinstance(files, list)
    for f in files:
        _inside(f.get("path"), "files[].path")
    golden = manifest.get("golden")
    _need(isinstance(golden, dict), "golden must be an object")
    assert isinstance(golden, dict)
    for key, g in golden.items():
        _need(
            key.isascii() and key.isdigit() and isinstance(g, dict),
            f"golden[{key!r}] must be a layer index"[:200],
        )
        cases = g.get("cases")
        _need(
            is_number(cases, integer=True) and cases >= 0, f"golden[{key!r}].cases must be a count"
        )
        _need(
            isinstance(g.get("files"), list) and len(g["files"]) >= 2,
            f"golden[{key!r}].files must list the in and out files",
        )
        for name in g["files"]:
            _inside(name, f"golden[{key!r}].files")
    return manifest


def _compare(path: Path, t: FixedType, codes: list[int]) -> list[str]:
    try:
        got = read_mem(path, t)
    except SquallError as exc:
        return [str(exc)]
    if len(got) != len(codes):
        return [f"{path.name}: {len(got)} words, expected {len(codes)}"]
    bad = [n for n, (a, b) in enumerate(zip(got, codes, strict=True)) if a != b]
    if bad:
        n = bad[0]
        return [
            f"{path.name}: {len(bad)} word(s) differ, first at line {n + 1}: "
            f"{t.to_hex(got[n])}, expected {t.to_hex(codes[n])}"
        ]
    return []


def _read_words(path: Path, layout, cases: int, report: CheckReport):
    """The words of a golden file split into cases and vectors, or None (problem recorded)."""
    per_case = sum(n for _, n, _ in layout)
    try:
        text = export_text(path, missing="{p.name} is missing")
        lines = [ln.split("//")[0].strip() for ln in text.splitlines()]
    except SquallError as exc:
        report.problems.append(str(exc))
        return None
    words = [w for w in lines if w]
    if len(words) != per_case * cases:
        report.problems.append(
            f"{path.name}: {len(words)} words, expected {cases} cases x {per_case}"
        )
        return None
    out, pos = [], 0
    try:
        for _ in range(cases):
            vecs = []
            for _, n, t in layout:
                vecs.append([t.from_hex(w) for w in words[pos : pos + n]])
                pos += n
            out.append(vecs)
    except FixedPointError as exc:
        report.problems.append(f"{path.name}: {exc}")
        return None
    return out
