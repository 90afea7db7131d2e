"""What a run records about itself: its checkpoint (saved, and restored on resume), the
metadata a resume is checked against, and the parameters sent to the tracker.

A checkpoint (``checkpoint.pt`` in the run folder, format 1; see
:mod:`compose.train.run_dir`) holds the metadata that a
resume is checked against (recipe, dataset id and fingerprint, project version, Aim run
hash), the step, every component's ``checkpoint_state``, the critic, the target critic and
the critic/policy optimizers, the model buffer (if ``checkpoint.keep_buffer``), every RNG
state, and the run's :class:`Progress` (wall time, evaluations, model-phase and
policy-pretraining metrics, the profile's overrides, so the summary of a resumed run is
complete; and the metrics not yet logged and the last rollout round's, so that a resumed
run logs the same points as an uninterrupted one).
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

from compose.nn import hard_update_
from compose.train.buffers import TransitionBuffer
from compose.train.build import Parts
from compose.train.checkpoint import compare_meta, load_component_state
from compose.train.run_dir import CHECKPOINT, RunDir
from compose.train.runtime import get_rng_state, set_rng_state

__all__ = [
    "CHECKPOINT",
    "OUTCOME_KEYS",
    "Progress",
    "best_of",
    "outcome_params",
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
    #: Metrics of the steps since the last log step (logged at the next one).
    unlogged: dict[str, torch.Tensor] = field(default_factory=dict)
    #: The last rollout round's metrics (logged at every log step until the next round).
    rollout_metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    #: Rollout rounds so far (the dominant-shaping check runs at a fixed round).
    rollout_rounds: int = 0


def _version() -> str:
    from compose.plugins import _own_version

    return _own_version()


def run_meta(
    resolved: dict[str, Any], recipe_hash: str, dataset_id: str, fingerprint: str
) -> dict[str, Any]:
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
    """The run's parameters for the tracker: what runs are grouped and filtered by.

    ``loaded`` is the :class:`compose.recipe.LoadedRecipe`, ``info`` the dataset's info.
    Every section of the resolved recipe is a top-level param, nested as in the recipe, so
    Aim's query language reads it directly (``run.critic_target.type == "penalized_sac"``,
    ``run.model_learner.aux_losses``, ``run.seed``, ``run.train.steps``); the recipe's name is
    ``recipe_name`` (Aim reserves ``run.name`` and ``run.description``). ``dataset`` is the
    recipe's dataset section with what was loaded (id, env, provenance, size, fingerprint);
    ``recipe`` keeps the whole resolved tree as stored in ``recipe.yaml``. In the sections, a
    component written as a bare name (``critic_target: sac``) is ``{type: sac}``, so
    ``run.critic_target.type`` works for every recipe. The scores are added when the run ends
    (:func:`outcome_params`).
    """
    from compose.plugins import load_plugins
    from compose.track.aim_tracker import git_commit

    resolved = loaded.resolved
    tree = _expand_components(resolved, loaded.recipe)
    sections = {k: v for k, v in tree.items() if k not in ("name", "description", "dataset")}
    return {
        **sections,
        "recipe_name": resolved.get("name"),
        "recipe": resolved,
        "recipe_hash": loaded.hash,
        "recipe_source": str(loaded.source),
        "dataset": {
            **dict(resolved.get("dataset") or {}),
            "id": info.dataset_id,
            "source": info.source,
            "env_id": info.env_id,
            "provenance": info.provenance,
            "n_transitions": info.n_transitions,
            "fingerprint": fingerprint,
        },
        "compose_version": _version(),
        "git_commit": git_commit(),
        "plugins": load_plugins().versions(),
        "profile": list(profile),
        "run_dir": str(run_dir),
    }


def _expand_components(tree: Any, model: Any) -> Any:
    """``tree`` with every bare component name (a string where ``model`` holds a component
    config, i.e. an object with ``component_name``) written as ``{"type": name}``."""
    if isinstance(tree, str) and hasattr(model, "component_name"):
        return {"type": tree}
    if isinstance(tree, dict):
        return {k: _expand_components(v, getattr(model, k, None)) for k, v in tree.items()}
    if isinstance(tree, list):
        items = list(model) if isinstance(model, (list, tuple)) else [None] * len(tree)
        if len(items) != len(tree):
            items = [None] * len(tree)
        return [_expand_components(v, m) for v, m in zip(tree, items, strict=True)]
    return tree


#: The summary's keys that :func:`outcome_params` sends to the tracker when a run ends.
OUTCOME_KEYS = (
    "status",
    "steps",
    "final_normalized_score",
    "best_normalized_score",
    "best_step",
    "final_return",
    "best_return",
)


def best_of(eval_history: list[dict[str, float]]) -> dict[str, float | None]:
    """The best evaluation so far: normalized score (and its step) and return."""

    def top(key: str) -> dict[str, float] | None:
        rows = [e for e in eval_history if e.get(key) is not None and e[key] == e[key]]
        return max(rows, key=lambda e: e[key]) if rows else None

    by_score, by_return = top("eval/normalized_score"), top("eval/return")
    best = by_score or by_return
    return {
        "best_normalized_score": by_score["eval/normalized_score"] if by_score else None,
        "best_return": by_return["eval/return"] if by_return else None,
        "best_step": best["step"] if best else None,
    }


def outcome_params(summary: dict[str, Any]) -> dict[str, Any]:
    """The run's outcome as tracker params (``run.best_normalized_score > 50`` in Aim)."""
    return {k: summary.get(k) for k in OUTCOME_KEYS}


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
        "target_policy": (
            parts.target_policy.state_dict() if parts.target_policy is not None else None
        ),
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
            "unlogged": _detached(progress.unlogged),
            "rollout_metrics": _detached(progress.rollout_metrics),
            "rollout_rounds": progress.rollout_rounds,
        },
    }


def _detached(metrics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v).detach().clone() for k, v in metrics.items()}


def restore_run_state(
    parts: Parts, model_buffer: TransitionBuffer, state: dict[str, Any]
) -> Progress:
    """Load :func:`run_state`'s checkpoint into ``parts`` and ``model_buffer`` (and the RNGs)."""
    comps = parts.components()
    for slot, comp_state in state["components"].items():
        load_component_state(comps[slot], comp_state)
    parts.critic.load_state_dict(state["critic"])
    parts.target_critic.load_state_dict(state["target_critic"])
    if parts.target_policy is not None:
        saved = state.get("target_policy")
        if saved is not None:
            parts.target_policy.load_state_dict(saved)
        else:  # a checkpoint from before target policies: start it at the policy
            hard_update_(parts.target_policy, parts.policy)
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
        unlogged=dict(prog.get("unlogged", {})),
        rollout_metrics=dict(prog.get("rollout_metrics", {})),
        rollout_rounds=int(prog.get("rollout_rounds", 0)),
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
