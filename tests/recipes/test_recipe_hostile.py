"""Hostile and huge recipes: each is refused fast (exit 2, a message with file:line:col).

The inputs are generated here (never committed as large files): billion laughs, deep
nesting, a long ``extends`` chain, a 10 MB file, many unknown keys, non-recipe files behind
``extends``, recipe names that two folders hold. Each must end well within a few seconds,
never with a traceback (exit 70) or a hang.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from compose.recipe import RecipeError, load_recipe
from compose.recipe.composition import MAX_EXTENDS_DEPTH
from compose.recipe.errors import RecipeWarning
from compose.recipe.loader import MAX_BYTES, MAX_DEPTH, MAX_VALUES

BASE = Path(__file__).parent / "invalid" / "parts" / "base.yaml"
#: Generous for a loaded 2-core CI machine; each case takes well under a second alone.
SECONDS = 4.0


@contextmanager
def _fast() -> Iterator[None]:
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < SECONDS


def _refused(path: Path, plugins, overrides: tuple[str, ...] = ()) -> list[str]:  # noqa: ANN001
    with _fast(), pytest.raises(RecipeError) as info:
        load_recipe(path, list(overrides), plugins=plugins)
    lines = info.value.lines()
    for line in lines:
        head = line.split(": ", 1)[0]
        assert head.startswith("--set ") or head.count(":") == 2, line
    return lines


def test_billion_laughs_is_refused_at_the_alias(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    lines = ["name: laughs", "a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    (got,) = _refused(path, test_plugins)
    assert "laughs.yaml:5:30: alias '*a2' expands to 820 values" in got
    assert f"past {MAX_VALUES} values" in got


def test_recursive_alias_is_refused(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    path = tmp_path / "loop.yaml"
    path.write_text("name: loop\nx: &x {a: *x}\n")
    (got,) = _refused(path, test_plugins)
    assert "loop.yaml:2:11:" in got and "recursive" in got


@pytest.mark.parametrize("opener", ["[", "{a: ", "\n- "])
def test_deep_nesting_is_refused_with_position(tmp_path: Path, test_plugins, opener: str) -> None:  # noqa: ANN001
    if opener == "\n- ":
        body = "".join("\n" + "  " * i + "- " for i in range(400)) + "1"
    else:
        closer = "]" if opener == "[" else "}"
        body = opener * 400 + "1" + closer * 400
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nx: " + body + "\n")
    (got,) = _refused(path, test_plugins)
    assert f"nested more than {MAX_DEPTH} levels deep" in got
    assert re.search(r"deep\.yaml:\d+:\d+: nested", got), got


def test_long_extends_chain_is_refused(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    for i in range(1200):
        (tmp_path / f"r{i}.yaml").write_text(f"extends: r{i + 1}\nname: r{i}\n")
    (tmp_path / "r1200.yaml").write_text(BASE.read_text())
    (got,) = _refused(tmp_path / "r0.yaml", test_plugins)
    assert f"extends chain longer than {MAX_EXTENDS_DEPTH} recipes" in got
    assert f"r{MAX_EXTENDS_DEPTH - 1}.yaml:1:10: extends:" in got


def test_ten_megabyte_recipe_is_refused_by_size(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\nx:\n" + "- 1\n" * 2_600_000)
    (got,) = _refused(path, test_plugins)
    assert f"larger than {MAX_BYTES // 1024} KiB (the limit)" in got


def test_many_values_under_the_size_limit_are_refused(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    path = tmp_path / "list.yaml"
    text = "name: list\nx:\n" + "- 1\n" * (MAX_BYTES // 4 - 10)
    assert len(text) <= MAX_BYTES
    path.write_text(text)
    (got,) = _refused(path, test_plugins)
    assert f"more than {MAX_VALUES} values" in got


def test_thousands_of_unknown_keys_are_linear(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    path = tmp_path / "keys.yaml"
    n = MAX_VALUES // 2 - 300
    path.write_text(BASE.read_text() + "".join(f"\nkey{i}: 1" for i in range(n)) + "\n")
    lines = _refused(path, test_plugins)
    assert len(lines) == n
    assert "unknown key 'key0' in the recipe" in lines[0]


def test_cli_caps_the_problems_it_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "testplugin")
    monkeypatch.setenv("COMPOSE_NO_ENTRY_POINTS", "1")
    path = tmp_path / "keys.yaml"
    path.write_text(BASE.read_text() + "".join(f"\nkey{i}: 1" for i in range(500)) + "\n")
    with _fast():
        result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 22
    assert lines[-2] == "... and 480 more" and lines[-1] == "500 problems found"


def test_extends_refuses_files_that_are_not_yaml(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    secret = tmp_path / "shadow"
    secret.write_text("root: $6$secret-hash\nname: x\n")
    path = tmp_path / "r.yaml"
    path.write_text(f"extends: {secret}\nname: r\n")
    (got,) = _refused(path, test_plugins)
    assert "is not a recipe: extends takes a .yaml/.yml file or a recipe name" in got
    assert "secret-hash" not in got


def test_errors_echo_only_an_excerpt_of_the_file(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    path = tmp_path / "long.yaml"
    path.write_text(BASE.read_text() + "\n" + "s3cr3t" * 100 + ": 1\n")
    lines = _refused(path, test_plugins)
    assert all(line.count("s3cr3t") <= 14 for line in lines), lines


def test_cwd_recipe_shadowing_a_builtin_name_warns(
    tmp_path: Path,
    test_plugins,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    from compose.recipe import search_paths

    project = search_paths(test_plugins)[-1]
    name = sorted(project.glob("*.yaml"))[0].stem
    local = tmp_path / "recipes"
    local.mkdir()
    (local / f"{name}.yaml").write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(RecipeWarning) as caught, pytest.raises(RecipeError):
        load_recipe(name, plugins=test_plugins)
    text = str(caught[0].message)
    assert f"recipe '{name}' is in several recipe folders; using recipes/{name}.yaml" in text
    assert str(project / f"{name}.yaml") in text
    # One folder only: no warning.
    (local / f"{name}.yaml").unlink()
    (local / "only_here.yaml").write_text("name: only\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RecipeError):
            load_recipe("only_here", plugins=test_plugins)


@pytest.mark.parametrize("value", ["!foo 3", "!!python/name:os.system", "!!binary aGk="])
def test_sweep_grid_with_a_yaml_tag_is_exit_2(value: str) -> None:
    result = CliRunner().invoke(cli, ["sweep", "mopo", "--grid", f"rollout.length=1,{value}"])
    assert result.exit_code == 2, result.output
    assert "is not allowed" in result.output


def test_replacing_a_component_drops_the_parents_entries_for_it(
    tmp_path: Path, test_plugins
) -> None:  # noqa: ANN001
    parent = tmp_path / "parent.yaml"
    parent.write_text(
        BASE.read_text()
        + "\nper_dataset:\n"
        + "  hopper-medium: {critic_target.beta: 2.0, train.gamma: 0.9}\n"
        + "  walker-medium: {critic_target.uncertainty.samples: 3}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent\nname: child\ncritic_target: {type: mixed_min_max}\n")
    with _fast(), pytest.warns(RecipeWarning) as caught:
        loaded = load_recipe(child, plugins=test_plugins)
    (warning,) = [str(w.message) for w in caught]
    assert warning.startswith(
        "critic_target: this recipe replaces 'penalized_sac' with 'mixed_min_max'"
    )
    assert "2 per_dataset entries" in warning and "parent.yaml:" in warning
    assert loaded.resolved["train"]["gamma"] == 0.9  # the other entries stay
    assert loaded.resolved["critic_target"] == {"type": "mixed_min_max"}
