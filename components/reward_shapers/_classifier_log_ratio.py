"""The ``classifier_log_ratio`` reward shaper: DAMO Eq. 3-4."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from compose.kinds import (
    Agent,
    Batch,
    BuildContext,
    Dynamics,
    ModelTransitions,
    RewardShaper,
    UpdateInputs,
)
from compose.nn import MLP, make_adam

if TYPE_CHECKING:
    from components.reward_shapers.classifier_log_ratio import ClassifierLogRatioConfig

__all__ = ["ClassifierLogRatio"]


class ClassifierLogRatio(RewardShaper):
    """Owns h(s, a, s') (an MLP giving the logit of P(model)) and its Adam.

    Inputs are standardized with the dataset's observation statistics when ``ctx.data``
    has them (s and s' alike). ``log_ratio`` returns the prior-corrected, clipped logit.
    """

    def __init__(self, config: ClassifierLogRatioConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
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
        self.to(ctx.device)
        self.register_optimizer("classifier", make_adam(self.net.parameters(), lr=config.lr))

    def logit(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        """Raw classifier logit [B] (log h/(1-h), before prior correction and clipping)."""
        x = torch.cat(
            [(obs - self.obs_mean) / self.obs_std, actions, (next_obs - self.obs_mean) / self.obs_std], dim=-1
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

    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Train h on ``inputs.real`` vs ``inputs.model`` every ``train_every`` steps."""
        cfg = self.config
        if inputs.model is None or len(inputs.model) == 0 or inputs.step % cfg.train_every != 0:
            return {}
        opt = self._optimizers["classifier"][0]
        real, model = _head(inputs.real, cfg.batch_size), _head(inputs.model, cfg.batch_size)
        loss = torch.zeros(())
        for _ in range(cfg.steps):  # gradient steps (sequential by nature)
            loss = self.classifier_loss(real, model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc_real = (self.logit(real.obs, real.actions, real.next_obs) < self.prior_logit).float().mean()
            acc_model = (self.logit(model.obs, model.actions, model.next_obs) > self.prior_logit).float().mean()
        return {
            "classifier_loss": loss.detach(),
            "classifier_acc_real": acc_real,
            "classifier_acc_model": acc_model,
        }

    @torch.no_grad()
    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """r - alpha * clip(log(h / (1 - h)) - log((1 - d) / d)) for one rollout step."""
        lr_ = self.log_ratio(transitions.obs, transitions.actions, transitions.next_obs)
        rewards = transitions.rewards
        penalty = self.config.alpha * lr_.reshape(rewards.shape).to(rewards.dtype)
        c = self.config.logit_clip
        return rewards - penalty, {
            "log_ratio_mean": lr_.mean(),
            "penalty_mean": penalty.mean(),
            "clip_frac": (lr_.abs() >= c).float().mean(),
        }


def _head(batch: Batch, n: int) -> Batch:
    """The first n rows of a batch (batches are already shuffled samples)."""
    if len(batch) <= n:
        return batch
    return Batch(batch.obs[:n], batch.actions[:n], batch.rewards[:n], batch.next_obs[:n], batch.terminals[:n])
