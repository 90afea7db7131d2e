"""Reference returns for normalized scores, and the short env names the factory uses.

Reference: D4RL (Fu et al. 2020), ``d4rl/infos.py`` REF_MIN_SCORE / REF_MAX_SCORE — the
random-policy and expert (SAC) returns behind every normalized score in the offline RL papers.
Normalized score = 100 * (R - R_random) / (R_expert - R_random).
Why: using D4RL's constants for the locomotion tasks keeps our scores comparable with the
papers' tables even on v5 envs and on datasets that are not D4RL's (recorded as ``ref_source``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefScores:
    """Random-policy (min) and expert (max) returns, and where they come from."""

    min_score: float
    max_score: float
    source: str


#: Short env names (as used by ``compose data make``) -> Gymnasium ids.
ENV_IDS: dict[str, str] = {
    "hopper": "Hopper-v5",
    "halfcheetah": "HalfCheetah-v5",
    "walker2d": "Walker2d-v5",
    "pendulum": "InvertedPendulum-v5",
}

#: D4RL's reference returns (identical for all datasets of one locomotion task).
D4RL_REF_SCORES: dict[str, RefScores] = {
    "hopper": RefScores(-20.272305, 3234.3, "d4rl"),
    "halfcheetah": RefScores(-280.178953, 12135.0, "d4rl"),
    "walker2d": RefScores(1.629008, 4592.3, "d4rl"),
}

#: InvertedPendulum: reward 1 per step, 1000-step limit, a random policy survives ~5 steps.
#: Not a D4RL task; the factory records these as its own reference (``ref_source="compose"``).
PENDULUM_REF_SCORES = RefScores(5.0, 1000.0, "compose (random ~5 steps, max 1000)")


def env_id_for(env: str) -> str:
    """Gymnasium id for a short env name (hopper -> Hopper-v5); a Gymnasium id passes through."""
    if env in ENV_IDS:
        return ENV_IDS[env]
    if env in ENV_IDS.values():
        return env
    raise ValueError(f"unknown env {env!r}; expected one of: {', '.join(ENV_IDS)}")


def short_env_name(env_id: str) -> str | None:
    """Short name for a Gymnasium id of a known task, any version (Hopper-v4 -> hopper)."""
    base = env_id.split("-v")[0].lower().replace("_", "")
    for name, gym_id in ENV_IDS.items():
        if gym_id.split("-v")[0].lower() == base:
            return name
    return None


def d4rl_ref_scores(env_id: str) -> RefScores | None:
    """D4RL reference returns for a Gymnasium id of a D4RL locomotion task, else None."""
    name = short_env_name(env_id)
    return D4RL_REF_SCORES.get(name) if name else None


def normalized_score(ret: float, ref_min: float, ref_max: float) -> float:
    """100 * (R - ref_min) / (ref_max - ref_min) (D4RL ``get_normalized_score`` x 100)."""
    if ref_max == ref_min:
        raise ValueError(f"reference scores are equal ({ref_min}); cannot normalize")
    return 100.0 * (ret - ref_min) / (ref_max - ref_min)
