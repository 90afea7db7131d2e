"""``compose data import-d4rl``: a D4RL .hdf5 file -> a Minari dataset in the local store.

Why: once imported, a D4RL file is used like any Minari dataset (``source: minari``), and its
provenance (the original path and size) travels in the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

from compose.data import minari_io
from compose.data.d4rl_io import read_d4rl
from compose.data.loading import env_spaces, reference_scores


def default_import_id(path: Path) -> str:
    """``d4rl/<file stem>-v0`` with the stem made Minari-safe (hopper_medium-v2 -> hopper-medium-v2)."""
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", path.stem).strip("-").lower()
    stem = re.sub(r"-v\d+$", "", stem)
    return f"d4rl/{stem}-v0"


def import_d4rl(path: str | Path, env_id: str, dataset_id: str | None = None) -> str:
    """Validate and write a D4RL file as a Minari dataset; return its id."""
    from compose.data.arrays import validate_arrays

    path = Path(path)
    dataset_id = dataset_id or default_import_id(path)
    arrays = read_d4rl(path)
    obs_shape, low, high = env_spaces(env_id, str(path))
    validate_arrays(str(path), arrays, obs_shape, low, high)
    ref_min, ref_max, ref_source = reference_scores(env_id, {})
    provenance = (
        f"imported from the D4RL-format file {path.resolve()} ({path.stat().st_size} bytes) "
        f"for {env_id}; its data is whatever that file holds"
    )
    minari_io.write_minari(
        dataset_id,
        arrays,
        env_id,
        ref_min,
        ref_max,
        description=provenance,
        algorithm_name="d4rl-import",
        extra_metadata={
            "provenance": provenance,
            "source_file": str(path.resolve()),
            "ref_source": ref_source,
        },
    )
    return dataset_id
