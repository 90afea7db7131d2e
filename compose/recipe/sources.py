"""Source comments in recipe files: where each value comes from (a paper, code, or "ours").

The rule, checked for shipped recipes by ``tests/recipes/test_recipe_sources.py`` and read
back by ``compose show --sources``:

* A *value* is a scalar or a flow collection (``[256, 256]``, ``{length: 5}``); block
  mappings and block lists are not values, their items are. The items of a flow collection
  share its line.
* Every line on which a value starts carries a trailing comment (``# <source>``) naming its
  source: a paper's table or equation, the reference code, or ``ours: <reason>``.
* Exempt: the top-level ``name``, ``description`` and ``extends``, and component selections
  (a ``type:`` key), which are the recipe's structure rather than numbers.
* A ``per_dataset`` or ``profiles`` table is covered as a whole by a trailing comment on its
  key line (``per_dataset:  # MOPO Table 4``) or by a comment line directly above that key; an
  entry's own trailing comment takes precedence.

Lines are read from the raw text beside the positions the located loader records (a ``#``
that starts a comment is one at the start of a line or after whitespace, outside quotes).
Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from compose.recipe.loader import PathT, load_file
from compose.registry import KINDS

__all__ = ["FileSources", "Missing", "file_sources", "missing_sources", "trailing_comment"]

#: Top-level keys whose values are exempt: the recipe's identity and its parents.
EXEMPT_TOP = ("name", "description", "extends")
#: Top-level tables whose entries a single comment on the table covers.
TABLES = ("per_dataset", "profiles")
_TAGS = frozenset(k.tag for k in KINDS.values())


def trailing_comment(line: str) -> str | None:
    """The text of the comment that ends ``line`` (``None`` when there is none or it is empty).

    A ``#`` starts a comment at the start of the line or after a space or tab, outside single
    or double quotes (YAML's rule for plain scalars, close enough for recipe lines).
    """
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            text = line[i + 1 :].strip()
            return text or None
    return None


def _is_comment_line(line: str) -> bool:
    return line.lstrip().startswith("#")


@dataclass(frozen=True)
class Missing:
    """A value line without a source comment."""

    file: Path
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: no source comment (add '# <source>')"


@dataclass(frozen=True)
class FileSources:
    """The source comments of one recipe file, by line (1-based)."""

    file: Path
    lines: tuple[str, ...]
    #: value path -> line where the value starts, for every value that needs a source.
    values: dict[PathT, int]
    #: line -> (table, entry key) for lines inside a per_dataset / profiles table.
    table_of_line: dict[int, tuple[str, str]]
    #: table -> its covering comment (key line's trailing comment, else the line above).
    table_comment: dict[str, str | None]

    def comment(self, line: int) -> str | None:
        """The trailing comment of ``line``."""
        return trailing_comment(self.lines[line - 1]) if 0 < line <= len(self.lines) else None

    def source(self, line: int) -> str | None:
        """The source of a value starting on ``line``: its comment, else its table's."""
        own = self.comment(line)
        if own is not None:
            return own
        table = self.table_of_line.get(line)
        return self.table_comment.get(table[0]) if table else None

    def missing(self) -> list[Missing]:
        """Every value line with no source, in file order (one entry per line)."""
        out: dict[int, Missing] = {}
        for path, line in self.values.items():
            if line not in out and self.source(line) is None:
                out[line] = Missing(self.file, line, ".".join(map(str, path)))
        return [out[k] for k in sorted(out)]


def _flow(lines: tuple[str, ...], line: int, col: int) -> bool:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return text[col - 1 : col] in ("[", "{")


def _table_comment(lines: tuple[str, ...], key_line: int) -> str | None:
    own = trailing_comment(lines[key_line - 1])
    if own is not None:
        return own
    above = key_line - 1
    if above >= 1 and _is_comment_line(lines[above - 1]):
        return trailing_comment(lines[above - 1])
    return None


def _exempt(path: PathT) -> bool:
    return (len(path) >= 1 and path[0] in EXEMPT_TOP) or (len(path) >= 2 and path[-1] in _TAGS)


def _scan(file: Path) -> FileSources:
    tree = load_file(file)
    lines = tuple(file.read_text(encoding="utf-8").splitlines())
    values: dict[PathT, int] = {}
    table_of_line: dict[int, tuple[str, str]] = {}
    table_comment: dict[str, str | None] = {}
    for path, loc in sorted(tree.locs.items(), key=lambda kv: (kv[1].value.line, kv[1].value.col)):
        if not path:
            continue
        node: Any = tree.data
        for part in path:
            node = node[part]
        line, col = loc.value.line, loc.value.col
        if path[0] in TABLES:
            if len(path) == 1:
                key = loc.key.line if loc.key is not None else line
                table_comment[str(path[0])] = _table_comment(lines, key)
                continue
            table_of_line.setdefault(line, (str(path[0]), str(path[1])))
        inside_flow = any(
            p in values and _flow(lines, values[p], _col(tree.locs, p)) for p in _prefixes(path)
        )
        if inside_flow or _exempt(path):
            continue
        if not isinstance(node, (dict, list)) or _flow(lines, line, col):
            values[path] = line
    return FileSources(file, lines, values, table_of_line, table_comment)


def _prefixes(path: PathT) -> list[PathT]:
    return [path[:i] for i in range(1, len(path))]


def _col(locs: dict[PathT, Any], path: PathT) -> int:
    return locs[path].value.col


@lru_cache(maxsize=64)
def _cached(file: Path, mtime: float) -> FileSources:
    return _scan(file)


def file_sources(file: str | Path) -> FileSources:
    """The source comments of a recipe file (cached while the file is unchanged).

    Raises :class:`~compose.recipe.RecipeError` when the file does not load.
    """
    path = Path(file).resolve()
    return _cached(path, path.stat().st_mtime)


def missing_sources(file: str | Path) -> list[Missing]:
    """The value lines of ``file`` that carry no source comment (see the module's rule)."""
    return file_sources(file).missing()
