"""Smoke tests of ``compose bench`` at toy sizes: structure of the result, not timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from compose.bench import REFERENCE, BenchOptions, bench_table, run_bench

TOY_ID = "compose/hopper/random-v0"


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private Minari store holding a 2000-transition factory dataset (random Hopper)."""
    from compose.data.factory import make_dataset

    root = tmp_path_factory.mktemp("minari")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(root))
    make_dataset("hopper", "random", seed=0, size=2000, dataset_id=TOY_ID, progress=False)
    yield root
    mp.undo()


def _check_row(row: dict) -> None:
    assert row["key"] in REFERENCE
    ours = row["ours"]
    assert ours["min"] <= ours["median"] <= ours["max"]
    assert all(v > 0 for v in ours["values"])
    ref = REFERENCE[row["key"]]
    assert row["reference"]["median"] == ref.reference
    if ref.reference:
        expected = (
            ours["median"] / ref.reference
            if ref.higher_is_better
            else ref.reference / ours["median"]
        )
        assert row["speedup"] == pytest.approx(expected)
    if ref.target is None:
        assert row["met"] is None
    else:
        assert row["met"] == (
            ours["median"] >= ref.target if ref.higher_is_better else ours["median"] <= ref.target
        )


def test_run_bench_toy_structure(toy_store: Path) -> None:
    opts = BenchOptions(
        only=("a", "b", "c", "d", "f"),
        shapes="toy",
        steps=3,
        repeats=2,
        warmup=1,
        device="cpu",
        threads=1,
        dataset=TOY_ID,
    )
    result = run_bench(opts, say=lambda _s: None)
    result = json.loads(json.dumps(result))  # JSON-serializable end to end

    assert result["dataset"] == {
        "id": TOY_ID,
        "why": "requested",
        "transitions": 2000,
        "env_id": "Hopper-v5",
    }
    assert result["machine"]["device"] == "cpu"
    assert len(result["machine"]["load_avg_before"]) == 3
    assert set(result["cases"]) == {"a", "b", "c", "d"}
    assert all(len(c["load_avg"]) == 3 for c in result["cases"].values())
    keys = [r["key"] for r in result["rows"]]
    expected = {
        "dynamics_1000",
        "dynamics_epoch",
        "dynamics_sn_1000",
        "mopo_update_1000",
        "mopo_update_b8_1000",
        "mopo_rollout",
        "mobile_update_1000",
        "mobile_penalty_1000",
        "mobile_update_b8_1000",
        "mopo_phase_1000",
        "mobile_phase_1000",
        "gflops_dynamics",
        "gflops_mopo",
        "gflops_rollout",
        "gflops_mobile",
    }
    assert set(keys) == expected
    assert keys == [k for k in REFERENCE if k in expected]  # display order of the table
    for row in result["rows"]:
        _check_row(row)
        assert len(row["ours"]["values"]) == 2
    # FLOPs were counted: every GFLOP/s row is FLOPs / wall seconds of the same case.
    for key in ("gflops_dynamics", "gflops_mopo", "gflops_mobile", "gflops_rollout"):
        assert result["flops"][key] > 0
    rows = {r["key"]: r for r in result["rows"]}
    per_step = [v / 1000 for v in rows["dynamics_1000"]["ours"]["values"]]
    assert rows["gflops_dynamics"]["ours"]["values"] == pytest.approx(
        [result["flops"]["gflops_dynamics"] / t / 1e9 for t in per_step], rel=1e-6
    )
    # derived rows: phase = update + rollout, repeat by repeat
    phase = rows["mopo_phase_1000"]["ours"]["values"]
    upd, roll = rows["mopo_update_1000"]["ours"]["values"], rows["mopo_rollout"]["ours"]["values"]
    assert phase == pytest.approx([u + r for u, r in zip(upd, roll, strict=True)])
    # the toy rollout: 256 starts x 2 steps, termination off
    assert result["cases"]["c"]["transitions"] == 256 * 2
    assert result["cases"]["d"]["samples"] == 2
    assert any("toy shapes" in n for n in result["notes"])
    bench_table(result)  # renders


def test_cli_writes_json(toy_store: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from compose.cli import cli

    out = tmp_path / "b" / "bench.json"
    res = CliRunner().invoke(
        cli,
        [
            "bench",
            "--only",
            "c,e",
            "--shapes",
            "toy",
            "--repeats",
            "1",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--dataset",
            TOY_ID,
            "--set",
            "rollout.chunk_size=100",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert [r["key"] for r in data["rows"]] == ["mopo_rollout", "peak_rss_mopo"]
    assert data["settings"]["only"] == ["c", "e"]
    assert data["settings"]["overrides"] == ["rollout.chunk_size=100"]
    assert data["cases"]["c"]["chunk_size"] == 100
    assert data["cases"]["c"]["transitions"] == 256 * 2  # chunking keeps every row
    # (e) ran a real, short `compose run` of recipes/mopo.yaml in a child process
    assert data["cases"]["e"]["how"].startswith("compose run recipes/mopo.yaml"), data["cases"]["e"]
    rss = data["rows"][1]["ours"]["median"]
    assert 50 < rss < 4096
    assert "MOPO rollout" in res.output


def test_cli_rejects_unknown_case() -> None:
    from click.testing import CliRunner

    from compose.cli import cli

    res = CliRunner().invoke(cli, ["bench", "--only", "a,z"])
    assert res.exit_code == 2
    assert "unknown case" in res.output


def test_child_peak_rss_is_measured() -> None:
    from compose.bench.rss import _wait_rss

    code = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"
    rc, mib, secs, tail = _wait_rss([sys.executable, "-c", code], timeout=60, env=None)
    assert rc == 0 and secs > 0
    assert mib > 300  # the child's own high-water mark, not this process's
    assert tail.strip().startswith("39321600")


def test_child_peak_rss_excludes_the_parents_memory() -> None:
    """Linux records the exec'ing address space's peak in the child's ru_maxrss: the launcher
    keeps the bench's own memory (here 400 MiB) out of the run's figure."""
    from compose.bench.rss import _wait_rss

    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page
    rc, mib, _, tail = _wait_rss([sys.executable, "-c", "print('small')"], timeout=60, env=None)
    assert rc == 0 and tail.strip() == "small"
    assert mib < 200, mib
    del ballast


def test_issue_targets() -> None:
    targets = {k: r.target for k, r in REFERENCE.items() if r.target is not None}
    assert targets == {
        "dynamics_1000": 12.0,
        "mopo_update_1000": 6.0,
        "mopo_rollout": 5.0,
        "mobile_update_1000": 60.0,
        "peak_rss_mopo": 1024.0,
    }


def test_seed_batching_case_g(toy_store: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from compose.cli import cli

    out = tmp_path / "g.json"
    res = CliRunner().invoke(
        cli,
        [
            "bench",
            "--only",
            "g",
            "--shapes",
            "toy",
            "--repeats",
            "1",
            "--steps",
            "3",
            "--warmup",
            "1",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--dataset",
            TOY_ID,
            "--seeds-k",
            "1,3",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    seeds = json.loads(out.read_text())["seeds"]
    rows = seeds["rows"]
    assert [(r["k"], r["mode"]) for r in rows] == [(1, "separate"), (1, "batched"), (3, "batched")]
    single = rows[0]["s_per_1000"]
    for r in rows[1:]:
        assert r["s_per_1000_per_seed"] == pytest.approx(r["s_per_1000"] / r["k"])
        assert r["speedup_vs_separate"] == pytest.approx(r["k"] * single / r["s_per_1000"])
    assert "K seeds as one batch" in res.output


@pytest.mark.parametrize("bad", ["0", "1,x"])
def test_cli_rejects_bad_seed_counts(bad: str) -> None:
    from click.testing import CliRunner

    from compose.cli import cli

    res = CliRunner().invoke(cli, ["bench", "--only", "g", "--seeds-k", bad])
    assert res.exit_code == 2
    assert "--seeds-k" in res.output
