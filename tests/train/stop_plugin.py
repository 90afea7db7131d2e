"""A test-only plugin: a critic aux loss (always 0) that stops the run after a chosen step.

``COMPOSE_TEST_STOP`` (``STEP:HOW``) presses Ctrl-C during the update that ends at step
STEP, by sending the process SIGINT: ``HOW`` ``once`` (the run saves a checkpoint after step
STEP and exits 130) or ``twice`` (an abort: the run stops at once, nothing after the last
checkpoint is saved), ``kill`` sends SIGKILL. Read when the run builds its components, so
one process may run several times. Unset, the term changes nothing: a run with it and
without the variable is the uninterrupted reference, with the same recipe (and resume check).
"""

from __future__ import annotations

import os
import signal
from typing import Any, ClassVar, Literal

from compose import hookimpl
from compose.registry import ComponentConfig, Registry

STOP_ENV = "COMPOSE_TEST_STOP"


class StopAtConfig(ComponentConfig):
    """A zero critic loss that signals its own process as ``COMPOSE_TEST_STOP`` says."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("critic",)
    type: Literal["stop_at"] = "stop_at"

    def build(self, ctx: Any) -> Any:
        """The runtime term."""
        from compose.kinds import AuxLoss

        at, _, how = os.environ.get(STOP_ENV, "-1:once").partition(":")
        stop_step = int(at)
        signals = {"once": [signal.SIGINT], "twice": [signal.SIGINT] * 2, "kill": [signal.SIGKILL]}

        class StopAt(AuxLoss):
            def loss(self, inputs: Any) -> dict[str, Any]:
                if inputs.step == stop_step - 1:  # the update that ends at step ``stop_step``
                    for sig in signals[how]:
                        os.kill(os.getpid(), sig)
                q = inputs.agent.critic(inputs.batch.obs, inputs.batch.actions)
                return {"loss_stop": q.mean() * 0.0}

        return StopAt()


@hookimpl
def compose_register_components(registry: Registry) -> None:
    """Register ``stop_at``."""
    registry.add(StopAtConfig)
