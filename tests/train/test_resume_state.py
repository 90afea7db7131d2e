"""Resume is exact for recipes whose components carry state beyond their module.

Each recipe runs at tiny size on the tiny pendulum data in deterministic CPU mode: once for
40 steps, and once for 20 steps then ``--resume``d to 40. Every tensor of the two final
checkpoints (networks, every optimizer's moments, component generators, the model buffer,
the global RNG states) must be bit-identical. The components' extra state (VIPO's value
nets and generator, ROMI's weight net, generator and model optimizer, RAMBO's model
optimizer, AMPL's discriminator and omega net, DAMO's classifier) only comes back through
their own ``load_checkpoint_state``, which ``compose.train.checkpoint.load_component_state``
calls. The interrupted run takes its model from the cache the first run wrote, so the
cache path is held to the same standard.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from compose.cli import cli
from compose.kinds import Component
from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.recipe.profiles import applicable_overrides
from compose.train.checkpoint import load_checkpoint, load_component_state
from tests.helpers.runs import DATASET, ROOT, SHRINK, flat_tensors

RECIPES = ["vipo_mopo", "romi", "rambo", "ampl", "damo"]

#: Schedules chosen so that every periodic update (model learner, rollouts, retraining)
#: fires both before and after the interruption at step 20.
SCHEDULE = (
    "train.steps=40",
    "train.log_every=10",
    "eval.every=20",
    "checkpoint.every=20",
    "rollout.every=10",
    "model_learner.every=10",
    "model_learner.retrain_every=15",
)


def run(*args: str) -> None:
    res = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]


@pytest.mark.parametrize("name", RECIPES)
def test_interrupted_and_resumed_run_is_bit_identical(
    name: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)
    dataset = f"dataset={{source: minari, id: {DATASET}}}"
    base = load_recipe(name, [dataset], plugins=load_plugins())
    sets = [
        dataset,
        *applicable_overrides((*SHRINK, *SCHEDULE), base.recipe),
        f"runtime.model_cache={tmp_path / 'models'}",
    ]
    args = [a for s in sets for a in ("--set", s)] + ["--no-track"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run(name, *args, "--run-dir", str(whole))
    run(name, *args, "--steps", "20", "--run-dir", str(parts))
    assert torch.load(parts / "checkpoint.pt", weights_only=True)["step"] == 20
    run("--resume", str(parts), "--steps", "40", "--no-track")

    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(parts / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 40
    ta, tb = flat_tensors(a), flat_tensors(b)
    assert ta.keys() == tb.keys(), sorted(set(ta) ^ set(tb))
    unequal = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not unequal, unequal


class Lazy(Component):
    """A component that creates its optimizer only when first used (as learners in pretrain)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(3, 2)
        self.generator = torch.Generator().manual_seed(0)

    def attach(self) -> None:
        self.register_optimizer("late", torch.optim.Adam(self.net.parameters(), lr=1e-2))

    def train_once(self) -> None:
        opt = self._optimizers["late"][0]
        opt.zero_grad()
        self.net(torch.randn(4, 3, generator=self.generator)).square().sum().backward()
        opt.step()

    def checkpoint_state(self) -> dict[str, Any]:
        return {**super().checkpoint_state(), "generator": self.generator.get_state()}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        super().load_checkpoint_state(state)
        self.generator.set_state(state["generator"])


def test_optimizer_created_after_loading_gets_its_saved_state() -> None:
    torch.manual_seed(0)
    a = Lazy()
    a.attach()
    for _ in range(3):
        a.train_once()
    state = copy.deepcopy(a.checkpoint_state())  # as torch.save + load: no shared tensors
    b = Lazy()  # no optimizer yet: its state waits, and is saved again meanwhile
    load_component_state(b, state)
    assert torch.equal(b.generator.get_state(), a.generator.get_state())  # own load ran
    again = b.checkpoint_state()
    assert torch.equal(
        again["optimizers"]["late"]["state"][0]["exp_avg"],
        state["optimizers"]["late"]["state"][0]["exp_avg"],
    )
    b.attach()
    a.train_once()
    b.train_once()
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert "late" in b.checkpoint_state()["optimizers"] and not b._pending_optimizer_states


def test_checkpoint_tensors_go_to_the_device_but_rng_states_stay_on_cpu(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(3)
    state = {
        "critic": {"w": torch.ones(2)},
        "components": {
            "x": {
                "module": {"b": torch.zeros(3)},
                "generator": gen.get_state(),
                "aux_losses": [{"generator": gen.get_state()}],
            }
        },
        "rng": {"torch": torch.get_rng_state(), "numpy": ["MT19937", torch.arange(3), 0]},
        "step": 7,
    }
    torch.save(state, tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt", "meta")  # any non-CPU device
    assert loaded["critic"]["w"].is_meta and loaded["components"]["x"]["module"]["b"].is_meta
    comp = loaded["components"]["x"]
    for kept in (
        comp["generator"],
        comp["aux_losses"][0]["generator"],
        loaded["rng"]["torch"],
        loaded["rng"]["numpy"][1],
    ):
        assert kept.device.type == "cpu"
    torch.Generator().set_state(comp["generator"])
    assert loaded["step"] == 7
