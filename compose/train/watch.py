"""Non-finite detection with one small device op per step and one host sync per check.

Why: checking ``isfinite(...).item()`` every step would synchronize with the device each
step, and folding every step into a device-side record costs a dozen small kernels per step.
Instead each step only stacks its metrics into one vector (one kernel, the values stay on
the device); :meth:`NonFiniteWatch.check` (called by the trainer at log time and before
every checkpoint is written, so the last checkpoint is always good) tests all vectors seen
since the last check in one fused ``isfinite`` per metric layout and one sync, and reports
the first non-finite step exactly: its slot, step and values. Pending vectors are folded
the same way every ``fold_every`` observations, so memory stays bounded when nobody checks.
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor

__all__ = ["NonFiniteError", "NonFiniteWatch", "producer_of"]

#: Metrics the trainer computes from a component's output, by the slot that produced them
#: (a metric ``<slot>/<name>`` is that slot's own); ``rollout/`` values come from the model.
_PRODUCERS = {
    "rollout/shaped_reward_mean": "reward_shaper",
    "grad_norm/critic": "critic_target",
    "grad_norm/policy": "actor_objective",
    "policy_pretrain": "policy",
    "rollout": "dynamics",
}
_GRADIENT = {
    "grad_norm/critic": "the critic's gradient",
    "grad_norm/policy": "the policy's gradient",
}


def producer_of(key: str, labels: dict[str, str]) -> str:
    """Who produced metric ``key``: a component as ``labels`` names it (slot -> 'slot (type)').

    ``key`` may end in ``[seed <s>]`` (a seed batch). Metrics the trainer derives (rollout
    statistics, gradient norms) are traced to the component whose output they are.
    """
    base = re.sub(r"\[seed [^\]]*\]$", "", key)
    prefix = base.split("/", 1)[0]
    slot = _PRODUCERS.get(base) or _PRODUCERS.get(prefix) or prefix
    label = labels.get(slot, slot)
    if base in _GRADIENT:
        return f"{_GRADIENT[base]} (loss of {label})"
    return label


class NonFiniteError(RuntimeError):
    """A loss, gradient norm or rollout statistic became NaN/inf.

    ``labels`` (slot -> 'slot (type)') names the components that produced the values.
    """

    def __init__(
        self,
        step: int,
        offending: dict[str, float],
        checkpoint: str | None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.step = step
        self.offending = offending
        self.checkpoint = checkpoint
        if labels is None:
            where_from = "in " + ", ".join(sorted({k.split("/")[0] for k in offending}))
        else:
            producers = dict.fromkeys(producer_of(k, labels) for k in offending)
            where_from = "produced by " + ", ".join(producers)
        values = ", ".join(f"{k}={v}" for k, v in offending.items())
        where = (
            f"the last good checkpoint is {checkpoint}"
            if checkpoint
            else "no checkpoint was written yet"
        )
        super().__init__(
            f"non-finite values at step {step} {where_from}: {values}; training stopped ({where})"
        )


class NonFiniteWatch:
    """Keeps each step's stacked metrics until :meth:`check` finds the first non-finite one."""

    def __init__(
        self, device: torch.device, fold_every: int = 1024, labels: dict[str, str] | None = None
    ) -> None:
        self.device = device
        self.labels = labels
        self.fold_every = fold_every
        self.layouts: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self._pending: list[tuple[int, int, Tensor]] = []  # (step, layout, values)
        self.first_bad: tuple[int, dict[str, float]] | None = None

    def observe(
        self, step: int, metrics: dict[str, Tensor], seeds: list[int] | None = None
    ) -> None:
        """Record ``metrics`` of ``step``: one ``stack`` on the device, no sync.

        With ``seeds`` (a seed-batched run) each value is [K], one per seed; a non-finite
        value is then reported as ``<key>[seed <s>]``.
        """
        if not metrics or self.first_bad is not None:
            return
        keys = tuple(metrics)
        if seeds is not None:
            keys = (*keys, *(f"[seed {s}]" for s in seeds))
        idx = self._index.get(keys)
        if idx is None:
            idx = self._index[keys] = len(self.layouts)
            self.layouts.append(
                keys if seeds is None else tuple(f"{k}[seed {s}]" for s in seeds for k in metrics)
            )
        dev, f32 = self.device, torch.float32
        if seeds is None:
            vec = torch.stack(
                [(v if v.dim() == 0 else v.reshape(())).to(dev, f32) for v in metrics.values()]
            )
        else:  # seed-major: [seed 0's metrics, seed 1's, ...]
            vec = torch.stack([v.to(dev, f32).reshape(len(seeds)) for v in metrics.values()], 1)
            vec = vec.reshape(-1)
        self._pending.append((step, idx, vec))
        if len(self._pending) >= self.fold_every:
            self._fold()

    def _fold(self) -> None:
        """Test every pending vector (one ``isfinite`` per layout, one sync); keep the first bad."""
        pending, self._pending = self._pending, []
        if not pending or self.first_bad is not None:
            return
        groups: dict[int, list[int]] = {}
        for pos, (_, idx, _) in enumerate(pending):
            groups.setdefault(idx, []).append(pos)
        flags = torch.cat(
            [
                torch.isfinite(torch.stack([pending[pos][2] for pos in positions])).all(dim=1)
                for positions in groups.values()
            ]
        ).tolist()
        order = [pos for positions in groups.values() for pos in positions]
        bad = [pos for pos, ok in zip(order, flags, strict=True) if not ok]
        if bad:
            step, idx, vec = pending[min(bad)]
            values = dict(zip(self.layouts[idx], vec.tolist(), strict=True))
            self.first_bad = (step, {k: v for k, v in values.items() if not math.isfinite(v)})

    def check(self, checkpoint: str | None) -> None:
        """Raise :class:`NonFiniteError` if any observed value was non-finite (one sync)."""
        self._fold()
        if self.first_bad is not None:
            step, bad = self.first_bad
            raise NonFiniteError(step, bad, checkpoint, self.labels)

    def reset(self) -> None:
        """Forget what was seen (after a resume)."""
        self._pending.clear()
        self.first_bad = None
