"""Every recipe in recipes/ validates with the real registry (built-ins + installed plugins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.recipe import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


def _plugins():  # noqa: ANN202
    """The real registry; a plugin that fails to load fails the test (it would hide recipes)."""
    from compose.plugins import load_plugins

    plugins = load_plugins()
    assert not plugins.errors, f"plugins failed to load: {[str(e) for e in plugins.errors]}"
    assert plugins.registry.names("dataset"), "no dataset source registered"
    return plugins


def test_recipes_are_shipped() -> None:
    """An empty recipes/ would make the parametrized test below collect nothing and pass."""
    assert len(RECIPES) >= 5, RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipe_validates(path: Path) -> None:
    from components.plugin import BUILTIN_MODULES

    assert BUILTIN_MODULES, "components.plugin registers no built-in components"
    plugins = _plugins()
    try:
        loaded = load_recipe(path, plugins=plugins)
    except RecipeError as exc:
        pytest.fail(f"{path.name} is invalid:\n" + "\n".join(exc.lines()))
    assert loaded.recipe.name


@pytest.mark.parametrize("name", ["romi", "romi_no_weighting"])
def test_romi_uses_the_known_reward(name: str) -> None:
    """ROMI App. D.2: r is known, the model predicts s' only (learn_reward: false)."""
    loaded = load_recipe(ROOT / "recipes" / f"{name}.yaml", plugins=_plugins())
    assert loaded.recipe.dynamics.learn_reward is False


@pytest.mark.parametrize("dataset", ["mujoco/ant/medium-v0", "mujoco/pen/human-v2"])
def test_learn_reward_false_without_known_reward_is_refused(dataset: str) -> None:
    """Before: such a recipe validated, and the model gave the agent zero rewards."""
    with pytest.raises(RecipeError) as info:
        load_recipe(
            ROOT / "recipes" / "mopo.yaml",
            ["dynamics.learn_reward=false", f"dataset.id={dataset}"],
            plugins=_plugins(),
        )
    text = "\n".join(info.value.lines())
    assert "dynamics.learn_reward: false" in text
    assert "hopper (Hopper-v5), halfcheetah (HalfCheetah-v5), walker2d (Walker2d-v5)" in text
    assert "Set dynamics.learn_reward: true" in text


@pytest.mark.parametrize(
    "dataset",
    ["compose/hopper/medium-v0", "mujoco/walker2d/medium-v0", "compose/pendulum/random-v0"],
)
def test_learn_reward_false_with_known_reward_validates(dataset: str) -> None:
    load_recipe(
        ROOT / "recipes" / "mopo.yaml",
        ["dynamics.learn_reward=false", f"dataset.id={dataset}"],
        plugins=_plugins(),
    )
