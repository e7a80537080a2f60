"""The horizon curriculum of ``squall train --curriculum`` (seed 001's progressive training).

A forecaster always outputs its whole horizon H; in stage ``s`` the loss counts only the first
``horizons[s]`` steps of it (the later steps' cells are masked out), so it learns the near
future first and the far future after. The stages are the horizons ``ceil(H/4)``, ``ceil(H/2)``
and ``H`` (repeats dropped: H = 1 has one stage, H = 2 two).

The rule: the curriculum advances to the next stage when the watched loss (validation, or
training without validation windows) of the current stage has not improved by ``improvement``
(1 % by default: a loss below ``best * (1 - improvement)``) for ``patience`` epochs in a row
(2 by default). Losses of different stages are not comparable (a longer horizon is harder), so
at each advance the best loss and the early-stopping count start again; early stopping itself
acts only in the last stage. The state is plain numbers (:meth:`Curriculum.to_dict`), kept in a
checkpoint, and every epoch's stage and horizon go into the bundle's history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def stage_horizons(horizon: int) -> tuple[int, ...]:
    """The curriculum's horizons for a forecast horizon ``horizon``: H/4, H/2, H rounded up,
    without repeats."""
    steps = (math.ceil(horizon / 4), math.ceil(horizon / 2), horizon)
    return tuple(sorted({max(1, s) for s in steps}))


@dataclass
class Curriculum:
    """Which stage training is in and how long its loss has stalled."""

    horizons: tuple[int, ...]
    patience: int = 2
    improvement: float = 0.01
    stage: int = 0
    best: float = field(default=math.inf)
    stalled: int = 0

    @property
    def horizon(self) -> int:
        """The horizon steps the loss counts in the current stage."""
        return self.horizons[self.stage]

    @property
    def last(self) -> bool:
        """Is the current stage the last (the whole horizon)?"""
        return self.stage == len(self.horizons) - 1

    def observe(self, loss: float) -> bool:
        """Record an epoch's watched ``loss``; True when the next epoch starts a new stage."""
        if self.last:
            return False
        if loss < self.best * (1 - self.improvement):
            self.best, self.stalled = loss, 0
        else:
            self.stalled += 1
        if self.stalled >= self.patience:
            self.stage += 1
            self.best, self.stalled = math.inf, 0
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-serialisable data (``best`` None while no loss was seen)."""
        return {
            "horizons": list(self.horizons),
            "patience": self.patience,
            "improvement": self.improvement,
            "stage": self.stage,
            "best": None if math.isinf(self.best) else self.best,
            "stalled": self.stalled,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Curriculum:
        best = data.get("best")
        return cls(
            tuple(int(h) for h in data["horizons"]),
            int(data["patience"]),
            float(data["improvement"]),
            int(data["stage"]),
            math.inf if best is None else float(best),
            int(data["stalled"]),
        )


__all__ = ["Curriculum", "stage_horizons"]
