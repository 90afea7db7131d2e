"""``compose sweep --batch-seeds``: each grid point's seeds run as one ``compose run --seeds``.

Real tiny runs: MBPO at two grid points x seeds 0 and 1 gives two processes whose seed
directories are the sweep's runs (table rows, skip on re-run, resume as a batch), and a
recipe that cannot batch (RAMBO) is reported as refused without stopping the others.
"""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML

from tests.helpers.runs import compose_sweep as compose
from tests.helpers.runs import tiny_sets


def test_batched_sweep_runs_grid_points_as_batches_and_resumes(
    env: dict[str, str], tmp_path: Path
) -> None:
    spec = {
        "seeds": [0, 1],
        "jobs": 1,
        "set": tiny_sets(tmp_path),
        "batch_seeds": True,
        "runs": [
            {"recipe": "mbpo", "grid": {"train.tau": [0.005, 0.01]}},
            {"recipe": "damo", "seeds": [0, 1]},
        ],
    }
    spec_path = tmp_path / "spec.yaml"
    YAML(typ="safe", pure=True).dump(spec, spec_path)
    out = tmp_path / "out"
    res = compose(env, str(spec_path), "--out", str(out))
    assert res.returncode == 1, res.stderr[-3000:]  # the DAMO batch was refused
    for tau in ("0.005", "0.01"):
        batch = out / f"mbpo-tau={tau}-seeds"
        record = json.loads((batch / "sweep_run.json").read_text())
        cmd = record["command"]
        assert cmd[cmd.index("--seeds") + 1 : cmd.index("--seeds") + 3] == ["0", "1"]
        assert not any(c.startswith("seed=") for c in cmd)
        assert json.loads((batch / "seeds.json").read_text())["status"] == ["finished"] * 2
    assert "refused damo-seeds" in res.stderr  # cannot batch: said, not hidden
    plan = json.loads((out / "sweep.json").read_text())
    assert plan["batch_seeds"] is True
    dirs = {r["name"]: r["run_dir"] for r in plan["runs"]}
    assert dirs["mbpo-tau=0.01-s1"] == str(out / "mbpo-tau=0.01-seeds" / "seed_1")

    table = compose(env, "table", str(out), "--json", str(tmp_path / "rows.json"))
    assert table.returncode == 0, table.stderr
    rows = {r["name"]: r for r in json.loads((tmp_path / "rows.json").read_text())}
    for name in ("mbpo-tau=0.005-s0", "mbpo-tau=0.005-s1", "mbpo-tau=0.01-s0", "mbpo-tau=0.01-s1"):
        assert rows[name]["status"] == "finished" and rows[name]["score"] is not None
    assert rows["damo-s0"]["status"] == "failed: SeedBatchError"
    assert rows["damo-s1"]["status"] == "crashed (exit 2)"  # the batch's record, one level up

    # re-run: finished batches are skipped; an interrupted one resumes as a batch
    s0 = out / "mbpo-tau=0.01-seeds" / "seed_0" / "summary.json"
    data = json.loads(s0.read_text())
    data["status"] = "interrupted"
    s0.write_text(json.dumps(data))
    spec["runs"] = spec["runs"][:1]
    YAML(typ="safe", pure=True).dump(spec, spec_path)
    again = compose(env, str(spec_path), "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "skip   mbpo-tau=0.005-seeds (finished)" in again.stderr
    assert "resume mbpo-tau=0.01-seeds" in again.stderr
    record = json.loads((out / "mbpo-tau=0.01-seeds" / "sweep_run.json").read_text())
    assert "--resume" in record["command"]
    assert json.loads(s0.read_text())["status"] == "finished"
