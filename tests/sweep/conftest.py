"""Fixtures of the sweep tests: the tiny dataset store and the tiny-run overrides (tests/train)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.runs import env, tiny

__all__ = ["env", "tiny_sets"]


def tiny_sets(tmp: Path) -> list[str]:
    """test_run_cli's tiny overrides as ``path=value`` strings, without its track.repo.

    Why without: a sweep logs every run to its own repo (``DIR/aim``) unless told otherwise.
    """
    args = tiny(tmp)
    values = args[1::2]
    return [v for v in values if not v.startswith("track.repo=")]
