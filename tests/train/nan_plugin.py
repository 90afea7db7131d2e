"""A test-only plugin: a critic aux loss that turns NaN from step ``at`` on (NaN-stop test),
a reward shaper that turns NaN, and a stateful reward shaper (resume test)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from compose import hookimpl
from compose.registry import ComponentConfig, Registry


class NanAtConfig(ComponentConfig):
    """Adds 0 to the critic loss until step ``at``, then NaN."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("critic",)
    type: Literal["nan_at"] = "nan_at"
    at: int = 30

    def build(self, ctx: Any) -> Any:
        """The runtime term."""
        from compose.kinds import AuxLoss

        at = self.at

        class NanAt(AuxLoss):
            def loss(self, inputs: Any) -> dict[str, Any]:
                import torch

                q = inputs.agent.critic(inputs.batch.obs, inputs.batch.actions)
                bad = torch.tensor(float("nan") if inputs.step >= at else 0.0)
                return {"loss_nan": q.mean() * 0.0 + bad}

        return NanAt()


@hookimpl
def compose_register_components(registry: Registry) -> None:
    """Register ``nan_at``, ``nan_shaper``, ``counting`` and ``broken_shaper``."""
    registry.add(NanAtConfig)
    registry.add(NanShaperConfig)
    registry.add(CountingShaperConfig)
    registry.add(BrokenShaperConfig)


class NanShaperConfig(ComponentConfig):
    """A reward shaper whose shaped rewards are NaN from rollout call ``at`` on (no diagnostics):
    only the loop's ``rollout/shaped_reward_mean`` shows it, so the stop must trace it here."""

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["nan_shaper"] = "nan_shaper"
    at: int = 2

    def build(self, ctx: Any) -> Any:
        """The runtime shaper."""
        from compose.kinds import RewardShaper, Shaped

        at = self.at

        class NanShaper(RewardShaper):
            def __init__(self) -> None:
                super().__init__()
                self.calls = 0

            def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
                self.calls += 1
                r = transitions.rewards
                return Shaped(r * float("nan") if self.calls >= at else r)

        return NanShaper()


class CountingShaperConfig(ComponentConfig):
    """A stateful shaper: r~ = r - 0.05 * (its call count), the count a plain attribute.

    ``save: true`` keeps the count in its checkpoint state, as the Component contract asks of
    every plain attribute a later step depends on; ``save: false`` does not (it is lost on
    resume: the resumed run differs).
    """

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["counting"] = "counting"
    save: bool = True

    def build(self, ctx: Any) -> Any:
        """The runtime shaper."""
        from compose.kinds import RewardShaper, Shaped

        save = self.save

        class Counting(RewardShaper):
            def __init__(self) -> None:
                super().__init__()
                self.calls = 0

            def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
                self.calls += 1
                return Shaped(transitions.rewards - 0.05 * self.calls)

            def checkpoint_state(self) -> dict[str, Any]:
                state = super().checkpoint_state()
                return {**state, "calls": self.calls} if save else state

            def load_checkpoint_state(self, state: dict[str, Any]) -> None:
                super().load_checkpoint_state(state)
                if save:
                    self.calls = int(state["calls"])

        return Counting()


class BrokenShaperConfig(ComponentConfig):
    """A reward shaper that breaks its kind's contract: ``shape`` returns None."""

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["broken_shaper"] = "broken_shaper"

    def build(self, ctx: Any) -> Any:
        """The runtime shaper."""
        from compose.kinds import RewardShaper

        class Broken(RewardShaper):
            def shape(self, transitions: Any, *, dynamics: Any, agent: Any) -> Any:
                return None

        return Broken()
