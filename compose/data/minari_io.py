"""Reading and writing Minari datasets as flat transitions, and the local store.

Reference: Minari 0.5 HDF5 layout — ``<root>/<id>/data/main_data.hdf5`` with one group
``episode_<k>`` per episode holding ``observations`` [T+1, do] (the final state included),
``actions`` [T, da], ``rewards``, ``terminations``, ``truncations``; ``metadata.json`` beside it.
Why: episodes are read straight from HDF5 and concatenated with numpy (one Python iteration
per episode, none per transition); writing goes through ``minari.create_dataset_from_buffers``
so the result is a regular Minari dataset any Minari user can load. ``minari.DataCollector``
is not used (it needs jax).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from compose.data.arrays import TransitionArrays
from compose.data.errors import DatasetError


def store_root() -> Path:
    """The local Minari store: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def dataset_dir(dataset_id: str) -> Path:
    """Folder of a dataset id in the local store (it may not exist)."""
    return store_root() / dataset_id


def is_local(dataset_id: str) -> bool:
    """True when the dataset's data file exists in the local store."""
    return (dataset_dir(dataset_id) / "data" / "main_data.hdf5").is_file()


def list_local() -> list[str]:
    """Ids of all datasets in the local store (any namespace depth), sorted."""
    root = store_root()
    if not root.is_dir():
        return []
    return sorted(str(p.parent.parent.relative_to(root)) for p in root.rglob("data/main_data.hdf5"))


def read_metadata(dataset_id: str) -> dict[str, Any]:
    """The dataset's ``metadata.json``."""
    path = dataset_dir(dataset_id) / "data" / "metadata.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"dataset {dataset_id!r}: cannot read {path}: {exc}; the store entry is broken — "
            "delete the folder and make or download the dataset again"
        ) from exc


def env_id_from_metadata(dataset_id: str, meta: dict[str, Any]) -> str:
    """Gymnasium id from the stored (eval) env spec; Minari stores EnvSpec as JSON."""
    for key in ("eval_env_spec", "env_spec"):
        spec = meta.get(key)
        if spec:
            spec = json.loads(spec) if isinstance(spec, str) else spec
            if spec.get("id"):
                return str(spec["id"])
    raise DatasetError(
        f"dataset {dataset_id!r} records no env spec, so its env is unknown; "
        "use a dataset made with an env, or import it with --env ID"
    )


_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts", "episode_starts")


def _cache_path(data_file: Path) -> Path:
    """Flat-array cache beside the Minari data, keyed by the data file's size and mtime."""
    st = data_file.stat()
    return data_file.parent.parent / "compose_cache" / f"flat-{st.st_size}-{st.st_mtime_ns}.npz"


def read_minari(dataset_id: str, cache: bool = True) -> TransitionArrays:
    """Flat transitions of a local Minari dataset (Box observation/action spaces only).

    Why the cache: HDF5 reads are paid per episode array, so a dataset of many episodes is
    slow to read the first time; the flat arrays are then saved as one uncompressed .npz
    (invalidated when the data file changes), which later loads read in one go.
    """
    path = dataset_dir(dataset_id) / "data" / "main_data.hdf5"
    if not path.is_file():
        raise DatasetError(f"dataset {dataset_id!r}: no data file at {path}")
    cache_file = _cache_path(path)
    if cache and cache_file.is_file():
        with np.load(cache_file) as z:
            return TransitionArrays(*(z[f] for f in _FIELDS))
    arrays = _read_hdf5(dataset_id, path)
    if cache and len(arrays):
        try:
            cache_file.parent.mkdir(exist_ok=True)
            for old in cache_file.parent.glob("flat-*.npz"):
                old.unlink()
            tmp = cache_file.with_suffix(".tmp.npz")
            np.savez(tmp, **{f: getattr(arrays, f) for f in _FIELDS})
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only store still loads, just without the cache
    return arrays


def _read_hdf5(dataset_id: str, path: Path) -> TransitionArrays:
    """Concatenate the episodes of a Minari HDF5 data file."""
    import h5py

    obs, nxt, act, rew, term, trunc = [], [], [], [], [], []
    with h5py.File(path, "r") as f:
        keys = sorted((k for k in f if k.startswith("episode_")), key=lambda k: int(k[8:]))
        for k in keys:
            g = f[k]
            if not isinstance(g["observations"], h5py.Dataset):
                raise DatasetError(
                    f"dataset {dataset_id!r}: observations are a dict/tuple space; "
                    "only flat Box observations are supported"
                )
            o = g["observations"][()]
            obs.append(o[:-1])
            nxt.append(o[1:])
            act.append(g["actions"][()])
            rew.append(g["rewards"][()])
            term.append(g["terminations"][()])
            trunc.append(g["truncations"][()])
    if not keys:
        empty = np.zeros((0, 0), dtype=np.float32)
        return TransitionArrays(
            empty, empty, np.zeros(0), empty, np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
        )
    lengths = np.array([len(r) for r in rew])
    starts = np.zeros(int(lengths.sum()), dtype=bool)
    starts[np.concatenate([[0], np.cumsum(lengths)[:-1]])[lengths > 0]] = True
    return TransitionArrays(
        obs=np.concatenate(obs),
        actions=np.concatenate(act),
        rewards=np.concatenate(rew),
        next_obs=np.concatenate(nxt),
        terminals=np.concatenate(term).astype(np.float32),
        timeouts=np.concatenate(trunc).astype(np.float32),
        episode_starts=starts,
    )


def write_minari(
    dataset_id: str,
    arrays: TransitionArrays,
    env_id: str,
    ref_min_score: float | None,
    ref_max_score: float | None,
    description: str,
    algorithm_name: str,
    extra_metadata: dict[str, Any],
) -> Path:
    """Write flat transitions as a Minari dataset in the local store; return its folder.

    Each episode is written as observations [T+1] = obs of its steps + the last next_obs; the
    last step of an episode that neither terminated nor timed out is marked truncated (Minari
    requires every episode to end). ``extra_metadata`` is stored under the ``compose`` key.
    """
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    if is_local(dataset_id):
        raise DatasetError(
            f"dataset {dataset_id!r} already exists at {dataset_dir(dataset_id)}; "
            "delete it first (minari delete ID) or choose another --id"
        )
    starts, ends = arrays.episode_bounds()
    buffers = []
    for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
        trunc = arrays.timeouts[s:e].astype(bool)
        term = arrays.terminals[s:e].astype(bool)
        if not (term[-1] or trunc[-1]):
            trunc = trunc.copy()
            trunc[-1] = True
        buffers.append(
            EpisodeBuffer(
                id=k,
                observations=np.concatenate([arrays.obs[s:e], arrays.next_obs[e - 1 : e]]),
                actions=arrays.actions[s:e],
                rewards=arrays.rewards[s:e].astype(np.float64),
                terminations=term,
                truncations=trunc,
            )
        )
    spec = gym.spec(env_id)
    with warnings.catch_warnings():
        # Minari nags about missing code_permalink / author_email; we have neither to give.
        warnings.filterwarnings("ignore", message=".*(code_permalink|author_email).*")
        dataset = _create(
            minari,
            dataset_id,
            buffers,
            spec,
            algorithm_name,
            description,
            ref_min_score,
            ref_max_score,
        )
    dataset.storage.update_metadata(
        {"compose": json.loads(json.dumps(extra_metadata, default=str))}
    )
    return dataset_dir(dataset_id)


def _create(
    minari: Any,
    dataset_id: str,
    buffers: list[Any],
    spec: Any,
    algorithm_name: str,
    description: str,
    ref_min_score: float | None,
    ref_max_score: float | None,
) -> Any:
    return minari.create_dataset_from_buffers(
        dataset_id=dataset_id,
        buffer=buffers,
        env=spec,
        eval_env=spec,
        algorithm_name=algorithm_name,
        author="compose",
        description=description,
        ref_min_score=ref_min_score if ref_max_score is not None else None,
        ref_max_score=ref_max_score,
        data_format="hdf5",
    )
