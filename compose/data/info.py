"""``DatasetInfo``: what a dataset is (env, shapes, reference scores, provenance, statistics).

Why: torch-free (a pydantic model), so recipes, ``compose data info`` and run records can
describe a dataset without loading tensors.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DatasetInfo(BaseModel):
    """Facts about one offline dataset, recorded with every run that uses it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_id: str
    source: str = Field(description="The source tag that loaded it: minari or d4rl_hdf5.")
    env_id: str = Field(description="Gymnasium id to evaluate in, e.g. Hopper-v5.")
    obs_dim: int
    act_dim: int
    action_low: list[float]
    action_high: list[float]
    ref_min_score: float | None = None
    ref_max_score: float | None = None
    ref_source: str | None = Field(
        None, description="'d4rl' (D4RL reference returns) or 'dataset metadata' or None."
    )
    provenance: str
    n_transitions: int
    n_episodes: int
    return_mean: float
    return_std: float
    return_min: float
    return_max: float
    metadata: dict[str, Any] = Field(default_factory=dict)

    def normalized(self, ret: float) -> float | None:
        """Normalized score of a return, or None without reference scores."""
        if self.ref_min_score is None or self.ref_max_score is None:
            return None
        from compose.envs.reference import normalized_score

        return normalized_score(ret, self.ref_min_score, self.ref_max_score)
