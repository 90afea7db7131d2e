"""The tracking interface: params / metrics / close, a null tracker and a never-failing guard.

Why: training must never die because tracking did (a full disk under ``.aim``, an Aim server
that went away). :class:`SafeTracker` turns every tracker error into one warning on stderr
and carries on without tracking.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["NullTracker", "SafeTracker", "Tracker"]


@runtime_checkable
class Tracker(Protocol):
    """Where a run's parameters and metrics go. ``run_hash`` identifies the run, if any."""

    run_hash: str | None

    def params(self, params: Mapping[str, Any]) -> None:
        """Record run parameters (nested dicts allowed)."""

    def metrics(
        self, values: Mapping[str, float], step: int, context: Mapping[str, Any] | None = None
    ) -> None:
        """Record scalar metrics at ``step``."""

    def close(self) -> None:
        """Flush and release the run."""


class NullTracker:
    """Records nothing (``--no-track`` or ``track.backend: none``)."""

    run_hash: str | None = None

    def params(self, params: Mapping[str, Any]) -> None:
        """Ignore."""

    def metrics(
        self, values: Mapping[str, float], step: int, context: Mapping[str, Any] | None = None
    ) -> None:
        """Ignore."""

    def close(self) -> None:
        """Nothing to release."""


class SafeTracker:
    """Wraps a tracker so that its failures are reported once and never raised."""

    def __init__(self, inner: Tracker, stream: Any = None) -> None:
        self.inner = inner
        self.failed = False
        self._stream = stream

    @property
    def run_hash(self) -> str | None:
        """The wrapped tracker's run hash (None once it failed to start)."""
        try:
            return self.inner.run_hash
        except Exception:
            return None

    def _guard(self, what: str, fn: Any, *args: Any) -> None:
        if self.failed:
            return
        try:
            fn(*args)
        except Exception as exc:  # tracking must never stop training
            self.failed = True
            stream = self._stream or sys.stderr
            print(
                f"warning: tracking failed in {what} ({type(exc).__name__}: {exc}); "
                "training continues without tracking",
                file=stream,
            )

    def params(self, params: Mapping[str, Any]) -> None:
        """Record params unless tracking has failed."""
        self._guard("params", self.inner.params, params)

    def metrics(
        self, values: Mapping[str, float], step: int, context: Mapping[str, Any] | None = None
    ) -> None:
        """Record metrics unless tracking has failed."""
        self._guard("metrics", self.inner.metrics, values, step, context)

    def close(self) -> None:
        """Close the wrapped tracker (errors reported, not raised)."""
        failed, self.failed = self.failed, False
        self._guard("close", self.inner.close)
        self.failed = self.failed or failed
