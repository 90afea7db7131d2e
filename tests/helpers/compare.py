"""The comparison tests' tiny runs: which recipes, which seeds (tests/compare/conftest.py)."""

from __future__ import annotations

RECIPES = ("mopo", "vipo_mopo")
#: Each recipe's seeds (different ones, so the two recipes' tiny curves do not coincide).
SEEDS = {"mopo": (0, 1), "vipo_mopo": (2, 3)}
