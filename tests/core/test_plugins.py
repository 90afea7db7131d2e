"""The plugin manager: entry points, built-ins, and broken plugins reported by name."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pytest

from compose.hookspecs import hookimpl
from compose.plugins import load_plugins


def _install_dist(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """Write a real distribution (dist-info with entry points) on a sys.path folder."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[compose]\n{entry} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("plug_")]:
        del sys.modules[name]


GOOD = """
    from typing import ClassVar, Literal
    from compose import ComponentConfig, hookimpl

    class Zero(ComponentConfig):
        '''Zero uncertainty.'''
        kind: ClassVar[str] = "uncertainty"
        type: Literal["zero_u"] = "zero_u"

    @hookimpl
    def compose_register_components(registry):
        registry.add(Zero)
"""


def test_entry_point_plugin_registers_with_its_distribution(site: Path) -> None:
    _install_dist(site, "plug-good", "plug_good", GOOD, "good")
    loaded = load_plugins(entry_points=True, extra=[("noop", types.SimpleNamespace())])
    spec = loaded.registry.get("uncertainty", "zero_u")
    assert spec.origin == "plug-good"
    assert loaded.versions()["plug-good"] == "0.3"
    assert not [e for e in loaded.errors if e.distribution == "plug-good"]


def test_broken_plugins_are_reported_and_others_load(site: Path) -> None:
    _install_dist(site, "plug-good", "plug_good", GOOD, "good")
    _install_dist(
        site, "plug-broken", "plug_broken", "raise ImportError('no such thing')\n", "broken"
    )
    clash = GOOD.replace("zero_u", "zero_u")  # same name again, from another distribution
    _install_dist(site, "plug-clash", "plug_clash", clash, "clash")
    loaded = load_plugins(entry_points=True, extra=[("noop", types.SimpleNamespace())])
    by_dist = {e.distribution: e for e in loaded.errors}
    assert by_dist["plug-broken"].hook == "import"
    assert "no such thing" in str(by_dist["plug-broken"])
    # entry points load in name order: 'clash' registers first, 'good' is the one refused
    refused = by_dist["plug-good"]
    assert refused.hook == "compose_register_components"
    assert "plug-good" in refused.message and "plug-clash" in refused.message
    assert loaded.registry.get("uncertainty", "zero_u").origin == "plug-clash"


def test_recipe_paths_hook(tmp_path: Path) -> None:
    module = types.SimpleNamespace(compose_recipe_paths=hookimpl(lambda: [tmp_path]))
    loaded = load_plugins(extra=[("paths", module)], entry_points=False)
    assert tmp_path in loaded.recipe_paths


def test_dataset_sources_hook_registers_builtin_sources() -> None:
    loaded = load_plugins(extra=[("noop", types.SimpleNamespace())], entry_points=False)
    assert "minari" in loaded.registry.names("dataset")
    assert not loaded.errors
