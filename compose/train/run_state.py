"""What a run records about itself: its checkpoint (saved, and restored on resume), the
metadata a resume is checked against, and the parameters sent to the tracker.

A checkpoint (``checkpoint.pt`` in the run folder, format 1; see
:mod:`compose.train.run_dir`) holds the metadata that a
resume is checked against (recipe, dataset id and fingerprint, project version, Aim run
hash), the step, every component's ``checkpoint_state``, the critic, the target critic and
the critic/policy optimizers, the model buffer (if ``checkpoint.keep_buffer``), every RNG
state, and the run's :class:`Progress` (wall time, evaluations, model-phase and
policy-pretraining metrics, the profile's overrides, so the summary of a resumed run is
complete).
Why a module of its own: the checkpoint's layout is read and written in one place, apart
from the loop that runs the phases; :mod:`compose.train.checkpoint` does the file I/O and
the mismatch checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from compose.train.buffers import TransitionBuffer
from compose.train.build import Parts
from compose.train.checkpoint import compare_meta, load_component_state
from compose.train.run_dir import CHECKPOINT, RunDir
from compose.train.runtime import get_rng_state, set_rng_state

__all__ = [
    "CHECKPOINT",
    "Progress",
    "restore_run_state",
    "resume",
    "run_meta",
    "run_params",
    "run_state",
]

@dataclass
class Progress:
    """What the run has done so far (saved in every checkpoint, restored on resume)."""

    step: int = 0
    wall_time_s: float = 0.0
    eval_history: list[dict[str, float]] = field(default_factory=list)
    model_metrics: dict[str, Any] = field(default_factory=dict)
    pretrain_metrics: dict[str, float] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)


def _version() -> str:
    from compose.plugins import _own_version

    return _own_version()


def run_meta(resolved: dict[str, Any], recipe_hash: str, dataset_id: str, fingerprint: str) -> dict[str, Any]:
    """The metadata a resume must match (see :func:`compose.train.checkpoint.compare_meta`)."""
    return {
        "recipe": json.dumps(resolved, sort_keys=True),
        "recipe_hash": recipe_hash,
        "dataset_id": dataset_id,
        "dataset_fingerprint": fingerprint,
        "version": _version(),
    }


def run_params(
    loaded: Any, fingerprint: str, profile: list[str], run_dir: Path, info: Any
) -> dict[str, Any]:
    """The run's parameters for the tracker: recipe, dataset, git commit, plugins, profile.

    ``loaded`` is the :class:`compose.recipe.LoadedRecipe`, ``info`` the dataset's info.
    """
    from compose.plugins import load_plugins
    from compose.track.aim_tracker import git_commit

    return {
        "recipe": loaded.resolved,
        "recipe_hash": loaded.hash,
        "recipe_source": str(loaded.source),
        "dataset": {
            "id": info.dataset_id,
            "source": info.source,
            "env_id": info.env_id,
            "provenance": info.provenance,
            "n_transitions": info.n_transitions,
            "fingerprint": fingerprint,
        },
        "git_commit": git_commit(),
        "plugins": load_plugins().versions(),
        "profile": list(profile),
        "run_dir": str(run_dir),
    }


def run_state(
    parts: Parts,
    meta: dict[str, Any],
    progress: Progress,
    model_buffer: TransitionBuffer | None,
) -> dict[str, Any]:
    """The whole checkpoint of a run (``model_buffer`` None: the buffer is not kept)."""
    return {
        "format": 1,
        "meta": dict(meta),
        "step": progress.step,
        "components": {slot: c.checkpoint_state() for slot, c in parts.components().items()},
        "critic": parts.critic.state_dict(),
        "target_critic": parts.target_critic.state_dict(),
        "optimizers": {
            "critic": parts.critic_optim.state_dict(),
            "policy": parts.policy_optim.state_dict(),
        },
        "model_buffer": model_buffer.state_dict() if model_buffer is not None else None,
        "rng": get_rng_state(),
        "progress": {
            "wall_time_s": progress.wall_time_s,
            "eval_history": progress.eval_history,
            "model_metrics": json.dumps(progress.model_metrics),
            "policy_pretrain": json.dumps(progress.pretrain_metrics),
            "profile": list(progress.profile),
        },
    }


def restore_run_state(
    parts: Parts, model_buffer: TransitionBuffer, state: dict[str, Any]
) -> Progress:
    """Load :func:`run_state`'s checkpoint into ``parts`` and ``model_buffer`` (and the RNGs)."""
    comps = parts.components()
    for slot, comp_state in state["components"].items():
        load_component_state(comps[slot], comp_state)
    parts.critic.load_state_dict(state["critic"])
    parts.target_critic.load_state_dict(state["target_critic"])
    parts.critic_optim.load_state_dict(state["optimizers"]["critic"])
    parts.policy_optim.load_state_dict(state["optimizers"]["policy"])
    if state.get("model_buffer") is not None:
        model_buffer.load_state_dict(state["model_buffer"])
    set_rng_state(state["rng"])
    parts.dynamics.eval()
    prog = state["progress"]
    return Progress(
        step=int(state["step"]),
        wall_time_s=float(prog["wall_time_s"]),
        eval_history=list(prog["eval_history"]),
        model_metrics=json.loads(prog["model_metrics"]),
        pretrain_metrics=json.loads(prog.get("policy_pretrain", "{}")),
        profile=[str(x) for x in prog.get("profile", [])],
    )


def resume(
    run_dir: RunDir,
    device: torch.device,
    meta: dict[str, Any],
    parts: Parts,
    model_buffer: TransitionBuffer,
    say: Any = print,
) -> tuple[Progress, str | None, Path]:
    """Load the run's newest readable checkpoint after checking it against ``meta``.

    Returns the saved progress, the Aim run hash to continue tracking into (or None) and
    the checkpoint's path. Raises :class:`~compose.train.checkpoint.CheckpointMismatch`
    before touching ``parts`` when the checkpoint was made by a different recipe, dataset or
    project version, :class:`~compose.train.run_dir.RunDirError` when none can be read.
    """
    state, path = run_dir.load_checkpoint(device, say)
    compare_meta(state["meta"], meta)
    progress = restore_run_state(parts, model_buffer, state)
    return progress, state["meta"].get("aim_run_hash"), path
