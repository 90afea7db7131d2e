"""A test-only plugin: a critic aux loss that turns NaN from step ``at`` on (NaN-stop test)."""

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
    """Register ``nan_at``."""
    registry.add(NanAtConfig)
