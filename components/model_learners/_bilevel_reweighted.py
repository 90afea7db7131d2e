"""``bilevel_reweighted``: ROMI's implicitly differentiable adaptive weighting (Sec. 4.2, App. A).

Also home of :class:`PolicyPhaseLearner`, the shared base of learners that pretrain by a
fixed number of MLE epochs and keep updating the model during the policy phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from compose.kinds import Batch, BuildContext, Dynamics, MetricsSink, ModelLearner, UpdateInputs
from compose.nn import MLP, make_adam

if TYPE_CHECKING:
    from components.model_learners.bilevel_reweighted import (
        BilevelReweightedConfig,
        PolicyPhaseLearnerConfig,
    )

__all__ = ["BilevelReweighted", "PolicyPhaseLearner", "WeightingNet", "sum_losses"]


def sum_losses(terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """The sum of the ``loss_*`` entries of ``terms`` (a zero shaped like ``like`` if none)."""
    losses = [v for k, v in terms.items() if k.startswith("loss_")]
    return torch.stack(losses).sum() if losses else like.new_zeros(())


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


class PolicyPhaseLearner(ModelLearner):
    """MLE pretraining for a fixed number of epochs, then scheduled policy-phase updates.

    Pretraining: every member trains on its own permutation of the data (minus ``holdout``
    rows) with Adam on -log T_e(s', r | s, a) summed over members plus the dynamics'
    regularization; elites are the members with the lowest holdout NLL. Policy phase: when
    ``inputs.step % every == 0`` run ``updates`` steps of :meth:`model_step` on batches the
    learner samples from the offline data itself. Subclasses define :meth:`model_step`.
    """

    def __init__(self, config: PolicyPhaseLearnerConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.aux_losses = nn.ModuleList([ctx.build(c) for c in config.aux_losses])
        self.data: Any = ctx.data
        self.device = torch.device(ctx.device)
        self.model_optimizer: torch.optim.Optimizer | None = None
        # Own RNG for batch sampling: the batches do not depend on what aux losses draw.
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(torch.randint(2**62, (1,)).item()))
        if ctx.dynamics is not None:
            self.attach(ctx.dynamics)

    def attach(self, dynamics: Dynamics) -> None:
        """Create the model optimizer for ``dynamics`` (once; checkpointed as ``model``)."""
        if self.model_optimizer is None:
            params = [p for p in dynamics.parameters() if p.requires_grad]
            self.model_optimizer = self.register_optimizer(
                "model", make_adam(params, lr=self.config.lr)
            )

    # ---------------------------------------------------------------- data
    def _tensors(self, data: Any) -> dict[str, Tensor]:
        return {
            k: getattr(data, k).to(self.device)
            for k in ("obs", "actions", "rewards", "next_obs", "terminals")
        }

    def sample_batch(self, size: int | None = None) -> Batch:
        """A uniform batch of offline transitions (the learner's own sampling)."""
        if self.data is None:
            raise RuntimeError("this model learner needs the offline data (ctx.data or pretrain)")
        if not hasattr(self, "_data_tensors"):
            self._data_tensors = self._tensors(self.data)
        t = self._data_tensors
        n, size = t["rewards"].shape[0], size or self.config.batch_size
        idx = torch.randint(n, (size,), device=self.device, generator=self.generator)
        return Batch(**{k: v[idx] for k, v in t.items()})


    # ---------------------------------------------------------------- pretraining
    def pretrain(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, Any]:
        """MLE pretraining: fixed epochs (ROMI App. D.2) or holdout early stopping (RAMBO).

        Returns the elites' holdout NLL/MSE (fixed epochs) or the ``mle`` learner's metrics.
        """
        self.data = data
        self._data_tensors = self._tensors(data)
        self.attach(dynamics)
        if self.config.pretrain_stop == "holdout":
            return self._pretrain_early_stopping(dynamics, data, log)
        t = self._data_tensors
        targets = torch.cat([t["next_obs"] - t["obs"], t["rewards"].unsqueeze(-1)], -1)
        dynamics.fit_normalizer(t["obs"], t["actions"], targets)
        self.on_pretrain_data(t)
        n = t["rewards"].shape[0]
        hold = min(self.config.holdout, n // 5)
        perm = torch.randperm(n, device=self.device)
        train_idx, hold_idx = perm[hold:], perm[:hold]
        e, bs = dynamics.members, self.config.batch_size
        for epoch in range(self.config.pretrain_epochs):
            order = torch.argsort(torch.rand(e, train_idx.numel(), device=self.device), dim=1)
            order = train_idx[order]  # [E, N_train]: each member its own permutation
            total = torch.zeros((), device=self.device)
            steps = 0
            for start in range(0, order.shape[1], bs):  # minibatches of one epoch
                idx = order[:, start : start + bs]
                nll = -dynamics.log_prob(
                    t["obs"][idx], t["actions"][idx], t["next_obs"][idx], t["rewards"][idx]
                ).mean(-1).sum()
                loss = nll + dynamics.regularization()
                self.model_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.model_optimizer.step()
                total = total + nll.detach()
                steps += 1
            log({"pretrain/nll": float(total / max(steps, 1))}, epoch)
        metrics: dict[str, float] = {}
        if hold > 0:
            with torch.no_grad():
                nll = -dynamics.log_prob(
                    t["obs"][hold_idx], t["actions"][hold_idx], t["next_obs"][hold_idx],
                    t["rewards"][hold_idx],
                ).mean(-1)  # [E]
                dynamics.set_elites(torch.argsort(nll)[: dynamics.elites.numel()])
                pred = dynamics.predict(t["obs"][hold_idx], t["actions"][hold_idx])
                mse = (pred.mean[dynamics.elites, :, : dynamics.obs_dim]
                       - targets[hold_idx, : dynamics.obs_dim]).pow(2).mean()
            metrics = {
                "holdout_nll": float(nll[dynamics.elites].mean()),
                "holdout_mse": float(mse),
            }
        return metrics

    def _pretrain_early_stopping(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, Any]:
        """The ``mle`` learner's fit (holdout early stopping, elites), then this learner's hook."""
        from components.model_learners._mle import MLELearner
        from components.model_learners.mle import MLEConfig

        cfg = self.config
        mle = MLELearner(
            MLEConfig(
                lr=cfg.lr, batch_size=cfg.batch_size, holdout=max(int(cfg.holdout), 1),
                patience=cfg.patience, improvement=cfg.improvement, max_epochs=cfg.max_epochs,
                max_updates=cfg.max_updates,
            ),
            ctx=None,  # no aux losses to build
        )
        metrics = mle.pretrain(dynamics, data, log)
        self.on_pretrain_data(self._data_tensors)
        return metrics

    def on_pretrain_data(self, tensors: dict[str, Tensor]) -> None:
        """Hook for subclasses: statistics from the offline data (e.g. input normalizers)."""

    # ---------------------------------------------------------------- policy phase
    @property
    def updates_during_policy(self) -> bool:
        """Declared by the config (:meth:`PolicyPhaseLearnerConfig.trains_in_policy_phase`)."""
        return self.config.trains_in_policy_phase()

    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``updates`` model steps when ``inputs.step % every == 0``.

        Returns every metric averaged over those steps, plus ``<name>_max`` for each gradient
        norm (an exploding step stays visible even if the mean hides it). Device tensors only.
        """
        if inputs.step % self.config.every != 0 or inputs.dynamics is None:
            return {}
        self.attach(inputs.dynamics)
        sums: dict[str, Tensor] = {}
        peaks: dict[str, Tensor] = {}
        for _ in range(self.config.updates):  # sequential optimization steps
            batch = self.sample_batch()
            step_inputs = UpdateInputs(
                step=inputs.step, real=batch, model=inputs.model, batch=None,
                agent=inputs.agent, dynamics=inputs.dynamics,
            )
            for aux in self.aux_losses:
                aux.update(step_inputs)
            for k, v in self.model_step(step_inputs).items():
                v = v.detach().float()
                sums[k] = sums[k] + v if k in sums else v
                if "grad_norm" in k:
                    peaks[f"{k}_max"] = torch.maximum(peaks[f"{k}_max"], v) if f"{k}_max" in peaks else v
        n = max(self.config.updates, 1)
        return {**{k: v / n for k, v in sums.items()}, **peaks}

    def aux_terms(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Every aux loss's terms, keys prefixed with the aux loss's position."""
        out: dict[str, Tensor] = {}
        for i, aux in enumerate(self.aux_losses):
            for k, v in aux.loss(inputs).items():
                out[f"{k}_{i}" if k.startswith("loss_") else f"aux{i}/{k}"] = v
        return out

    def model_step(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """One policy-phase model update on ``inputs.real``; returns diagnostics."""
        raise NotImplementedError


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
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
        unrolled = {n: p - self.inner_lr * g for n, p, g in zip(names, params, grads, strict=True)}
        outer_inputs = UpdateInputs(
            step=inputs.step, real=inputs.real, model=inputs.model, batch=None,
            agent=inputs.agent, dynamics=dynamics,
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
