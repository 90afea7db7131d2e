"""The ``rollout_discriminator`` actor aux loss: AMPL Eq. 14-16."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compose.kinds import Agent, AuxLoss, BuildContext, Dynamics, UpdateInputs
from compose.nn import MLP, make_adam, q_without_param_grad

if TYPE_CHECKING:
    from components.aux_losses.rollout_discriminator import RolloutDiscriminatorConfig

__all__ = ["Discriminator", "RolloutDiscriminator"]


class Discriminator(nn.Module):
    """D_psi(s, a) as a logit [B]; observations standardized with the dataset statistics."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: list[int], activation: str, data: Any
    ) -> None:
        super().__init__()
        self.net = MLP(obs_dim + act_dim, 1, hidden, activation)
        mean, std = torch.zeros(obs_dim), torch.ones(obs_dim)
        if data is not None and hasattr(data, "stats"):
            stats = data.stats()
            mean, std = stats.obs_mean.float().cpu(), stats.obs_std.float().cpu()
        self.register_buffer("obs_mean", mean)
        self.register_buffer("obs_std", std)

    def forward(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Logit of P(true | s, a): [B]."""
        return self.net(torch.cat([(obs - self.obs_mean) / self.obs_std, actions], dim=-1)).squeeze(
            -1
        )


class RolloutDiscriminator(AuxLoss):
    """Trains D on data vs one-step rollouts; ``loss_generator`` = weight * L_g for the actor.

    ``update`` draws the fake states (s from the batch, s' from one model step) and keeps
    them for the ``loss`` of the same step, which re-draws a = pi(s), a' = pi(s') with
    gradient; D's parameters are detached there (only the policy learns from L_g).
    """

    def __init__(self, config: RolloutDiscriminatorConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.disc = Discriminator(
            ctx.obs_dim, ctx.act_dim, config.hidden, config.activation, ctx.data
        )
        self.disc.to(ctx.device)
        self.register_optimizer("discriminator", make_adam(self.disc.parameters(), lr=config.lr))
        self._fake_states: tuple[int, Tensor, Tensor] | None = None

    @staticmethod
    def _parts(inputs: UpdateInputs) -> tuple[Agent, Dynamics]:
        if inputs.agent is None or inputs.dynamics is None:
            raise ValueError(
                "aux loss 'rollout_discriminator': UpdateInputs.agent and .dynamics are required"
            )
        return inputs.agent, inputs.dynamics

    @torch.no_grad()
    def fake_states(self, inputs: UpdateInputs) -> tuple[Tensor, Tensor]:
        """(s, s'): s from the training batch, s' ~ P_hat(s, pi(s)) (cached for this step)."""
        if self._fake_states is not None and self._fake_states[0] == inputs.step:
            return self._fake_states[1], self._fake_states[2]
        agent, dynamics = self._parts(inputs)
        obs = (inputs.batch if inputs.batch is not None else inputs.real).obs
        actions = agent.policy(obs).actions
        next_obs = dynamics.sample(obs, actions).next_obs
        self._fake_states = (inputs.step, obs, next_obs)
        return obs, next_obs

    def discriminator_loss(
        self, true_obs: Tensor, true_act: Tensor, fake_obs: Tensor, fake_act: Tensor
    ) -> Tensor:
        """-Eq. 16: BCE with true -> 1 and fake -> 0 (minimized)."""
        return (
            F.softplus(-self.disc(true_obs, true_act)).mean()
            + F.softplus(self.disc(fake_obs, fake_act)).mean()
        )

    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``steps`` Adam steps of D maximizing Eq. 16."""
        agent, _ = self._parts(inputs)
        obs, next_obs = self.fake_states(inputs)
        states = torch.cat([obs, next_obs], dim=0)
        with torch.no_grad():
            fake_act = agent.policy(states).actions
        opt = self._optimizers["discriminator"][0]
        loss = torch.zeros(())
        for _ in range(self.config.steps):  # gradient steps (sequential by nature)
            loss = self.discriminator_loss(inputs.real.obs, inputs.real.actions, states, fake_act)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            d_true = torch.sigmoid(self.disc(inputs.real.obs, inputs.real.actions)).mean()
            d_fake = torch.sigmoid(self.disc(states, fake_act)).mean()
        return {"discriminator_loss": loss.detach(), "d_true": d_true, "d_fake": d_fake}

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_generator`` = weight * L_g (Eq. 15) on the fake batch, gradient to the policy."""
        agent, _ = self._parts(inputs)
        obs, next_obs = self.fake_states(inputs)
        states = torch.cat([obs, next_obs], dim=0)
        logits = q_without_param_grad(self.disc, states, agent.policy(states).actions)
        if self.config.generator_loss == "minimax":
            lg = -F.softplus(logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)
        else:
            lg = F.softplus(-logits).mean()  # -log sigmoid(l)
        return {"loss_generator": self.config.weight * lg, "generator_term": lg.detach()}
