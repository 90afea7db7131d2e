"""The ``classifier_log_ratio`` reward shaper: DAMO Eq. 3-4, App. C.3."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from compose.kinds import (
    Agent,
    Batch,
    Buffers,
    BuildContext,
    Dynamics,
    ModelTransitions,
    RewardShaper,
    Shaped,
    UpdateInputs,
)
from compose.nn import MLP, make_adam

if TYPE_CHECKING:
    from components.reward_shapers.classifier_log_ratio import ClassifierLogRatioConfig

__all__ = ["ClassifierLogRatio"]

#: Added to the run's seed for the classifier's own batch generator (a stream of its own).
_SEED_OFFSET = 0xC1A55


class ClassifierLogRatio(RewardShaper):
    """Owns h(s, a, s') (an MLP giving the logit of P(model)), its Adam and its batch generator.

    Inputs are standardized with the dataset's observation statistics when ``ctx.data``
    has them (s and s' alike). ``log_ratio`` returns the prior-corrected, clipped logit.
    The generator draws the classifier's own batches (``batch_source: buffers``) so that the
    trainer's random stream is the one it would be without them; it is seeded from
    ``ctx.component_seed()`` (the run's seed) and saved in the checkpoint state.
    """

    def __init__(self, config: ClassifierLogRatioConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.shape_at = config.shape_at
        self.net = MLP(2 * ctx.obs_dim + ctx.act_dim, 1, config.hidden, config.activation)
        mean = torch.zeros(ctx.obs_dim)
        std = torch.ones(ctx.obs_dim)
        data: Any = ctx.data
        if data is not None and hasattr(data, "stats"):
            stats = data.stats()
            mean, std = stats.obs_mean.float().cpu(), stats.obs_std.float().cpu()
        self.register_buffer("obs_mean", mean)
        self.register_buffer("obs_std", std)
        self.prior_logit = math.log((1.0 - config.real_fraction) / config.real_fraction)
        self.n_real = min(
            max(round(config.real_fraction * config.batch_size), 1), config.batch_size - 1
        )
        seed = ctx.component_seed()
        self.generator = torch.Generator(device=ctx.device).manual_seed(
            (seed + _SEED_OFFSET) % (2**63)
        )
        self.to(ctx.device)
        self.register_optimizer("classifier", make_adam(self.net.parameters(), lr=config.lr))

    def logit(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        """Raw classifier logit [B] (log h/(1-h), before prior correction and clipping)."""
        x = torch.cat(
            [
                (obs - self.obs_mean) / self.obs_std,
                actions,
                (next_obs - self.obs_mean) / self.obs_std,
            ],
            dim=-1,
        )
        return self.net(x).squeeze(-1)

    @torch.no_grad()
    def log_ratio(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        """Estimated log(rho_M / rho_T) [B]: prior-corrected logit clipped to +-logit_clip."""
        c = self.config.logit_clip
        return (self.logit(obs, actions, next_obs) - self.prior_logit).clamp(-c, c)

    def classifier_loss(self, real: Batch, model: Batch) -> Tensor:
        """d * BCE(h(real), 0) + (1 - d) * BCE(h(model), 1) (Eq. 3 with the ratio d)."""
        d = self.config.real_fraction
        lr_ = self.logit(real.obs, real.actions, real.next_obs)
        lm = self.logit(model.obs, model.actions, model.next_obs)
        return d * F.softplus(lr_).mean() + (1.0 - d) * F.softplus(-lm).mean()

    def draw(self, buffers: Buffers) -> tuple[Batch, Batch]:
        """One classifier batch from the buffers: round(d * batch_size) real rows, rest model."""
        g = self.generator
        real = buffers.real.gather(buffers.real.indices(self.n_real, g))
        model = buffers.model.gather(buffers.model.indices(self.config.batch_size - self.n_real, g))
        return real, model

    def _rows(self, inputs: UpdateInputs) -> Callable[[], tuple[Batch, Batch]] | None:
        """What gives each gradient step its (real, model) rows (None: nothing to train on yet)."""
        cfg = self.config
        if cfg.batch_source == "policy_batch":
            if inputs.model is None or len(inputs.model) == 0:
                return None
            rows = _head(inputs.real, cfg.batch_size), _head(inputs.model, cfg.batch_size)
            return lambda: rows
        buffers = inputs.buffers
        if buffers is None:
            raise ValueError(
                "reward shaper 'classifier_log_ratio': batch_source 'buffers' needs "
                "UpdateInputs.buffers (the trainer passes them); set "
                "reward_shaper.batch_source=policy_batch to train on the policy batch's rows"
            )
        if len(buffers.model) == 0:
            return None
        return lambda: self.draw(buffers)

    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``steps`` gradient steps of Eq. 3 every ``train_every`` policy steps.

        ``buffers``: a fresh draw at each gradient step (App. C.3); ``policy_batch``: the
        policy batch's rows at each.
        """
        cfg = self.config
        rows = self._rows(inputs) if inputs.step % cfg.train_every == 0 else None
        if rows is None:
            return {}
        opt = self._optimizers["classifier"][0]
        loss = torch.zeros(())
        for _ in range(cfg.steps):  # gradient steps (sequential by nature)
            real, model = rows()
            loss = self.classifier_loss(real, model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc_real = (
                (self.logit(real.obs, real.actions, real.next_obs) < self.prior_logit)
                .float()
                .mean()
            )
            acc_model = (
                (self.logit(model.obs, model.actions, model.next_obs) > self.prior_logit)
                .float()
                .mean()
            )
        return {
            "classifier_loss": loss.detach(),
            "classifier_acc_real": acc_real,
            "classifier_acc_model": acc_model,
        }

    @torch.no_grad()
    def _shaped(self, obs: Tensor, actions: Tensor, next_obs: Tensor, rewards: Tensor) -> Shaped:
        """r - alpha * clip(log(h / (1 - h)) - log((1 - d) / d)), and diagnostics."""
        lr_ = self.log_ratio(obs, actions, next_obs)
        penalty = self.config.alpha * lr_.reshape(rewards.shape).to(rewards.dtype)
        c = self.config.logit_clip
        return Shaped(
            rewards - penalty,
            {
                "log_ratio_mean": lr_.mean(),
                "penalty_mean": penalty.mean(),
                "clip_frac": (lr_.abs() >= c).float().mean(),
            },
        )

    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> Shaped:
        """Eq. 4's reward for one rollout step (``shape_at: rollout``)."""
        t = transitions
        return self._shaped(t.obs, t.actions, t.next_obs, t.rewards)

    def shape_sampled(
        self, batch: Batch, *, dynamics: Dynamics | None, agent: Agent | None
    ) -> Shaped:
        """Eq. 4's reward for the model rows of a policy batch, with the current h (sampling)."""
        return self._shaped(batch.obs, batch.actions, batch.next_obs, batch.rewards)


def _head(batch: Batch, n: int) -> Batch:
    """The first n rows of a batch (batches are already shuffled samples)."""
    if len(batch) <= n:
        return batch
    return Batch(
        batch.obs[:n], batch.actions[:n], batch.rewards[:n], batch.next_obs[:n], batch.terminals[:n]
    )
