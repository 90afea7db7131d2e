"""Named run profiles: lists of ``--set`` overrides that reshape a recipe for a purpose.

``quick`` shrinks a paper-scale recipe to a run that finishes on a 2-core CPU in about
25 minutes (MOPO-like recipes on 200k Hopper transitions) and visibly learns. Overrides whose
path does not exist in a recipe (e.g. ``model_learner.max_epochs`` for a learner without that
field) are skipped, so one profile fits every recipe.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROFILES", "applicable"]

PROFILES: dict[str, tuple[str, ...]] = {
    "quick": (
        "train.steps=30000",
        "train.log_every=500",
        "rollout.batch_size=5000",
        "eval.every=5000",
        "eval.episodes=5",
        "eval.final_episodes=10",
        "checkpoint.every=5000",
        "model_learner.max_epochs=20",
        # A cap on model gradient steps too: aux losses (VIPO) make each step ~2.5x dearer.
        "model_learner.max_updates=4000",
        "model_learner.pretrain_epochs=10",
    ),
}


def _has_path(tree: Any, path: str) -> bool:
    node = tree
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def applicable(profile: str, recipe: Any) -> list[str]:
    """The profile's overrides whose path exists in the validated ``recipe`` (with defaults)."""
    tree = recipe.model_dump(mode="json")
    return [o for o in PROFILES[profile] if _has_path(tree, o.split("=", 1)[0].rstrip("+"))]
