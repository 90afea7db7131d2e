"""Every recipe in recipes/ validates with the real registry (built-ins + installed plugins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.recipe import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipe_validates(path: Path) -> None:
    from components.plugin import BUILTIN_MODULES
    from compose.plugins import load_plugins

    if not BUILTIN_MODULES:
        pytest.skip("no built-in components registered yet")
    plugins = load_plugins()
    if not plugins.registry.names("dataset"):
        pytest.skip(f"no dataset source registered yet: {[str(e) for e in plugins.errors]}")
    try:
        loaded = load_recipe(path, plugins=plugins)
    except RecipeError as exc:
        pytest.fail(f"{path.name} is invalid:\n" + "\n".join(exc.lines()))
    assert loaded.recipe.name
