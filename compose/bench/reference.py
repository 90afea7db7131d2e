"""The reference implementation's speed figures and issue 5's targets, row by row.

Source: ``shared/benchmarks.md`` (OfflineRL-Kit at its published defaults on 200k Hopper-v5
transitions, 2 cores, torch 2.13 CPU, 2 threads, median [min-max] of 5 repeats) and the
targets of issue 5. Torch-free.
Why one table: the bench, its report and its tests read the same rows, so a figure is
written down once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REFERENCE", "Row", "STEPS_PER_EPOCH"]

#: Gradient steps of one dynamics epoch over 199k training transitions at batch 256.
STEPS_PER_EPOCH = 778


@dataclass(frozen=True)
class Row:
    """One measured quantity: the reference's figure, issue 5's target, how to compare.

    ``higher_is_better`` is True for throughputs (GFLOP/s), False for times and memory.
    ``gflop`` is the reference's FLOP count per unit (GFLOP per step or per rollout step).
    """

    key: str
    what: str
    unit: str
    case: str
    reference: float | None
    ref_min: float | None = None
    ref_max: float | None = None
    target: float | None = None
    higher_is_better: bool = False
    gflop: float | None = None
    note: str = ""


_ROWS = (
    Row(
        "dynamics_1000",
        "dynamics training (E=7, 4x200, batch 256)",
        "s/1000 steps",
        "a",
        24.6,
        24.3,
        27.1,
        target=12.0,
        gflop=1.36,
    ),
    Row(
        "dynamics_epoch",
        "dynamics training, one epoch over 199k (778 steps)",
        "s/epoch",
        "a",
        19.1,
        18.0,
        19.4,
        note="778 x step time + one per-member shuffle",
    ),
    Row(
        "dynamics_sn_1000",
        "dynamics training with spectral norm (recipes/mopo.yaml)",
        "s/1000 steps",
        "a",
        None,
        note="no reference figure (its MOPO has no spectral norm)",
    ),
    Row(
        "mopo_update_1000",
        "MOPO policy update (SAC, batch 256, 2x 256x256)",
        "s/1000 steps",
        "b",
        16.5,
        14.8,
        18.2,
        target=6.0,
        gflop=0.64,
    ),
    Row(
        "mopo_update_b8_1000",
        "MOPO policy update at batch 8 (overhead)",
        "s/1000 steps",
        "b",
        8.5,
        7.3,
        10.1,
    ),
    Row(
        "mopo_rollout",
        "MOPO rollout 50k starts x 5 steps (all members, penalty)",
        "s",
        "c",
        16.1,
        15.8,
        16.6,
        target=5.0,
        gflop=96.0,
    ),
    Row(
        "mobile_update_1000",
        "MOBILE policy update incl. penalty (10 samples)",
        "s/1000 steps",
        "d",
        76.5,
        70.2,
        86.1,
        target=60.0,
        gflop=6.43,
    ),
    Row(
        "mobile_penalty_1000",
        "  of which the Bellman-inconsistency penalty",
        "s/1000 steps",
        "d",
        62.0,
        56.9,
        69.4,
        gflop=5.53,
    ),
    Row(
        "mobile_update_b8_1000",
        "MOBILE policy update at batch 8 (overhead)",
        "s/1000 steps",
        "d",
        9.7,
        9.5,
        9.7,
    ),
    Row(
        "mopo_phase_1000",
        "MOPO policy phase (updates + 1 rollout per 1000)",
        "s/1000 steps",
        "b+c",
        33.6,
        31.4,
        35.3,
        note="derived: update + rollout",
    ),
    Row(
        "mobile_phase_1000",
        "MOBILE policy phase (updates + 1 rollout per 1000)",
        "s/1000 steps",
        "d+c",
        91.5,
        85.6,
        105.1,
        note="derived: update + MOPO rollout (an upper bound)",
    ),
    Row(
        "peak_rss_mopo",
        "peak RSS of a MOPO run on 200k transitions",
        "MiB",
        "e",
        1817.0,
        target=1024.0,
    ),
    Row(
        "gflops_dynamics",
        "achieved GFLOP/s, dynamics training",
        "GFLOP/s",
        "a+f",
        1.36 / 24.6e-3,
        higher_is_better=True,
        note="reference: 1.36 GFLOP / 24.6 ms",
    ),
    Row(
        "gflops_mopo",
        "achieved GFLOP/s, MOPO update",
        "GFLOP/s",
        "b+f",
        0.64 / 16.5e-3,
        higher_is_better=True,
        note="reference: 0.64 GFLOP / 16.5 ms",
    ),
    Row(
        "gflops_rollout",
        "achieved GFLOP/s, MOPO rollout",
        "GFLOP/s",
        "c+f",
        5 * 96.0 / 16.1,
        higher_is_better=True,
        note="reference: 5 x 96 GFLOP / 16.1 s",
    ),
    Row(
        "gflops_mobile",
        "achieved GFLOP/s, MOBILE update",
        "GFLOP/s",
        "d+f",
        6.43 / 76.5e-3,
        higher_is_better=True,
        note="reference: 6.43 GFLOP / 76.5 ms",
    ),
)

#: Every row by key, in display order.
REFERENCE: dict[str, Row] = {row.key: row for row in _ROWS}
