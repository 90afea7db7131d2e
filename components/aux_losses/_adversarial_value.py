"""``adversarial_value``: RAMBO's adversarial model loss (ROMI Eq. 2), score-function form."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import Agent, AuxLoss, BuildContext, Dynamics, UpdateInputs

if TYPE_CHECKING:
    from components.aux_losses.adversarial_value import AdversarialValueConfig

__all__ = ["AdversarialValue", "member_samples", "normalize_advantage"]


def member_samples(dynamics: Dynamics, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
    """One sample of (s', r) from every member at every row: next_obs [E, B, do], rewards [E, B].

    Drawn without gradient (the score function differentiates the density, not the sample).
    """
    with torch.no_grad():
        pred = dynamics.predict(obs, actions)
        out = pred.mean + pred.std * torch.randn_like(pred.mean)
        next_obs = obs.unsqueeze(0) + out[..., : obs.shape[-1]]
        return next_obs, out[..., -1]


def normalize_advantage(adv: Tensor, mask: Tensor, eps: float = 1e-6) -> Tensor:
    """(A - mean) / (std + eps) over the entries where ``mask`` is 1 (masked entries -> 0)."""
    n = mask.sum().clamp_min(1.0)
    mean = (adv * mask).sum() / n
    var = ((adv - mean).pow(2) * mask).sum() / n
    return (adv - mean) / (var.sqrt() + eps) * mask


class AdversarialValue(AuxLoss):
    """lambda * sum_e mean_b [A_e,b log T_e(s'_e,b, r_e,b | s_b, a_b)] over ``horizon`` steps.

    See :class:`~components.aux_losses.adversarial_value.AdversarialValueConfig`. Needs
    ``inputs.agent`` and ``inputs.dynamics``; without an agent (model pretraining) it
    contributes nothing. Returns ``loss_adversarial`` (lambda included) and diagnostics
    ``adv_grad_norm``, ``advantage_mean``/``advantage_std`` (raw, before normalization),
    ``q_mean``, ``log_prob_mean``.
    """

    def __init__(self, config: AdversarialValueConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.weight = float(config.weight)
        self.horizon = int(config.horizon)
        self.gamma = config.gamma
        self.termination = ctx.termination

    def _terminals(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        """Done flags [E, B] from the termination function (all False without one)."""
        if self.termination is None:
            return torch.zeros(next_obs.shape[:-1], device=next_obs.device)
        e = next_obs.shape[0]
        done = self.termination(
            obs.expand(e, *obs.shape).reshape(-1, obs.shape[-1]),
            actions.expand(e, *actions.shape).reshape(-1, actions.shape[-1]),
            next_obs.reshape(-1, next_obs.shape[-1]),
        )
        return done.reshape(next_obs.shape[:-1]).to(next_obs.dtype)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """The adversarial surrogate and its diagnostics (empty without an agent)."""
        agent, dynamics = inputs.agent, inputs.dynamics
        if agent is None or dynamics is None:
            return {}
        source = (
            inputs.batch if self.config.start_states == "batch" and inputs.batch else inputs.real
        )
        obs = source.obs
        gamma = float(self.gamma if self.gamma is not None else agent.gamma)
        advs, log_probs, masks, qs = [], [], [], []
        alive = torch.ones(obs.shape[0], device=obs.device, dtype=obs.dtype)
        for _ in range(self.horizon):  # time steps of the rollout, not members or samples
            adv, q, actions, next_obs, rewards, done = self._advantage(agent, dynamics, obs, gamma)
            e = next_obs.shape[0]
            lp = dynamics.log_prob(
                obs.expand(e, *obs.shape), actions.expand(e, *actions.shape), next_obs, rewards
            )
            advs.append(adv)
            log_probs.append(lp)
            masks.append(alive.expand(e, -1))
            qs.append(q)
            # Continue from a uniformly random elite's sample; terminated rows stop counting.
            pick = dynamics.elites[
                torch.randint(dynamics.elites.numel(), (obs.shape[0],), device=obs.device)
            ]
            rows = torch.arange(obs.shape[0], device=obs.device)
            alive = alive * (1.0 - done[pick, rows])
            obs = next_obs[pick, rows]
        adv = torch.stack(advs)  # [H, E, B]
        log_prob = torch.stack(log_probs)
        mask = torch.stack(masks)
        norm = normalize_advantage(adv, mask) if self.config.normalize else adv * mask
        per_member = (norm.detach() * log_prob).sum(dim=(0, 2)) / mask.sum(dim=(0, 2)).clamp_min(
            1.0
        )
        loss = self.weight * per_member.sum()
        n = mask.sum().clamp_min(1.0)
        adv_mean = (adv * mask).sum() / n
        terms = {
            "loss_adversarial": loss,
            "advantage_mean": adv_mean.detach(),
            "advantage_std": (((adv - adv_mean).pow(2) * mask).sum() / n).sqrt().detach(),
            "q_mean": torch.stack(qs).mean().detach(),
            "log_prob_mean": ((log_prob * mask).sum() / n).detach(),
        }
        if self.config.log_grad_norm:
            terms["adv_grad_norm"] = self._grad_norm(loss, dynamics)
        return terms

    def _advantage(
        self, agent: Agent, dynamics: Dynamics, obs: Tensor, gamma: float
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(A [E, B], Q [B], a, s' [E, B, do], r [E, B], done [E, B]), all without grad.

        A = r + gamma (1 - d) E_{a'~pi} min_k Q(s', a') - min_k Q(s, a), one a' per sample.
        """
        with torch.no_grad():
            actions = agent.policy(obs).actions
            q = agent.critic(obs, actions).min(0).values  # [B]
            next_obs, rewards = member_samples(dynamics, obs, actions)
            done = self._terminals(obs, actions, next_obs)
            next_actions = agent.policy(next_obs).actions
            v_next = agent.critic(next_obs, next_actions).min(0).values  # [E, B]
            adv = rewards + gamma * (1.0 - done) * v_next - q.unsqueeze(0)
        return adv, q, actions, next_obs, rewards, done

    @staticmethod
    def _grad_norm(loss: Tensor, dynamics: Dynamics) -> Tensor:
        """||d loss / d theta|| over the dynamics' trainable parameters (graph kept)."""
        params = [p for p in dynamics.parameters() if p.requires_grad]
        if not loss.requires_grad or not params:
            return torch.zeros((), device=loss.device)
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        sq = [g.pow(2).sum() for g in grads if g is not None]
        return torch.stack(sq).sum().sqrt() if sq else torch.zeros((), device=loss.device)
