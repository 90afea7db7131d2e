"""The training loop: build, model phase, policy phase, checkpoints, evaluation."""

from __future__ import annotations
