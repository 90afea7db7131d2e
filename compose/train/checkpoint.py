"""Atomic checkpoints of a whole run, and the checks that refuse a mismatched resume.

A checkpoint holds every network and optimizer (components through
``Component.checkpoint_state``; critic, target critic and the critic/policy optimizers), the
model buffer, every RNG state, the step, and metadata (recipe, dataset id and fingerprint,
project version). Only tensors, dicts, lists and primitives are stored, so it loads with
``torch.load(weights_only=True)``.
Why: written to a temporary file in the same folder, fsynced, then ``os.replace``d over the
old one, so a crash mid-write never leaves a truncated checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from compose.kinds import Component

__all__ = [
    "CheckpointMismatch",
    "atomic_save",
    "compare_meta",
    "load_checkpoint",
    "load_component_state",
    "recipe_differences",
]

#: Recipe sections that may differ on resume: they never change the mathematics
#: (``train.steps`` may grow to continue a finished run).
RESUMABLE_CHANGES = ("runtime", "track", "train.steps", "description")


class CheckpointMismatch(Exception):
    """A checkpoint was made by a different recipe, dataset or project version."""


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto ``device``."""
    return torch.load(Path(path), map_location=device, weights_only=True)


def load_component_state(component: Component, state: dict[str, Any]) -> None:
    """Restore a component; optimizers it has not (yet) created are skipped.

    Why: a learner may create its optimizer inside ``pretrain`` (the model phase), which a
    resumed run skips; that optimizer is not needed afterwards.
    """
    component.load_state_dict(state["module"])
    for name, opt_state in state.get("optimizers", {}).items():
        if name in component._optimizers:
            component._optimizers[name][0].load_state_dict(opt_state)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out or {prefix[:-1]: {}}
    if isinstance(tree, list):
        return {prefix[:-1]: json.dumps(tree, sort_keys=True)}
    return {prefix[:-1]: tree}


def recipe_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted paths whose values differ between two resolved recipes (resumable ones excluded)."""
    a, b = _flatten(old), _flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if any(key == p or key.startswith(p + ".") for p in RESUMABLE_CHANGES):
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            out.append(f"{key}: checkpoint {a.get(key, '<absent>')!r}, now {b.get(key, '<absent>')!r}")
    return out


def compare_meta(saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise :class:`CheckpointMismatch` naming every difference that forbids resuming."""
    problems = []
    old_recipe = json.loads(saved["recipe"])
    new_recipe = json.loads(current["recipe"])
    diffs = recipe_differences(old_recipe, new_recipe)
    if diffs:
        problems.append("the recipe differs:\n    " + "\n    ".join(diffs))
    if saved["dataset_id"] != current["dataset_id"]:
        problems.append(f"dataset id: checkpoint {saved['dataset_id']!r}, now {current['dataset_id']!r}")
    if saved["dataset_fingerprint"] != current["dataset_fingerprint"]:
        problems.append(
            f"dataset contents (fingerprint): checkpoint {saved['dataset_fingerprint'][:12]}, "
            f"now {current['dataset_fingerprint'][:12]}"
        )
    if saved["version"] != current["version"]:
        problems.append(f"project version: checkpoint {saved['version']}, now {current['version']}")
    if problems:
        raise CheckpointMismatch(
            "cannot resume: this checkpoint was made by a different run setup.\n  - "
            + "\n  - ".join(problems)
        )
