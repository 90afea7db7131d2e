"""Where each value of a resolved recipe came from (``compose show --sources``).

Composition keeps a position for every node it writes (:class:`~compose.recipe.loader.Tree`),
so the last layer that set a value is known: a recipe file line (the file itself or one it
``extends``), a ``per_dataset`` entry, a profile entry or a ``--set``. Each file line's
source comment is read by :mod:`compose.recipe.sources`. A value no layer set is its
component's (or section's) config default, described by the field's ``description``.
Nothing here imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from compose.recipe._schema_walk import PathError, slot_config, walk
from compose.recipe.errors import Location, RecipeError, _display
from compose.recipe.loader import NodeLoc, PathT
from compose.recipe.sources import file_sources
from compose.registry import KINDS, Registry

if TYPE_CHECKING:
    from compose.recipe import LoadedRecipe

__all__ = ["Layer", "Origin", "OverrideOrigin", "format_origins", "origins_json", "trace"]

Layer = Literal["recipe", "per_dataset", "profile", "set", "default"]

#: Top-level keys not traced: ``profiles`` is composition data (its selected entries show
#: up as the values they set).
SKIP = ("profiles",)
_TAGS = frozenset(k.tag for k in KINDS.values())


@dataclass(frozen=True)
class OverrideOrigin:
    """What a ``path=value`` override text stands for, when it is not the user's ``--set``."""

    layer: Layer
    label: str  # e.g. "profile quick", "profile quick (global)"
    location: Location | None = None  # the recipe line of a recipe profile entry


@dataclass(frozen=True)
class Origin:
    """One leaf of the resolved recipe and the layer that set it."""

    path: str
    value: Any
    layer: Layer
    #: ``file:line`` of the line that set it, or ``--set ...``; empty for a default.
    where: str
    #: the line's source comment, or the default's description; ``None`` when it has none.
    source: str | None
    #: ``per_dataset <id>``, ``profile <name>``, ``default of <kind> '<type>'``, or empty.
    detail: str = ""
    file: str | None = None
    line: int | None = None


def trace(
    loaded: LoadedRecipe,
    registry: Registry,
    overrides: Mapping[str, OverrideOrigin] | None = None,
) -> list[Origin]:
    """Every leaf value of ``loaded`` (defaults included) with the layer that set it.

    ``overrides`` names the override texts that came from a profile rather than ``--set``
    (``compose.recipe.profiles.Profiled.override_origins``). A leaf is a scalar, a list of
    scalars or an empty collection; mappings and lists of components are walked.
    """
    from compose.recipe.schema import recipe_model

    model = recipe_model(registry)
    dumped = loaded.recipe.model_dump(mode="json")
    out: list[Origin] = []
    for path, value in _leaves(dumped, ()):
        if path[0] in SKIP:
            continue
        dotted = ".".join(map(str, path))
        loc = _set_at(loaded.resolved, loaded.locs, path)
        if loc is None:
            detail, description = _default(model, dumped, path, registry)
            out.append(Origin(dotted, value, "default", "", description, detail))
        else:
            out.append(_from_location(dotted, value, loc.value, overrides or {}))
    return out


def _leaves(node: Any, path: PathT) -> Iterator[tuple[PathT, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list) and node and any(isinstance(v, (dict, list)) for v in node):
        for i, value in enumerate(node):
            yield from _leaves(value, path + (i,))
    else:
        yield path, node


def _set_at(data: Any, locs: Mapping[PathT, NodeLoc], path: PathT) -> NodeLoc | None:
    """The location of the layer that wrote ``path``; ``None`` when no layer did (a default).

    A component selected by name (``reward_shaper: none``) wrote its tag, nothing else.
    """
    node = data
    for i, part in enumerate(path):
        if isinstance(node, str) and i == len(path) - 1 and part in _TAGS:
            return locs.get(path[:i])
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    for n in range(len(path), 0, -1):
        if path[:n] in locs:
            return locs[path[:n]]
    return None


def _from_location(
    dotted: str, value: Any, loc: Location, overrides: Mapping[str, OverrideOrigin]
) -> Origin:
    if loc.override is not None:
        origin = overrides.get(loc.override)
        if origin is None:
            return Origin(dotted, value, "set", f"--set {loc.override}", None)
        if origin.location is None or origin.location.file is None:
            return Origin(dotted, value, origin.layer, origin.label, None, origin.label)
        file_loc = origin.location
        return Origin(
            dotted,
            value,
            origin.layer,
            _where(file_loc),
            _comment(file_loc),
            origin.label,
            str(file_loc.file),
            file_loc.line,
        )
    if loc.file is None:
        return Origin(dotted, value, "recipe", "", None)
    layer: Layer = "recipe"
    detail = ""
    table = _table(loc)
    if table is not None and table[0] == "per_dataset":
        layer, detail = "per_dataset", f"per_dataset {table[1]}"
    elif table is not None:
        layer, detail = "profile", f"profile {table[1]}"
    return Origin(dotted, value, layer, _where(loc), _comment(loc), detail, str(loc.file), loc.line)


def _where(loc: Location) -> str:
    return f"{_display(Path(loc.file))}:{loc.line}" if loc.file is not None else ""


def _file(loc: Location) -> Any:
    try:
        return file_sources(loc.file) if loc.file is not None else None
    except (OSError, RecipeError):  # a file that changed or vanished since loading
        return None


def _comment(loc: Location) -> str | None:
    sources = _file(loc)
    return sources.source(loc.line) if sources is not None else None


def _table(loc: Location) -> tuple[str, str] | None:
    sources = _file(loc)
    return sources.table_of_line.get(loc.line) if sources is not None else None


def _default(model: Any, dumped: Any, path: PathT, registry: Registry) -> tuple[str, str | None]:
    """``default of <kind> '<type>'`` (or of a section) and the field's description."""
    try:
        nodes = walk(model, dumped, list(path), registry)
    except PathError:
        return "default", None
    parent = nodes[-2] if len(nodes) >= 2 else nodes[0]
    data = dumped
    for part in path[:-1]:
        data = data[part]
    field = str(path[-1])
    if parent.kind == "slot" and parent.slot is not None:
        config = slot_config(parent.slot, data, registry)
        if config is not None:
            info = config.model_fields.get(field)
            return (
                f"default of {parent.slot.kind} '{config.component_name()}'",
                info.description if info else None,
            )
    if parent.kind == "model" and parent.model is not None:
        info = parent.model.model_fields.get(field)
        section = ".".join(map(str, path[:-1])) or "recipe"
        return f"default of section '{section}'", info.description if info else None
    return "default", None


# ----------------------------------------------------------------------------- output


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _note(origin: Origin) -> str:
    if origin.layer == "default":
        text = origin.detail
        return f"{text}: {origin.source}" if origin.source else text
    if origin.layer == "set":
        return origin.where
    if origin.where and origin.detail and origin.detail != origin.where:
        place = f"{origin.where}, {origin.detail}"
    else:
        place = origin.where or origin.detail
    return f"{origin.source}  [{place}]" if origin.source else f"[{place}]"


def format_origins(origins: list[Origin], *, value_width: int = 24) -> str:
    """Aligned ``path  value  # source  [file:line, layer]`` lines, one per leaf."""
    if not origins:
        return ""
    path_w = max(len(o.path) for o in origins)
    val_w = min(value_width, max(len(_text(o.value)) for o in origins))
    lines = [f"{o.path:<{path_w}}  {_text(o.value):<{val_w}}  # {_note(o)}" for o in origins]
    return "\n".join(lines) + "\n"


def origins_json(origins: list[Origin]) -> str:
    """The origins as a JSON list (one object per leaf)."""
    return json.dumps([asdict(o) for o in origins], indent=1) + "\n"
