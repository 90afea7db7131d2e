"""Shared fixtures of the engine tests: a private Minari store with the tiny pendulum dataset."""

from __future__ import annotations

from tests.helpers.runs import env

__all__ = ["env"]
