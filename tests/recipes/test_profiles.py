"""Run profiles: the global ``quick`` list, a recipe's own ``profiles:`` entries, precedence
(recipe < global profile < recipe's profile entries < --set), and errors at file:line:col.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from compose.plugins import load_plugins
from compose.recipe import RecipeError
from compose.recipe.profiles import PROFILES, applicable_overrides, load_profiled

SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))

RECIPE = """\
name: prof
extends: [mopo]
train: {steps: 1234, log_every: 77}
eval: {every: 999}
profiles:
  quick:
    eval.every: 777
    train.log_every: 5
  smoke: {train.steps: 3}
"""


def write(tmp: Path, text: str) -> Path:
    path = tmp / "prof.yaml"
    path.write_text(text)
    return path


def test_precedence_recipe_global_recipe_profile_set(tmp_path: Path) -> None:
    path = write(tmp_path, RECIPE)
    plugins = load_plugins()
    plain = load_profiled(path, [], None, plugins).loaded.recipe
    assert (plain.train.steps, plain.eval.every, plain.train.log_every) == (1234, 999, 77)

    quick = load_profiled(path, ["train.log_every=9"], "quick", plugins)
    r = quick.loaded.recipe
    assert r.train.steps == 30000  # global profile over the recipe
    assert r.eval.every == 777  # recipe's profile entry over the global profile
    assert r.train.log_every == 9  # --set over everything
    assert quick.recipe_entries == ["eval.every=777", "train.log_every=5"]
    assert "train.steps=30000" in quick.applied

    smoke = load_profiled(path, [], "smoke", plugins).loaded.recipe  # a recipe-only profile
    assert smoke.train.steps == 3 and smoke.eval.every == 999


def test_unknown_path_in_a_profile_entry_is_a_file_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, RECIPE.replace("train.log_every: 5", "train.log_evry: 5"))
    with pytest.raises(RecipeError) as err:
        load_profiled(path, [], None, load_plugins())  # checked even when not selected
    line = err.value.lines()[0]
    assert ":8:5: profiles.quick.train.log_evry: unknown field 'log_evry' in train" in line, line
    assert "did you mean 'log_every'" in line


def test_bad_value_in_a_profile_entry_points_at_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, RECIPE.replace("eval.every: 777", "eval.every: -1"))
    with pytest.raises(RecipeError) as err:
        load_profiled(path, [], "quick", load_plugins())
    text = "\n".join(err.value.lines())
    assert ":7:17: profiles.quick.eval.every:" in text and "out of range" in text, text


def test_cli_dry_run_shows_what_quick_resolves_to(tmp_path: Path) -> None:
    path = write(tmp_path, RECIPE)
    res = CliRunner().invoke(cli, ["run", str(path), "--quick", "--dry-run", "--steps", "42"])
    assert res.exit_code == 0, res.output
    assert "  steps: 42\n" in res.stdout and "  every: 777\n" in res.stdout
    assert "quick profile (recipe's own): --set eval.every=777" in res.stderr
    bad = write(tmp_path, RECIPE.replace("eval.every: 777", "eval.evry: 777"))
    res = CliRunner().invoke(cli, ["run", str(bad), "--dry-run"])
    assert res.exit_code == 2 and "prof.yaml:7:5: profiles.quick.eval.evry" in res.stderr
    path = write(tmp_path, RECIPE)
    res = CliRunner().invoke(cli, ["run", str(path), "--profile", "nope", "--dry-run"])
    assert res.exit_code == 2 and "unknown profile 'nope'; known: quick, smoke" in res.stderr


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_resolves_under_quick(name: str) -> None:
    profiled = load_profiled(name, [], "quick", load_plugins())
    r = profiled.loaded.recipe
    assert r.train.steps <= 30000 and r.eval.every <= 5000
    assert set(profiled.applied) | set(profiled.skipped) == set(PROFILES["quick"])
    assert profiled.applied == applicable_overrides(PROFILES["quick"], r)


def test_mobile_family_inherits_fewer_quick_steps() -> None:
    for name in ("mobile", "vipo_mobile"):
        assert load_profiled(name, [], "quick", load_plugins()).loaded.recipe.train.steps == 10000
    assert load_profiled("mopo", [], "quick", load_plugins()).loaded.recipe.train.steps == 30000


def test_a_profiled_run_and_its_seeds_compose_the_recipe_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading under a profile (its entries checked and located) and again per seed reads
    and merges the YAML once: every stage validates a copy of the one composition."""
    import compose.recipe as recipe_module

    calls: list[Path] = []
    real = recipe_module.compose_file

    def counted(source: Path, *args: object) -> object:
        calls.append(source)
        return real(source, *args)

    monkeypatch.setattr(recipe_module, "compose_file", counted)
    path = write(tmp_path, RECIPE)
    profiled = load_profiled(path, ["train.steps=9"], "quick", load_plugins())
    seeds = [profiled.again([f"seed={s}", "seeds=null"]) for s in (3, 4)]
    assert len(calls) == 1
    assert profiled.loaded.recipe.train.log_every == 5  # the recipe's quick entry
    for s, one in zip((3, 4), seeds, strict=True):
        assert one.loaded.recipe.seed == s
        assert one.loaded.recipe.train.steps == 9  # --set still last
        assert one.overrides == profiled.overrides
