"""``miw_weighted``: AMPL's marginal importance weights (Eq. 10-11) and weighted MLE (Eq. 6)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from components.model_learners._mle import MLELearner
from compose.kinds import Agent, BuildContext, Dynamics, MetricsSink, UpdateInputs
from compose.nn import MLP, make_adam, soft_update_

if TYPE_CHECKING:
    from components.model_learners.miw_weighted import MIWWeightedConfig

__all__ = ["MIWEstimator", "MIWWeightedLearner", "miw_fixed_point_loss"]

#: Quantiles of log omega reported after each fit (AMPL Fig. 2 plots the quartiles).
LOG_OMEGA_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _wmean(x: Tensor, w: Tensor | None) -> Tensor:
    """Mean over the last dim, weighted by w (probabilities summing to 1) when given."""
    return x.mean(-1) if w is None else (x * w).sum(-1)


def miw_fixed_point_loss(
    omega: Tensor,
    omega_target: Tensor,
    f_sa: Tensor,
    f_next: Tensor,
    f_init: Tensor,
    gamma: float,
    weights: Tensor | None = None,
    init_weights: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """AMPL Eq. 11 for J test functions: sum_j (l1_j(omega) - l2_j(omega'))^2, and the gaps [J].

    omega, omega_target: [B] at the data (s, a); f_sa, f_next: [J, B] test functions at
    (s, a) and (s', a') (zero where s' is terminal); f_init: [J, B0] at (s0, a0).
    ``weights`` / ``init_weights`` turn the batch means into exact expectations (rows with
    probabilities), e.g. a whole finite MDP. Each f_j is divided by its mean |f_j(s, a)|.
    """
    scale = _wmean(f_sa.abs(), weights).clamp_min(1e-6).unsqueeze(-1).detach()  # [J, 1]
    l1 = _wmean(omega.unsqueeze(0) * f_sa / scale, weights)
    l2 = gamma * _wmean(omega_target.detach().unsqueeze(0) * f_next / scale, weights)
    l2 = l2 + (1.0 - gamma) * _wmean(f_init / scale, init_weights)
    gap = l1 - l2
    return gap.pow(2).sum(), gap.detach()


class MIWEstimator(nn.Module):
    """omega(x) = softplus(MLP(x)) with a Polyak target omega' and its own Adam.

    x is any feature vector of (s, a): standardized [s, a] in the learner, one-hot (s, a)
    in the tabular test (``hidden=[]`` makes it a table).
    """

    def __init__(self, in_features: int, hidden: list[int], lr: float, tau: float) -> None:
        super().__init__()
        self.net = MLP(in_features, 1, hidden, "relu")
        self.target = copy.deepcopy(self.net)
        self.target.requires_grad_(False)
        self.tau = tau
        self.optimizer = make_adam(self.net.parameters(), lr=lr)

    def forward(self, x: Tensor) -> Tensor:
        """omega(x) > 0: [B]."""
        return F.softplus(self.net(x).squeeze(-1))

    def target_weights(self, x: Tensor) -> Tensor:
        """omega'(x) of the target network, no gradient: [B]."""
        with torch.no_grad():
            return F.softplus(self.target(x).squeeze(-1))

    def step(
        self,
        x: Tensor,
        f_sa: Tensor,
        f_next: Tensor,
        f_init: Tensor,
        gamma: float,
        weights: Tensor | None = None,
        init_weights: Tensor | None = None,
    ) -> Tensor:
        """One Adam step on Eq. 11 then a soft update of omega'; returns the loss."""
        loss, _ = miw_fixed_point_loss(
            self(x), self.target_weights(x), f_sa, f_next, f_init, gamma, weights, init_weights
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        soft_update_(self.target, self.net, self.tau)
        return loss.detach()


class MIWWeightedLearner(MLELearner):
    """``mle`` pretraining; in the policy phase, periodic omega fits and omega-weighted MLE."""

    def __init__(self, config: MIWWeightedConfig, ctx: BuildContext) -> None:
        super().__init__(config, ctx)
        self.config = config
        self.data: Any = ctx.data
        self.gamma = float(ctx.gamma)
        self.device = torch.device(ctx.device)
        self.miw = MIWEstimator(
            ctx.obs_dim + ctx.act_dim, list(config.miw_hidden), config.miw_lr, config.miw_tau
        )
        self.miw.to(self.device)
        self.register_optimizer("miw", self.miw.optimizer)
        mean, std = torch.zeros(ctx.obs_dim), torch.ones(ctx.obs_dim)
        if self.data is not None and hasattr(self.data, "stats"):
            stats = self.data.stats()
            mean, std = stats.obs_mean.float().cpu(), stats.obs_std.float().cpu()
        self.register_buffer("obs_mean", mean.to(self.device))
        self.register_buffer("obs_std", std.to(self.device))
        self.weighted_optimizer: torch.optim.Optimizer | None = None
        if ctx.dynamics is not None:
            self.attach(ctx.dynamics)

    @property
    def updates_during_policy(self) -> bool:
        """Declared by the config (:meth:`MIWWeightedConfig.trains_in_policy_phase`)."""
        return self.config.trains_in_policy_phase()

    def attach(self, dynamics: Dynamics) -> None:
        """Create the weighted-retraining optimizer (once; checkpointed as ``weighted_model``)."""
        if self.weighted_optimizer is None:
            params = [p for p in dynamics.parameters() if p.requires_grad]
            self.weighted_optimizer = self.register_optimizer(
                "weighted_model", make_adam(params, lr=self.config.model_lr)
            )

    def pretrain(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, Any]:
        """Plain MLE (the ``mle`` learner), keeping the data for the policy phase."""
        self.data = data
        self.attach(dynamics)
        return super().pretrain(dynamics, data, log)

    # ---------------------------------------------------------------- data
    def _tensors(self) -> dict[str, Tensor]:
        if self.data is None:
            raise RuntimeError("miw_weighted: the offline data is needed (ctx.data or pretrain)")
        if not hasattr(self, "_data_tensors"):
            d = self.data
            t = {
                k: torch.as_tensor(getattr(d, k), dtype=torch.float32, device=self.device)
                for k in ("obs", "actions", "rewards", "next_obs", "terminals")
            }
            t["rewards"], t["terminals"] = t["rewards"].reshape(-1), t["terminals"].reshape(-1)
            starts = d.initial_obs() if hasattr(d, "initial_obs") else t["obs"]
            t["initial_obs"] = torch.as_tensor(starts, dtype=torch.float32, device=self.device)
            if t["initial_obs"].shape[0] == 0:
                t["initial_obs"] = t["obs"]
            self._data_tensors = t
        return self._data_tensors

    def features(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Input of omega: [standardized s, a]."""
        return torch.cat([(obs - self.obs_mean) / self.obs_std, actions], dim=-1)

    # ---------------------------------------------------------------- policy phase
    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """On schedule: fit omega (Eq. 11), weight the dataset, retrain the dynamics (Eq. 6)."""
        cfg = self.config
        if inputs.step <= 0 or inputs.step % cfg.retrain_every != 0:
            return {}
        if inputs.dynamics is None:
            raise ValueError("miw_weighted: UpdateInputs.dynamics is required")
        self.attach(inputs.dynamics)
        out: dict[str, Tensor] = {}
        weights: Tensor | None = None
        if cfg.weighted:
            if inputs.agent is None:
                raise ValueError(
                    "miw_weighted: UpdateInputs.agent is required (Q is the test function)"
                )
            out.update(self.fit_miw(inputs.agent))
            weights = self.dataset_weights()
            log_w = weights.clamp_min(1e-12).log()
            q = torch.quantile(log_w, torch.tensor(LOG_OMEGA_QUANTILES, device=log_w.device))
            for p, v in zip(LOG_OMEGA_QUANTILES, q, strict=True):
                out[f"log_omega_q{int(round(p * 100)):02d}"] = v
            out["omega_max"] = weights.max()
        out.update(self.weighted_mle(inputs.dynamics, weights))
        return out

    def fit_miw(self, agent: Agent) -> dict[str, Tensor]:
        """``miw_steps`` steps of Eq. 11 with the agent's critics as test functions."""
        t = self._tensors()
        n, n0, b = t["rewards"].shape[0], t["initial_obs"].shape[0], self.config.miw_batch_size
        loss = torch.zeros((), device=self.device)
        for _ in range(self.config.miw_steps):  # gradient steps (sequential by nature)
            idx = torch.randint(n, (b,), device=self.device)
            s0 = t["initial_obs"][torch.randint(n0, (b,), device=self.device)]
            obs, act, nxt = t["obs"][idx], t["actions"][idx], t["next_obs"][idx]
            with torch.no_grad():
                f_sa = agent.critic(obs, act)
                f_next = agent.critic(nxt, agent.policy(nxt).actions) * (1.0 - t["terminals"][idx])
                f_init = agent.critic(s0, agent.policy(s0).actions)
                if self.config.test_function == "min_critic":
                    f_sa, f_next, f_init = (
                        f.min(dim=0, keepdim=True).values for f in (f_sa, f_next, f_init)
                    )
            loss = self.miw.step(self.features(obs, act), f_sa, f_next, f_init, self.gamma)
        return {"miw_loss": loss}

    @torch.no_grad()
    def dataset_weights(self) -> Tensor:
        """omega over the whole dataset, normalized to mean 1: [N]."""
        t = self._tensors()
        chunk = self.config.weight_chunk
        w = torch.cat(
            [
                self.miw(self.features(t["obs"][i : i + chunk], t["actions"][i : i + chunk]))
                for i in range(0, t["obs"].shape[0], chunk)  # chunks bound peak memory
            ]
        )
        return w / w.mean().clamp_min(1e-12)

    def weighted_mle(self, dynamics: Dynamics, weights: Tensor | None) -> dict[str, Tensor]:
        """``model_steps`` Adam steps on sum_e mean_b omega_b * -log P_e(s'_b, r_b | s_b, a_b) + reg."""
        t = self._tensors()
        if self.weighted_optimizer is None:
            raise RuntimeError("miw_weighted: attach(dynamics) must run before weighted_mle")
        n, e, b = t["rewards"].shape[0], dynamics.members, self.config.batch_size
        nll = torch.zeros((), device=self.device)
        dynamics.train()
        for _ in range(self.config.model_steps):  # gradient steps (sequential by nature)
            idx = torch.randint(n, (e, b), device=self.device)  # each member its own rows
            per = -dynamics.log_prob(
                t["obs"][idx], t["actions"][idx], t["next_obs"][idx], t["rewards"][idx]
            )
            w = weights[idx] if weights is not None else torch.ones_like(per)
            nll = (w * per).mean(-1).sum()
            loss = nll + dynamics.regularization()
            self.weighted_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.weighted_optimizer.step()
        return {"weighted_nll": nll.detach()}
