"""Recipe composition: ``extends:``, ``per_dataset:`` tables and ``--set`` overrides.

Every operation works on located trees (:class:`~compose.recipe.loader.Tree`), so each node
of the result still knows where its winning value was written. Problems are collected, not
raised one by one.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from compose.recipe._schema_walk import PathError, SNode, walk
from compose.recipe.errors import (
    Location,
    Problem,
    RecipeError,
    RecipeWarning,
    _display,
    format_path,
)
from compose.recipe.loader import NodeLoc, PathT, Tree, load_file, parse_value
from compose.registry import KINDS, Registry, suggest

__all__ = [
    "Override",
    "apply_entry",
    "apply_overrides",
    "apply_per_dataset",
    "compose_file",
    "deep_merge",
    "find_recipe",
    "parse_override",
    "split_path",
    "value_at",
]

SUFFIXES = (".yaml", ".yml")
#: Longest chain of ``extends:`` (a recipe, its parent, its parent's parent, ...).
MAX_EXTENDS_DEPTH = 32


# ----------------------------------------------------------------------------- merging


def deep_merge(base: Tree, over: Tree) -> Tree:
    """``over`` on top of ``base``: mappings merge recursively, lists and scalars replace.

    A component mapping whose ``type`` differs from the one below replaces it whole.
    """
    data = _merge(base.data, over.data)
    locs = dict(base.locs)
    _merge_locs(base.data, over, (), locs)
    return Tree(data, locs)


def _mergeable(base: Any, over: Any) -> bool:
    """Two mappings merge, unless they select different components (then ``over`` replaces).

    Why: ``critic_target: {type: mixed_min_max}`` over a ``penalized_sac`` must not inherit
    ``beta`` and ``uncertainty``, which the new component does not have.
    """
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return False
    return not any(t in base and t in over and base[t] != over[t] for t in _TAGS)


_TAGS = sorted({k.tag for k in KINDS.values()})


def _merge(base: Any, over: Any) -> Any:
    if _mergeable(base, over):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def _merge_locs(base: Any, over: Tree, path: PathT, locs: dict[PathT, NodeLoc]) -> None:
    if _mergeable(base, over.data):
        if () in over.locs:
            locs[path] = _keep_key(locs.get(path), over.locs[()])
        for key in over.data:
            _merge_locs(base.get(key, _MISSING), over.subtree((key,)), path + (key,), locs)
        return
    _replace_locs(locs, path, over)


_MISSING = object()


def _keep_key(old: NodeLoc | None, new: NodeLoc) -> NodeLoc:
    return NodeLoc(new.value, new.key or (old.key if old else None))


def _replace_locs(locs: dict[PathT, NodeLoc], path: PathT, over: Tree) -> None:
    """Drop every location below ``path`` and put ``over``'s there."""
    n = len(path)
    for p in [p for p in locs if p[:n] == path and len(p) > n]:
        del locs[p]
    old = locs.get(path)
    for p, loc in over.locs.items():
        locs[path + p] = loc
    if () in over.locs:
        locs[path] = _keep_key(old, over.locs[()])


# ----------------------------------------------------------------------------- extends


def _candidates(ref: str, here: Path | None, search: Sequence[Path]) -> list[Path]:
    names = [ref] if ref.endswith(SUFFIXES) else [ref + s for s in SUFFIXES]
    folders = ([here] if here is not None else []) + list(search)
    return [folder / name for folder in folders for name in names]


def _known_names(here: Path | None, search: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for folder in ([here] if here else []) + list(search):
        if folder.is_dir():
            names += [p.stem for p in sorted(folder.iterdir()) if p.suffix in SUFFIXES]
    return names


def find_recipe(ref: str, here: Path | None, search: Sequence[Path]) -> Path | str:
    """The file ``ref`` names (a path relative to ``here``, or a name in ``search``).

    Only ``.yaml``/``.yml`` files are recipes: ``extends: /etc/passwd`` is refused, never
    read. Returns an error message (looked where, did-you-mean) when there is none.
    """
    found = list(dict.fromkeys(p.resolve() for p in _candidates(ref, here, search) if p.is_file()))
    if found:
        if len(found) > 1 and "/" not in ref:
            others = ", ".join(_display(p) for p in found[1:])
            warnings.warn(
                f"recipe '{ref}' is in several recipe folders; using {_display(found[0])}, "
                f"not {others} (search order: the extending recipe's folder, plugins' "
                "folders, ./recipes, compose's recipes)",
                RecipeWarning,
                stacklevel=2,
            )
        return found[0]
    plain = here / ref if here is not None else Path(ref)
    if not ref.endswith(SUFFIXES) and plain.is_file():
        return (
            f"'{ref}' is not a recipe: extends takes a .yaml/.yml file or a recipe name (like mopo)"
        )
    folders = ([here] if here is not None else []) + [p for p in search if p != here]
    looked = ", ".join(_display(f) for f in folders if f.is_dir()) or "(no recipe folders)"
    sub = Path(ref).parent
    if str(sub) not in ("", ".") and here is not None:
        prefix = sub.as_posix().rstrip("/") + "/"
        hint = [prefix + h for h in suggest(Path(ref).stem, _known_names(here / sub, []))]
    else:
        hint = suggest(Path(ref).stem, _known_names(here, search))
    extra = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
    return f"recipe '{ref}' not found (looked in: {looked}){extra}"


def compose_file(path: Path, search: Sequence[Path], problems: list[Problem]) -> Tree | None:
    """Load ``path`` with everything it ``extends:`` merged below it (recursively)."""
    return _compose(path.resolve(), search, problems, ())


def _compose(
    path: Path, search: Sequence[Path], problems: list[Problem], chain: tuple[Path, ...]
) -> Tree | None:
    try:
        tree = load_file(path)
    except RecipeError as exc:
        problems.extend(exc.problems)
        return None
    data: dict[str, Any] = tree.data
    if "extends" not in data:
        return tree
    ext_tree = tree.subtree(("extends",))
    refs = data.pop("extends")
    ext_loc = tree.locs.get(("extends",), NodeLoc(Location(path)))
    tree.locs = {p: v for p, v in tree.locs.items() if p[:1] != ("extends",)}
    if isinstance(refs, str):
        items: list[tuple[str, Location]] = [(refs, ext_loc.value)]
    elif isinstance(refs, list) and all(isinstance(r, str) for r in refs):
        items = [(r, ext_tree.locs[(i,)].value) for i, r in enumerate(refs)]
    else:
        problems.append(
            Problem(ext_loc.value, "extends", "expected a recipe name or a list of recipe names")
        )
        return tree
    merged: Tree | None = None
    for i, (ref, loc) in enumerate(items):
        where = "extends" if isinstance(refs, str) else f"extends.{i}"
        found = find_recipe(ref, path.parent, search)
        if isinstance(found, str):
            problems.append(Problem(loc, where, found))
            continue
        if found in chain or found == path:
            cycle = " -> ".join(p.name for p in (*chain, path, found))
            problems.append(
                Problem(loc, where, f"extends cycle: {cycle}; remove one of these extends")
            )
            continue
        if len(chain) + 1 >= MAX_EXTENDS_DEPTH:
            problems.append(
                Problem(
                    loc,
                    where,
                    f"extends chain longer than {MAX_EXTENDS_DEPTH} recipes (the limit); "
                    f"it starts at {_display(chain[0] if chain else path)}",
                )
            )
            continue
        parent = _compose(found, search, problems, (*chain, path))
        if parent is not None:
            merged = parent if merged is None else deep_merge(merged, parent)
    if merged is None:
        return tree
    _drop_entries_of_replaced(merged, tree)
    return deep_merge(merged, tree)


#: Tables of ``{dotted.path: value}`` entries that a child's component change may orphan.
ENTRY_TABLES = ("per_dataset", "profiles")


def _replaced_slots(base: Any, over: Any, path: PathT = ()) -> dict[PathT, tuple[str, str]]:
    """Paths where ``over`` selects another component than ``base``: path -> (old, new)."""
    out: dict[PathT, tuple[str, str]] = {}
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return out
    for key, value in over.items():
        if key in ENTRY_TABLES and not path or key not in base:
            continue
        below = base[key]
        tag = next((t for t in _TAGS if isinstance(below, dict) and t in below), None)
        if tag is not None:
            new = (
                value
                if isinstance(value, str)
                else value.get(tag)
                if isinstance(value, dict)
                else None
            )
            if isinstance(new, str) and new != below[tag]:
                out[path + (key,)] = (str(below[tag]), new)
                continue
        out.update(_replaced_slots(below, value, path + (key,)))
    return out


def _drop_entries_of_replaced(parents: Tree, child: Tree) -> None:
    """Drop the parents' per_dataset/profiles entries for fields of a component the child
    replaced (``critic_target.beta`` once the child's critic_target is another type), with
    a :class:`RecipeWarning` each: they set fields the new component does not have.
    """
    replaced = _replaced_slots(parents.data, child.data)
    if not replaced:
        return
    for table in ENTRY_TABLES:
        entries = parents.data.get(table)
        if not isinstance(entries, dict):
            continue
        dropped: dict[PathT, list[str]] = {}
        first: dict[PathT, Location] = {}
        for group, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            for dotted in list(entry):
                parts = tuple(_split(dotted))
                hit = next(
                    (p for p in replaced if parts[: len(p)] == p and len(parts) > len(p)), None
                )
                if hit is None:
                    continue
                del entry[dotted]
                where = parents.locs.get((table, group, dotted))
                if where is not None:
                    first.setdefault(hit, where.best)
                for p in [p for p in parents.locs if p[:3] == (table, group, dotted)]:
                    del parents.locs[p]
                dropped.setdefault(hit, []).append(f"{group}: {dotted}")
        for hit, items in dropped.items():
            old, new = replaced[hit]
            at = f" (one at {first[hit]})" if hit in first else ""
            shown = "; ".join(items[:3]) + (
                f"; and {len(items) - 3} more" if len(items) > 3 else ""
            )
            warnings.warn(
                f"{format_path(hit)}: this recipe replaces '{old}' with '{new}', so the "
                f"{len(items)} {table} entr{'y' if len(items) == 1 else 'ies'} of its parents for "
                f"'{old}' fields are dropped{at}: {shown}; give '{new}' its own {table} "
                "entries in this recipe if it needs any",
                RecipeWarning,
                stacklevel=2,
            )


# ----------------------------------------------------------------------------- setting paths


def split_path(dotted: str) -> list[str | int]:
    """``"a.0.b"`` -> ``["a", 0, "b"]``: mapping keys and list indices of a dotted path."""
    return [int(p) if p.isdigit() else p for p in dotted.split(".")]


_split = split_path


def value_at(tree: Any, dotted: str) -> Any:
    """The value at ``dotted`` in a plain tree of dicts and lists; KeyError if it is absent."""
    node = tree
    for part in split_path(dotted):
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        else:
            raise KeyError(dotted)
    return node


def _set(
    tree: Tree,
    parts: Sequence[str | int],
    nodes: list[SNode],
    value: Tree,
    *,
    append: bool,
    origin: Location,
) -> str | None:
    """Set (or append to) ``parts`` in ``tree``; an error message when it cannot be done."""
    data = tree.data
    path: PathT = ()
    for i, part in enumerate(parts[:-1]):
        node = nodes[i + 1]
        child_path = path + (part,)
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                size = len(data) if isinstance(data, list) else 0
                return f"index {part} is out of range ({size} item{'s' if size != 1 else ''})"
            nxt = data[part]
        else:
            if not isinstance(data, dict):
                return f"'{'.'.join(map(str, path))}' is not a mapping"
            nxt = data.get(part)
            if nxt is None:
                nxt = [] if node.kind == "list" else {}
                data[part] = nxt
                tree.locs.setdefault(child_path, NodeLoc(origin, origin))
        if isinstance(nxt, str) and node.kind == "slot" and node.slot is not None:
            nxt = {KINDS[node.slot.kind].tag: nxt}
        if isinstance(part, int):
            data[part] = nxt
        else:
            data[part] = nxt
        data, path = nxt, child_path
    last = parts[-1]
    final = nodes[-1]
    target = path + (last,)
    if append:
        if final.kind != "list":
            return "'+=' appends to a list, but this is not a list; use '='"
        if isinstance(last, int):
            return "'+=' needs the path of a list, not of one of its items"
        if not isinstance(data, dict):
            return "the parent is not a mapping"
        items = data.get(last)
        if items is None:
            items = data[last] = []
            tree.locs[target] = NodeLoc(origin, origin)
        if not isinstance(items, list):
            return "'+=' appends to a list, but the current value is not a list"
        index = len(items)
        items.append(copy.deepcopy(value.data))
        _replace_locs(tree.locs, target + (index,), value)
        return None
    if isinstance(last, int):
        if not isinstance(data, list) or last >= len(data):
            size = len(data) if isinstance(data, list) else 0
            return f"index {last} is out of range ({size} item{'s' if size != 1 else ''}); use '+=' to append"
        data[last] = copy.deepcopy(value.data)
    else:
        if not isinstance(data, dict):
            return "the parent is not a mapping"
        data[last] = copy.deepcopy(value.data)
    _replace_locs(tree.locs, target, value)
    return None


# ----------------------------------------------------------------------------- overrides


class Override:
    """One ``--set path=value`` (or ``path+=value``) argument."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.location = Location(override=text)
        self.error: str | None = None
        self.append = False
        self.parts: list[str | int] = []
        self.value: Tree | None = None
        if "=" not in text:
            self.error = "expected path=value (or path+=value to append to a list)"
            return
        left, raw = text.split("=", 1)
        if left.endswith("+"):
            self.append, left = True, left[:-1]
        left = left.strip()
        if not left or any(p == "" for p in left.split(".")):
            self.error = "expected a dotted path before '=' (like critic.lr=3e-4)"
            return
        self.parts = _split(left)
        try:
            self.value = parse_value(raw, text)
        except RecipeError as exc:
            self.error = "; ".join(p.message for p in exc.problems)

    @property
    def path(self) -> str:
        """The dotted path this override sets."""
        return ".".join(str(p) for p in self.parts)


def parse_override(text: str) -> Override:
    """Parse one ``--set`` argument."""
    return Override(text)


def apply_overrides(
    tree: Tree,
    overrides: Sequence[Override],
    model: type[BaseModel],
    registry: Registry,
    problems: list[Problem] | None,
) -> None:
    """Apply overrides in order, checking each path against the schema."""
    for ov in overrides:
        message = ov.error
        if message is None and ov.value is not None:
            try:
                nodes = walk(model, tree.data, ov.parts, registry)
            except PathError as exc:
                message = exc.message
            else:
                message = _set(
                    tree, ov.parts, nodes, ov.value, append=ov.append, origin=ov.location
                )
        if message is not None and problems is not None:
            problems.append(Problem(ov.location, ov.path, message))


def apply_entry(
    tree: Tree, dotted: str, value: Tree, model: type[BaseModel], registry: Registry
) -> bool:
    """Set one ``{dotted.path: value}`` entry (of per_dataset or profiles) in ``tree``;
    False when its path is not in the schema (reported elsewhere)."""
    parts = _split(dotted)
    try:
        nodes = walk(model, tree.data, parts, registry)
    except PathError:
        return False
    loc = value.locs.get((), NodeLoc(Location())).value
    return _set(tree, parts, nodes, value, append=False, origin=loc) is None


def apply_per_dataset(
    tree: Tree,
    table: Tree,
    dataset_id: str | None,
    check_against: Any,
    model: type[BaseModel],
    registry: Registry,
    problems: list[Problem],
) -> None:
    """Check every ``per_dataset`` entry's paths, then apply the entry for ``dataset_id``.

    ``check_against`` is the data tree that selects component types while checking paths.
    """
    root_loc = table.locs.get((), NodeLoc(Location())).value
    if not isinstance(table.data, dict):
        problems.append(
            Problem(
                root_loc, "per_dataset", "expected a mapping of dataset id -> {dotted.path: value}"
            )
        )
        return
    for ds, entry in table.data.items():
        entry_loc = table.locs.get((ds,), NodeLoc(root_loc)).value
        if not isinstance(entry, dict):
            problems.append(
                Problem(entry_loc, f"per_dataset.{ds}", "expected a mapping of dotted.path: value")
            )
            continue
        for dotted in entry:
            loc = table.locs.get((ds, dotted), NodeLoc(entry_loc))
            parts = _split(dotted)
            try:
                nodes = walk(model, check_against, parts, registry)
            except PathError as exc:
                problems.append(Problem(loc.best, f"per_dataset.{ds}.{dotted}", exc.message))
                continue
            if ds != dataset_id:
                continue
            value = table.subtree((ds, dotted))
            message = _set(tree, parts, nodes, value, append=False, origin=loc.value)
            if message is not None:
                problems.append(Problem(loc.best, f"per_dataset.{ds}.{dotted}", message))
