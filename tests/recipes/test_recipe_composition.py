"""Composition: deep merge laws (Hypothesis), overrides, per_dataset, locations, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.recipe import RecipeError, dump_resolved, load_recipe, recipe_hash
from compose.recipe.composition import _merge, deep_merge
from compose.recipe.loader import Tree, load_text

VALID = Path(__file__).parent / "valid"

keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.none(), st.text("xyz", max_size=3))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12,
)
maps = st.dictionaries(keys, trees, max_size=4)


@settings(max_examples=60, deadline=None)
@given(maps, maps)
def test_merge_overlay_wins_and_base_survives(base: dict, over: dict) -> None:
    out = _merge(base, over)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            assert set(out[k]) == set(base[k]) | set(v)
        else:
            assert out[k] == v  # lists and scalars replace
    for k, v in base.items():
        if k not in over:
            assert out[k] == v


@settings(max_examples=60, deadline=None)
@given(maps, maps)
def test_merge_identities(a: dict, b: dict) -> None:
    """Idempotent, {} is neutral, and merging the result again with b changes nothing."""
    assert _merge(a, a) == a
    assert _merge(_merge(a, b), b) == _merge(a, b)
    assert _merge({}, a) == a and _merge(a, {}) == a


@settings(max_examples=60, deadline=None)
@given(maps, maps)
def test_merge_does_not_mutate_inputs(a: dict, b: dict) -> None:
    before = json.dumps([a, b], sort_keys=True)
    out = _merge(a, b)
    if isinstance(out, dict):
        out.clear()
    assert json.dumps([a, b], sort_keys=True) == before


@settings(max_examples=40, deadline=None)
@given(maps)
def test_yaml_round_trip(tree: dict) -> None:
    """dump_resolved then load gives back the same tree (what a stored run re-reads)."""
    assert load_text(dump_resolved(tree)).data == tree


@settings(max_examples=40, deadline=None)
@given(maps)
def test_every_path_is_located(tree: dict) -> None:
    loaded = load_text(dump_resolved(tree), Path("x.yaml"))

    def paths(node, prefix=()):  # noqa: ANN001, ANN202
        if isinstance(node, dict):
            for k, v in node.items():
                yield prefix + (k,)
                yield from paths(v, prefix + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield prefix + (i,)
                yield from paths(v, prefix + (i,))

    assert all(p in loaded.locs for p in paths(loaded.data))


def test_merge_locations_follow_the_winner() -> None:
    base = load_text("a: {x: 1, y: [1, 2]}\nb: 2\n", Path("base.yaml"))
    over = load_text("a:\n  y: [3]\n", Path("over.yaml"))
    out = deep_merge(base, over)
    assert out.data == {"a": {"x": 1, "y": [3]}, "b": 2}
    assert str(out.locs[("a", "x")].value) == "base.yaml:1:8"
    assert str(out.locs[("a", "y")].value) == "over.yaml:2:6"
    assert str(out.locs[("a", "y", 0)].value) == "over.yaml:2:7"
    assert ("a", "y", 1) not in out.locs


def test_component_with_another_type_replaces() -> None:
    base = Tree({"c": {"type": "p", "beta": 1}})
    over = Tree({"c": {"type": "q"}})
    assert deep_merge(base, over).data == {"c": {"type": "q"}}
    assert deep_merge(base, Tree({"c": {"beta": 2}})).data == {"c": {"type": "p", "beta": 2}}


def test_overrides_are_typed_and_located(test_plugins) -> None:  # noqa: ANN001
    loaded = load_recipe(
        VALID / "full.yaml",
        [
            "critic.lr=1e-4",
            "critic.aux_losses+=conservative_q",
            "model_learner.aux_losses.0.weight=0.2",
            "critic_target=mixed_min_max",
            "train.steps=10",
            "track.tags=[a, b]",
        ],
        plugins=test_plugins,
    )
    r = loaded.recipe
    assert r.critic.lr == pytest.approx(1e-4)
    assert [a.type for a in r.critic.aux_losses] == ["conservative_q", "conservative_q"]
    assert r.model_learner.aux_losses[0].weight == pytest.approx(0.2)
    assert r.critic_target.type == "mixed_min_max"
    assert r.train.steps == 10 and r.track.tags == ["a", "b"]
    assert loaded.resolved["critic_target"] == "mixed_min_max"


def test_per_dataset_selected_by_dataset_id_including_set(test_plugins) -> None:  # noqa: ANN001
    hopper = load_recipe(VALID / "child.yaml", plugins=test_plugins)
    assert hopper.recipe.rollout.length == 7
    assert hopper.recipe.critic_target.beta == pytest.approx(2.5)
    assert hopper.recipe.model_learner.aux_losses[0].weight == pytest.approx(0.1)
    assert "per_dataset" not in hopper.resolved and "extends" not in hopper.resolved
    walker = load_recipe(VALID / "child.yaml", ["dataset.id=walker-medium"], plugins=test_plugins)
    assert walker.recipe.rollout.length == 1
    assert walker.recipe.critic_target.beta == pytest.approx(1.5)
    # --set beats per_dataset
    forced = load_recipe(VALID / "child.yaml", ["rollout.length=3"], plugins=test_plugins)
    assert forced.recipe.rollout.length == 3


def test_hash_is_canonical_and_sensitive(test_plugins) -> None:  # noqa: ANN001
    a = load_recipe(VALID / "full.yaml", plugins=test_plugins)
    b = load_recipe(VALID / "full.yaml", ["seed=0"], plugins=test_plugins)
    c = load_recipe(VALID / "full.yaml", ["seed=1"], plugins=test_plugins)
    assert a.hash == recipe_hash(json.loads(json.dumps(a.resolved)))
    assert b.hash != a.hash  # seed written explicitly is part of the stored tree
    assert c.hash != b.hash


def test_resolved_reloads_to_the_same_recipe(tmp_path: Path, test_plugins) -> None:  # noqa: ANN001
    """``compose show`` output is itself a recipe that validates to the same model."""
    first = load_recipe(VALID / "child.yaml", ["critic.lr=2e-4"], plugins=test_plugins)
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_resolved(first.resolved))
    again = load_recipe(path, plugins=test_plugins)
    assert again.recipe == first.recipe
    assert again.hash == first.hash


def test_recipe_by_name_and_missing_name(test_plugins, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(VALID.parent)
    with pytest.raises(RecipeError) as info:
        load_recipe("no_such_recipe_xyz", plugins=test_plugins)
    assert "recipe 'no_such_recipe_xyz' not found" in str(info.value)
    loaded = load_recipe(str(VALID / "full.yaml"), plugins=test_plugins)
    assert loaded.name == "full"


def test_errors_are_all_collected(test_plugins) -> None:  # noqa: ANN001
    with pytest.raises(RecipeError) as info:
        load_recipe(
            VALID / "full.yaml", ["critic.lr=x", "train.steps=-1", "nope=1"], plugins=test_plugins
        )
    assert len(info.value.problems) == 3
