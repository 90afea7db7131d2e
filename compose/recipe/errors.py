"""Recipe errors for people: where (file:line:col or ``--set ...``), which path, what to do.

Every stage (YAML, composition, validation) collects :class:`Problem` objects instead of
stopping at the first; :class:`RecipeError` carries them all.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Location", "Problem", "RecipeError", "RecipeWarning", "format_path"]


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file position (1-based) or a ``--set`` override."""

    file: Path | None = None
    line: int = 1
    col: int = 1
    override: str | None = None

    def __str__(self) -> str:
        if self.override is not None:
            return f"--set {self.override}"
        if self.file is None:
            return ""
        return f"{_display(self.file)}:{self.line}:{self.col}"


def _display(path: Path) -> str:
    """A path relative to the working directory when it lies below it, else absolute."""
    return _relative(str(path), os.getcwd())


@functools.lru_cache(maxsize=256)
def _relative(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``('critic', 'aux_losses', 0, 'weight')`` -> ``critic.aux_losses.0.weight``."""
    return ".".join(str(p) for p in path)


@dataclass(frozen=True)
class Problem:
    """One error: where it is, the dotted path in the recipe tree, and the message."""

    location: Location
    path: str
    message: str
    #: What kind of error (pydantic's error type for validation errors); not printed.
    code: str = field(default="", compare=False)

    def __str__(self) -> str:
        parts = [str(self.location), self.path, self.message]
        return ": ".join(p for p in parts if p)

    def sort_key(self) -> tuple[bool, str, int, int]:
        """File problems in file order, then ``--set`` problems."""
        loc = self.location
        return (loc.override is not None, str(loc.file or ""), loc.line, loc.col)


class RecipeWarning(UserWarning):
    """Something about a recipe the user should know that does not stop it (a name that
    two recipe folders hold, a per_dataset entry dropped with the component it set).
    The CLI prints it as one ``warning:`` line."""


class RecipeError(Exception):
    """A recipe that cannot be used; ``problems`` lists every error found, in order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem, as printed by the CLI."""
        return [str(p) for p in self.problems]
