"""``compose compare`` end to end on tiny real runs (tests/compare/conftest.py): run directories,
seed batches and the Aim repo as input, grouping, the refusal of mixed datasets and budgets,
markdown, JSON and the plot; and the Aim params every run records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose import stats
from compose.cli import cli
from tests.helpers.compare import SEEDS
from tests.helpers.runs import read_run


def _compare(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["compare", *args])
    return res.exit_code, res.stdout, res.stderr


def _finals(run_root: Path) -> list[float]:
    return [
        json.loads((run_root / f"seed_{s}" / "summary.json").read_text())["final_normalized_score"]
        for s in SEEDS[run_root.name]
    ]


def test_compare_two_recipes_from_run_dirs(tiny_runs: Path, tmp_path: Path) -> None:
    md, js, png = tmp_path / "t.md", tmp_path / "t.json", tmp_path / "t.png"
    code, out, err = _compare(
        str(tiny_runs / "mopo"),
        str(tiny_runs / "vipo_mopo"),
        "--md",
        str(md),
        "--json",
        str(js),
        "--plot",
        str(png),
    )
    assert code == 0, err
    data = json.loads(js.read_text())
    groups = {g["group"]: g for g in data["groups"]}
    assert set(groups) == {"mopo", "vipo_mopo"}
    for name in ("mopo", "vipo_mopo"):
        g, finals = groups[name], _finals(tiny_runs / name)
        assert g["runs"] == 2 and g["seeds"] == list(SEEDS[name]) and g["steps"] == [50]
        assert g["final"]["value"] == pytest.approx(stats.iqm(finals))
        assert g["final"]["low"] == pytest.approx(min(finals)) and g["final"][
            "high"
        ] == pytest.approx(max(finals))
        bests = [max(v for _, v in r["evals"]) for r in data["runs"][name]]
        assert g["best"]["value"] == pytest.approx(stats.iqm(bests))
        assert all(len(r["evals"]) == 5 for r in data["runs"][name])  # steps 10 .. 50
    (pair,) = data["pairs"]  # two groups: one pair
    assert (pair["a"], pair["b"]) == ("mopo", "vipo_mopo")
    p = pair["p_improvement"]["value"]
    assert p == pytest.approx(
        stats.probability_of_improvement(
            _finals(tiny_runs / "mopo"), _finals(tiny_runs / "vipo_mopo")
        ).value
    )
    assert "P(mopo > vipo_mopo)" in out and "IQM [95% CI]" in out
    assert (
        md.read_text().startswith("| group | runs | seeds |")
        and "P(mopo > vipo_mopo)" in md.read_text()
    )
    if shutil.which("python") and _has_matplotlib():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_compare_by_recipe_field_and_from_the_aim_repo(tiny_runs: Path, tmp_path: Path) -> None:
    js = tmp_path / "aim.json"
    code, _, err = _compare(
        str(tiny_runs / "aim"), "--by", "model_learner.aux_losses", "--json", str(js)
    )
    assert code == 0, err
    data = json.loads(js.read_text())
    groups = {g["group"]: g for g in data["groups"]}
    assert len(groups) == 2 and "(unset)" in groups  # MLE: no auxiliary loss
    (vipo,) = [k for k in groups if "value_inconsistency" in k]
    mopo_finals = sorted(_finals(tiny_runs / "mopo"))
    assert sorted(r["evals"][-1][1] for r in data["runs"]["(unset)"]) == pytest.approx(mopo_finals)
    assert groups[vipo]["runs"] == 2


def test_compare_refuses_mixed_budgets_and_datasets_naming_them(
    tiny_runs: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_runs / "mopo" / "seed_0", other)
    summary = json.loads((other / "summary.json").read_text())
    summary["steps"] = 40
    (other / "summary.json").write_text(json.dumps(summary))
    code, _, err = _compare(str(tiny_runs / "mopo"), str(other))
    assert code == 2 and "different budgets" in err and "40 steps (other)" in err
    assert "--mixed-budgets" in err
    code, _, err = _compare(str(tiny_runs / "mopo"), str(other), "--mixed-budgets")
    assert code == 0, err

    summary["steps"], summary["dataset_id"] = 50, "compose/pendulum/other-v0"
    (other / "summary.json").write_text(json.dumps(summary))
    code, _, err = _compare(str(tiny_runs / "mopo"), str(other))
    assert code == 2 and "different datasets" in err and "compose/pendulum/other-v0 (other)" in err
    code, _, err = _compare(str(tiny_runs / "mopo"), str(other), "--mixed-datasets")
    assert code == 0, err


def test_compare_bad_input_is_exit_2(tmp_path: Path, tiny_runs: Path) -> None:
    code, _, err = _compare(str(tmp_path / "nope"))
    assert code == 2 and "no such run directory" in err
    code, _, err = _compare(str(tiny_runs / "mopo"), "--pair", "mopo", "sac")
    assert code == 2 and "no group named 'sac'" in err


def test_every_run_records_what_users_group_by(tiny_runs: Path) -> None:
    summary = json.loads((tiny_runs / "vipo_mopo" / "seed_3" / "summary.json").read_text())
    run = read_run(tiny_runs / "aim", summary["aim_run_hash"])
    assert run["recipe_name"] == "vipo_mopo" and run["seed"] == 3
    # the recipe writes 'critic_target: sac'; the param is {type: sac}, so run.critic_target.type works
    assert run["recipe"]["critic_target"] == "sac" and run["critic_target"] == {"type": "sac"}
    assert run["model_learner"]["aux_losses"][0]["type"] == "value_inconsistency"
    assert run["dataset"]["id"] == summary["dataset_id"] and run["dataset"]["provenance"]
    assert run["compose_version"] and "git_commit" in run[...]
    assert run["final_normalized_score"] == pytest.approx(summary["final_normalized_score"])
    assert run["best_normalized_score"] == pytest.approx(summary["best_normalized_score"])
    assert summary["best_normalized_score"] >= summary["final_normalized_score"]
    assert run["status"] == "finished" and run["steps"] == 50
    assert {"vipo_mopo", summary["dataset_id"]} <= set(run.props.tags)


def test_compare_reads_sweep_table_json_with_known_answers(tmp_path: Path) -> None:
    """Rows of 'compose sweep table --json': three groups of four seeds, IQMs known by hand."""
    scores = {"a": [1.0, 2.0, 3.0, 100.0], "b": [10.0, 20.0, 30.0, 40.0], "c": [5.0, 5.0, 6.0, 6.0]}
    rows = [
        {
            "name": f"{g}-s{s}",
            "label": g,
            "recipe": "mopo",
            "dataset": "d",
            "grid": {},
            "seed": s,
            "status": "finished",
            "steps": 100,
            "score": v,
        }
        for g, vs in scores.items()
        for s, v in enumerate(vs)
    ]
    src = tmp_path / "rows.json"
    src.write_text(json.dumps(rows))
    js, png, md = tmp_path / "out.json", tmp_path / "out.png", tmp_path / "out.md"
    code, out, err = _compare(
        str(src), "--pair", "b", "a", "--json", str(js), "--plot", str(png), "--md", str(md)
    )
    assert code == 0, err
    groups = {g["group"]: g for g in json.loads(js.read_text())["groups"]}
    assert groups["a"]["final"]["value"] == pytest.approx(2.5)  # 2 and 3: the 100 is trimmed
    assert groups["b"]["final"]["value"] == pytest.approx(25.0)
    assert groups["a"]["best"] is None  # no history in a table row
    assert "P(b > a) = 0.75" in out  # 12 of 16 pairs
    assert "fewer than 5 runs" in md.read_text()
    if _has_matplotlib():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the interval plot alone
