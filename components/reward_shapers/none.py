"""Config of the ``none`` reward shaper (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from compose.registry import ComponentConfig

__all__ = ["NoShapingConfig"]


class NoShapingConfig(ComponentConfig):
    """The model's reward unchanged: r~ = r (MBPO, MOBILE, and any critic-side penalty).

    MBPO (Janner et al. 2019): model rollouts are trained on the predicted reward as is;
    MOBILE puts its penalty in the critic target, not in the reward.
    """

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["none"] = "none"

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.reward_shapers._none.NoShaping` shaper."""
        from components.reward_shapers._none import NoShaping

        return NoShaping(self, ctx)
