"""Reading D4RL-layout ``.hdf5`` files into flat transitions.

Reference: D4RL (Fu et al. 2020) ``get_dataset`` keys: observations, actions, rewards,
terminals, timeouts, next_observations (v2 files; absent in v0/v1 files).
Why: without next_observations, s'_t = s_{t+1} is only known inside an episode; the last
transition of every episode (terminal, timeout, or the file's end) has no known next state
and is dropped — never filled with the next episode's first state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compose.data.arrays import TransitionArrays, split_episodes
from compose.data.errors import DatasetError

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")


def read_d4rl(path: str | Path) -> TransitionArrays:
    """Flat transitions from a D4RL hdf5 file (next_observations used when present)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"D4RL file {str(path)!r} does not exist; check the path")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED_KEYS if k not in f]
            if missing:
                raise DatasetError(
                    f"D4RL file {str(path)!r} lacks {', '.join(missing)}; a D4RL file has "
                    f"{', '.join(REQUIRED_KEYS)}, timeouts and optionally next_observations"
                )
            obs = f["observations"][()]
            act = f["actions"][()]
            rew = f["rewards"][()].reshape(-1)
            term = f["terminals"][()].reshape(-1).astype(np.float32)
            n = len(rew)
            tout = (
                f["timeouts"][()].reshape(-1).astype(np.float32)
                if "timeouts" in f
                else np.zeros(n, dtype=np.float32)
            )
            nxt = f["next_observations"][()] if "next_observations" in f else None
    except OSError as exc:
        raise DatasetError(f"D4RL file {str(path)!r} is not a readable HDF5 file: {exc}") from exc
    lengths = {len(obs), len(act), len(rew), len(term), len(tout)}
    if nxt is not None:
        lengths.add(len(nxt))
    if len(lengths) != 1:
        raise DatasetError(
            f"D4RL file {str(path)!r}: arrays have different lengths "
            f"(observations {len(obs)}, actions {len(act)}, rewards {len(rew)}, "
            f"terminals {len(term)}, timeouts {len(tout)}); the file is truncated or corrupt"
        )
    if nxt is not None:
        starts = split_episodes(obs, nxt, term, tout)
        return TransitionArrays(obs, act, rew, nxt, term, tout, starts)
    # Derive s' = s_{t+1} inside episodes; drop each episode's last transition.
    done = (term > 0) | (tout > 0)
    keep = ~done.copy()
    if n:
        keep[-1] = False
    idx = np.flatnonzero(keep)
    # an episode's new last kept transition (the one before the dropped step) is cut, not ended
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
        starts[1:] = done[:-1]
    last_kept = np.zeros(n, dtype=bool)
    last_kept[:-1] = done[1:] | (np.arange(n - 1) == n - 2)
    new_tout = np.where(last_kept, 1.0, 0.0).astype(np.float32)
    return TransitionArrays(
        obs=obs[idx],
        actions=act[idx],
        rewards=rew[idx],
        next_obs=obs[idx + 1],
        terminals=np.zeros(len(idx), dtype=np.float32),
        timeouts=new_tout[idx],
        episode_starts=starts[idx] | _episode_start_after_drop(starts, keep)[idx],
    )


def _episode_start_after_drop(starts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """True at the first kept index of each episode (an episode of length 1 vanishes)."""
    episode = np.cumsum(starts)
    first = np.zeros_like(keep)
    kept_idx = np.flatnonzero(keep)
    if len(kept_idx):
        ep = episode[kept_idx]
        is_first = np.ones(len(kept_idx), dtype=bool)
        is_first[1:] = ep[1:] != ep[:-1]
        first[kept_idx[is_first]] = True
    return first
