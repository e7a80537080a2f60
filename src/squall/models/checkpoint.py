"""Training checkpoints (``squall train --checkpoint-every N``, ``--resume DIR``): nothing pickled.

A checkpoint directory (by default ``OUT.checkpoint`` beside the bundle directory ``OUT``) holds
everything a training needs to go on exactly where it stopped, after the epoch it was written:

``checkpoint.json``  format ``squall-checkpoint``, version, the epoch, ``every``, the loop's
                     state (best loss, epochs without improvement, history, curriculum stage), the
                     optimizer's hyper-parameters (``param_groups``), the random number
                     generators' states (numpy's PCG64 state and torch's CPU generator state as
                     lists of integers), the training's identity (options and data fingerprint:
                     a resume with other options or data is refused) and the experiment log so far
``weights.npz``      the model's state dict (float32 arrays, PyTorch names)
``best.npz``         the best weights so far (what early stopping restores); absent before any
``optimizer.npz``    Adam's per-parameter state: ``{index}.{name}`` (``step``, ``exp_avg``,
                     ``exp_avg_sq``)

The directory is written whole into a temporary directory and swapped in
(:func:`squall.io.atomic_dir`): a training killed while writing leaves the previous checkpoint.
``.npz`` files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from squall.errors import NAME, ParameterError, SquallError
from squall.io import atomic_dir, written_by
from squall.text import plural

FORMAT = "squall-checkpoint"
VERSION = 1
#: Whether a directory may be replaced by a checkpoint: empty, or an earlier checkpoint.
replaceable = written_by(
    "checkpoint.json",
    FORMAT,
    only=("checkpoint.json", "weights.npz", "best.npz", "optimizer.npz"),
)


def default_dir(out: str | os.PathLike[str]) -> Path:
    """The checkpoint directory of a training whose bundle goes to ``out``: ``OUT.checkpoint``
    beside it."""
    final = Path(out)
    return final.with_name(final.name + ".checkpoint")


@dataclass
class Checkpointing:
    """Where and how often a training writes its checkpoint; ``identity`` is what a resume must
    match (options, data fingerprint); ``log`` the experiment log records written so far."""

    directory: Path
    every: int
    identity: dict[str, Any]
    log: list[dict[str, Any]] = field(default_factory=list)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Both generators' states as JSON-serialisable data."""
    return {
        "numpy": rng.bit_generator.state,
        "torch": [int(v) for v in torch.get_rng_state().tolist()],
    }


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))


def _arrays(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def save(
    where: Checkpointing,
    *,
    epoch: int,
    model: torch.nn.Module,
    best_state: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    loop: dict[str, Any],
) -> None:
    """Write the checkpoint after ``epoch`` (atomically: the old one stays until the new one is
    complete)."""
    opt = optimizer.state_dict()
    moments: dict[str, Any] = {
        f"{index}.{name}": value.detach().cpu().numpy()
        for index, entry in opt["state"].items()
        for name, value in entry.items()
    }
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": epoch,
        "every": where.every,
        "loop": loop,
        "param_groups": opt["param_groups"],
        "rng": rng_state(rng),
        "identity": where.identity,
        "log": where.log,
    }
    text = json.dumps(doc, indent=1, allow_nan=True) + "\n"
    with atomic_dir(where.directory, replaceable) as tmp:
        np.savez(tmp / "weights.npz", **_arrays(model.state_dict()))
        if best_state is not None:
            np.savez(tmp / "best.npz", **_arrays(best_state))
        np.savez(tmp / "optimizer.npz", **moments)
        (tmp / "checkpoint.json").write_text(text)


@dataclass
class Resumed:
    """A checkpoint read back: apply it with :meth:`restore`."""

    directory: Path
    doc: dict[str, Any]
    weights: dict[str, np.ndarray]
    best: dict[str, np.ndarray] | None
    moments: dict[str, np.ndarray]

    @property
    def epoch(self) -> int:
        return int(self.doc["epoch"])

    @property
    def loop(self) -> dict[str, Any]:
        return dict(self.doc["loop"])

    @property
    def log(self) -> list[dict[str, Any]]:
        return list(self.doc.get("log") or [])

    def check_identity(self, identity: dict[str, Any]) -> None:
        """Refuse, in one line, a resume whose options or data differ from the checkpoint's."""
        stored = self.doc.get("identity") or {}
        now = json.loads(json.dumps(identity))  # tuples as lists, as the JSON holds them
        found = differences(stored, now)
        if found:
            shown = [
                f"{key} (checkpoint {_short(old)}, now {_short(new)})"
                for key, old, new in found[:SHOWN_DIFFERENCES]
            ]
            more = len(found) - SHOWN_DIFFERENCES
            also = "; also " + ", ".join(shown[1:]) if len(shown) > 1 else ""
            also += f" and {plural(more, 'other setting')}" if more > 0 else ""
            raise ParameterError(
                "resume",
                f"{NAME} {self.directory} was written by another training: its {shown[0]} "
                f"differs{also}",
            )

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
    ) -> dict[str, torch.Tensor] | None:
        """Load the weights, the optimizer's state and the generators' states; return the best
        weights so far (None: none yet)."""
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.weights.items()})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in self.moments.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = torch.from_numpy(value.copy())
        groups = []
        for group in self.doc["param_groups"]:
            group = dict(group)
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
            groups.append(group)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        set_rng_state(rng, self.doc["rng"])
        if self.best is None:
            return None
        return {k: torch.from_numpy(v.copy()) for k, v in self.best.items()}


#: Differing settings a refused resume names (the first ones, by key).
SHOWN_DIFFERENCES = 3
#: Longest value shown in full (a data file's SHA-256 in quotes fits).
SHORT_VALUE = 80
_MISSING = object()


def differences(old: object, new: object, key: str = "") -> list[tuple[str, object, object]]:
    """The settings that differ between two identities, as (dotted key, old, new): objects are
    compared key by key (sorted) and lists of one length item by item (``layers[1].units``),
    so a message names the setting itself, not the whole option set it sits in. A key present
    on one side only has the value ``(none)`` on the other."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, object, object]] = []
        for k in sorted(set(old) | set(new)):
            out += differences(
                old.get(k, _MISSING), new.get(k, _MISSING), f"{key}.{k}" if key else str(k)
            )
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [d for i, (a, b) in pairs for d in differences(a, b, f"{key}[{i}]")]
    return [] if old == new else [(key, old, new)]


def _short(value: object) -> str:
    if value is _MISSING:
        return "(none)"
    text = json.dumps(value)
    return text if len(text) <= SHORT_VALUE else text[: SHORT_VALUE - 3] + "..."


def _npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.array(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise SquallError(f"{path} is not a readable checkpoint file ({exc})"[:300]) from None


def load(directory: str | os.PathLike[str]) -> Resumed:
    """Read a checkpoint directory; a missing or foreign one is a one-line error."""
    root = Path(directory)
    meta = root / "checkpoint.json"
    if not meta.is_file():
        raise ParameterError(
            "resume", f"{NAME} {root} is not a training checkpoint (no checkpoint.json)"
        )
    try:
        doc = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise SquallError(f"{meta} is not readable JSON ({exc})"[:300]) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ParameterError("resume", f"{NAME} {root} is not a squall training checkpoint")
    if doc.get("version") != VERSION:
        raise SquallError(f"{meta}: checkpoint version {doc.get('version')!r} is not {VERSION}")
    for key in ("epoch", "loop", "param_groups", "rng"):
        if key not in doc:
            raise SquallError(f"{meta} lacks {key!r}")
    best = root / "best.npz"
    return Resumed(
        root,
        doc,
        _npz(root / "weights.npz"),
        _npz(best) if best.exists() else None,
        _npz(root / "optimizer.npz"),
    )


__all__ = [
    "FORMAT",
    "Checkpointing",
    "Resumed",
    "default_dir",
    "load",
    "save",
]
