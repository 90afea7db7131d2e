"""``compose bench``: our speed at the reference implementation's shapes, beside its figures.

``run_bench(BenchOptions(...))`` measures (issue 5): (a) dynamics training, (b) the MOPO
policy update, (c) a MOPO rollout round, (d) the MOBILE update and its penalty, (e) the peak
RSS of a short MOPO run, (f) achieved GFLOP/s, and returns a JSON-ready dict;
``bench_table`` renders it. The reference figures are in :mod:`compose.bench.reference`.
Importing this package does not import torch.
"""

from __future__ import annotations

from compose.bench.reference import REFERENCE, Row
from compose.bench.report import bench_table
from compose.bench.runner import CASES, BenchOptions, run_bench

__all__ = ["CASES", "REFERENCE", "BenchOptions", "Row", "bench_table", "run_bench"]
