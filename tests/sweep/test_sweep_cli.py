"""``compose sweep`` end to end with real tiny runs: run, skip on re-run, resume, table, plot.

One module-scoped sweep (a spec file: two tiny MBPO seeds and one run that crashes at
runtime) is shared by the tests; jobs = 1 and 1 thread per run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers.runs import compose_sweep as compose
from tests.helpers.runs import tiny_sets


@pytest.fixture(scope="module")
def swept(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The sweep: mbpo seeds 0 and 1, and a 'broken' run whose dataset does not exist."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = {
        "seeds": [0, 1],
        "jobs": 1,
        "set": tiny_sets(tmp),
        "runs": [
            {"recipe": "mbpo"},
            {
                "recipe": "recipes/mbpo.yaml",
                "label": "broken",
                "seeds": [0],
                "set": ["dataset.id=compose/pendulum/nosuch-v0"],
            },
        ],
    }
    spec_path = tmp / "spec.yaml"
    YAML(typ="safe", pure=True).dump(spec, spec_path)
    out = tmp / "out"
    res = compose(env, str(spec_path), "--out", str(out))
    return {"tmp": tmp, "spec": spec_path, "out": out, "res": res}


def test_sweep_runs_every_run_and_survives_a_crash(swept: dict[str, object]) -> None:
    out, res = Path(swept["out"]), swept["res"]
    assert isinstance(res, subprocess.CompletedProcess)
    assert res.returncode == 1, res.stderr[-3000:]  # one run crashed ...
    for seed in (0, 1):  # ... the others finished
        summary = json.loads((out / f"mbpo-s{seed}" / "summary.json").read_text())
        assert summary["status"] == "finished" and summary["steps"] == 50
        record = json.loads((out / f"mbpo-s{seed}" / "sweep_run.json").read_text())
        cmd = record["command"]
        assert f"seed={seed}" in cmd and "--run-dir" in cmd
        assert cmd[cmd.index("--set") + 1].startswith("runtime.threads=")
        assert f"track.repo={out / 'aim'}" in cmd  # one Aim repo for the sweep
        assert "seed: " + str(seed) in (out / f"mbpo-s{seed}" / "recipe.yaml").read_text()
    broken = json.loads((out / "broken-s0" / "sweep_run.json").read_text())
    assert broken["exit_code"] not in (0, None)
    assert not (out / "broken-s1").exists()  # per-entry seeds
    plan = json.loads((out / "sweep.json").read_text())
    assert sorted(r["name"] for r in plan["runs"]) == ["broken-s0", "mbpo-s0", "mbpo-s1"]


def test_table_rows_grouped_json_and_markdown(
    swept: dict[str, object], env: dict[str, str]
) -> None:
    out, tmp = Path(swept["out"]), Path(swept["tmp"])
    res = compose(
        env, "table", str(out), "--json", str(tmp / "rows.json"), "--md", str(tmp / "rows.md")
    )
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads((tmp / "rows.json").read_text())}
    assert rows["mbpo-s0"]["status"] == "finished" and rows["mbpo-s1"]["seed"] == 1
    assert rows["broken-s0"]["status"].startswith("crashed (exit ")
    for name in ("mbpo-s0", "mbpo-s1"):
        r = rows[name]
        assert r["score"] is not None and r["wall_s"] > 0 and r["s_per_1k"] > 0
        assert r["model_s"] is not None and r["holdout_mse"] > 0
        assert r["model_cached"] is False  # each seed fits its own model
    md = (tmp / "rows.md").read_text()
    assert (
        md.startswith("| run | recipe | grid | seed | status | score |") and "| mbpo | mbpo |" in md
    )

    res = compose(env, "table", str(out), "--group", "--json", str(tmp / "groups.json"))
    assert res.returncode == 0, res.stderr
    groups = {g["label"]: g for g in json.loads((tmp / "groups.json").read_text())}
    g = groups["mbpo"]
    scores = [rows[f"mbpo-s{s}"]["score"] for s in (0, 1)]
    assert g["n"] == 2 and g["seeds"] == [0, 1] and g["n_finished"] == 2
    # two seeds: the IQM trims nothing (the mean); the bootstrap interval spans the two scores
    assert g["score"]["value"] == pytest.approx(sum(scores) / 2)
    assert g["score"]["low"] == pytest.approx(min(scores))
    assert g["score"]["high"] == pytest.approx(max(scores))
    bests = [rows[f"mbpo-s{s}"]["best"] for s in (0, 1)]
    assert all(b is not None and b >= sc for b, sc in zip(bests, scores, strict=True))
    assert g["best"]["value"] == pytest.approx(sum(bests) / 2)
    assert groups["broken"]["score"] is None
    assert "IQM [95% CI]" in res.stdout and "+-" not in res.stdout


def test_plot_reads_series_back_from_aim(swept: dict[str, object], env: dict[str, str]) -> None:
    pytest.importorskip("matplotlib")
    out, tmp = Path(swept["out"]), Path(swept["tmp"])
    png, js = tmp / "plot.png", tmp / "plot.json"
    res = compose(
        env,
        "plot",
        str(out),
        "--metric",
        "critic_target/loss_critic",
        "--metric",
        "eval/normalized_score",
        "--out",
        str(png),
        "--json",
        str(js),
    )
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(js.read_text())
    runs = {r["name"]: r for r in data["runs"]}
    assert set(runs) == {"mbpo-s0", "mbpo-s1"}  # the crashed run has no Aim run
    assert any("broken-s0" in m for m in data["missing"])
    steps, values = runs["mbpo-s1"]["series"]["critic_target/loss_critic"]
    assert steps == [10, 20, 30, 40, 50] and len(values) == 5
    summary = json.loads((out / "mbpo-s1" / "summary.json").read_text())
    final_steps, final_scores = runs["mbpo-s1"]["series"]["eval/normalized_score"]
    assert final_steps[-1] == 50
    assert final_scores[-1] == pytest.approx(summary["final_normalized_score"])
    assert runs["mbpo-s0"]["group"] == runs["mbpo-s1"]["group"] == "mbpo"


# Last: it changes seed 0's run (a resume that trains no further steps).
def test_rerun_skips_finished_and_resumes_interrupted(
    swept: dict[str, object], env: dict[str, str]
) -> None:
    out, tmp = Path(swept["out"]), Path(swept["tmp"])
    # The same sweep without its broken entry (a crashed run would be retried).
    spec_path = tmp / "spec_mbpo.yaml"
    YAML(typ="safe", pure=True).dump(
        {"seeds": [0, 1], "jobs": 1, "set": tiny_sets(tmp), "runs": [{"recipe": "mbpo"}]}, spec_path
    )
    spec = str(spec_path)
    s1 = out / "mbpo-s1" / "summary.json"
    before = s1.stat().st_mtime_ns
    # Pretend seed 0 was interrupted after its checkpoint: the sweep must resume it.
    s0 = out / "mbpo-s0" / "summary.json"
    data = json.loads(s0.read_text())
    data["status"] = "interrupted"
    s0.write_text(json.dumps(data))
    res = compose(env, spec, "--out", str(out))
    assert "skip   mbpo-s1 (finished)" in res.stderr, res.stderr[-3000:]
    assert "resume mbpo-s0" in res.stderr
    assert s1.stat().st_mtime_ns == before  # not repeated
    assert json.loads(s0.read_text())["status"] == "finished"
    record = json.loads((out / "mbpo-s0" / "sweep_run.json").read_text())
    assert record["action"] == "resume" and "--resume" in record["command"]
    assert res.returncode == 0, res.stderr[-3000:]


def test_a_model_from_the_cache_reads_cached_not_zero_seconds() -> None:
    from compose.sweep.table import table_cells

    row = {
        "label": "ampl_nw",
        "recipe": "ampl",
        "grid": {},
        "seed": 0,
        "status": "finished",
        "score": 0.7,
        "wall_s": 282.6,
        "s_per_1k": 55.8,
        "model_s": 0.0,
        "model_cached": True,
        "holdout_mse": 0.0682,
    }
    header, cells = table_cells([row, {**row, "model_s": 85.7, "model_cached": False}], False)
    col = header.index("model s")
    assert [c[col] for c in cells] == ["cached", "85.7"]
    assert cells[0][header.index("holdout mse")] == "0.0682"
