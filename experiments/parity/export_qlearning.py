"""Export one of our datasets in the qlearning format, for the OfflineRL-Kit parity driver.

Issue #15: OfflineRL-Kit's MOPO/MOBILE examples read D4RL through ``qlearning_dataset``
(arrays ``observations``, ``actions``, ``next_observations``, ``rewards``, ``terminals``).
The parity comparison feeds it the *same rows our training uses*: this script loads the
dataset with compose's own loader (``compose.data``: a recipe's ``dataset`` config, so the
factory makes a ``compose/...`` id that is absent) and writes exactly the arrays that
``compose run`` puts in its real buffer and gives the model learner (every transition, the
last step of a time-limited episode included: Minari stores its true next observation).
OfflineRL-Kit's own ``qlearning_dataset`` would drop those time-limit steps; the driver does
not call it.

Writes ``OUT.npz`` (float32 arrays; ``terminals``/``timeouts`` as float32 0/1) and
``OUT.json``: dataset id, Gymnasium env id, the reference returns compose normalizes with
(``DatasetInfo.ref_min_score``/``ref_max_score``), row count and compose's dataset
fingerprint (``compose.train.build.dataset_fingerprint``: the rows' sha256).

    PYTHONPATH=$PWD python experiments/parity/export_qlearning.py \
        --dataset compose/halfcheetah/medium-v0 --out runs/parity/data/halfcheetah-medium
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def export(dataset_id: str, out: Path) -> dict[str, object]:
    """Load ``dataset_id`` as ``compose run`` does and write OUT.npz + OUT.json; returns the meta."""
    from compose.data import MinariSource
    from compose.train.build import dataset_fingerprint

    data = MinariSource(id=dataset_id).load()
    info = data.info
    arrays = {
        "observations": data.obs.numpy(),
        "actions": data.actions.numpy(),
        "next_observations": data.next_obs.numpy(),
        "rewards": data.rewards.numpy(),
        "terminals": data.terminals.numpy(),
        "timeouts": data.timeouts.numpy(),
    }
    meta: dict[str, object] = {
        "dataset_id": info.dataset_id,
        "env_id": info.env_id,
        "ref_min_score": info.ref_min_score,
        "ref_max_score": info.ref_max_score,
        "ref_source": info.ref_source,
        "n_transitions": len(data),
        "obs_dim": info.obs_dim,
        "act_dim": info.act_dim,
        "action_low": info.action_low,
        "action_high": info.action_high,
        "fingerprint": dataset_fingerprint(data),
        "rows": "every transition of compose's OfflineData, in its order (real buffer and model data)",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out.with_suffix(".npz"),
        **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()},
    )
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return meta


def main(argv: list[str] | None = None) -> int:
    """CLI: ``--dataset ID --out PATH`` (PATH without suffix)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", required=True, help="Minari id, e.g. compose/halfcheetah/medium-v0"
    )
    parser.add_argument("--out", required=True, type=Path, help="output path without suffix")
    args = parser.parse_args(argv)
    from compose.data import DatasetError

    try:
        meta = export(args.dataset, args.out)
    except DatasetError as exc:
        print(f"export_qlearning: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out.with_suffix('.npz')} ({meta['n_transitions']} rows, env {meta['env_id']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
