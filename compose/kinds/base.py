"""The runtime base of every component: a torch module that owns its optimizers."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Component"]


class Component(nn.Module):
    """Base of runtime components.

    A component is an ``nn.Module`` (so ``.to(device)`` and ``state_dict`` cover its
    networks) that may own optimizers. An optimizer registered with ``attached=True`` is
    stepped by the trainer right after the backward pass of the loss this component
    contributes to (e.g. SAC's temperature); one with ``attached=False`` is stepped by the
    component itself inside its ``update`` (e.g. VIPO's value nets, DAMO's classifier).
    Both are saved in checkpoints.

    What a checkpoint holds of a component is :meth:`checkpoint_state`: its ``state_dict``
    (parameters and registered buffers) and its optimizers. A plain Python attribute (a
    counter, a schedule position, a running statistic, a ``torch.Generator``) is not in it:
    a resumed run rebuilds the component and such an attribute starts from its initial
    value. A component whose later steps depend on one must save it: override
    :meth:`checkpoint_state` to add it (tensors, lists, numbers and strings only: checkpoints
    load with ``weights_only=True``) and :meth:`load_checkpoint_state` to restore it, or keep
    it in a registered buffer (tests/train/test_run_dir.py, a stateful reward shaper).

    One plain attribute is saved for every component: its own random stream, a
    ``torch.Generator`` kept as ``self.generator`` (the convention seed batching relies on
    too, compose.train.seeds.rng), so a component that draws its own batches resumes exactly.

    A checkpoint may hold the state of an optimizer the component has not created yet when
    it is loaded: that state is held, loaded when the optimizer is registered, and written
    back unchanged by :meth:`checkpoint_state` until then.
    Why: a learner may create its optimizer inside ``pretrain`` (the model phase), which a
    resumed run (or one whose model came from the cache) skips; dropping that state would
    make a later optimizer start from zero moments where an uninterrupted run would not.
    """

    def __init__(self) -> None:
        super().__init__()
        self._optimizers: dict[str, tuple[torch.optim.Optimizer, bool]] = {}
        self._pending_optimizer_states: dict[str, dict[str, Any]] = {}

    def register_optimizer(
        self, name: str, optimizer: torch.optim.Optimizer, *, attached: bool = False
    ) -> torch.optim.Optimizer:
        """Own ``optimizer`` under ``name`` (checkpointed); ``attached``: the trainer steps it.

        A state held for ``name`` by :meth:`load_optimizer_states` is loaded into it now.
        """
        self._optimizers[name] = (optimizer, attached)
        held = self._pending_optimizer_states.pop(name, None)
        if held is not None:
            optimizer.load_state_dict(held)
        return optimizer

    def attached_optimizers(self) -> list[torch.optim.Optimizer]:
        """Optimizers the trainer steps after the backward of the loss this component is in."""
        return [opt for opt, attached in self._optimizers.values() if attached]

    def update(self, inputs: Any) -> dict[str, torch.Tensor]:
        """Train the networks this component owns on one batch; default: nothing.

        Called by the trainer once per policy-phase step, before the losses are computed.
        Components decide their own schedule (e.g. train every N calls) from their config.
        """
        return {}

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to resume: module state, optimizer states (held ones too) and
        the state of the component's own ``generator``, if it has one."""
        state: dict[str, Any] = {
            "module": self.state_dict(),
            "optimizers": {
                **self._pending_optimizer_states,
                **{k: opt.state_dict() for k, (opt, _) in self._optimizers.items()},
            },
        }
        generator = getattr(self, "generator", None)
        if isinstance(generator, torch.Generator):
            state["generator"] = generator.get_state()
        return state

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`checkpoint_state` returned."""
        self.load_state_dict(state["module"])
        self.load_optimizer_states(state.get("optimizers", {}))
        generator = getattr(self, "generator", None)
        if isinstance(generator, torch.Generator) and "generator" in state:
            generator.set_state(state["generator"].cpu())

    def load_optimizer_states(self, states: dict[str, Any]) -> None:
        """Load each state into its registered optimizer; hold the others until registered."""
        for name, opt_state in states.items():
            if name in self._optimizers:
                self._optimizers[name][0].load_state_dict(opt_state)
            else:
                self._pending_optimizer_states[name] = opt_state
