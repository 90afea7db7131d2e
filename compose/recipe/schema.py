"""The recipe schema: one Pydantic model for a whole run, component slots included.

Framework sections (train, rollout, critic, actor, eval, checkpoint, runtime, track) are
fixed here; component slots are discriminated unions built from the registry in force, so
``recipe_model(registry)`` must be called after plugins load. Cross-field rules are model
validators, so a recipe that cannot work fails at load time, not at step 200k.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from compose.registry import ComponentConfig, Registry
from compose.slots import (
    ActorAuxLossSlot,
    ActorObjectiveSlot,
    CriticAuxLossSlot,
    CriticTargetSlot,
    DatasetSlot,
    DynamicsSlot,
    ModelLearnerSlot,
    PolicySlot,
    RewardShaperSlot,
)

__all__ = [
    "ActorSection",
    "CheckpointSection",
    "CriticSection",
    "EvalSection",
    "PolicyPretrainSection",
    "Recipe",
    "RolloutSection",
    "RuntimeSection",
    "TrackSection",
    "TrainSection",
    "recipe_model",
]

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
LearningRate = Annotated[float, Field(gt=0.0, lt=1.0)]
#: A seed: a non-negative int32, so that the offsets a run adds (seed + 10_000 for
#: evaluation envs) stay within every RNG's range (numpy's legacy seed takes < 2**32).
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Section(BaseModel):
    """A frozen, strict recipe section."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, validate_default=True, allow_inf_nan=False
    )


class TrainSection(Section):
    """The policy phase: number of gradient steps, batch size, discount, target smoothing."""

    steps: NonNegativeInt = 1_000_000
    batch_size: PositiveInt = 256
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.99
    tau: Annotated[float, Field(gt=0.0, le=1.0)] = 5e-3
    log_every: PositiveInt = 1000
    actor_warmup: NonNegativeInt = Field(
        0,
        description="first policy-phase steps that train only the critics (the actor and its "
        "temperature stay as they are): lets a behavior-cloned policy (policy_pretrain) meet "
        "critics that already evaluate it instead of random ones; 0 = off (the papers)",
    )


class RolloutSection(Section):
    """Branched model rollouts from dataset states (MBPO/MOPO) and real/model mixing."""

    every: PositiveInt = 1000
    length: PositiveInt = 5
    batch_size: PositiveInt = 50_000
    retain: PositiveInt = Field(5, description="model buffer keeps this many rollout rounds")
    real_ratio: Fraction = 0.05
    actions: Literal["policy", "uniform"] = "policy"
    chunk_size: PositiveInt = Field(
        2_000,
        description="rollout starts processed at once (bounds peak memory; chunks of 1000-2000 "
        "keep the ensemble's activations in cache: ~1.7x faster than 50000 on CPU)",
    )


class PolicyPretrainSection(Section):
    """Behavior cloning of the policy between the model and the policy phase (0 steps: off).

    ROMI (App. D, Algorithm 1 lines 8-12) and RAMBO: "(optionally) pre-train the
    policy" by L_BC = -E_(s,a)~D log pi(a|s). ``loss: auto`` maximizes the log-likelihood of
    dataset actions for policies with a density (``has_log_prob``) and otherwise regresses a
    sampled action onto the dataset action (mean squared error), e.g. AMPL's implicit policy.
    """

    steps: NonNegativeInt = Field(0, description="BC gradient steps (0: no pretraining)")
    lr: LearningRate = Field(1e-4, description="Adam learning rate of the BC steps")
    batch_size: PositiveInt = Field(256, description="dataset (s, a) pairs per BC step")
    loss: Literal["auto", "nll", "mse"] = Field(
        "auto", description="auto: nll if the policy has a density, else mse of a sampled action"
    )


ProfileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]


class CriticSection(Section):
    """The critic ensemble (K Q-networks as one vectorized module) and its aux losses."""

    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 256], min_length=1)
    num_critics: Annotated[int, Field(ge=1, le=64)] = 2
    lr: LearningRate = 3e-4
    aux_losses: list[CriticAuxLossSlot] = Field(default_factory=list)


class ActorSection(Section):
    """The actor's optimizer and its aux losses (the network is the ``policy`` slot)."""

    lr: LearningRate = 1e-4
    aux_losses: list[ActorAuxLossSlot] = Field(default_factory=list)


class EvalSection(Section):
    """Evaluation in the real env: every N steps, N episodes, deterministic policy."""

    every: PositiveInt = 10_000
    episodes: PositiveInt = 10
    final_episodes: PositiveInt | None = Field(
        None, description="episodes at the end; default: episodes"
    )


class CheckpointSection(Section):
    """Atomic checkpoints every N steps into the run directory."""

    every: PositiveInt = 50_000
    keep_buffer: bool = Field(True, description="store the model buffer (exact resume)")


class RuntimeSection(Section):
    """Where and how the run executes; never changes the mathematics."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: PositiveInt | None = None
    deterministic: bool = False
    compile: bool = False
    runs_dir: str = "runs"
    model_cache: str | None = Field(".compose/models", description="null: never cache models")


class TrackSection(Section):
    """Run tracking: Aim (local repo or server address) or none."""

    backend: Literal["aim", "none"] = "aim"
    repo: str = Field(".aim", description="a folder, or aim://host:port for an Aim server")
    experiment: str | None = None
    tags: list[str] = Field(default_factory=list)


class Recipe(Section):
    """A whole run: data, model, planner, training, evaluation, runtime."""

    SLOTS: ClassVar[tuple[str, ...]] = (
        "dataset",
        "dynamics",
        "model_learner",
        "reward_shaper",
        "policy",
        "critic_target",
        "actor_objective",
    )

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str = ""
    seed: Seed = 0
    seeds: list[Seed] | None = Field(
        default=None,
        description="train these seeds in one process, their policy phases batched (compose run; "
        "--seeds overrides); each seed's run directory gets this recipe with seed: <s>, seeds: null",
    )
    dataset: DatasetSlot
    dynamics: DynamicsSlot
    model_learner: ModelLearnerSlot
    rollout: RolloutSection = RolloutSection()
    reward_shaper: RewardShaperSlot = Field(default="none")  # type: ignore[assignment]
    policy: PolicySlot = Field(default="tanh_gaussian")  # type: ignore[assignment]
    critic: CriticSection = CriticSection()
    critic_target: CriticTargetSlot = Field(default="sac")  # type: ignore[assignment]
    policy_pretrain: PolicyPretrainSection = PolicyPretrainSection()
    actor: ActorSection = ActorSection()
    actor_objective: ActorObjectiveSlot = Field(default="sac")  # type: ignore[assignment]
    train: TrainSection = TrainSection()
    eval: EvalSection = EvalSection()
    checkpoint: CheckpointSection = CheckpointSection()
    runtime: RuntimeSection = RuntimeSection()
    track: TrackSection = TrackSection()
    profiles: dict[ProfileName, dict[str, Any]] = Field(
        default_factory=dict,
        description="per named profile (quick, ...): {dotted.path: value} applied on top of the "
        "global profile when it is selected (compose.recipe.profiles)",
    )

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
            raise ValueError(f"seeds must be a non-empty list of distinct seeds, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _policy_density(self) -> Recipe:
        """Objectives that need log pi cannot train a policy without a density."""
        if type(self.policy).has_log_prob:
            return self
        if self.policy_pretrain.loss == "nll" and self.policy_pretrain.steps > 0:
            raise PydanticCustomError(
                "incompatible_components",
                "policy_pretrain.loss 'nll' needs log pi, but policy '{policy}' has no density; "
                "use loss: auto or mse (regression of a sampled action)",
                {"policy": self.policy.component_name()},
            )
        for slot in ("critic_target", "actor_objective"):
            component: ComponentConfig = getattr(self, slot)
            if type(component).needs_log_prob:
                raise PydanticCustomError(
                    "incompatible_components",
                    "{slot} '{name}' needs log pi, but policy '{policy}' has no density; "
                    "use a policy with log-probabilities or an objective without entropy",
                    {
                        "slot": slot,
                        "name": component.component_name(),
                        "policy": self.policy.component_name(),
                    },
                )
        return self

    @model_validator(mode="after")
    def _known_reward(self) -> Recipe:
        """A dynamics model that does not learn r needs the dataset env's known reward.

        Why here: without it the model would hand the agent zero rewards (ROMI App. D.2
        assumes a known r; compose.envs.rewards has them for some envs). A dataset whose
        env cannot be read from its config is checked when the dynamics is built.
        """
        if getattr(self.dynamics, "learn_reward", True):
            return self
        from compose.envs.rewards import REWARD_ENVS, known_reward_envs

        env = _dataset_env(self.dataset)
        if env is None or env in REWARD_ENVS:
            return self
        raise PydanticCustomError(
            "unknown_reward",
            "dynamics.learn_reward: false needs a known reward r(s, a, s') for the dataset's "
            "env '{env}', and it has none; envs with a known reward: {known}. Set "
            "dynamics.learn_reward: true (the model predicts r) for this dataset",
            {"env": env, "known": known_reward_envs()},
        )

    def slot_configs(self) -> dict[str, Any]:
        """Every component config of this recipe, by slot path (for logging and docs)."""
        out: dict[str, Any] = {s: getattr(self, s) for s in self.SLOTS}
        for i, c in enumerate(self.critic.aux_losses):
            out[f"critic.aux_losses.{i}"] = c
        for i, c in enumerate(self.actor.aux_losses):
            out[f"actor.aux_losses.{i}"] = c
        return out


def _dataset_env(dataset: Any) -> str | None:
    """The env a dataset config names: its ``env_id``, or the env part of a Minari id
    (mujoco/hopper/medium-v0 -> hopper); the short name when known, else the raw name;
    None when the config does not say (then the dataset's own metadata decides at build).
    """
    from compose.envs.reference import short_env_name

    env_id = getattr(dataset, "env_id", None)
    if isinstance(env_id, str):
        return short_env_name(env_id) or env_id
    dataset_id = getattr(dataset, "id", None)
    if isinstance(dataset_id, str) and dataset_id.count("/") >= 2:
        env = dataset_id.split("/")[-2]
        return short_env_name(env) or env
    return None


_SECTIONS: tuple[type[BaseModel], ...] = (
    TrainSection,
    RolloutSection,
    CriticSection,
    ActorSection,
    EvalSection,
    PolicyPretrainSection,
    CheckpointSection,
    RuntimeSection,
    TrackSection,
    Recipe,
)
_BUILT_FOR: list[Registry] = []


def recipe_model(registry: Registry) -> type[Recipe]:
    """The Recipe model with slots built from ``registry`` (rebuilt when it changes)."""
    if not _BUILT_FOR or _BUILT_FOR[0] is not registry:
        registry.finalize()
        with registry.active():
            for section in _SECTIONS:
                section.model_rebuild(force=True)
        _BUILT_FOR[:] = [registry]
    return Recipe
