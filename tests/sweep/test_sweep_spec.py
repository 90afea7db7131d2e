"""Sweep specs without running anything: expansion, naming, threads, resume decisions, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from compose.cli._common import expand_seeds
from compose.sweep.local import decide, threads_per_run
from compose.sweep.spec import SpecError, expand, parse_grid_option, spec_from_dict, validate


def test_expand_is_the_cartesian_product_with_stable_names(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "seeds": [0, 1],
            "set": ["train.steps=7"],
            "runs": [
                {"recipe": "rambo", "grid": {"model_learner.aux_losses.0.weight": [0, 3.0e-4]}},
                {"recipe": "romi", "grid": {"model_learner.outer.xi": [0.1, 1]}, "seeds": [5]},
                {"recipe": "ampl", "label": "ampl_nw", "set": ["model_learner.weighted=false"]},
            ],
        }
    )
    plans = expand(spec, tmp_path)
    names = [p.name for p in plans]
    assert names == [
        "rambo-weight=0-s0",
        "rambo-weight=0-s1",
        "rambo-weight=0.0003-s0",
        "rambo-weight=0.0003-s1",
        "romi-xi=0.1-s5",
        "romi-xi=1-s5",
        "ampl_nw-s0",
        "ampl_nw-s1",
    ]
    p = plans[3]
    assert p.run_dir == tmp_path / p.name and p.grid == {
        "model_learner.aux_losses.0.weight": 3.0e-4
    }
    assert p.overrides == ("train.steps=7", "model_learner.aux_losses.0.weight=0.0003", "seed=1")
    assert plans[6].overrides == ("train.steps=7", "model_learner.weighted=false", "seed=0")


def test_every_spec_problem_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as err:
        spec_from_dict(
            {
                "recipes": ["mopo"],
                "jobs": 0,
                "seedz": [1],
                "seeds": "x",
                "runs": [{"label": "no recipe"}],
                "batch_seeds": "yes",
            }
        )
    text = "\n".join(err.value.problems)
    for piece in (
        "unknown key 'seedz'",
        "seeds must be",
        "runs[0]: expected a mapping with a 'recipe'",
        "jobs must be an integer >= 1",
        "batch_seeds must be true or false",
    ):
        assert piece in text


def test_batched_seeds_share_one_directory_per_grid_point(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "seeds": [0, 1],
            "batch_seeds": True,
            "runs": [{"recipe": "mopo", "grid": {"rollout.length": [1, 5]}}],
        }
    )
    dirs = {p.name: p.run_dir for p in expand(spec, tmp_path)}
    assert dirs["mopo-length=5-s1"] == tmp_path / "mopo-length=5-seeds" / "seed_1"
    assert len({d.parent for d in dirs.values()}) == 2


def test_validate_loads_every_expanded_recipe(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "seeds": [0, 1],
            "steps": 12,
            "runs": [
                {"recipe": "mopo", "grid": {"rollout.length": [1, 5]}},
                {
                    "recipe": "mobile",
                    "grid": {"reward_shaper.penalty": [1.0]},
                },  # not in mobile's shaper
            ],
        }
    )
    problems, steps = validate(spec, expand(spec, tmp_path))
    assert steps == {
        "mopo-length=1-s0": 12,
        "mopo-length=1-s1": 12,
        "mopo-length=5-s0": 12,
        "mopo-length=5-s1": 12,
    }
    assert len(problems) == 1 and problems[0].startswith("mobile-penalty=1.0 (every seed): ")
    assert "reward_shaper.penalty" in problems[0]


def test_threads_fit_the_cores() -> None:
    assert threads_per_run(1, 16) == 16 and threads_per_run(3, 16) == 5
    assert threads_per_run(4, 2) == 1
    for jobs in range(1, 9):
        assert jobs * threads_per_run(jobs, 8) <= 8


def test_decide_skip_resume_start(tmp_path: Path) -> None:
    assert decide(tmp_path / "new", 10).kind == "start"
    run = tmp_path / "r"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"x")
    assert decide(run, 10).kind == "resume"  # killed: checkpoint, no summary
    (run / "summary.json").write_text(json.dumps({"status": "interrupted", "steps": 5}))
    assert decide(run, 10).kind == "resume"
    (run / "summary.json").write_text(json.dumps({"status": "finished", "steps": 10}))
    assert decide(run, 10).kind == "skip"
    assert decide(run, 20).kind == "resume"  # more steps planned: continue
    (run / "summary.json").write_text(
        json.dumps({"status": "failed: non-finite values", "steps": 3})
    )
    assert decide(run, 10).kind == "skip"


def test_cli_helpers() -> None:
    assert expand_seeds(["mopo", "--seeds", "0", "1", "2", "--jobs", "2"]) == [
        "mopo",
        "--seeds",
        "0",
        "--seeds",
        "1",
        "--seeds",
        "2",
        "--jobs",
        "2",
    ]
    assert expand_seeds(["--seeds", "3,4"]) == ["--seeds", "3", "--seeds", "4"]
    assert parse_grid_option("rollout.length=1,5") == ("rollout.length", [1, 5])
    assert parse_grid_option("a.b=x, true") == ("a.b", ["x", True])
    with pytest.raises(SpecError):
        parse_grid_option("rollout.length")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch_recipe"], "recipe 'nosuch_recipe' not found"),
        (["mopo", "--grid", "rollout.lenght=1,5"], "did you mean 'length'?"),
        (["mopo", "--jobs", "0"], "jobs must be an integer >= 1"),
        (["mopo", "--engine", "ray"], "--engine ray needs --storage DIR"),
        (["mopo", "--grid", "rollout.length"], "expected PATH=V1,V2"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["sweep", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "nothing was run" in res.output
    assert not out.exists()


def test_dry_run_lists_the_runs(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "sweep",
            "mopo",
            "mobile",
            "--seeds",
            "0",
            "1",
            "--grid",
            "rollout.length=1,5",
            "--dry-run",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 0, res.output
    lines = [x for x in res.output.splitlines() if x.startswith(("mopo-", "mobile-"))]
    assert (
        len(lines) == 8
        and "mobile-length=5-s1: mobile --set rollout.length=5 --set seed=1" in lines
    )
