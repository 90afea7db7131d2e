"""Recipes: load YAML (with positions), compose (extends, per_dataset, --set), validate.

``load_recipe("recipes/mopo.yaml", ["critic.lr=1e-4"])`` returns a :class:`LoadedRecipe`
(the validated model, the resolved plain tree, its hash) or raises :class:`RecipeError`
listing every problem as ``file:line:col: dotted.path: message``. Nothing here imports torch.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from compose.recipe.composition import (
    Override,
    apply_entry,
    apply_overrides,
    apply_per_dataset,
    compose_file,
    find_recipe,
)
from compose.recipe.errors import Location, Problem, RecipeError
from compose.recipe.loader import NodeLoc, PathT, Tree
from compose.recipe.messages import problems_from_validation

if TYPE_CHECKING:
    from compose.plugins import LoadedPlugins
    from compose.recipe.schema import Recipe

__all__ = [
    "ComposedRecipe",
    "LoadedRecipe",
    "Location",
    "Problem",
    "RecipeError",
    "compose_recipe",
    "dump_resolved",
    "load_composed",
    "load_recipe",
    "recipe_hash",
    "search_paths",
]

#: Keys consumed by composition; they are not part of the resolved recipe.
COMPOSITION_KEYS = ("extends", "per_dataset")


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe: the model, the resolved tree (what ``compose show`` prints), its hash.

    ``locs`` holds, per path of ``resolved``, where the layer that set it wrote it (a file
    position or a ``--set``): what ``compose show --sources`` reports.
    """

    recipe: Recipe
    resolved: dict[str, Any]
    source: Path
    hash: str
    locs: dict[PathT, NodeLoc] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The recipe's ``name``."""
        return self.recipe.name


def search_paths(plugins: LoadedPlugins) -> list[Path]:
    """Where recipes are looked up by name: plugins' folders, then the project's ``recipes/``."""
    project = (Path(__file__).resolve().parents[2] / "recipes").resolve()
    out: list[Path] = []
    for p in [*plugins.recipe_paths, Path.cwd() / "recipes", project]:
        p = Path(p).resolve()
        if p not in out and p != project:
            out.append(p)
    out.append(project)
    return out


def recipe_hash(tree: Any) -> str:
    """sha256 of the canonical JSON of a resolved tree."""
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dump_resolved(tree: Any) -> str:
    """A resolved tree as block-style YAML (keys in recipe order)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _resolve_ref(ref: str | Path, search: Sequence[Path]) -> Path:
    path = Path(ref)
    if path.is_file():
        return path.resolve()
    found = find_recipe(str(ref), None, search) if not path.is_absolute() else None
    if isinstance(found, Path):
        return found
    message = found or f"recipe '{ref}' not found"
    raise RecipeError([Problem(Location(), "", message)])


def _dataset_id(data: Any) -> str | None:
    dataset = data.get("dataset") if isinstance(data, dict) else None
    ident = dataset.get("id") if isinstance(dataset, dict) else None
    return ident if isinstance(ident, str) else None


@dataclass(frozen=True)
class ComposedRecipe:
    """A recipe file read and composed (``extends`` merged), not yet validated.

    Composing reads and merges YAML files; validating (:func:`load_composed`) works on a
    copy, so one composition serves every load of the same recipe in a run (with a profile,
    per seed).
    """

    source: Path
    #: None when the file itself could not be read (``problems`` say why).
    tree: Tree | None
    problems: tuple[Problem, ...]
    plugins: LoadedPlugins


def compose_recipe(ref: str | Path, plugins: LoadedPlugins | None = None) -> ComposedRecipe:
    """Find and compose a recipe file or name; :class:`RecipeError` if it is not found."""
    from compose.plugins import load_plugins

    plugins = plugins if plugins is not None else load_plugins()
    search = search_paths(plugins)
    source = _resolve_ref(ref, search)
    problems: list[Problem] = []
    tree = compose_file(source, search, problems)
    return ComposedRecipe(source, tree, tuple(problems), plugins)


def load_recipe(
    ref: str | Path,
    overrides: Sequence[str] = (),
    *,
    plugins: LoadedPlugins | None = None,
) -> LoadedRecipe:
    """Load, compose and validate a recipe file or name; :class:`RecipeError` on any problem."""
    return load_composed(compose_recipe(ref, plugins), overrides)


def load_composed(composed: ComposedRecipe, overrides: Sequence[str] = ()) -> LoadedRecipe:
    """Validate a composed recipe with ``overrides`` (``--set``; per_dataset applied).

    :class:`RecipeError` on any problem; ``composed`` is left as it was.
    """
    from compose.recipe.schema import recipe_model

    registry = composed.plugins.registry
    model = recipe_model(registry)
    source = composed.source
    root = Location(source)

    problems: list[Problem] = list(composed.problems)
    parsed = [Override(text) for text in overrides]
    if composed.tree is None:
        # The file itself could not be read: report that and any bad --set syntax.
        problems += [Problem(o.location, o.path, o.error) for o in parsed if o.error]
        raise RecipeError(problems)
    tree = Tree(copy.deepcopy(composed.tree.data), dict(composed.tree.locs))

    table = Tree(None)
    if "per_dataset" in tree.data:
        table = tree.subtree(("per_dataset",))
        del tree.data["per_dataset"]
        tree.locs = {p: v for p, v in tree.locs.items() if p[:1] != ("per_dataset",)}
    written = Tree(copy.deepcopy(tree.data), dict(tree.locs))

    # The dataset id that selects a per_dataset entry may itself come from --set.
    trial = Tree(copy.deepcopy(tree.data), dict(tree.locs))
    apply_overrides(trial, parsed, model, registry, None)
    if table.data is not None:
        apply_per_dataset(
            tree,
            table,
            _dataset_id(trial.data),
            copy.deepcopy(tree.data),
            model,
            registry,
            problems,
        )
    apply_overrides(tree, parsed, model, registry, problems)

    resolved: dict[str, Any] = tree.data
    found: list[Problem] = []
    try:
        recipe = model.model_validate(copy.deepcopy(resolved))
    except ValidationError as exc:
        found = problems_from_validation(exc, resolved, tree.locs, model, registry, root)
        recipe = None
    if not problems:
        # A value that a later layer overwrites is still checked where it was written.
        layers = _Layers(model, registry, root)
        found += layers.check(written, resolved, parsed, table)
    if any(p.path.startswith("extends") for p in problems):
        # A recipe whose parents failed to load misses their fields: report the cause only.
        found = [p for p in found if p.code not in _KNOCK_ON]
    problems += sorted(_unique(found), key=Problem.sort_key)
    if problems or recipe is None:
        raise RecipeError(problems)
    return LoadedRecipe(recipe, resolved, source, recipe_hash(resolved), tree.locs)


#: Validation errors that follow from missing parents (a misspelt ``extends:``).
_KNOCK_ON = frozenset(
    {"missing", "union_tag_not_found", "incompatible_components", "unknown_reward", "no_components"}
)
#: Validation errors about a value itself (not about what is missing or how parts combine):
#: those are reported for every layer that wrote the value.
_VALUE_ERRORS = frozenset(
    {
        "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing",
        "finite_number", "bool_type", "bool_parsing", "string_type", "string_unicode",
        "list_type", "tuple_type", "set_type", "dict_type", "model_type",
        "model_attributes_type", "greater_than", "greater_than_equal", "less_than",
        "less_than_equal", "literal_error", "too_short", "too_long", "string_too_short",
        "string_too_long", "string_pattern_mismatch", "none_required", "extra_forbidden",
        "union_tag_invalid", "value_error",
    }
)  # fmt: skip


def _unique(problems: list[Problem]) -> list[Problem]:
    """One problem per (place, message): a layer's error the merged result also has is
    reported once, under the merged result's path."""
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (str(p.location), p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


_ABSENT = object()


def _at(data: Any, path: PathT) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return _ABSENT
    return data


class _Layers:
    """Validates each layer of a recipe on its own: the file as written (extends merged),
    every ``per_dataset`` entry, every recipe profile entry and every ``--set``.

    Why: the merged result hides a bad value that a later layer overwrites
    (``penalty: five`` under a per_dataset ``penalty: 5`` would validate as ok); each layer
    is applied alone on the file as written, and the value errors located at that layer's
    own positions are kept.
    """

    def __init__(self, model: type[Recipe], registry: Any, root: Location) -> None:
        self.model = model
        self.registry = registry
        self.root = root
        self.resolved: Any = None

    def _errors(self, tree: Tree, own: set[Location]) -> list[Problem]:
        def only(path: PathT, code: str) -> bool:
            # A value the merged result also holds had its own error reported already.
            loc = tree.locs.get(path)
            return (
                code in _VALUE_ERRORS
                and loc is not None
                and loc.value in own
                and _at(tree.data, path) != _at(self.resolved, path)
            )

        try:
            self.model.model_validate(copy.deepcopy(tree.data))
        except ValidationError as exc:
            found = problems_from_validation(
                exc, tree.data, tree.locs, self.model, self.registry, self.root, only
            )
            return [p for p in found if p.location in own]
        return []

    def check(
        self, written: Tree, resolved: Any, overrides: Sequence[Override], table: Tree
    ) -> list[Problem]:
        self.resolved = resolved
        out: list[Problem] = []
        if written.data != resolved:
            out += self._errors(written, {loc.value for loc in written.locs.values()})
        entries: list[tuple[str, Tree]] = []
        if isinstance(table.data, dict):
            entries += [(f"per_dataset.{ds}", table.subtree((ds,))) for ds in table.data]
        profiles = written.data.get("profiles")
        if isinstance(profiles, dict):
            entries += [
                (f"profiles.{name}", written.subtree(("profiles", name))) for name in profiles
            ]
        for name, entry in entries:
            if not isinstance(entry.data, dict):
                continue
            layer = Tree(copy.deepcopy(written.data), dict(written.locs))
            own: set[Location] = set()
            for dotted in entry.data:
                value = entry.subtree((dotted,))
                if () not in value.locs:
                    continue
                own.add(value.locs[()].value)
                own.update(loc.value for loc in value.locs.values())
                apply_entry(layer, dotted, value, self.model, self.registry)
            out += [
                Problem(p.location, f"{name}.{p.path}", p.message, p.code)
                for p in self._errors(layer, own)
            ]
        for ov in overrides:
            if ov.error is not None or ov.value is None:
                continue
            layer = Tree(copy.deepcopy(written.data), dict(written.locs))
            apply_overrides(layer, [ov], self.model, self.registry, None)
            out += self._errors(layer, {ov.location})
        return out
