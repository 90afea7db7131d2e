"""Atomic checkpoints of a whole run, and the checks that refuse a mismatched resume.

A checkpoint holds every network and optimizer (components through
``Component.checkpoint_state``; critic, target critic and the critic/policy optimizers), the
model buffer, every RNG state, the step, and metadata (recipe, dataset id and fingerprint,
project version). Only tensors, dicts, lists and primitives are stored, so it loads with
``torch.load(weights_only=True)``.
Why: written to a temporary file in the same folder, fsynced, then ``os.replace``d over the
old one, so a crash mid-write never leaves a truncated checkpoint; the one it replaces may be
kept as the previous checkpoint (the run directory keeps two, see
:mod:`compose.train.run_dir`). A file that cannot be read back is a
:class:`CheckpointUnreadable` saying why in words (empty, truncated, not a compose
checkpoint), never torch's own advice: a file refused by ``weights_only`` holds Python
objects a compose checkpoint never has, and it is not loaded.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from compose.kinds import Component

__all__ = [
    "CheckpointMismatch",
    "CheckpointUnreadable",
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


class CheckpointUnreadable(Exception):
    """A checkpoint file cannot be loaded; ``reason`` says why in words."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path} {reason}")


def tmp_name(path: Path) -> Path:
    """The temporary file :func:`atomic_save` writes ``path`` through (``.<name>.tmp-<pid>``)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_save(obj: Any, path: Path, previous: Path | None = None) -> None:
    """``torch.save`` to ``path`` through a temporary file and ``os.replace``.

    With ``previous``, the file being replaced is first moved there (the previous
    checkpoint); a crash between the two moves leaves ``previous`` as the newest one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if previous is not None and path.is_file():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); tensors onto ``device``, RNG states not.

    Raises :class:`CheckpointUnreadable` for an empty, truncated or foreign file.
    Why: generator states (``torch.uint8`` tensors: the global RNG's, a component's own
    ``torch.Generator``'s) and the whole ``rng`` entry must stay on the CPU, where
    ``torch.set_rng_state``, ``Generator.set_state`` (also of a CUDA generator) and numpy
    read them; a plain ``map_location=device`` would put them on the GPU.
    """
    state = _read(Path(path))
    device = torch.device(device)
    if device.type == "cpu":
        return state
    return {k: v if k == "rng" else _to_device(v, device) for k, v in state.items()}


def _read(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with every failure turned into a reason in words."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointUnreadable(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise CheckpointUnreadable(path, "is empty (0 bytes): its write was cut off")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointUnreadable(
                path,
                "is not a compose checkpoint: it holds pickled Python objects, which "
                "can run code when loaded and which a compose checkpoint never holds; it is "
                "not loaded",
            ) from None
        raise CheckpointUnreadable(path, f"is damaged ({size} bytes; unpickling failed)") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
        raise CheckpointUnreadable(
            path, f"is truncated or damaged ({size} bytes; {first[:160]})"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointUnreadable(
            path, f"is not a compose checkpoint (it holds a {type(state).__name__}, not a dict)"
        )
    return state


def _to_device(tree: Any, device: torch.device) -> Any:
    """``tree`` with every tensor but ``uint8`` (generator states) moved to ``device``."""
    if isinstance(tree, torch.Tensor):
        return tree if tree.dtype == torch.uint8 else tree.to(device)
    if isinstance(tree, dict):
        return {k: _to_device(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_to_device(v, device) for v in tree]
    if isinstance(tree, tuple):
        return tuple(_to_device(v, device) for v in tree)
    return tree


def load_component_state(component: Component, state: dict[str, Any]) -> None:
    """Restore a component through its own ``load_checkpoint_state`` (symmetric to saving).

    Everything a component's ``checkpoint_state`` saved beyond its module state (its aux
    losses' optimizers, its generators, ...) is restored by the component itself. Optimizer
    states whose optimizer the component has not created yet are held by
    :class:`~compose.kinds.Component` (see :meth:`~compose.kinds.Component.load_optimizer_states`)
    and loaded when it registers that optimizer.
    Why the second call: an override of ``load_checkpoint_state`` that loads the optimizers
    itself, skipping the unregistered ones (``model_learners/_mle.py``), would drop those
    states; holding every unregistered one here keeps them for any override.
    """
    component.load_checkpoint_state(state)
    saved = state.get("optimizers", {})
    component.load_optimizer_states(
        {k: v for k, v in saved.items() if k not in component._optimizers}
    )


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
            out.append(
                f"{key}: checkpoint {a.get(key, '<absent>')!r}, now {b.get(key, '<absent>')!r}"
            )
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
        problems.append(
            f"dataset id: checkpoint {saved['dataset_id']!r}, now {current['dataset_id']!r}"
        )
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
