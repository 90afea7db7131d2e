"""Golden tests: every invalid recipe in tests/recipes/invalid fails with exactly its message.

Each ``<case>.yaml`` has ``<case>.expected`` (the error lines, paths relative to that folder)
and optionally ``<case>.set`` (one ``--set`` argument per line). A change in wording, in
position or in pydantic's error types shows up here first (pydantic's minor version is pinned).
Regenerate after a deliberate change with ``COMPOSE_REGEN_GOLDEN=1 pytest tests/recipes``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compose.recipe import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[2]
INVALID = Path(__file__).parent / "invalid"
VALID = Path(__file__).parent / "valid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))


def _errors(case: str, plugins) -> str:  # noqa: ANN001
    sets = INVALID / f"{case}.set"
    overrides = sets.read_text().splitlines() if sets.exists() else []
    with pytest.raises(RecipeError) as info:
        load_recipe(INVALID / f"{case}.yaml", overrides, plugins=plugins)
    text = "\n".join(info.value.lines()) + "\n"
    return text.replace(str(ROOT), "<repo>")  # machine-independent golden files


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_invalid_recipe(case: str, test_plugins, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(INVALID)
    got = _errors(case, test_plugins)
    expected = INVALID / f"{case}.expected"
    if os.environ.get("COMPOSE_REGEN_GOLDEN") == "1":
        expected.write_text(got)
    assert expected.exists(), f"missing golden file {expected.name}"
    assert got == expected.read_text()


@pytest.mark.parametrize("case", CASES)
def test_every_line_names_a_place(case: str, test_plugins, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """file:line:col (or the --set override) starts every line: no bare messages."""
    monkeypatch.chdir(INVALID)
    for line in _errors(case, test_plugins).splitlines():
        head = line.split(": ", 1)[0]
        assert head.startswith("--set ") or head.count(":") == 2, line


@pytest.mark.parametrize("path", sorted(VALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_recipe(path: Path, test_plugins) -> None:  # noqa: ANN001
    loaded = load_recipe(path, plugins=test_plugins)
    assert loaded.recipe.name
    assert len(loaded.hash) == 64
