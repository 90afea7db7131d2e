"""Field types for component slots, for use in recipe schemas and component configs.

``uncertainty: UncertaintySlot`` in a config makes that field a discriminated union of all
registered uncertainty components, built when the registry is final — so a plugin's
component is accepted in a built-in's nested slot.
"""

from __future__ import annotations

from typing import Annotated

from compose.registry import ComponentConfig, Slot

__all__ = [
    "ActorAuxLossSlot",
    "ActorObjectiveSlot",
    "CriticAuxLossSlot",
    "CriticTargetSlot",
    "DatasetSlot",
    "DynamicsSlot",
    "ModelAuxLossSlot",
    "ModelLearnerSlot",
    "PolicySlot",
    "RewardShaperSlot",
    "UncertaintySlot",
]

DynamicsSlot = Annotated[ComponentConfig, Slot("dynamics")]
ModelLearnerSlot = Annotated[ComponentConfig, Slot("model_learner")]
ModelAuxLossSlot = Annotated[ComponentConfig, Slot("aux_loss", "model")]
CriticAuxLossSlot = Annotated[ComponentConfig, Slot("aux_loss", "critic")]
ActorAuxLossSlot = Annotated[ComponentConfig, Slot("aux_loss", "actor")]
UncertaintySlot = Annotated[ComponentConfig, Slot("uncertainty")]
RewardShaperSlot = Annotated[ComponentConfig, Slot("reward_shaper")]
CriticTargetSlot = Annotated[ComponentConfig, Slot("critic_target")]
ActorObjectiveSlot = Annotated[ComponentConfig, Slot("actor_objective")]
PolicySlot = Annotated[ComponentConfig, Slot("policy")]
DatasetSlot = Annotated[ComponentConfig, Slot("dataset")]
