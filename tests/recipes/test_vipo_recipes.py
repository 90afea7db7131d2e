"""The VIPO recipes: validate for every dataset of their tables and resolve to VIPO Table 5."""

from __future__ import annotations

import pytest

from compose.recipe import load_recipe

# VIPO Table 5 (Gym): task -> (lambda, h, eta, beta).
TABLE5 = {
    "halfcheetah/random": (0.35, 5, 0.05, 0.5),
    "hopper/random": (0.55, 5, 0.05, 5.0),
    "walker2d/random": (0.3, 5, 0.5, 0.5),
    "halfcheetah/medium": (0.35, 5, 0.05, 0.5),
    "hopper/medium": (0.45, 5, 0.05, 1.5),
    "walker2d/medium": (0.3, 2, 0.5, 0.5),
    "halfcheetah/medium-replay": (0.35, 5, 0.05, 0.1),
    "hopper/medium-replay": (0.8, 5, 0.05, 0.1),
    "walker2d/medium-replay": (0.3, 1, 0.5, 0.5),
    "halfcheetah/medium-expert": (0.35, 5, 0.05, 1.0),
    "hopper/medium-expert": (0.55, 5, 0.05, 5.0),
    "walker2d/medium-expert": (0.3, 1, 0.5, 2.0),
}
IDS = [f"{prefix}/{task}-v0" for prefix in ("mujoco", "compose") for task in TABLE5]


def _vipo_loss(recipe: object) -> object:
    (aux,) = recipe.model_learner.aux_losses  # type: ignore[attr-defined]
    assert aux.component_name() == "value_inconsistency"
    return aux


@pytest.mark.parametrize("dataset", IDS)
def test_vipo_mobile_is_table5(dataset: str) -> None:
    lam, h, eta, beta = TABLE5[dataset.split("/", 1)[1].removesuffix("-v0")]
    recipe = load_recipe("vipo_mobile", [f"dataset.id={dataset}"]).recipe
    assert _vipo_loss(recipe).weight == lam
    assert (recipe.rollout.length, recipe.rollout.real_ratio) == (h, eta)
    assert recipe.critic_target.component_name() == "penalized_sac"
    assert recipe.critic_target.beta == beta
    assert recipe.model_learner.component_name() == "mle"
    assert recipe.model_learner.improvement == 0.01  # App. F: < 1% gain is an invalid update


@pytest.mark.parametrize("dataset", IDS)
def test_vipo_mopo_is_mopo_with_table5_lambda(dataset: str) -> None:
    lam = TABLE5[dataset.split("/", 1)[1].removesuffix("-v0")][0]
    vipo = load_recipe("vipo_mopo", [f"dataset.id={dataset}"]).recipe
    mopo = load_recipe("mopo", [f"dataset.id={dataset}"]).recipe
    assert _vipo_loss(vipo).weight == lam
    assert vipo.rollout == mopo.rollout  # the planner is MOPO's, unchanged
    assert vipo.reward_shaper == mopo.reward_shaper
    assert vipo.dynamics == mopo.dynamics
