"""Reading D4RL-layout ``.hdf5`` files into flat transitions.

Reference: D4RL (Fu et al. 2020) ``get_dataset`` keys: observations, actions, rewards,
terminals, timeouts, next_observations (v2 files; absent in v0/v1 files).
Why: without next_observations, s'_t = s_{t+1} is only known inside an episode. A terminal
transition is kept (as D4RL's own ``qlearning_dataset`` keeps it): its target is r_t alone,
so s'_t is never used by the critic; it is filled with s_t (not with the next episode's
first state, as ``qlearning_dataset`` does, which would teach the dynamics model a jump to a
reset). The last transition of an episode cut by a timeout or by the file's end has no known
next state and is dropped. Unlike ``qlearning_dataset``, a terminal on the file's last row is
kept too.
Every key is checked as read (the key and the first bad index are named): values must be
finite and fit float32 (training is in float32, so a larger float64 would become inf), and
terminals/timeouts must be 0 or 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compose.data.arrays import TransitionArrays, split_episodes
from compose.data.errors import DatasetError

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")
FLAG_KEYS = ("terminals", "timeouts")
_F32_MAX = float(np.finfo(np.float32).max)


def read_d4rl(path: str | Path) -> TransitionArrays:
    """Flat transitions from a D4RL hdf5 file (next_observations used when present)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"D4RL file {str(path)!r} does not exist; check the path")
    raw = _read_keys(path)
    for key, values in raw.items():
        _check_values(path, key, values)
    obs, act = raw["observations"], raw["actions"]
    rew = raw["rewards"].reshape(-1)
    term = raw["terminals"].reshape(-1).astype(np.float32)
    n = len(rew)
    tout = (
        raw["timeouts"].reshape(-1).astype(np.float32)
        if "timeouts" in raw
        else np.zeros(n, dtype=np.float32)
    )
    nxt = raw.get("next_observations")
    lengths = {
        "observations": len(obs),
        "actions": len(act),
        "rewards": len(rew),
        "terminals": len(term),
        "timeouts": len(tout),
    }
    if nxt is not None:
        lengths["next_observations"] = len(nxt)
    if len(set(lengths.values())) != 1:
        expected = lengths["observations"]
        odd = ", ".join(f"{k} has {v}" for k, v in lengths.items() if v != expected)
        raise DatasetError(
            f"D4RL file {str(path)!r}: {odd} rows where observations has {expected} "
            f"(all lengths: {', '.join(f'{k} {v}' for k, v in lengths.items())}); every key "
            "needs one row per transition: the file is truncated or corrupt, export it again"
        )
    if nxt is not None:
        starts = split_episodes(obs, nxt, term, tout)
        return TransitionArrays(obs, act, rew, nxt, term, tout, starts)
    return _derive_next(obs, act, rew, term, tout)


def _read_keys(path: Path) -> dict[str, np.ndarray]:
    """Every key of the D4RL layout present in the file, read whole.

    Why the broad except: a damaged file fails inside h5py/HDF5 with OSError, KeyError,
    RuntimeError, ValueError or TypeError depending on which byte is wrong; all of them mean
    the same thing to the user.
    """
    import h5py

    key = "(file header)"
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED_KEYS if k not in f]
            if missing:
                raise DatasetError(
                    f"D4RL file {str(path)!r} lacks {', '.join(missing)}; a D4RL file has "
                    f"{', '.join(REQUIRED_KEYS)}, timeouts and optionally next_observations"
                )
            out: dict[str, np.ndarray] = {}
            for key in (*REQUIRED_KEYS, "timeouts", "next_observations"):
                if key in f:
                    value = f[key]
                    if not isinstance(value, h5py.Dataset):
                        raise DatasetError(
                            f"D4RL file {str(path)!r}: {key} is a group, not an array; "
                            "is this a D4RL file?"
                        )
                    out[key] = np.asarray(value[()])
            return out
    except DatasetError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"D4RL file {str(path)!r} is not a readable HDF5 file (failed reading {key}: "
            f"{type(exc).__name__}: {exc}); the file is damaged or not HDF5: download or "
            "export it again"
        ) from exc


def _check_values(path: Path, key: str, values: np.ndarray) -> None:
    """Raise naming ``key`` and its first bad row: non-numeric, NaN/inf, beyond float32, flags."""
    if values.dtype.kind not in "biuf":
        raise DatasetError(
            f"D4RL file {str(path)!r}: {key} has dtype {values.dtype}, expected numbers; "
            "is this a D4RL file?"
        )
    if values.ndim == 0:
        raise DatasetError(
            f"D4RL file {str(path)!r}: {key} is a scalar, expected one row per transition"
        )
    if len(values) == 0:
        return  # an empty file is reported by validate_arrays
    rows = values.reshape(len(values), -1)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(rows).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"D4RL file {str(path)!r}: {key} has a NaN or inf value at index {i} "
                f"(first of {int(bad.sum())} rows); clean or drop those rows"
            )
        big = (np.abs(rows) > _F32_MAX).any(axis=1)
        if big.any():
            i = int(np.flatnonzero(big)[0])
            raise DatasetError(
                f"D4RL file {str(path)!r}: {key} at index {i} holds "
                f"{float(rows[i][np.abs(rows[i]) > _F32_MAX][0])!r}, beyond float32's range "
                f"(|x| <= {_F32_MAX:.4g}; training is float32, so it would become inf; first "
                f"of {int(big.sum())} rows): clean or rescale those rows"
            )
    if key in FLAG_KEYS:
        if rows.shape[1] != 1:
            raise DatasetError(
                f"D4RL file {str(path)!r}: {key} has shape {values.shape}, expected one flag "
                "per row"
            )
        bad = (rows[:, 0] != 0) & (rows[:, 0] != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"D4RL file {str(path)!r}: {key} at index {i} is {rows[i, 0].item()!r}, "
                f"expected 0 or 1 (first of {int(bad.sum())} bad rows); fix the flags"
            )


def _derive_next(
    obs: np.ndarray, act: np.ndarray, rew: np.ndarray, term: np.ndarray, tout: np.ndarray
) -> TransitionArrays:
    """s'_t = s_{t+1} inside episodes; terminal rows kept (s' = s_t), cut rows dropped."""
    n = len(rew)
    is_term = term > 0
    done = is_term | (tout > 0)
    keep = is_term | ~done  # a timeout row (not terminal) has no known s'
    if n and not is_term[-1]:
        keep[-1] = False  # the file's last row: s' unknown unless it is terminal
    idx = np.flatnonzero(keep)
    nxt_idx = np.where(is_term[idx], idx, np.minimum(idx + 1, max(n - 1, 0)))
    # a kept non-terminal row whose next row was dropped ends its episode cut (a timeout)
    next_dropped = np.ones(n, dtype=bool)
    next_dropped[:-1] = ~keep[1:]
    cut = keep & ~is_term & next_dropped
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
        starts[1:] = done[:-1]
    return TransitionArrays(
        obs=obs[idx],
        actions=act[idx],
        rewards=rew[idx],
        next_obs=obs[nxt_idx],
        terminals=is_term[idx].astype(np.float32),
        timeouts=cut[idx].astype(np.float32),
        episode_starts=_first_kept(starts, keep)[idx],
    )


def _first_kept(starts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """True at the first kept index of each episode (an episode with none kept vanishes)."""
    episode = np.cumsum(starts)
    first = np.zeros_like(keep)
    kept_idx = np.flatnonzero(keep)
    if len(kept_idx):
        ep = episode[kept_idx]
        is_first = np.ones(len(kept_idx), dtype=bool)
        is_first[1:] = ep[1:] != ep[:-1]
        first[kept_idx[is_first]] = True
    return first
