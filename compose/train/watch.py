"""Non-finite detection without host syncs in the step: remember the first bad step on device.

Why: checking ``isfinite(...).item()`` every step would synchronize with the device each step.
Instead each step folds ``all finite?`` into a few device tensors that keep the first failing
step and a snapshot of that step's values; the loop reads them (one sync) at log and
checkpoint time, before any checkpoint is written, so the last checkpoint is always good.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NonFiniteError", "NonFiniteWatch"]


class NonFiniteError(RuntimeError):
    """A loss, gradient norm or rollout statistic became NaN/inf."""

    def __init__(self, step: int, offending: dict[str, float], checkpoint: str | None) -> None:
        self.step = step
        self.offending = offending
        self.checkpoint = checkpoint
        slots = sorted({k.split("/")[0] for k in offending})
        values = ", ".join(f"{k}={v}" for k, v in offending.items())
        where = (
            f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written yet"
        )
        super().__init__(
            f"non-finite values at step {step} in {', '.join(slots)}: {values}; "
            f"training stopped ({where})"
        )


@dataclass
class _Record:
    keys: tuple[str, ...]
    values: Tensor


class NonFiniteWatch:
    """Folds each step's metrics into a device-side 'first non-finite step' record."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.first_step = torch.full((), -1, dtype=torch.long, device=device)
        self.which = torch.full((), -1, dtype=torch.long, device=device)
        self.records: list[_Record] = []
        self._index: dict[tuple[str, ...], int] = {}

    def observe(self, step: int, metrics: dict[str, Tensor]) -> None:
        """Record ``metrics`` of ``step`` (device ops only)."""
        if not metrics:
            return
        keys = tuple(metrics)
        idx = self._index.get(keys)
        vec = torch.stack([v.to(self.device, torch.float32).reshape(()) for v in metrics.values()])
        if idx is None:
            idx = self._index[keys] = len(self.records)
            self.records.append(_Record(keys, torch.zeros_like(vec)))
        record = self.records[idx]
        new_bad = (self.first_step < 0) & ~torch.isfinite(vec).all()
        self.first_step = torch.where(new_bad, step, self.first_step)
        self.which = torch.where(new_bad, idx, self.which)
        record.values = torch.where(new_bad, vec, record.values)

    def check(self, checkpoint: str | None) -> None:
        """Raise :class:`NonFiniteError` if any observed value was non-finite (one sync)."""
        step = int(self.first_step)
        if step < 0:
            return
        record = self.records[int(self.which)]
        values = record.values.tolist()
        bad = {k: v for k, v in zip(record.keys, values, strict=True) if not torch.isfinite(torch.tensor(v))}
        raise NonFiniteError(step, bad, checkpoint)

    def reset(self) -> None:
        """Forget what was seen (after a resume)."""
        self.first_step.fill_(-1)
        self.which.fill_(-1)
