"""Tensors that flow between components: batches, ensemble predictions, model transitions."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["Batch", "Prediction", "Terms", "ModelTransitions"]

#: Named loss terms and diagnostics. Keys starting with ``loss_`` are summed into the loss
#: that is back-propagated; every key is logged under the component's slot name.
Terms = dict[str, "torch.Tensor"]


@dataclass(frozen=True)
class Batch:
    """A batch of transitions. ``from_model`` marks model-generated rows (None: all real)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminals: torch.Tensor
    from_model: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def replace(self, **changes: torch.Tensor) -> Batch:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    @staticmethod
    def cat(real: Batch, model: Batch) -> Batch:
        """Real rows then model rows, with ``from_model`` set accordingly."""
        import torch

        parts = {
            f.name: torch.cat([getattr(real, f.name), getattr(model, f.name)])
            for f in fields(Batch)
            if f.name != "from_model"
        }
        flag = torch.cat(
            [
                torch.zeros(len(real), dtype=torch.bool, device=real.obs.device),
                torch.ones(len(model), dtype=torch.bool, device=model.obs.device),
            ]
        )
        return Batch(**parts, from_model=flag)


@dataclass(frozen=True)
class Prediction:
    """An ensemble's predictive Gaussians over (delta s, r) in raw (unnormalized) units.

    ``mean`` and ``std`` have shape [E, B, obs_dim + 1]: next-state deltas then reward.
    ``normalized_mean``/``logvar`` are in the model's normalized target space (for NLL).
    """

    mean: torch.Tensor
    std: torch.Tensor
    normalized_mean: torch.Tensor
    logvar: torch.Tensor

    @property
    def members(self) -> int:
        return int(self.mean.shape[0])


@dataclass(frozen=True)
class ModelTransitions:
    """One step of model rollouts, before reward shaping.

    ``member`` is the ensemble member each row was sampled from; ``prediction`` holds all
    members' predictive distributions at (obs, actions) so uncertainty needs no second pass.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    next_obs: torch.Tensor
    rewards: torch.Tensor
    terminals: torch.Tensor
    member: torch.Tensor
    prediction: Prediction
