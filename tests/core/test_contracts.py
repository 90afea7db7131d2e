"""Runtime contracts: a component that breaks its kind's contract is named, not a crash."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal

import pytest
import torch

from compose.kinds.context import BuildContext
from compose.kinds.contracts import ComponentContractError
from compose.kinds.reward_shaper import RewardShaper, Shaped
from compose.kinds.uncertainty import Uncertainty
from compose.registry import ComponentConfig


def _ctx() -> BuildContext:
    return BuildContext(2, 1, -torch.ones(1), torch.ones(1), torch.device("cpu"))


class _Steps:
    """Enough of ModelTransitions for a shaper: rows of obs."""

    obs = torch.zeros(4, 2)


class NoneShaper(RewardShaper):
    def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
        return None


class WrongRows(RewardShaper):
    def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
        return Shaped(torch.zeros(3))


class OldTuple(RewardShaper):
    """The old return value: a (rewards, diagnostics) tuple."""

    def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
        return transitions.obs[:, 0], {}


class WrongTerminate(RewardShaper):
    def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
        return Shaped(transitions.obs[:, 0], terminate=torch.zeros(2, dtype=torch.bool))


class Fine(RewardShaper):
    def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
        return Shaped(transitions.obs[:, 0])


class Forgetful(RewardShaper):
    """No shape() at all."""


def _config(runtime: type) -> ComponentConfig:
    class Config(ComponentConfig):
        kind: ClassVar[str] = "reward_shaper"
        type: Literal["contract_test"] = "contract_test"

        def build(self, ctx: Any) -> Any:
            return runtime()

    return Config()


def test_shape_returning_none_names_the_component() -> None:
    shaper = _ctx().build(_config(NoneShaper))
    with pytest.raises(
        ComponentContractError, match=r"reward_shaper 'contract_test': shape\(\) returned None"
    ):
        shaper.shape(_Steps(), dynamics=None, agent=None)


def test_wrong_shape_is_named_with_the_expected_one() -> None:
    shaper = _ctx().build(_config(WrongRows))
    with pytest.raises(
        ComponentContractError, match=r"shape \[3\]; they must be a tensor of shape \[4\]"
    ):
        shaper.shape(_Steps(), dynamics=None, agent=None)


def test_a_tuple_is_refused_naming_the_result_type() -> None:
    shaper = _ctx().build(_config(OldTuple))
    with pytest.raises(
        ComponentContractError, match=r"returned a tuple of 2; it must return Shaped"
    ):
        shaper.shape(_Steps(), dynamics=None, agent=None)


def test_terminate_of_the_wrong_shape_is_named() -> None:
    shaper = _ctx().build(_config(WrongTerminate))
    with pytest.raises(
        ComponentContractError, match=r"returned terminate as a tensor of shape \[2\]"
    ):
        shaper.shape(_Steps(), dynamics=None, agent=None)


def test_missing_abstract_method_fails_at_build() -> None:
    with pytest.raises(ComponentContractError, match=r"Forgetful does not implement shape\(\)"):
        _ctx().build(_config(Forgetful))


def test_build_returning_another_kind_fails_at_build() -> None:
    class U(Uncertainty):
        def forward(self, obs: Any, actions: Any, **_: Any) -> Any:
            return obs[:, 0]

    with pytest.raises(
        ComponentContractError, match=r"must return a compose.kinds.reward_shaper.RewardShaper"
    ):
        _ctx().build(_config(U))


def test_checked_once_then_plain_and_copies_call_their_own_method() -> None:
    shaper = _ctx().build(_config(Fine))
    twin = copy.deepcopy(shaper)
    assert shaper.shape(_Steps(), dynamics=None, agent=None).rewards.shape == (4,)
    assert "shape" not in shaper.__dict__  # the wrapper removed itself
    assert twin.__dict__["shape"].component is twin


def test_bench_needs_are_in_the_kind_contracts() -> None:
    """compose bench times a critic target's penalty and a learner's model-phase step through
    the kinds (CriticTarget.penalty, ModelLearner.trainer), not through a component's module."""
    from compose.kinds.critic_target import CriticTarget
    from compose.kinds.model_learner import ModelLearner

    class Target(CriticTarget):
        def loss(self, inputs: Any) -> Any:
            return {}

    class Learner(ModelLearner):
        def pretrain(self, dynamics: Any, data: Any, log: Any) -> Any:
            return {}

    assert Target().penalty(None) == (None, {})  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="Learner offers no model-phase trainer"):
        Learner().trainer(None, ())  # type: ignore[arg-type]
