"""Named run profiles: ``--set`` overrides that reshape a recipe for a purpose (``--quick``).

``quick`` shrinks a paper-scale recipe to a run that finishes on a 2-core CPU in about
25 minutes (MOPO-like recipes on 200k Hopper transitions): a smoke run of the whole pipeline,
not a learning result (its 4,000-update model leaves MOPO's penalty above the task reward;
the loop warns when that happens, compose.train.rollout.dominant_shaping). Global
overrides whose path does not exist in a recipe (e.g. ``model_learner.max_epochs`` for a
learner without that field) are skipped, so one profile fits every recipe.

A recipe adjusts a profile in its own ``profiles:`` section, ``{name: {dotted.path: value}}``
(e.g. MOBILE's penalty costs ~10x a MOPO step, so ``mobile.yaml`` takes fewer quick steps).
Precedence: recipe (extends, per_dataset) < global profile < the recipe's profile entries
< ``--set``. Every entry's path is checked against the schema with its file:line:col, like a
``per_dataset`` entry, whether or not that profile is selected. Nothing here imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.recipe import ComposedRecipe
from compose.recipe.composition import split_path, value_at

__all__ = [
    "PROFILES",
    "Profiled",
    "applicable",
    "applicable_overrides",
    "check_profiles",
    "load_profiled",
    "profile_names",
]

PROFILES: dict[str, tuple[str, ...]] = {
    "quick": (
        "train.steps=30000",
        "train.log_every=500",
        "rollout.batch_size=5000",
        "eval.every=5000",
        "eval.episodes=5",
        "eval.final_episodes=10",
        "checkpoint.every=5000",
        "model_learner.max_epochs=20",
        # A cap on model gradient steps too: aux losses (VIPO) make each step ~2.5x dearer.
        "model_learner.max_updates=4000",
        "model_learner.pretrain_epochs=10",
    ),
}


def _has_path(tree: Any, path: str) -> bool:
    try:
        value_at(tree, path)
    except KeyError:
        return False
    return True


def applicable_overrides(overrides: Sequence[str], recipe: Any) -> list[str]:
    """The ``path=value`` overrides whose path exists in the validated ``recipe`` (with defaults)."""
    tree = recipe.model_dump(mode="json")
    return [o for o in overrides if _has_path(tree, o.split("=", 1)[0].rstrip("+"))]


def applicable(profile: str, recipe: Any) -> list[str]:
    """The global profile's overrides whose path exists in ``recipe``."""
    return applicable_overrides(PROFILES.get(profile, ()), recipe)


def profile_names(recipe: Any) -> list[str]:
    """Profiles this recipe can run with: the global ones and its own."""
    return sorted({*PROFILES, *recipe.profiles})


def _entry_text(dotted: str, value: Any) -> str:
    return f"{dotted}={json.dumps(value)}"


def check_profiles(loaded: Any, plugins: Any, locs: dict[tuple[Any, ...], Any]) -> list[Any]:
    """A :class:`~compose.recipe.Problem` for every profile entry whose path does not exist.

    ``locs``: file:line:col of every node of the recipe file (extends merged).
    """
    from compose.recipe import Location, Problem
    from compose.recipe._schema_walk import PathError, walk
    from compose.recipe.schema import recipe_model

    table: dict[str, dict[str, Any]] = loaded.resolved.get("profiles") or {}
    if not table:
        return []
    model = recipe_model(plugins.registry)
    out: list[Any] = []
    for name, entry in table.items():
        for dotted in entry:
            parts = split_path(dotted)
            try:
                walk(model, loaded.resolved, parts, plugins.registry)
            except PathError as exc:
                loc = locs.get(("profiles", name, dotted))
                where = loc.best if loc is not None else Location(Path(loaded.source))
                out.append(Problem(where, f"profiles.{name}.{dotted}", exc.message))
    return out


@dataclass(frozen=True)
class Profiled:
    """A recipe loaded under a profile: the result and the overrides that made it."""

    loaded: Any
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    recipe_entries: list[str] = field(default_factory=list)
    profile: str | None = None
    #: recipe entry text -> the recipe line that wrote it (``profiles.<name>.<path>``).
    entry_locations: dict[str, Any] = field(default_factory=dict)
    #: The composed recipe file and the ``--set`` overrides it was loaded with (for :meth:`again`).
    composed: Any = field(default=None, compare=False, repr=False)
    user: tuple[str, ...] = ()

    @property
    def overrides(self) -> list[str]:
        """Everything the profile set, in the order applied (for the run's record)."""
        return [*self.applied, *self.recipe_entries]

    def again(self, overrides: Sequence[str]) -> Profiled:
        """The same recipe under the same profile with ``overrides`` added after the user's
        (e.g. one seed of a batch), from the same composition (the files are not read again).
        """
        return load_profiled(self.composed, [*self.user, *overrides], self.profile)

    def override_origins(self, user: Sequence[str] = ()) -> dict[str, Any]:
        """Override text -> :class:`~compose.recipe.provenance.OverrideOrigin` for the
        profile's overrides (``compose show --sources``); the user's ``--set`` texts in
        ``user`` stay theirs, since they are applied last.
        """
        from compose.recipe.provenance import OverrideOrigin

        out: dict[str, Any] = {}
        for text in self.applied:
            out[text] = OverrideOrigin("profile", f"profile {self.profile} (global)")
        for text in self.recipe_entries:
            out[text] = OverrideOrigin(
                "profile", f"profile {self.profile}", self.entry_locations.get(text)
            )
        for text in user:
            out.pop(text, None)
        return out


def load_profiled(
    source: str | Path | ComposedRecipe,
    overrides: Sequence[str],
    profile: str | None,
    plugins: Any = None,
) -> Profiled:
    """Load ``source`` (a recipe file or name, or one composed already) with ``overrides``
    under ``profile`` (None: no profile); the file is composed once.

    Raises :class:`~compose.recipe.RecipeError` for a bad recipe, bad profile entries (at
    their file:line:col) or an unknown profile name.
    """
    from compose.recipe import Location, Problem, RecipeError, compose_recipe, load_composed

    composed = source if isinstance(source, ComposedRecipe) else compose_recipe(source, plugins)
    plugins = composed.plugins
    user = tuple(overrides)
    base = load_composed(composed, user)
    locs: dict[tuple[Any, ...], Any] = composed.tree.locs if composed.tree is not None else {}
    problems = check_profiles(base, plugins, locs)
    if problems:
        raise RecipeError(problems)
    if profile is None:
        return Profiled(base, composed=composed, user=user)
    own: dict[str, Any] = base.resolved.get("profiles", {}).get(profile, {})
    if profile not in PROFILES and profile not in base.recipe.profiles:
        names = ", ".join(profile_names(base.recipe))
        raise RecipeError([Problem(Location(), "", f"unknown profile '{profile}'; known: {names}")])
    applied = applicable(profile, base.recipe)
    skipped = [o for o in PROFILES.get(profile, ()) if o not in applied]
    entries = [_entry_text(k, v) for k, v in own.items()]
    try:
        loaded = load_composed(composed, [*applied, *entries, *user])
    except RecipeError as exc:
        by_text = {_entry_text(k, v): k for k, v in own.items()}
        fixed = []
        for p in exc.problems:
            dotted = by_text.get(p.location.override or "")
            loc = locs.get(("profiles", profile, dotted)) if dotted is not None else None
            if loc is not None:
                p = Problem(loc.value, f"profiles.{profile}.{dotted}", p.message)
            fixed.append(p)
        raise RecipeError(fixed) from None
    where = {
        _entry_text(k, v): locs[("profiles", profile, k)].value
        for k, v in own.items()
        if ("profiles", profile, k) in locs
    }
    return Profiled(loaded, applied, skipped, entries, profile, where, composed, user)
