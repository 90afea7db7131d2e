"""Timers and FLOP counting for the bench: warm-up, repeats, median [min-max], device sync.

Why: every figure of the reference is "median of 5 repeats (min-max)" after a warm-up, so one
helper does exactly that for every case. On CUDA the device is synchronized before each timer
read (kernels run asynchronously); on the CPU synchronizing is a no-op.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

__all__ = ["Sample", "count_flops", "sync", "time_repeats"]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Sample:
    """Repeated measurements of one quantity (already scaled to the row's unit).

    ``values`` are wall-clock figures; ``cpu`` (optional, same unit) the process CPU time of
    the same repeats, summed over threads: less sensitive to other processes on a shared
    machine than wall time.
    """

    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median of the repeats."""
        return float(statistics.median(self.values))

    @property
    def min(self) -> float:
        """Fastest (smallest) repeat."""
        return float(min(self.values))

    @property
    def max(self) -> float:
        """Slowest (largest) repeat."""
        return float(max(self.values))

    def scaled(self, factor: float, offset: float = 0.0) -> Sample:
        """Every repeat times ``factor`` plus ``offset`` (unit conversions, extrapolation)."""
        return Sample(
            [v * factor + offset for v in self.values], [v * factor + offset for v in self.cpu]
        )

    def plus(self, other: Sample) -> Sample:
        """Repeat-wise sum with ``other`` (the shorter one is cycled)."""

        def add(a: list[float], b: list[float]) -> list[float]:
            if not a or not b:
                return []
            return [a[i % len(a)] + b[i % len(b)] for i in range(max(len(a), len(b)))]

        return Sample(add(self.values, other.values), add(self.cpu, other.cpu))

    def to_json(self) -> dict[str, Any]:
        """``{"median", "min", "max", "values", "cpu", "cpu_median"}``."""
        out = {"median": self.median, "min": self.min, "max": self.max, **asdict(self)}
        out["cpu_median"] = float(statistics.median(self.cpu)) if self.cpu else None
        return out


def time_repeats(
    step: Callable[[int], Any],
    *,
    steps: int,
    repeats: int,
    warmup: int,
    device: torch.device,
) -> Sample:
    """Seconds per call of ``step(i)``: ``warmup`` calls, then ``repeats`` x ``steps`` calls.

    Each repeat is timed as a whole (perf_counter and process CPU time around ``steps``
    calls, synchronized) and divided by ``steps``.
    """
    i = 0
    for _ in range(warmup):
        step(i)
        i += 1
    sync(device)
    out = Sample()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step(i)
            i += 1
        sync(device)
        out.values.append((time.perf_counter() - t0) / steps)
        out.cpu.append((time.process_time() - c0) / steps)
    return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn``, forward and backward (2 x multiply-adds of every matmul).

    Uses :class:`torch.utils.flop_counter.FlopCounterMode`, which counts matmul-type ops
    (mm, addmm, bmm, baddbmm, convolutions, attention) as 2 x MACs, like the reference.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())
