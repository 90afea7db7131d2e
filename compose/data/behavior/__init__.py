"""Behavior policies for the dataset factory: a tanh-Gaussian actor and the SAC that trains it."""

from __future__ import annotations

from compose.data.behavior.policy import BehaviorPolicy, load_policy, save_policy

__all__ = ["BehaviorPolicy", "load_policy", "save_policy"]
