"""The component kinds: runtime contracts every built-in and plugin component implements.

Importing this package imports torch; recipe validation never does (configs live in
torch-free modules).
"""

from __future__ import annotations

from compose.kinds.actor_objective import ActorObjective
from compose.kinds.agent import Agent, QEnsemble
from compose.kinds.aux_loss import AuxLoss
from compose.kinds.base import Component
from compose.kinds.context import Buffers, BuildContext, TransitionSource, UpdateInputs
from compose.kinds.critic_target import CriticTarget
from compose.kinds.dynamics import Dynamics
from compose.kinds.model_learner import MetricsSink, ModelLearner
from compose.kinds.policy import Policy, PolicySample
from compose.kinds.reward_shaper import RewardShaper, ShapeAt, Shaped
from compose.kinds.types import Batch, ModelTransitions, Prediction, Terms
from compose.kinds.uncertainty import Uncertainty

__all__ = [
    "ActorObjective",
    "Agent",
    "AuxLoss",
    "Batch",
    "Buffers",
    "BuildContext",
    "Component",
    "CriticTarget",
    "Dynamics",
    "MetricsSink",
    "ModelLearner",
    "ModelTransitions",
    "Policy",
    "PolicySample",
    "Prediction",
    "QEnsemble",
    "RewardShaper",
    "ShapeAt",
    "Shaped",
    "Terms",
    "TransitionSource",
    "Uncertainty",
    "UpdateInputs",
]
