"""``compose show --sources``: each resolved value names the layer that set it (issue #14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.recipe.profiles import load_profiled
from compose.recipe.provenance import Origin, format_origins, trace

BASE = """\
name: base
dataset: {source: toy, id: hopper-medium}   # ours: toy data
dynamics:
  type: gaussian_ensemble
  members: 7                     # Paper Table 1
model_learner: mle               # ours: plain MLE
critic: {lr: 3.0e-4}             # Paper Table 2
train: {steps: 1000, batch_size: 32}   # ours: small
rollout: {length: 5, real_ratio: 0.05}  # Paper Table 3
"""

CHILD = """\
name: child
extends: base
critic: {lr: 1.0e-4}             # child: tuned
# Paper Table 9
per_dataset:
  hopper-medium: {rollout.length: 2}
  walker-medium: {rollout.length: 1}
profiles:
  smoke: {train.steps: 10}       # ours: smoke test
"""


@pytest.fixture()
def child(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE)
    path = tmp_path / "child.yaml"
    path.write_text(CHILD)
    return path


def _origins(child: Path, plugins, overrides: list[str], profile: str | None) -> dict[str, Origin]:  # noqa: ANN001
    profiled = load_profiled(child, overrides, profile, plugins)
    found = trace(profiled.loaded, plugins.registry, profiled.override_origins(overrides))
    return {o.path: o for o in found}


def test_each_layer_is_attributed(child: Path, test_plugins) -> None:  # noqa: ANN001
    by = _origins(child, test_plugins, ["train.batch_size=8"], "smoke")
    base, leaf = str(child.parent / "base.yaml"), str(child)

    members = by["dynamics.members"]  # set in the parent file
    assert (members.layer, members.file, members.line) == ("recipe", base, 5)
    assert members.value == 7 and members.source == "Paper Table 1"

    lr = by["critic.lr"]  # the child overrides its parent
    assert (lr.layer, lr.file, lr.line, lr.source) == ("recipe", leaf, 3, "child: tuned")

    length = by["rollout.length"]  # the dataset's per_dataset entry beats both files
    assert (length.layer, length.file, length.line) == ("per_dataset", leaf, 6)
    assert length.value == 2 and length.source == "Paper Table 9"
    assert length.detail == "per_dataset hopper-medium"
    assert by["rollout.real_ratio"].source == "Paper Table 3"  # the flow mapping's comment

    steps = by["train.steps"]  # the selected profile's own entry
    assert (steps.layer, steps.file, steps.line, steps.value) == ("profile", leaf, 9, 10)
    assert steps.source == "ours: smoke test" and steps.detail == "profile smoke"

    batch = by["train.batch_size"]  # --set is the last layer
    assert (batch.layer, batch.where, batch.value) == ("set", "--set train.batch_size=8", 8)

    learner = by["model_learner.type"]  # a component selected by name
    assert (learner.layer, learner.line, learner.source) == ("recipe", 6, "ours: plain MLE")


def test_unset_values_are_config_defaults(child: Path, test_plugins) -> None:  # noqa: ANN001
    by = _origins(child, test_plugins, [], None)
    elites = by["dynamics.elites"]
    assert (elites.layer, elites.value, elites.where) == ("default", 5, "")
    assert elites.detail == "default of dynamics 'gaussian_ensemble'"
    bc = by["policy_pretrain.steps"]
    assert bc.detail == "default of section 'policy_pretrain'"
    assert bc.source == "BC gradient steps (0: no pretraining)"
    shaper = by["reward_shaper.type"]  # the slot's default component
    assert (shaper.layer, shaper.value) == ("default", "none")
    assert by["rollout.length"].layer == "per_dataset"  # no profile: the table still applies
    assert by["train.steps"].layer == "recipe" and by["train.steps"].value == 1000
    assert "profiles.smoke.train.steps" not in by


def test_global_profile_and_dataset_switch(child: Path, test_plugins) -> None:  # noqa: ANN001
    by = _origins(child, test_plugins, ["dataset.id=walker-medium"], "quick")
    log_every = by["train.log_every"]
    assert (log_every.layer, log_every.detail) == ("profile", "profile quick (global)")
    length = by["rollout.length"]
    assert (length.value, length.line, length.detail) == (1, 7, "per_dataset walker-medium")
    assert by["dataset.id"].layer == "set"


def test_format_aligns_and_names_the_place(child: Path, test_plugins) -> None:  # noqa: ANN001
    profiled = load_profiled(child, ["train.batch_size=8"], None, test_plugins)
    text = format_origins(trace(profiled.loaded, test_plugins.registry))
    lines = {line.split()[0]: line for line in text.splitlines()}
    assert lines["rollout.length"].endswith(
        "# Paper Table 9  [" + _rel(child) + ":6, per_dataset hopper-medium]"
    )
    assert lines["train.batch_size"].endswith("# --set train.batch_size=8")
    assert "# default of dynamics 'gaussian_ensemble'" in lines["dynamics.elites"]
    assert len({line.index("#") for line in text.splitlines() if len(line.split()[1]) < 10}) == 1


def _rel(path: Path) -> str:
    from compose.recipe.errors import _display

    return _display(path)
