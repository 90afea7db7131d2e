"""``bilevel_reweighted``: ROMI's implicitly differentiable adaptive weighting (Sec. 4.2, App. A)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from components.model_learners._policy_phase import PolicyPhaseLearner, sum_losses
from compose.kinds import BuildContext, Dynamics, UpdateInputs
from compose.nn import MLP, make_adam

if TYPE_CHECKING:
    from components.model_learners.bilevel_reweighted import BilevelReweightedConfig

__all__ = ["BilevelReweighted", "WeightingNet"]


class _Reparametrized(nn.Module):
    """Runs a closure while ``functional_call`` has swapped the wrapped dynamics' parameters."""

    def __init__(self, dynamics: Dynamics) -> None:
        super().__init__()
        self.dynamics = dynamics

    def forward(self, fn: Any) -> Any:
        return fn()


def call_with_params(dynamics: Dynamics, params: dict[str, Tensor], fn: Any) -> Any:
    """``fn()`` evaluated with ``dynamics``' parameters replaced by ``params`` (differentiably)."""
    wrapper = _Reparametrized(dynamics)
    return functional_call(wrapper, {f"dynamics.{k}": v for k, v in params.items()}, (fn,))


class WeightingNet(nn.Module):
    """w_nu(s, a, s') = tanh(f_nu(x)) (b - a)/2 + (a + b)/2 with x the normalized (s, a, s') (Eq. 32)."""

    def __init__(self, in_dim: int, hidden: list[int], low: float, high: float) -> None:
        super().__init__()
        self.net = MLP(in_dim, 1, hidden, "relu")
        self.low, self.high = float(low), float(high)
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))

    @torch.no_grad()
    def fit_normalizer(self, x: Tensor) -> None:
        """Input mean/std from data rows [N, in_dim] (std floored at 1e-6)."""
        self.input_mean.copy_(x.mean(0))
        self.input_std.copy_(x.std(0, correction=0).clamp_min(1e-6))

    def forward(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        """Weights [B] in [low, high]."""
        x = (torch.cat([obs, actions, next_obs], dim=-1) - self.input_mean) / self.input_std
        out = torch.tanh(self.net(x).squeeze(-1))
        return out * (self.high - self.low) / 2.0 + (self.high + self.low) / 2.0


class BilevelReweighted(PolicyPhaseLearner):
    """ROMI's bilevel update (Eq. 9-10): weighted-NLL inner step, outer step on w_nu.

    ``model_step`` diagnostics: ``inner_loss`` (L_WSL), ``outer_loss`` (at psi'),
    ``inner_grad_norm`` (||grad_psi L_WSL||), ``outer_grad_norm`` (||grad_nu L_outer||),
    ``weight_mean``/``weight_min``/``weight_max``, and the outer loss's own diagnostics
    under ``outer/``.
    """

    def __init__(self, config: BilevelReweightedConfig, ctx: BuildContext) -> None:
        super().__init__(config, ctx)
        self.outer = ctx.build(config.outer)
        in_dim = 2 * ctx.obs_dim + ctx.act_dim
        self.weight_net = WeightingNet(
            in_dim, list(config.weight_hidden), config.weight_min, config.weight_max
        ).to(self.device)
        self.weight_optimizer = self.register_optimizer(
            "weight", make_adam(self.weight_net.parameters(), lr=config.weight_lr)
        )
        self.inner_lr = float(config.inner_lr if config.inner_lr is not None else config.lr)
        if ctx.data is not None:
            self._data_tensors = self._tensors(ctx.data)
            self.on_pretrain_data(self._data_tensors)

    def on_pretrain_data(self, tensors: dict[str, Tensor]) -> None:
        """Normalize w_nu's input (s, a, s') with the dataset's statistics."""
        self.weight_net.fit_normalizer(
            torch.cat([tensors["obs"], tensors["actions"], tensors["next_obs"]], dim=-1)
        )

    def inner_loss(self, dynamics: Dynamics, inputs: UpdateInputs) -> tuple[Tensor, Tensor, dict]:
        """(L_WSL + regularization + aux terms, weights [B], aux terms): Eq. 9's objective.

        L_WSL = sum_e mean_b w_nu(s_b, a_b, s'_b) * -log T_e(s'_b, r_b | s_b, a_b).
        """
        b = inputs.real
        w = self.weight_net(b.obs, b.actions, b.next_obs)
        nll = -dynamics.log_prob(b.obs, b.actions, b.next_obs, b.rewards)  # [E, B]
        wsl = (w * nll).mean(-1).sum()
        aux = self.aux_terms(inputs)
        return wsl + dynamics.regularization() + sum_losses(aux, wsl), w, aux

    def hypergradient(
        self, dynamics: Dynamics, inputs: UpdateInputs
    ) -> tuple[list[Tensor], list[Tensor], dict[str, Tensor]]:
        """(grad_nu L_outer(psi'(nu)), grad_psi L_inner, diagnostics) through the unrolled step.

        psi'(nu) = psi - inner_lr * grad_psi L_inner(psi, nu), built with ``create_graph``;
        the outer loss runs with psi' swapped into the dynamics by ``functional_call``.
        """
        names = [n for n, p in dynamics.named_parameters() if p.requires_grad]
        params = [p for p in dynamics.parameters() if p.requires_grad]
        inner, w, aux = self.inner_loss(dynamics, inputs)
        grads = torch.autograd.grad(inner, params, create_graph=True, allow_unused=True)
        grads = [
            torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)
        ]
        unrolled = {n: p - self.inner_lr * g for n, p, g in zip(names, params, grads, strict=True)}
        outer_inputs = UpdateInputs(
            step=inputs.step,
            real=inputs.real,
            model=inputs.model,
            batch=None,
            agent=inputs.agent,
            dynamics=dynamics,
        )
        outer_terms = call_with_params(dynamics, unrolled, lambda: self.outer.loss(outer_inputs))
        outer = sum_losses(outer_terms, inner)
        nu = list(self.weight_net.parameters())
        if outer.requires_grad:
            g_nu = torch.autograd.grad(outer, nu, allow_unused=True)
            g_nu = [torch.zeros_like(p) if g is None else g for p, g in zip(nu, g_nu, strict=True)]
        else:
            g_nu = [torch.zeros_like(p) for p in nu]
        diag = {
            "inner_loss": inner.detach(),
            "outer_loss": outer.detach(),
            "weight_mean": w.detach().mean(),
            "weight_min": w.detach().min(),
            "weight_max": w.detach().max(),
            **{f"outer/{k}": v.detach() for k, v in outer_terms.items()},
            **{k: v.detach() for k, v in aux.items()},
        }
        return g_nu, [g.detach() for g in grads], diag

    def model_step(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Inner step on psi (Eq. 9) and outer step on nu (Eq. 10), Appendix A's order."""
        dynamics = inputs.dynamics
        self.outer.update(inputs)
        g_nu, g_psi, diag = self.hypergradient(dynamics, inputs)
        # Outer step on nu.
        self.weight_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.weight_net.parameters(), g_nu, strict=True):
            p.grad = g
        self.weight_optimizer.step()
        # Inner step on psi with the gradient of L_WSL at (psi, nu) (Eq. 9).
        params = [p for p in dynamics.parameters() if p.requires_grad]
        if self.config.inner_optimizer == "sgd":
            with torch.no_grad():
                torch._foreach_add_(params, g_psi, alpha=-self.inner_lr)
        else:
            self.model_optimizer.zero_grad(set_to_none=True)
            for p, g in zip(params, g_psi, strict=True):
                p.grad = g
            self.model_optimizer.step()
        diag["inner_grad_norm"] = torch.linalg.vector_norm(torch.stack([g.norm() for g in g_psi]))
        diag["outer_grad_norm"] = torch.linalg.vector_norm(torch.stack([g.norm() for g in g_nu]))
        return diag
