"""Training a model of the description (PyTorch, CPU): the LSTM autoencoder on normal
behaviour, or a forecaster (:mod:`squall.models.catalog`) on its lookback and horizon.

Adam on a masked MSE (missing values count for nothing; a forecaster's loss is over the
observed target cells of its horizon), a validation split by time (the last
part of each track, never a random split of overlapping windows), early stopping that restores the
best weights, a fixed seed, progress on stderr (a bar on a terminal, plain lines in a log file)
and the loss history kept.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from squall.errors import NAME, ParameterError, SquallError
from squall.models.autoencoder import LSTMAutoencoder
from squall.models.checkpoint import Checkpointing, Resumed
from squall.models.checkpoint import save as save_checkpoint
from squall.models.curriculum import Curriculum, stage_horizons


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (all stored in the bundle's provenance)."""

    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 6
    seed: int = 0
    min_windows: int = 16
    #: The horizon curriculum (:mod:`squall.models.curriculum`; forecasters only): stages
    #: advance when the loss has not improved by ``curriculum_improvement`` for
    #: ``curriculum_patience`` epochs.
    curriculum: bool = False
    curriculum_patience: int = 2
    curriculum_improvement: float = 0.01

    def to_dict(self) -> dict:
        """The settings; the curriculum's only when it is on (an autoencoder's provenance
        stays as it was)."""
        out = asdict(self)
        if not self.curriculum:
            for key in ("curriculum", "curriculum_patience", "curriculum_improvement"):
                del out[key]
        return out


def masked_mse(recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over observed cells only."""
    return ((recon - x) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


def fit(
    layers,
    x_train: np.ndarray,
    m_train: np.ndarray,
    x_val: np.ndarray,
    m_val: np.ndarray,
    config: TrainConfig,
    progress: bool = True,
    *,
    y_train: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    checkpoint: Checkpointing | None = None,
    resume: Resumed | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Train a model described by ``layers``; return its state dict (numpy) and the history.

    ``x_*`` are the model's scaled inputs with missing cells filled. ``y_*`` are what its
    output should be (an autoencoder's: ``x_*`` itself, the default; a forecaster's: the
    scaled targets of the horizon) and ``m_*`` their 0/1 masks (1: observed). Validation may
    be empty: early stopping then watches the training loss.

    With ``config.curriculum`` (a forecaster: ``y_*`` of shape (N, H, targets)), the loss
    counts the first steps of the horizon only, more of them stage by stage
    (:mod:`squall.models.curriculum`); each history row then holds its ``stage`` (1-based) and
    ``horizon``, and the weights returned are the best of the last stage reached.

    ``checkpoint``: write a checkpoint (:mod:`squall.models.checkpoint`) every
    ``checkpoint.every`` epochs and after the last; ``resume``: go on from a checkpoint read
    back (weights, best weights, Adam's state, generators, loop state, curriculum), so that a
    resumed training ends with the same weights as one never interrupted. ``on_epoch`` is
    called with every history row.
    """
    if len(x_train) < config.min_windows:
        raise ParameterError(
            "until",
            f"only {len(x_train)} training windows (need at least "
            f"{config.min_windows}); give more data, a later {NAME}, or shorter windows",
        )
    if config.epochs < 1:
        raise SquallError(f"epochs must be at least 1, got {config.epochs}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = LSTMAutoencoder(layers)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    xt, mt, xv, mv = (
        torch.as_tensor(a, dtype=torch.float32) for a in (x_train, m_train, x_val, m_val)
    )
    yt = xt if y_train is None else torch.as_tensor(y_train, dtype=torch.float32)
    yv = xv if y_val is None else torch.as_tensor(y_val, dtype=torch.float32)
    m_full_t, m_full_v = mt, mv
    history: list[dict] = []
    best, best_state, waited = float("inf"), None, 0
    plan = None
    if config.curriculum:
        if y_train is None or yt.ndim != 3:
            raise SquallError("the curriculum is for forecasters (a horizon to grow)")
        plan = Curriculum(
            stage_horizons(int(yt.shape[1])),
            config.curriculum_patience,
            config.curriculum_improvement,
        )
    first, stopped = 1, False
    if resume is not None:
        best_state = resume.restore(model, opt, rng)
        loop = resume.loop
        history = [dict(r) for r in loop["history"]]
        best, waited, stopped = float(loop["best"]), int(loop["waited"]), bool(loop["stopped"])
        if plan is not None and loop.get("curriculum") is not None:
            plan = Curriculum.from_dict(loop["curriculum"])
        first = resume.epoch + 1
    bar = _progress(config.epochs, progress)
    for epoch in range(first, config.epochs + 1):
        if stopped:
            break
        if plan is not None:  # the horizon steps this stage's loss counts
            keep = torch.zeros(1, yt.shape[1], 1)
            keep[:, : plan.horizon] = 1.0
            mt, mv = m_full_t * keep, m_full_v * keep
        model.train()
        order = rng.permutation(len(xt))
        total, weight = 0.0, 0.0
        for start in range(0, len(order), config.batch_size):
            bar.batch(epoch, start, len(order))
            idx = torch.as_tensor(order[start : start + config.batch_size])
            xb, yb, mb = xt[idx], yt[idx], mt[idx]
            opt.zero_grad()
            loss = masked_mse(model(xb), yb, mb)
            loss.backward()
            opt.step()
            total += loss.item() * float(mb.sum())
            weight += float(mb.sum())
        train_loss = total / max(weight, 1.0)
        val_loss = _evaluate(model, xv, yv, mv) if len(xv) else float("nan")
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        if plan is not None:
            row |= {"stage": plan.stage + 1, "horizon": plan.horizon}
        history.append(row)
        watched = val_loss if len(xv) else train_loss
        if watched < best - 1e-7:
            best, waited = watched, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        bar.update(epoch, train_loss, val_loss)
        if on_epoch is not None:
            on_epoch(row)
        if plan is not None and not plan.last:
            if plan.observe(watched):  # a new stage: its losses start a new comparison
                best, waited = float("inf"), 0
        else:  # early stopping acts in the last stage only
            stopped = waited >= config.patience
        if checkpoint is not None and (
            epoch % checkpoint.every == 0 or stopped or epoch == config.epochs
        ):
            loop = {
                "history": history,
                "best": best,
                "waited": waited,
                "stopped": stopped,
                "curriculum": None if plan is None else plan.to_dict(),
            }
            save_checkpoint(
                checkpoint,
                epoch=epoch,
                model=model,
                best_state=best_state,
                optimizer=opt,
                rng=rng,
                loop=loop,
            )
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.state_numpy(), history


def _evaluate(model: LSTMAutoencoder, x: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        total, weight = 0.0, 0.0
        for start in range(0, len(x), 1024):
            xb, yb, mb = (a[start : start + 1024] for a in (x, y, m))
            total += float(((model(xb) - yb) ** 2 * mb).sum())
            weight += float(mb.sum())
    return total / max(weight, 1.0)


class _progress:
    """Training progress on stderr, or nothing when not ``enabled``.

    On a terminal, a tqdm bar when tqdm is installed. Anywhere else (a log file, a pipe, a
    notebook's captured stderr) a bar would be one endless line of carriage returns, so: one
    plain line per epoch, and within a long epoch a line every ``EVERY`` seconds."""

    #: Seconds between the within-epoch lines of the plain (non-terminal) progress.
    EVERY = 30.0

    def __init__(self, epochs: int, enabled: bool) -> None:
        self.enabled, self.epochs, self.bar = enabled, epochs, None
        self.started = self.last = time.monotonic()
        if enabled and _is_terminal(sys.stderr):
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr)
            except ImportError:
                self.bar = None

    def batch(self, epoch: int, done: int, total: int) -> None:
        """Called before each batch: ``done`` of ``total`` windows of ``epoch`` are through."""
        if not self.enabled or self.bar is not None or not done:
            return
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            _say(
                f"training: epoch {epoch}/{self.epochs}: {done:,} of {total:,} windows "
                f"({now - self.started:.0f} s)"
            )

    def update(self, epoch: int, train: float, val: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(train=f"{train:.5f}", val=f"{val:.5f}")
            self.bar.update(1)
        else:
            self.last = now = time.monotonic()
            val_text = "" if val != val else f", validation loss {val:.5f}"  # NaN: none
            _say(
                f"training: epoch {epoch}/{self.epochs}: train loss {train:.5f}{val_text} "
                f"({now - self.started:.0f} s)"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
