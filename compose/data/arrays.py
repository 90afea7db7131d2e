"""Flat numpy transitions and their checks: the form every source produces before tensors.

Why: sources only read files into :class:`TransitionArrays`; validation, episode statistics
and the conversion to torch are written once, vectorized (no per-transition Python loops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compose.data.errors import DatasetError

ACTION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class TransitionArrays:
    """Flat transitions [N, ...]; episodes are contiguous, ``episode_starts`` marks their firsts."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    episode_starts: np.ndarray

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of every episode (complete or cut), [n_episodes]."""
        starts = np.flatnonzero(self.episode_starts)
        if len(starts) == 0:
            return np.zeros(0)
        return np.add.reduceat(self.rewards.astype(np.float64), starts)

    def episode_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) index arrays; episode k is [starts[k], ends[k])."""
        starts = np.flatnonzero(self.episode_starts)
        ends = np.append(starts[1:], len(self))
        return starts, ends


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_arrays(
    name: str,
    arrays: TransitionArrays,
    obs_shape: tuple[int, ...],
    action_low: np.ndarray,
    action_high: np.ndarray,
    tolerance: float = ACTION_TOLERANCE,
) -> None:
    """Raise :class:`DatasetError` on the first problem: empty, shapes, NaN/inf, action bounds."""
    n = len(arrays)
    if n == 0:
        raise DatasetError(
            f"dataset {name!r} is empty (0 transitions); check the file or make it again "
            "(compose data make ENV QUALITY)"
        )
    act_shape = tuple(np.shape(action_low))
    for field, expected in (
        ("obs", (n, *obs_shape)),
        ("next_obs", (n, *obs_shape)),
        ("actions", (n, *act_shape)),
        ("rewards", (n,)),
        ("terminals", (n,)),
        ("timeouts", (n,)),
        ("episode_starts", (n,)),
    ):
        got = getattr(arrays, field).shape
        if got != expected:
            raise DatasetError(
                f"dataset {name!r}: {field} has shape {got}, expected {expected} "
                f"(env observation shape {obs_shape}, action shape {act_shape}); "
                "is the dataset for a different env or env version?"
            )
    f32_max = float(np.finfo(np.float32).max)
    for field in ("obs", "next_obs", "actions", "rewards", "terminals", "timeouts"):
        values = getattr(arrays, field).reshape(n, -1)
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            i = _first_bad(bad)
            raise DatasetError(
                f"dataset {name!r}: {field} has a NaN or inf value at index {i} "
                f"(first of {int(bad.sum())}); clean or drop those transitions"
            )
        big = (np.abs(values) > f32_max).any(axis=1)
        if big.any():
            i = _first_bad(big)
            raise DatasetError(
                f"dataset {name!r}: {field} at index {i} is beyond float32's range "
                f"(|x| <= {f32_max:.4g}; training is float32, so it would become inf; first "
                f"of {int(big.sum())}); clean or rescale those transitions"
            )
    for field in ("terminals", "timeouts"):
        values = getattr(arrays, field)
        bad = (values != 0) & (values != 1)
        if bad.any():
            i = _first_bad(bad)
            raise DatasetError(
                f"dataset {name!r}: {field} at index {i} is {values[i].item()!r}, expected 0 "
                f"or 1 (first of {int(bad.sum())}); fix the flags"
            )
    low = np.asarray(action_low) - tolerance
    high = np.asarray(action_high) + tolerance
    out = ((arrays.actions < low) | (arrays.actions > high)).any(axis=1)
    if out.any():
        i = _first_bad(out)
        raise DatasetError(
            f"dataset {name!r}: action at index {i} is outside the action bounds "
            f"[{np.asarray(action_low).tolist()}, {np.asarray(action_high).tolist()}] "
            f"(tolerance {tolerance}): {arrays.actions[i].tolist()}; "
            f"{int(out.sum())} actions are out of bounds — clip them or check the env id"
        )
    if not arrays.episode_starts[0]:
        raise DatasetError(f"dataset {name!r}: episode_starts[0] must be True (internal error)")


def split_episodes(
    obs: np.ndarray,
    next_obs: np.ndarray,
    terminals: np.ndarray,
    timeouts: np.ndarray,
) -> np.ndarray:
    """Episode starts from done flags and from discontinuities next_obs[t] != obs[t+1].

    Why: D4RL files do not always have timeouts where an episode's chain of states breaks;
    splitting there keeps every Minari episode a true chain of states.
    """
    n = len(obs)
    starts = np.zeros(n, dtype=bool)
    if n == 0:
        return starts
    starts[0] = True
    done = (terminals > 0) | (timeouts > 0)
    broken = np.any(next_obs[:-1] != obs[1:], axis=tuple(range(1, obs.ndim)))
    starts[1:] = done[:-1] | broken
    return starts
