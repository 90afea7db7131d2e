"""Run tracking behind a small interface: Aim for real runs, a null tracker for ``--no-track``."""

from __future__ import annotations

from typing import Any

from compose.track.base import NullTracker, SafeTracker, Tracker

__all__ = ["AimTracker", "NullTracker", "SafeTracker", "Tracker", "git_commit", "make_tracker"]


def __getattr__(name: str) -> Any:
    """Import the Aim tracker lazily (aim is slow to import)."""
    if name in ("AimTracker", "git_commit"):
        from compose.track import aim_tracker

        return getattr(aim_tracker, name)
    raise AttributeError(f"module 'compose.track' has no attribute {name!r}")


def make_tracker(
    track: Any,
    experiment: str,
    *,
    enabled: bool = True,
    run_hash: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
) -> SafeTracker:
    """The tracker a recipe's ``track`` section asks for, wrapped so it never raises.

    ``tags`` are added to the recipe's ``track.tags`` (the run adds its recipe name and
    dataset id, so Aim's UI filters by them with one click).

    A tracker that cannot even start (bad server address) becomes a null tracker with a
    warning on stderr.
    """
    if not enabled or track.backend == "none":
        return SafeTracker(NullTracker())
    from compose.track.aim_tracker import AimTracker

    holder = SafeTracker(NullTracker())
    trackers: list[Any] = []
    holder._guard(
        "start",
        lambda: trackers.append(
            AimTracker(
                track.repo,
                track.experiment or experiment,
                run_hash,
                list(dict.fromkeys([*track.tags, *tags])),
            )
        ),
    )
    return SafeTracker(trackers[0]) if trackers else holder
