"""Pydantic validation errors -> friendly :class:`Problem`s, keyed on the error ``type``.

Pydantic's English messages are never shown (they change between versions); each error type
has its own text with what would be right. Pydantic's ``loc`` includes the union tag after a
component slot (``('reward_shaper', 'uncertainty_penalty', 'weight')``); it is mapped to the
user's dotted path by walking the data tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from compose.recipe._schema_walk import PathError, type_name, walk
from compose.recipe.errors import Location, Problem
from compose.recipe.loader import NodeLoc, PathT, excerpt
from compose.registry import KINDS, Registry, suggest

__all__ = ["problems_from_validation", "user_path"]

_TAGS = {k.tag for k in KINDS.values()}
#: Unknown keys per validation that get a did-you-mean (the rest list the allowed keys).
_MAX_HINTS = 100


def user_path(loc: tuple[Any, ...], data: Any) -> PathT:
    """Pydantic's loc without the union tags that pydantic inserts after slot fields."""
    out: list[str | int] = []
    node = data
    for elem in loc:
        if isinstance(node, str) and elem == node and out:
            node = None  # shorthand slot: the string is the tag
            continue
        if isinstance(node, dict) and elem not in node and any(node.get(t) == elem for t in _TAGS):
            continue
        out.append(elem)
        if isinstance(node, dict):
            node = node.get(elem)
        elif isinstance(node, list) and isinstance(elem, int) and elem < len(node):
            node = node[elem]
        else:
            node = None
    return tuple(out)


def _locate(path: PathT, locs: dict[PathT, NodeLoc], *, key: bool, root: Location) -> Location:
    """The location of ``path`` (its key or value), else of its nearest located ancestor."""
    if path in locs:
        return locs[path].best if key else locs[path].value
    for n in range(len(path) - 1, 0, -1):
        if path[:n] in locs:
            return locs[path[:n]].best
    return root


def _bound(ctx: dict[str, Any]) -> str:
    for name, text in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if name in ctx:
            return f"{text} {ctx[name]}"
    return ""


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dotted(path: PathT) -> str:
    """A dotted path, each part cut to a short excerpt (keys may be any text of the file)."""
    return ".".join(str(p) if len(str(p)) <= 40 else str(p)[:37] + "..." for p in path)


class _Mapper:
    def __init__(self, model: type[BaseModel], data: Any, registry: Registry) -> None:
        self.model = model
        self.data = data
        self.registry = registry
        self.hints = 0

    def expected_type(self, path: PathT) -> str | None:
        try:
            node = walk(self.model, self.data, list(path), self.registry)[-1]
        except PathError:
            return None
        if node.kind == "slot" and node.slot is not None:
            return f"{node.slot.kind} component"
        if node.kind == "model":
            return "mapping"
        return type_name(node.annotation)

    def fields_at(self, path: PathT) -> list[str]:
        try:
            node = walk(self.model, self.data, list(path), self.registry)[-1]
        except PathError:
            return []
        if node.kind == "model" and node.model is not None:
            return list(node.model.model_fields)
        if node.kind == "slot" and node.slot is not None:
            from compose.recipe._schema_walk import slot_config

            sub: Any = self.data
            for p in path:
                sub = (
                    sub.get(p)
                    if isinstance(sub, dict)
                    else sub[p]
                    if isinstance(sub, list)
                    else None
                )
            config = slot_config(node.slot, sub, self.registry)
            if config is not None:
                tag = KINDS[node.slot.kind].tag
                return [f for f in config.model_fields if f != tag]
        return []

    def slot_at(self, path: PathT) -> Any:
        try:
            node = walk(self.model, self.data, list(path), self.registry)[-1]
        except PathError:
            return None
        return node.slot if node.kind == "slot" else None

    def message(self, err: dict[str, Any], path: PathT) -> tuple[str, bool]:
        """(text, locate-at-key) for one pydantic error."""
        kind: str = err["type"]
        ctx: dict[str, Any] = err.get("ctx") or {}
        value = err.get("input")
        if kind == "missing":
            expected = self.expected_type(path)
            what = f" ({expected})" if expected else ""
            return (
                f"required field is missing; add '{path[-1]}:'{what}"
                if path
                else "required field is missing",
                True,
            )
        if kind == "extra_forbidden":
            name = str(path[-1]) if path else "?"
            fields = self.fields_at(path[:-1])
            # did-you-mean for the first unknown keys only: difflib is the cost of a huge file
            self.hints += 1
            hint = suggest(name, fields) if len(name) <= 64 and self.hints <= _MAX_HINTS else []
            where = _dotted(path[:-1]) or "the recipe"
            shown = excerpt(name)
            if hint:
                return f"unknown key {shown} in {where}; did you mean '{hint[0]}'?", True
            return f"unknown key {shown} in {where}; allowed: {', '.join(fields) or '(none)'}", True
        if kind == "union_tag_invalid":
            return self.unknown_component(str(ctx.get("tag")), path), False
        if kind == "union_tag_not_found":
            slot = self.slot_at(path)
            tag = KINDS[slot.kind].tag if slot else "type"
            names = self.registry.names(slot.kind) if slot else []
            return (
                f"a component needs '{tag}:' naming it; one of: {', '.join(self._allowed(slot)) or ', '.join(names)}",
                True,
            )
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return f"expected a mapping, got {_show(value)}", False
        if kind in ("int_type", "int_parsing", "int_from_float"):
            return f"expected an integer, got {_show(value)}", False
        if kind == "finite_number":
            return f"expected a finite number (not .inf or .nan), got {_show(value)}", False
        if kind in ("float_type", "float_parsing"):
            return f"expected a number, got {_show(value)}", False
        if kind in ("bool_type", "bool_parsing"):
            return f"expected true or false, got {_show(value)}", False
        if kind in ("string_type", "string_unicode"):
            return f"expected a string, got {_show(value)}", False
        if kind in ("list_type", "tuple_type", "set_type"):
            return f"expected a list, got {_show(value)}", False
        if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            return f"{_show(value)} is out of range; must be {_bound(ctx)}", False
        if kind == "literal_error":
            return f"{_show(value)} is not allowed; expected {ctx.get('expected')}", False
        if kind in ("too_short", "string_too_short"):
            n = ctx.get("min_length")
            unit = "character" if kind.startswith("string") else "item"
            return f"too short; needs at least {n} {unit}{'s' if n != 1 else ''}", False
        if kind in ("too_long", "string_too_long"):
            n = ctx.get("max_length")
            unit = "character" if kind.startswith("string") else "item"
            return f"too long; at most {n} {unit}{'s' if n != 1 else ''}", False
        if kind == "string_pattern_mismatch":
            return f"{_show(value)} does not match the pattern {ctx.get('pattern')}", False
        if kind == "none_required":
            return f"expected null, got {_show(value)}", False
        if kind in ("no_components", "incompatible_components"):
            return err["msg"], False
        if kind in ("value_error", "assertion_error"):
            text = str(ctx.get("error", err["msg"]))
            return text, False
        # Custom errors (PydanticCustomError) carry their own written-for-people text.
        return err["msg"], False

    def _allowed(self, slot: Any) -> list[str]:
        return [s.name for s in slot.choices(self.registry)] if slot else []

    def unknown_component(self, name: str, path: PathT) -> str:
        slot = self.slot_at(path)
        if slot is None:
            return f"unknown component '{name}'"
        allowed = self._allowed(slot)
        kinds = [k for k in self.registry.kinds_of(name) if k != slot.kind]
        if name in self.registry.names(slot.kind) and slot.attach:
            spec = self.registry.get(slot.kind, name)
            points = " or ".join(spec.config.attaches_to)
            return (
                f"'{name}' is an aux_loss for {points}, not for {slot.attach}; "
                f"aux losses for {slot.attach}: {', '.join(allowed) or '(none)'}"
            )
        label = f"{slot.kind} for '{slot.attach}'" if slot.attach else slot.kind
        if kinds:
            return f"'{name}' is {_a(kinds[0])} component, not {_a(slot.kind)}; allowed: {', '.join(allowed)}"
        hint = suggest(name, allowed)
        extra = f"did you mean {' or '.join(repr(h) for h in hint)}? " if hint else ""
        return f"unknown component '{name}' (kind {label}); {extra}allowed: {', '.join(allowed) or '(none)'}"


def problems_from_validation(
    exc: ValidationError,
    data: Any,
    locs: dict[PathT, NodeLoc],
    model: type[BaseModel],
    registry: Registry,
    root: Location,
    only: Callable[[PathT, str], bool] | None = None,
) -> list[Problem]:
    """Friendly problems for every error of a failed recipe validation.

    ``only(path, error type)``, when given, picks the errors worth a message (checked first:
    building a message walks the schema).
    """
    mapper = _Mapper(model, data, registry)
    out: list[Problem] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        path = user_path(tuple(err["loc"]), data)
        if only is not None and not only(path, str(err["type"])):
            continue
        text, at_key = mapper.message(dict(err), path)
        where = _locate(path, locs, key=at_key, root=root)
        if err["type"] == "union_tag_invalid":
            slot = mapper.slot_at(path)
            tag_path = path + (KINDS[slot.kind].tag if slot else "type",)
            if tag_path in locs:
                where, path = locs[tag_path].value, tag_path
        problem = Problem(where, _dotted(path), text, code=str(err["type"]))
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out
