"""The model phase: fit the dynamics once per (dataset, dynamics, learner, seed), then reuse.

Reference: design.md Sec. 5.2. The fitted dynamics and learner states are cached under
``runtime.model_cache`` by a content hash of the dataset fingerprint, the dynamics and
model-learner configs and the seed, so ten policy runs on one model train it once. A learner
config names in ``policy_phase_fields`` (a class attribute) the fields that act only after the
model phase (RAMBO's lambda, ROMI's xi, AMPL's retraining schedule); they are left out of the
key, so a sweep over them fits the pretrained model once.
Why: the cache entry is written atomically and loaded with ``weights_only=True``, like a
checkpoint; a corrupt entry is ignored and refit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from compose.train.build import Parts
from compose.train.checkpoint import atomic_save, load_checkpoint, load_component_state

__all__ = ["model_cache_key", "policy_phase_fields", "run_model_phase"]


def policy_phase_fields(learner_config: Any) -> frozenset[str]:
    """The learner config's fields that do not affect the model phase (default: none).

    A field belongs here only if the fitted dynamics and the learner's state after
    ``pretrain`` do not depend on it; a learner whose state shape changes with such a field
    still works, since an unloadable cache entry is refit.
    """
    return frozenset(type(learner_config).policy_phase_fields)


def model_cache_key(recipe: Any, fingerprint: str) -> str:
    """sha256 of what determines the fitted model."""
    learner = recipe.model_learner
    payload = {
        "dataset": fingerprint,
        "dynamics": recipe.dynamics.model_dump(mode="json"),
        "model_learner": learner.model_dump(mode="json", exclude=set(policy_phase_fields(learner))),
        "seed": recipe.seed,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, list, bool))}


def run_model_phase(
    recipe: Any,
    parts: Parts,
    fingerprint: str,
    log: Callable[[dict[str, float], int], None],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Fit (or load from the cache) the dynamics; return the learner's final metrics.

    Adds ``cached`` (1.0 when loaded) and ``seconds`` to the metrics.
    """
    cache_dir = recipe.runtime.model_cache
    path = Path(cache_dir) / f"{model_cache_key(recipe, fingerprint)}.pt" if cache_dir else None
    device = parts.ctx.device
    if path is not None and path.is_file():
        try:
            state = load_checkpoint(path, device)
            load_component_state(parts.dynamics, state["dynamics"])
            load_component_state(parts.model_learner, state["model_learner"])
            metrics = dict(state["metrics"], cached=1.0, seconds=0.0)
            say(f"model phase: loaded the fitted model from the cache ({path})")
            parts.dynamics.eval()
            return metrics
        except Exception as exc:  # a stale or corrupt cache entry: refit
            say(f"model phase: ignoring unreadable cache entry {path} ({exc})")
    t0 = time.perf_counter()
    say("model phase: fitting the dynamics")
    metrics = parts.model_learner.pretrain(parts.dynamics, parts.data, log)
    parts.dynamics.eval()
    metrics = dict(_plain(metrics), cached=0.0, seconds=time.perf_counter() - t0)
    if path is not None:
        atomic_save(
            {
                "dynamics": parts.dynamics.checkpoint_state(),
                "model_learner": parts.model_learner.checkpoint_state(),
                "metrics": _plain(metrics),
                "torch": str(torch.__version__),
            },
            path,
        )
    return metrics
