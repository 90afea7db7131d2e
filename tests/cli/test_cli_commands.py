"""The ``compose`` CLI: as a subprocess (what users run) and in-process with CliRunner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli, main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "tests" / "recipes"
VALID = RECIPES / "valid" / "full.yaml"
INVALID = RECIPES / "invalid"

#: The test plugin only: no installed entry points, no built-ins being written concurrently.
ENV = {
    "COMPOSE_EXTRA_PLUGINS": "testplugin",
    "COMPOSE_NO_ENTRY_POINTS": "1",
}


def _env() -> dict[str, str]:
    env = dict(os.environ, **ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(RECIPES), env.get("PYTHONPATH", "")]))
    return env


def compose(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compose.cli", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    return CliRunner()


def test_validate_ok_subprocess() -> None:
    out = compose("validate", str(VALID), "--set", "critic.lr=1e-4")
    assert out.returncode == 0, out.stderr
    assert (
        out.stdout.startswith("ok: full (") and len(out.stdout.strip()) == len("ok: full ()") + 12
    )


def test_validate_errors_subprocess_exit_2_no_traceback() -> None:
    out = compose("validate", "unknown_component.yaml", "--set", "critic.lr=abc", cwd=INVALID)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert (
        "unknown_component.yaml:3:9: critic_target.type: unknown component 'penalised_sac' "
        "(kind critic_target); did you mean 'penalized_sac'?"
    ) in out.stderr
    assert "--set critic.lr=abc: critic.lr: expected a number, got 'abc'" in out.stderr


def test_show_prints_resolved_yaml(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["show", str(RECIPES / "valid" / "child.yaml"), "--set", "seed=3"])
    assert res.exit_code == 0, res.output
    assert "name: child" in res.stdout and "seed: 3" in res.stdout
    assert "per_dataset" not in res.stdout and "extends" not in res.stdout
    assert "length: 7" in res.stdout  # the hopper-medium per_dataset entry


def test_show_bad_recipe_exit_2(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["show", str(INVALID / "empty.yaml")])
    assert res.exit_code == 2
    assert "recipe is empty" in res.stderr


def test_missing_recipe_name(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["validate", "definitely_not_a_recipe"])
    assert res.exit_code == 2
    assert "recipe 'definitely_not_a_recipe' not found" in res.stderr


def test_components_lists_kinds_fields_and_origin(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["components"])
    assert res.exit_code == 0, res.output
    for name in ("penalized_sac", "gaussian_ensemble", "value_inconsistency", "toy"):
        assert name in res.stdout
    assert "testplugin" in res.stdout
    assert "beta: float > 0 (required)" in res.stdout
    only = runner.invoke(cli, ["components", "--kind", "uncertainty"])
    assert "bellman_inconsistency" in only.stdout and "penalized_sac" not in only.stdout
    bad = runner.invoke(cli, ["components", "--kind", "nope"])
    assert bad.exit_code == 2


def test_plugins_and_version(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["plugins"])
    assert res.exit_code == 0
    assert "testplugin local: 18 components (entry points: testplugin)" in res.stdout
    # One line per distribution: compose-rl's own plugin is not listed twice.
    assert sum(line.strip().startswith("compose-rl ") for line in res.stdout.splitlines()) == 1
    ver = runner.invoke(cli, ["--version"])
    assert ver.exit_code == 0 and ver.stdout.startswith("compose-rl ")
    assert "plugin testplugin" in ver.stdout


def test_broken_plugin_is_a_warning_not_a_stop(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "testplugin,no_such_plugin_module_xyz")
    res = runner.invoke(cli, ["validate", str(VALID)])
    assert res.exit_code == 0
    assert "warning: plugin module 'no_such_plugin_module_xyz'" in res.stderr
    assert res.stdout.startswith("ok: full")


def test_help_everywhere(runner: CliRunner) -> None:
    for args in ([], ["validate"], ["show"], ["components"], ["plugins"], ["run"]):
        res = runner.invoke(cli, [*args, "--help"])
        assert res.exit_code == 0, (args, res.output)
        assert "Usage:" in res.stdout


def test_run_exists() -> None:
    out = compose("run", "recipes/vipo_mobile.yaml", "--help")
    assert out.returncode == 0
    assert "run" in out.stdout


def test_unknown_option_is_exit_2(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["validate", str(VALID), "--bogus"])
    assert res.exit_code == 2


def test_internal_error_is_short_without_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import compose.cli.recipes as recipes

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("compose.recipe.load_composed", boom)  # every load validates through it
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as info:
        main(["validate", str(VALID)])
    err = capsys.readouterr().err
    assert info.value.code == 70
    assert "internal error: RuntimeError: kaboom" in err and "please report" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["--debug", "validate", str(VALID)])
    assert "Traceback" in capsys.readouterr().err
    assert recipes  # imported for the patch target's module


def test_show_and_validate_under_a_profile(runner: CliRunner, tmp_path: Path) -> None:
    """--quick resolves the global profile plus the recipe's own entries; bad entries fail."""
    child = RECIPES / "valid" / "child.yaml"
    plain = runner.invoke(cli, ["show", str(child)])
    quick = runner.invoke(cli, ["show", str(child), "--quick"])
    assert plain.exit_code == 0 and quick.exit_code == 0, quick.output
    assert "steps: 30000" in quick.stdout and "steps: 30000" not in plain.stdout
    bad = tmp_path / "bad_profile.yaml"
    bad.write_text(f"extends: {child}\nname: bad\nprofiles:\n  quick:\n    train.log_evry: 5\n")
    res = runner.invoke(cli, ["validate", str(bad)])
    assert res.exit_code == 2
    assert "bad_profile.yaml:5:5: profiles.quick.train.log_evry" in res.stderr
    res = runner.invoke(cli, ["validate", str(child), "--profile", "nope"])
    assert res.exit_code == 2 and "unknown profile 'nope'" in res.stderr


def test_show_sources_text_and_json(runner: CliRunner) -> None:
    """--sources lists every leaf with the layer that set it; --json the same as data."""
    import json

    child = RECIPES / "valid" / "child.yaml"
    res = runner.invoke(cli, ["show", str(child), "--sources", "--set", "train.steps=7"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line for line in res.stdout.splitlines()[1:]}
    assert res.stdout.startswith("# child: ") and "dataset hopper-medium" in res.stdout
    assert "per_dataset hopper-medium]" in lines["rollout.length"]
    assert lines["critic.lr"].endswith("valid/full.yaml:10]")
    assert lines["train.steps"].endswith("# --set train.steps=7")
    assert "# default of dynamics 'gaussian_ensemble'" in lines["dynamics.hidden"]
    res = runner.invoke(cli, ["show", str(child), "--sources", "--json"])
    assert res.exit_code == 0, res.output
    by = {o["path"]: o for o in json.loads(res.stdout)}
    assert by["rollout.length"]["layer"] == "per_dataset" and by["rollout.length"]["value"] == 7
    assert by["dynamics.hidden"]["layer"] == "default"
    res = runner.invoke(cli, ["show", str(child), "--json"])
    assert res.exit_code == 2 and "--json goes with --sources" in res.stderr
