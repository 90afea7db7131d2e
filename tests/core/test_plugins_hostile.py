"""Plugins that are broken or hostile: isolated, rolled back, named; built-ins stay."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from compose.plugins import load_plugins

BUILTIN_COMPONENTS = 25


def _install_dist(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A real distribution (dist-info with a ``compose`` entry point) on a sys.path folder."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[compose]\n{entry} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("hplug_")]:
        del sys.modules[name]


HEADER = """
    from pathlib import Path
    from typing import ClassVar, Literal
    from pydantic import Field
    from compose import ComponentConfig, hookimpl
"""

USURPER = (
    HEADER
    + """
    class Fake(ComponentConfig):
        kind: ClassVar[str] = "uncertainty"
        type: Literal["max_aleatoric"] = "max_aleatoric"

    @hookimpl
    def compose_register_components(registry):
        registry.add(Fake)
"""
)


def _builtins(loaded) -> list:  # noqa: ANN001
    return [s for s in loaded.registry.specs() if s.origin == "compose-rl" and s.kind != "dataset"]


def test_entry_point_named_components_cannot_displace_builtins(site: Path) -> None:
    _install_dist(site, "hplug-usurper", "hplug_usurper", USURPER, "components")
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    assert len(_builtins(loaded)) == BUILTIN_COMPONENTS
    assert loaded.registry.get("uncertainty", "max_aleatoric").origin == "compose-rl"
    (error,) = [e for e in loaded.errors if e.distribution == "hplug-usurper"]
    assert "registered twice" in error.message and "hplug-usurper" in str(error)
    assert not [e for e in loaded.errors if e.distribution == "compose-rl"]


UNBUILDABLE = (
    HEADER
    + """
    class Opaque:
        pass

    class Bad(ComponentConfig):
        kind: ClassVar[str] = "uncertainty"
        type: Literal["opaque_u"] = "opaque_u"
        thing: Opaque = None

    @hookimpl
    def compose_register_components(registry):
        registry.add(Bad)
"""
)


def test_unbuildable_config_is_isolated_and_named(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_dist(site, "hplug-opaque", "hplug_opaque", UNBUILDABLE, "opaque")
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    (error,) = [e for e in loaded.errors if e.distribution == "hplug-opaque"]
    assert "uncertainty 'opaque_u'" in str(error) and "pydantic cannot build" in error.message
    assert "opaque_u" not in loaded.registry.names("uncertainty")
    # Every command still works, --version included, with one warning naming the plugin.
    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "hplug_opaque")
    monkeypatch.setenv("COMPOSE_NO_ENTRY_POINTS", "1")
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert "warning: plugin 'hplug_opaque'" in result.stderr and "opaque_u" in result.stderr


BAD_DEFAULT = (
    HEADER
    + """
    class Weighted(ComponentConfig):
        kind: ClassVar[str] = "reward_shaper"
        type: Literal["weighted_r"] = "weighted_r"
        weight: float = "heavy"

    @hookimpl
    def compose_register_components(registry):
        registry.add(Weighted)
"""
)


def test_bad_default_is_blamed_on_the_plugin(site: Path) -> None:
    _install_dist(site, "hplug-default", "hplug_default", BAD_DEFAULT, "default")
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    (error,) = [e for e in loaded.errors if e.distribution == "hplug-default"]
    assert "default of field 'weight' ('heavy') does not validate" in error.message
    assert "weighted_r" not in loaded.registry.names("reward_shaper")


TYPO = (
    HEADER
    + """
    class Zero(ComponentConfig):
        kind: ClassVar[str] = "uncertainty"
        type: Literal["zero_typo"] = "zero_typo"

    @hookimpl
    def compose_register_component(registry):
        registry.add(Zero)
"""
)


def test_misspelt_hook_is_a_warning_with_a_hint(site: Path) -> None:
    _install_dist(site, "hplug-typo", "hplug_typo", TYPO, "typo")
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    (warning,) = [w for w in loaded.warnings if "hplug-typo" in w]
    assert "'compose_register_component' is not a compose hook" in warning
    assert "did you mean 'compose_register_components'?" in warning


HALF_WAY = (
    HEADER
    + """
    class First(ComponentConfig):
        kind: ClassVar[str] = "uncertainty"
        type: Literal["first_u"] = "first_u"

    @hookimpl
    def compose_register_components(registry):
        registry.add(First)
        raise RuntimeError("half-way")

    @hookimpl
    def compose_recipe_paths():
        return [Path(__file__).parent]
"""
)


def test_plugin_failing_half_way_leaves_nothing(site: Path) -> None:
    _install_dist(site, "hplug-half", "hplug_half", HALF_WAY, "half")
    loaded = load_plugins(entry_points=True, extra=[("x", object())])
    (error,) = [e for e in loaded.errors if e.distribution == "hplug-half"]
    assert "half-way" in error.message
    assert "first_u" not in loaded.registry.names("uncertainty")
    assert site not in loaded.recipe_paths
    assert "hplug-half" not in loaded.versions()
