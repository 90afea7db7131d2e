"""Loaders behind the source configs: Minari store (make / download when absent) and D4RL files.

Reference scores follow design §5: D4RL's for the D4RL locomotion tasks (comparable with the
papers), the dataset's own metadata otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compose.data import minari_io
from compose.data.arrays import TransitionArrays
from compose.data.d4rl_io import read_d4rl
from compose.data.errors import DatasetError
from compose.data.info import DatasetInfo
from compose.envs.reference import d4rl_ref_scores

if TYPE_CHECKING:
    from compose.data.offline import OfflineData


def env_spaces(env_id: str, dataset: str) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """(observation shape, action low, action high) of a Gymnasium env."""
    import gymnasium as gym

    try:
        env = gym.make(env_id)
    except Exception as exc:  # gymnasium raises several types for unknown/unavailable envs
        raise DatasetError(
            f"dataset {dataset!r}: cannot make env {env_id!r} ({type(exc).__name__}: {exc}); "
            "give a Gymnasium id such as Hopper-v5"
        ) from exc
    try:
        return (
            tuple(env.observation_space.shape),
            np.asarray(env.action_space.low, dtype=np.float64),
            np.asarray(env.action_space.high, dtype=np.float64),
        )
    finally:
        env.close()


def reference_scores(
    env_id: str, meta: dict[str, Any]
) -> tuple[float | None, float | None, str | None]:
    """D4RL refs for the locomotion tasks, else the dataset metadata's ref scores, else None."""
    ref = d4rl_ref_scores(env_id)
    if ref is not None:
        return ref.min_score, ref.max_score, "d4rl"
    if meta.get("ref_min_score") is not None and meta.get("ref_max_score") is not None:
        return float(meta["ref_min_score"]), float(meta["ref_max_score"]), "dataset metadata"
    return None, None, None


def build(
    dataset_id: str,
    source: str,
    arrays: TransitionArrays,
    env_id: str,
    provenance: str,
    meta: dict[str, Any],
) -> OfflineData:
    """Validate against the env and assemble OfflineData with its DatasetInfo."""
    from compose.data.arrays import validate_arrays
    from compose.data.offline import describe_returns, offline_data_from_arrays

    obs_shape, low, high = env_spaces(env_id, dataset_id)
    validate_arrays(dataset_id, arrays, obs_shape, low, high)
    ref_min, ref_max, ref_source = reference_scores(env_id, meta)
    info = DatasetInfo(
        dataset_id=dataset_id,
        source=source,
        env_id=env_id,
        obs_dim=int(np.prod(obs_shape)),
        act_dim=int(low.shape[0]),
        action_low=low.tolist(),
        action_high=high.tolist(),
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        ref_source=ref_source,
        provenance=provenance,
        n_transitions=len(arrays),
        metadata=meta,
        **describe_returns(arrays),
    )
    return offline_data_from_arrays(arrays, info, obs_shape, low, high, validate=False)


def minari_provenance(dataset_id: str, meta: dict[str, Any]) -> str:
    """What a Minari dataset truly is, in one sentence."""
    compose_meta = meta.get("compose") or {}
    if compose_meta.get("provenance"):
        return str(compose_meta["provenance"])
    if dataset_id.startswith("mujoco/"):
        return (
            f"Minari {dataset_id}: collected by the Farama Foundation in Gymnasium MuJoCo v5 envs "
            "with their own SAC policies; not D4RL v2 data (same task names, different data)"
        )
    if dataset_id.startswith("D4RL/"):
        return f"Minari {dataset_id}: Farama's port of the D4RL dataset"
    parts = [f"Minari {dataset_id}"]
    for key in ("algorithm_name", "author", "description"):
        if meta.get(key):
            parts.append(f"{key}: {meta[key]}")
    return "; ".join(parts)


def _offline() -> bool:
    return os.environ.get("COMPOSE_OFFLINE", "") not in ("", "0")


def _missing_error(dataset_id: str, reason: str) -> DatasetError:
    local = minari_io.list_local()
    listing = ", ".join(local) if local else "(none)"
    return DatasetError(
        f"dataset {dataset_id!r} is not in the local Minari store {minari_io.store_root()} "
        f"and {reason}. Local datasets: {listing}. Make one with "
        "`compose data make ENV QUALITY` (ENV: hopper, halfcheetah, walker2d, pendulum; "
        "QUALITY: random, medium, medium-replay, expert, medium-expert), or import a D4RL file "
        "with `compose data import-d4rl FILE --env ID`."
    )


def ensure_local(dataset_id: str, download: bool = True, seed: int = 0) -> None:
    """Make (factory ids) or download a dataset that is not in the local store."""
    if minari_io.is_local(dataset_id):
        return
    from compose.data.factory import parse_factory_id

    parsed = parse_factory_id(dataset_id)
    if parsed is not None:
        from compose.data.factory import make_dataset

        make_dataset(parsed[0], parsed[1], seed=seed, dataset_id=dataset_id, progress=True)
        return
    if not download or _offline():
        raise _missing_error(dataset_id, "downloading is off")
    try:
        import minari

        minari.download_dataset(dataset_id)
    except Exception as exc:  # network, unknown remote id, auth: all mean "not available"
        raise _missing_error(
            dataset_id, f"could not be downloaded ({type(exc).__name__}: {exc})"
        ) from exc


def load_minari(dataset_id: str, download: bool = True, seed: int = 0) -> OfflineData:
    """The ``minari`` source: local store, else factory, else download, else a clear error."""
    ensure_local(dataset_id, download=download, seed=seed)
    meta = minari_io.read_metadata(dataset_id)
    env_id = minari_io.env_id_from_metadata(dataset_id, meta)
    arrays = minari_io.read_minari(dataset_id)
    return build(dataset_id, "minari", arrays, env_id, minari_provenance(dataset_id, meta), meta)


def load_d4rl_hdf5(path: str | Path, env_id: str) -> OfflineData:
    """The ``d4rl_hdf5`` source."""
    path = Path(path)
    arrays = read_d4rl(path)
    prov = (
        f"D4RL-format file {path.resolve()} ({path.stat().st_size} bytes), evaluated in {env_id}; "
        "its provenance is whatever produced that file"
    )
    meta = {"path": str(path.resolve())}
    return build(str(path), "d4rl_hdf5", arrays, env_id, prov, meta)
