"""Safe YAML loading that keeps file:line:column for every node.

The YAML is parsed into ruamel.yaml's node graph and converted by hand into plain Python
(dicts, lists, str, int, float, bool, None), recording a :class:`NodeLoc` for every path.
Only YAML's core tags are accepted: ``!!python/...`` and any custom tag is an error, never an
object. Duplicate keys are errors naming both positions.

Hostile input is refused before it costs time or memory: a file over :data:`MAX_BYTES`, a
document nested deeper than :data:`MAX_DEPTH`, and one that holds more than
:data:`MAX_VALUES` values once its aliases are expanded (a "billion laughs" recipe is refused
at the alias that passes the limit, after composing at most that many nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compose.recipe.errors import Location, Problem, RecipeError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "NodeLoc",
    "Tree",
    "excerpt",
    "load_file",
    "load_text",
    "parse_value",
]

#: Largest recipe file read (bytes); the shipped recipes are under 6 KiB.
MAX_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists in one document (the shipped recipes use 5).
MAX_DEPTH = 64
#: Most values (scalars, mappings, lists, keys included) in one document, aliases expanded
#: (the largest shipped recipe holds about 300).
MAX_VALUES = 5_000

PathT = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}


@dataclass(frozen=True)
class NodeLoc:
    """Where a node's key (for mapping entries) and its value start."""

    value: Location
    key: Location | None = None

    @property
    def best(self) -> Location:
        """The key's position when there is one (where the user wrote the name), else the value's."""
        return self.key or self.value


@dataclass
class Tree:
    """A plain data tree and the location of every path in it."""

    data: Any
    locs: dict[PathT, NodeLoc] = field(default_factory=dict)

    def subtree(self, path: PathT) -> Tree:
        """The part below ``path`` with paths re-rooted at it."""
        data: Any = self.data
        for part in path:
            data = data[part]
        n = len(path)
        return Tree(data, {p[n:]: loc for p, loc in self.locs.items() if p[:n] == path})


class _Builder:
    """Turns a node graph into a :class:`Tree`, collecting problems."""

    def __init__(self, file: Path | None, override: str | None, yaml: YAML) -> None:
        self.file = file
        self.override = override
        self.constructor = yaml.constructor
        self.problems: list[Problem] = []
        self.locs: dict[PathT, NodeLoc] = {}

    def loc(self, node: Node) -> Location:
        if self.override is not None:
            return Location(override=self.override)
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def error(self, node: Node, path: PathT, message: str) -> None:
        self.problems.append(Problem(self.loc(node), _dotted(path), message))

    def build(self, node: Node, path: PathT) -> Any:
        tag = node.tag or ""
        if tag.startswith(f"{_CORE}python/") or tag.startswith("!!python/"):
            self.error(
                node,
                path,
                f"python tag '{_short(tag)}' is not allowed; recipes hold plain data only",
            )
            return None
        if isinstance(node, MappingNode):
            if tag != f"{_CORE}map":
                return self._bad_tag(node, path, tag)
            return self.mapping(node, path)
        if isinstance(node, SequenceNode):
            if tag != f"{_CORE}seq":
                return self._bad_tag(node, path, tag)
            return [self._item(child, path + (i,)) for i, child in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            if tag == f"{_CORE}timestamp":  # a date is kept as the text the user wrote
                return node.value
            if tag not in _SCALAR_TAGS:
                return self._bad_tag(node, path, tag)
            return self.constructor.construct_object(node, deep=True)
        return self._bad_tag(node, path, tag)

    def _item(self, node: Node, path: PathT) -> Any:
        self.locs[path] = NodeLoc(self.loc(node))
        return self.build(node, path)

    def _bad_tag(self, node: Node, path: PathT, tag: str) -> None:
        self.error(
            node,
            path,
            f"tag '{_short(tag)}' is not allowed; use plain YAML values "
            "(mappings, lists, strings, numbers, booleans, null)",
        )
        return None

    def mapping(self, node: MappingNode, path: PathT) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_CORE}merge":
                self.error(
                    key_node, path, "YAML merge keys ('<<') are not supported; use 'extends:'"
                )
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                self.error(key_node, path, "a mapping key must be a plain string")
                continue
            key = str(self.constructor.construct_object(key_node, deep=True))
            if key in seen:
                first = self.loc(seen[key])
                self.error(
                    key_node,
                    path + (key,),
                    f"duplicate key '{key}' (first defined at {first}); keep only one",
                )
                continue
            seen[key] = key_node
            child = path + (key,)
            self.locs[child] = NodeLoc(self.loc(value_node), self.loc(key_node))
            out[key] = self.build(value_node, child)
        return out


class _LimitError(Exception):
    """A document over a limit, at the mark where it passed it."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedComposer(Composer):  # type: ignore[misc]
    """ruamel's composer with a depth limit and a count of values with aliases expanded.

    Why: the node graph shares an anchored node between its aliases, so composing is
    linear, but converting it to plain data expands every alias (exponential in nesting).
    Counting expanded sizes here refuses such documents before anything is expanded.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self.values = 0
        self.nesting = 0
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:
                raise _LimitError(
                    event.start_mark,
                    f"alias '*{event.anchor}' refers to a mapping or list that contains it; "
                    "recipes cannot be recursive",
                )
            self.values += size
            if self.values > MAX_VALUES:
                raise _LimitError(
                    event.start_mark,
                    f"alias '*{event.anchor}' expands to {size} values, which takes the recipe "
                    f"past {MAX_VALUES} values (the limit, aliases expanded); write fewer values",
                )
            return node
        event = self.parser.peek_event()
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise _LimitError(
                event.start_mark,
                f"nested more than {MAX_DEPTH} levels deep (the limit); flatten this structure",
            )
        before = self.values
        node = super().compose_node(parent, index)
        self.nesting -= 1
        self.values += 1
        self.sizes[id(node)] = self.values - before
        if self.values > MAX_VALUES:
            raise _LimitError(
                event.start_mark,
                f"the recipe holds more than {MAX_VALUES} values (the limit, aliases expanded)",
            )
        return node


def excerpt(text: str, limit: int = 40) -> str:
    """``repr`` of at most ``limit`` characters of ``text``: what errors may echo of a file."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _dotted(path: PathT) -> str:
    return ".".join(str(p) for p in path)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True  # detected (with both positions) by _Builder
    yaml.Composer = _BoundedComposer
    return yaml


def load_text(text: str, file: Path | None = None, *, override: str | None = None) -> Tree:
    """Parse YAML text into a located :class:`Tree`; :class:`RecipeError` on any problem.

    An empty document loads as ``None`` (callers decide whether that is an error).
    """
    yaml = _yaml()
    try:
        node = yaml.compose(text)
    except _LimitError as exc:
        mark = exc.mark
        where = (
            Location(override=override)
            if override is not None
            else Location(file, mark.line + 1, mark.column + 1)
        )
        raise RecipeError([Problem(where, "", exc.message)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (
            Location(override=override)
            if override is not None
            else Location(file, mark.line + 1, mark.column + 1)
            if mark is not None
            else Location(file)
        )
        what = ": ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            what += f" (the construct starts on line {exc.context_mark.line + 1})"
        raise RecipeError([Problem(where, "", f"YAML syntax error: {what}")]) from None
    except YAMLError as exc:
        where = Location(override=override) if override is not None else Location(file)
        raise RecipeError([Problem(where, "", f"YAML error: {exc}")]) from None
    if node is None:
        return Tree(None)
    builder = _Builder(file, override, yaml)
    builder.locs[()] = NodeLoc(builder.loc(node))
    data = builder.build(node, ())
    if builder.problems:
        raise RecipeError(builder.problems)
    return Tree(data, builder.locs)


def load_file(path: Path) -> Tree:
    """Load a recipe file: it must exist, be non-empty and hold a mapping at the top."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RecipeError(
            [Problem(Location(path), "", f"cannot read recipe: {exc.strerror}")]
        ) from None
    if len(raw) > MAX_BYTES:
        raise RecipeError(
            [
                Problem(
                    Location(path),
                    "",
                    f"recipe is larger than {MAX_BYTES // 1024} KiB (the limit); "
                    "a recipe holds settings, not data",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError([Problem(Location(path), "", "recipe is not UTF-8 text")]) from None
    tree = load_text(text, path)
    if tree.data is None:
        raise RecipeError(
            [
                Problem(
                    Location(path),
                    "",
                    "recipe is empty; a recipe is a mapping such as 'name: my-run'",
                )
            ]
        )
    if not isinstance(tree.data, dict):
        kind = "a list" if isinstance(tree.data, list) else f"a {type(tree.data).__name__}"
        raise RecipeError(
            [
                Problem(
                    tree.locs[()].value,
                    "",
                    f"the top of a recipe must be a mapping of keys to values, not {kind}",
                )
            ]
        )
    return tree


def parse_value(text: str, override: str) -> Tree:
    """Parse a ``--set`` value as a YAML scalar or flow collection, located at the override.

    An empty value is the empty string.
    """
    if text.strip() == "":
        return Tree("", {(): NodeLoc(Location(override=override))})
    tree = load_text(text, override=override)
    return tree
