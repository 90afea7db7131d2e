"""Runtime set-up: device, threads, seeds, deterministic mode, and RNG state capture.

Why: RNG states are stored as tensors, lists and ints only, so a checkpoint holding them
loads with ``torch.load(weights_only=True)``; restoring them makes a resumed run draw the
same random numbers as an uninterrupted one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import sys
from typing import Any

import numpy as np
import torch

__all__ = [
    "apply_runtime",
    "get_rng_state",
    "resolve_device",
    "seed_everything",
    "set_rng_state",
    "tune_malloc",
]

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_malloc_tuned: bool | None = None


def tune_malloc(trim_threshold: int = 1 << 30, mmap_threshold: int = 32 << 20) -> bool:
    """Keep freed activation memory in glibc's heap instead of returning it to the OS.

    Why: every training step allocates and frees the same tens-of-MB activations; glibc's
    defaults hand each one back to the kernel (mmap/munmap or heap trimming), so the next
    step page-faults on first touch again. Raising ``M_MMAP_THRESHOLD`` to 32 MiB and
    ``M_TRIM_THRESHOLD`` to 1 GiB keeps them (the effect on the MOBILE penalty is in
    compose/bench/PROFILE.md). Linux with glibc only; anything else (or a failure) is a no-op. Returns
    whether the settings were applied; applied once per process.
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
    _malloc_tuned = ok
    return ok


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def apply_runtime(runtime: Any, seed: int) -> torch.device:
    """Apply a recipe's ``runtime`` section (threads, determinism), seed, return the device.

    Also tunes glibc's allocator for large reused activations (:func:`tune_malloc`).
    """
    tune_malloc()
    if runtime.threads:
        torch.set_num_threads(int(runtime.threads))
    if runtime.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
    seed_everything(seed)
    return resolve_device(runtime.device)


def get_rng_state() -> dict[str, Any]:
    """Every RNG the loop draws from, as checkpoint-safe values."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [
            kind,
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
