"""docs/plugins.md is enough to write a plugin: its code blocks, installed as a
distribution, register, validate in a recipe, build and run."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from compose.kinds.context import BuildContext
from compose.kinds.types import ModelTransitions, Prediction
from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.recipe.errors import RecipeWarning

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, str, str]]:
    return [(lang, info.strip(), body) for lang, info, body in FENCE.findall(PAGE.read_text())]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The page's files and entry point as a distribution on sys.path."""
    for _lang, info, body in _blocks():
        if info.startswith("file="):
            path = tmp_path / info.removeprefix("file=")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
    (tmp_path / "clip_penalty" / "__init__.py").write_text("")
    toml = next(body for lang, _info, body in _blocks() if lang == "toml")
    project = tomllib.loads(toml)["project"]
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    points = "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["compose"].items())
    (info / "entry_points.txt").write_text(f"[compose]\n{points}")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("clip_penalty")]:
        del sys.modules[name]


def test_plugin_written_from_the_page_works(installed: Path) -> None:
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    assert not [e for e in loaded.errors if "clip" in e.distribution], loaded.errors
    assert not [w for w in loaded.warnings if "clip" in w]
    spec = loaded.registry.get("reward_shaper", "clip_penalty")
    assert spec.origin == "compose-clip-penalty"

    # The page's recipe, found by name in the plugin's recipe folder; MOPO's per_dataset
    # penalties for the replaced shaper are dropped with one warning, as the page says.
    with pytest.warns(RecipeWarning, match="reward_shaper: this recipe replaces"):
        recipe = load_recipe("clip_mopo", plugins=loaded).recipe
    assert recipe.reward_shaper.component_name() == "clip_penalty"

    # Built through the context (contracts checked) and called once.
    ctx = BuildContext(3, 1, -torch.ones(1), torch.ones(1), torch.device("cpu"))
    with loaded.registry.active():
        shaper = ctx.build(recipe.reward_shaper)
    e, b, d = 4, 5, 3
    pred = Prediction(
        torch.zeros(e, b, d + 1),
        torch.rand(e, b, d + 1),
        torch.zeros(e, b, d + 1),
        torch.zeros(e, b, d + 1),
    )
    steps = ModelTransitions(
        torch.zeros(b, d),
        torch.zeros(b, 1),
        torch.zeros(b, d),
        torch.full((b,), 50.0),
        torch.zeros(b, dtype=torch.bool),
        torch.zeros(b, dtype=torch.long),
        pred,
    )
    out = shaper.shape(steps, dynamics=None, agent=None)
    assert out.rewards.shape == (b,) and bool((out.rewards <= 10.0).all())
    assert "penalty_mean" in out.diagnostics and out.terminate is None
