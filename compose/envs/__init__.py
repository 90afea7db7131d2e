"""Evaluation environments: termination and reward functions, reference scores, the evaluator.

``reference`` and ``rewards`` are torch-free at import; ``termination`` and ``evaluate``
import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose.envs.reference import (
    D4RL_REF_SCORES,
    ENV_IDS,
    RefScores,
    d4rl_ref_scores,
    env_id_for,
    normalized_score,
)

if TYPE_CHECKING:
    from compose.envs.evaluation import EvalResult, evaluate
    from compose.envs.rewards import reward_fn
    from compose.envs.termination import termination_fn

__all__ = [
    "D4RL_REF_SCORES",
    "ENV_IDS",
    "EvalResult",
    "RefScores",
    "d4rl_ref_scores",
    "env_id_for",
    "evaluate",
    "normalized_score",
    "reward_fn",
    "termination_fn",
]

_LAZY = {
    "EvalResult": "compose.envs.evaluation",
    "evaluate": "compose.envs.evaluation",
    "reward_fn": "compose.envs.rewards",
    "termination_fn": "compose.envs.termination",
}


def __getattr__(name: str) -> Any:
    """Import torch-backed members on first use, so ``import compose.envs`` stays torch-free."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compose.envs' has no attribute {name!r}")
