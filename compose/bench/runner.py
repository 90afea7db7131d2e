"""Run the selected cases, compare with the reference, build the JSON result.

``run_bench(BenchOptions(...))`` returns the result dict that ``compose bench`` prints as a
table and writes as JSON: machine and settings (threads, device, load averages before and
after), the dataset used, and one entry per row with our median [min-max] and repeats, the
reference figure, the speed-up (> 1: we are faster / achieve more), the target and whether
it was met.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compose.bench.reference import REFERENCE, Row

__all__ = ["CASES", "BenchOptions", "run_bench"]

#: Case letters of issue 5: a dynamics, b MOPO update, c rollout, d MOBILE, e RSS, f FLOPs,
#: g K seeds batched vs separate.
CASES = ("a", "b", "c", "d", "e", "f", "g")


@dataclass
class BenchOptions:
    """What to measure and how long (None: the defaults of full or ``quick`` mode)."""

    only: tuple[str, ...] = CASES
    quick: bool = False
    repeats: int | None = None
    steps: int | None = None
    warmup: int | None = None
    device: str = "auto"
    threads: int = 2
    dataset: str | None = None
    shapes: str = "reference"
    omp_wait: str = "auto"
    overrides: tuple[str, ...] = ()
    seeds_k: tuple[int, ...] = ()

    def resolved(self) -> tuple[int, int, int]:
        """(steps per repeat, repeats, warm-up steps)."""
        steps = self.steps or (50 if self.quick else 200)
        repeats = self.repeats or (2 if self.quick else 5)
        warmup = self.warmup if self.warmup is not None else (5 if self.quick else 20)
        return steps, repeats, warmup


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on this platform
        return []


def apply_omp_wait(policy: str) -> str:
    """Set ``OMP_WAIT_POLICY`` before torch loads its OpenMP runtime; returns what is in effect.

    ``auto``: PASSIVE when the 1-minute load average exceeds the CPU count (a shared
    machine, where spinning OpenMP threads of a 2-thread process wait for cores held by
    other processes: measured 5-10x slower steps), else left alone. ``default`` leaves it.
    Why: libgomp reads the variable once, when torch is imported; after that it is fixed.
    """
    current = os.environ.get("OMP_WAIT_POLICY")
    if policy == "default":
        return current or "default"
    if "torch" in sys.modules:
        return f"{current or 'default'} (torch was already imported: {policy} not applied)"
    if policy == "auto":
        load, cpus = _load(), os.cpu_count() or 1
        if current is None and load and load[0] > cpus:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            return f"PASSIVE (auto: load {load[0]} > {cpus} CPUs)"
        return current or "default"
    os.environ["OMP_WAIT_POLICY"] = policy.upper()
    return policy.upper()


def _row_json(row: Row, sample: Any | None, flops: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": row.key,
        "what": row.what.strip(),
        "unit": row.unit,
        "case": row.case,
        "ours": sample.to_json() if sample is not None else None,
        "reference": {"median": row.reference, "min": row.ref_min, "max": row.ref_max},
        "target": row.target,
        "higher_is_better": row.higher_is_better,
        "note": row.note,
    }
    ours = sample.median if sample is not None else None
    ratio = None
    if ours is not None and row.reference:
        ratio = ours / row.reference if row.higher_is_better else row.reference / max(ours, 1e-12)
    out["speedup"] = ratio
    met = None
    if ours is not None and row.target is not None:
        met = ours >= row.target if row.higher_is_better else ours <= row.target
    out["met"] = met
    if flops is not None:
        out["gflop_per_call"] = flops / 1e9
    return out


def run_bench(opts: BenchOptions, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the cases in ``opts.only``; returns the JSON-ready result."""
    omp = apply_omp_wait(opts.omp_wait)
    import torch

    from compose.bench import cases
    from compose.bench.harness import SHAPES, choose_dataset
    from compose.bench.rss import measure_rss
    from compose.bench.timing import Sample
    from compose.train.runtime import resolve_device

    only = tuple(c for c in CASES if c in opts.only)
    steps, repeats, warmup = opts.resolved()
    torch.set_num_threads(opts.threads)
    device = resolve_device(opts.device)
    shapes = SHAPES[opts.shapes]
    dataset_id, why = choose_dataset(opts.dataset)
    load_before = _load()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "format": 1,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "threads": torch.get_num_threads(),
            "omp_wait_policy": omp,
            "load_avg_before": load_before,
        },
        "settings": {
            "only": list(only),
            "quick": opts.quick,
            "steps_per_repeat": steps,
            "repeats": repeats,
            "warmup": warmup,
            "shapes": shapes.name,
            "overrides": list(opts.overrides),
        },
        "notes": [],
        "cases": {},
    }
    needs_data = any(c in only for c in "abcdg")
    data = None
    if needs_data or "e" in only:
        from compose.data.loading import load_minari

        say(f"dataset {dataset_id} ({why})")
        loaded = load_minari(dataset_id, download=False)
        result["dataset"] = {
            "id": dataset_id,
            "why": why,
            "transitions": len(loaded),
            "env_id": loaded.info.env_id,
        }
        data = loaded.to(device) if needs_data else None
        del loaded
    settings = cases.Settings(
        steps=steps,
        repeats=repeats,
        warmup=warmup,
        flops="f" in only,
        device=device,
        shapes=shapes,
        dataset_id=dataset_id,
        overrides=tuple(opts.overrides),
    )
    samples: dict[str, Sample] = {}
    flops: dict[str, int] = {}
    plan = [
        ("a", "dynamics training", cases.case_dynamics),
        ("b", "MOPO update", cases.case_mopo),
        ("c", "MOPO rollout", cases.case_rollout),
        ("d", "MOBILE update", cases.case_mobile),
    ]
    for letter, title, fn in plan:
        if letter not in only:
            continue
        how = (
            f"{repeats} rounds of {shapes.rollout_starts} x {shapes.rollout_length}"
            if letter == "c"
            else f"{repeats} x {steps} steps after {warmup} warm-up"
        )
        say(f"({letter}) {title}: {how} (load {_load()})")
        t0 = time.perf_counter()
        res = fn(data, settings)
        samples.update(res.samples)
        if "spectral_norm_error" in res.info:
            result["notes"].append(
                f"dynamics with spectral norm failed: {res.info['spectral_norm_error']}"
            )
        flops.update(res.flops)
        result["cases"][letter] = {
            "seconds": time.perf_counter() - t0,
            "load_avg": _load(),
            **res.info,
        }
    if "mopo_update_1000" in samples and "mopo_rollout" in samples:
        samples["mopo_phase_1000"] = samples["mopo_update_1000"].plus(samples["mopo_rollout"])
    if "mobile_update_1000" in samples and "mopo_rollout" in samples:
        samples["mobile_phase_1000"] = samples["mobile_update_1000"].plus(samples["mopo_rollout"])
    if "g" in only:
        from compose.bench.seeds import case_seeds, default_ks

        ks = list(opts.seeds_k) or default_ks(device)
        say(f"(g) K = {ks} seeds batched vs separate: {repeats} x {steps} steps (load {_load()})")
        t0 = time.perf_counter()
        result["seeds"] = case_seeds(data, settings, ks)
        result["cases"]["g"] = {"seconds": time.perf_counter() - t0, "load_avg": _load()}
    if "e" in only:
        say(f"(e) peak RSS of a short MOPO run (child process, load {_load()})")
        rss = measure_rss(
            dataset_id, shapes.name, opts.threads, opts.device, overrides=tuple(opts.overrides)
        )
        if rss.mib is not None:
            samples["peak_rss_mopo"] = Sample([rss.mib])
        result["cases"]["e"] = {"seconds": rss.seconds, "how": rss.how, "load_avg": _load()}
        result["notes"].append(f"peak RSS: {rss.how}")
    result["rows"] = [
        _row_json(row, samples.get(key), flops.get(key))
        for key, row in REFERENCE.items()
        if key in samples
    ]
    result["flops"] = {k: v for k, v in flops.items()}
    result["machine"]["load_avg_after"] = _load()
    result["seconds"] = time.perf_counter() - started
    if opts.overrides:
        result["notes"].append("recipe overrides: " + " ".join(opts.overrides))
    if shapes.name != "reference":
        result["notes"].append("toy shapes: not comparable with the reference")
    if "c" in only:
        result["notes"].append(
            "rollout: termination off, every start runs all steps (the reference's 50k x 5 work)"
        )
    if any(c in only for c in "abd"):
        result["notes"].append(
            f"s/1000 steps extrapolated from {steps} steps per repeat; median [min-max] of {repeats}"
        )
    return result
