"""Fixtures of the sweep tests: the tiny dataset store and the tiny-run overrides (tests/train)."""

from __future__ import annotations

from tests.helpers.runs import env, tiny_sets

__all__ = ["env", "tiny_sets"]
