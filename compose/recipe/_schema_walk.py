"""Walk the recipe schema along a dotted path (for ``--set``, ``per_dataset`` and messages).

Component slots are resolved through the data tree: ``critic_target.beta`` is checked against
the config of the component named by ``critic_target.type`` (or, when that is unknown, any
component of the slot's kind that has the field).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel

from compose.registry import KINDS, ComponentConfig, Registry, Slot, suggest

__all__ = ["PathError", "SNode", "describe", "field_node", "slot_config", "type_name", "walk"]


@dataclass(frozen=True)
class SNode:
    """A schema node: a model (section or component), a slot, a list, a dict or a scalar."""

    kind: Literal["model", "slot", "list", "dict", "scalar"]
    model: type[BaseModel] | None = None
    slot: Slot | None = None
    item: SNode | None = None
    annotation: Any = None


class PathError(Exception):
    """A dotted path that does not exist in the schema; ``index`` is the failing part."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def describe(annotation: Any, metadata: Sequence[Any] = ()) -> SNode:
    """The schema node of a type annotation (with pydantic field metadata)."""
    for m in metadata:
        if isinstance(m, Slot):
            return SNode("slot", slot=m, annotation=annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe(args[0], list(args[1:]) + list(metadata))
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            node = describe(rest[0])
            return SNode(node.kind, node.model, node.slot, node.item, annotation)
        return SNode("scalar", annotation=annotation)
    if origin in (list, tuple, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str
    ):
        return SNode(
            "list", item=describe(args[0]) if args else SNode("scalar"), annotation=annotation
        )
    if origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return SNode(
            "dict",
            item=describe(args[1]) if len(args) == 2 else SNode("scalar"),
            annotation=annotation,
        )
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if issubclass(annotation, ComponentConfig) and annotation is ComponentConfig:
            return SNode("scalar", annotation=annotation)
        return SNode("model", model=annotation, annotation=annotation)
    return SNode("scalar", annotation=annotation)


def field_node(model: type[BaseModel], name: str) -> SNode:
    """The schema node of one field of a model."""
    info = model.model_fields[name]
    return describe(info.annotation, info.metadata)


def type_name(annotation: Any) -> str:
    """A short human name for a type annotation: ``int``, ``float or null``, ``list of int``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        if issubclass(annotation, ComponentConfig):
            return "component"
        if issubclass(annotation, BaseModel):
            return "mapping"
        return annotation.__name__
    return str(annotation)


def slot_config(slot: Slot, data: Any, registry: Registry) -> type[ComponentConfig] | None:
    """The config class the data selects in a slot (``None`` when the tag is unknown)."""
    tag = KINDS[slot.kind].tag
    name = data if isinstance(data, str) else data.get(tag) if isinstance(data, dict) else None
    for spec in slot.choices(registry):
        if spec.name == name:
            return spec.config
    return None


def _slot_label(slot: Slot) -> str:
    return f"{slot.kind} for '{slot.attach}'" if slot.attach else slot.kind


def walk(
    root: type[BaseModel], data: Any, parts: Sequence[str | int], registry: Registry
) -> list[SNode]:
    """The schema nodes along ``parts`` (the root first); :class:`PathError` if it leaves the schema."""
    node = SNode("model", model=root)
    nodes = [node]
    for i, part in enumerate(parts):
        where = ".".join(str(p) for p in parts[:i]) or "the recipe"
        if node.kind == "model" and node.model is not None:
            fields = list(node.model.model_fields)
            if part not in fields:
                hint = suggest(str(part), fields)
                extra = f"; did you mean '{hint[0]}'?" if hint else f"; fields: {', '.join(fields)}"
                raise PathError(f"unknown field '{part}' in {where}{extra}", i)
            node = field_node(node.model, str(part))
        elif node.kind == "slot" and node.slot is not None:
            slot = node.slot
            tag = KINDS[slot.kind].tag
            if part == tag:
                node = SNode("scalar", annotation=str)
            else:
                config = slot_config(slot, data, registry)
                candidates = [config] if config else [s.config for s in slot.choices(registry)]
                owner = next((c for c in candidates if part in c.model_fields), None)
                if owner is None:
                    if config is not None:
                        fields = [f for f in config.model_fields if f != tag]
                        hint = suggest(str(part), fields)
                        extra = (
                            f"; did you mean '{hint[0]}'?"
                            if hint
                            else f"; fields: {', '.join(fields) or '(none)'}"
                        )
                        raise PathError(
                            f"{slot.kind} '{config.component_name()}' has no field '{part}'{extra}",
                            i,
                        )
                    raise PathError(f"no {_slot_label(slot)} component has a field '{part}'", i)
                node = field_node(owner, str(part))
        elif node.kind == "list" and node.item is not None:
            if not (isinstance(part, int) or str(part).isdigit()):
                raise PathError(f"{where} is a list: address its items by index ({where}.0)", i)
            part = int(part)
            node = node.item
            data = data[part] if isinstance(data, list) and part < len(data) else None
            nodes.append(node)
            continue
        elif node.kind == "dict" and node.item is not None:
            node = node.item
        else:
            raise PathError(
                f"{where} is a value ({type_name(node.annotation)}); it has no field '{part}'", i
            )
        data = data.get(part) if isinstance(data, dict) else None
        if isinstance(data, str) and node.kind == "slot":
            data = {KINDS[node.slot.kind].tag: data} if node.slot else data
        nodes.append(node)
    return nodes
