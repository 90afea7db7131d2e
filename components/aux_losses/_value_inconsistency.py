"""VIPO's value-inconsistency aux loss on the model: V_d, V_m and the surrogate of Eq. 11.

Derivation (VIPO Sec. 3). The model minimizes L_aug = L_ori + lambda * L_vic (Eq. 8) with
L_vic(theta) = E_s[(V_d(s) - V_m(s))^2] (Eq. 6). V_d is fitted on the data and does not depend
on theta, so

    grad L_vic = -2 E_s[(V_d(s) - V_m(s)) grad V_m(s)].

V_m is the fixed point of V_m(s) = E_{(r, s') ~ P_theta(.|s, a)}[r + gamma V_m(s')] (Eq. 4);
differentiating through the sampling distribution (the likelihood-ratio identity
grad E_p[f] = E_p[f grad log p]) gives the score-function term
E[(r + gamma V_m(s')) grad log P_theta(s', r | s, a)] plus gamma E[grad V_m(s')], whose
unrolling is Theorem 3.3. The practical algorithm (Sec. 3.3) keeps the one-step term with
(s, a) ~ D and replaces V_d, V_m by their EMA targets:

    grad L_aug^surr = grad L_ori - 2 lambda E[(Vbar_d(s) - Vbar_m(s))
                                               (r + gamma Vbar_m(s')) grad log P_theta(s', r|s, a)]   (Eq. 11)

Surrogate. With (s'_k, r_k) ~ P_theta drawn and detached, and c_k = stop_grad[(Vbar_d(s) -
Vbar_m(s)) (r_k + gamma (1 - d_k) Vbar_m(s'_k))],

    S(theta) = -2 lambda mean_k[c_k log P_theta(s'_k, r_k | s, a)],

so grad S is the Monte-Carlo estimate of Eq. 11's VIPO term, and the learner's
grad(L_ori + S) is Eq. 11.
Scale: S is per member and summed over members, log P summed over the output dims, i.e.
relative to sum_e mean_b -log P_e, the learners' likelihood in log-density units (``mle``
scales it onto its per-dimension NLL term: ``aux_loss_scale``), so ``weight`` is lambda of
Eq. 8 and Table 5. Sign check (the paper's Remark): descending S raises log P of
high-return transitions when Vbar_d(s) > Vbar_m(s), which raises V_m towards V_d.

Why: termination d = ctx.termination(s, a, s') masks the bootstrap (a fallen hopper has no
future value), the same as the data's terminal flags in Eq. 9; with no termination function
d = 0 exactly as the paper writes Eq. 9-11.
Why: the log-density is the diagonal Gaussian of ``dynamics.predict`` (raw units) evaluated at
its own samples, so one forward pass gives both samples and densities for every member; it
differs from ``dynamics.log_prob`` by the target normalizer's log-Jacobian, a constant in
theta, so the gradients agree (the reference test checks this against ``log_prob``).
Why: the dynamics is evaluated in eval mode here (its mode is restored after), so these extra
forwards never advance a spectral-norm power iteration, and draws use a private generator
(seeded from ``ctx.component_seed()``; the nets are initialized
under a forked RNG): the global RNG and the model are untouched, so lambda = 0 gives exactly
the MLE learner's update.
Why: V_d and V_m are one 2-member :class:`EnsembleMLP` (one batched matmul for both) with one
Adam over both; Adam is elementwise, so this equals two separate Adams.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from compose.kinds.aux_loss import AuxLoss
from compose.nn import EnsembleMLP, make_adam, soft_update_

if TYPE_CHECKING:
    from components.aux_losses.value_inconsistency import ValueInconsistencyConfig
    from compose.kinds.context import BuildContext, UpdateInputs
    from compose.kinds.dynamics import Dynamics
    from compose.kinds.types import Batch, Prediction

__all__ = ["ModelSamples", "ValueInconsistency"]

_LOG_2PI = math.log(2.0 * math.pi)
_D, _M = 0, 1  # members of the value ensemble: V_d, V_m


class ModelSamples:
    """Detached draws (s', r, done) from every member at dataset (s, a): shapes [K, E, B, ...]."""

    def __init__(
        self,
        prediction: Prediction,
        targets: Tensor,
        next_obs: Tensor,
        rewards: Tensor,
        done: Tensor,
    ) -> None:
        self.prediction = prediction
        self.targets = targets  # [K, E, B, obs_dim + 1]: sampled (delta s, r)
        self.next_obs = next_obs  # [K, E, B, obs_dim]
        self.rewards = rewards  # [K, E, B]
        self.done = done  # [K, E, B] float


class ValueInconsistency(AuxLoss):
    """VIPO's L_vic on the model: trains V_d (Eq. 9) and V_m (Eq. 10), returns Eq. 11's surrogate.

    ``update(inputs)`` takes ``value_steps`` Adam steps of both value nets on ``inputs.real``
    (V_m's targets from fresh model samples) and Polyak-updates their targets; ``loss(inputs)``
    returns ``loss_value_inconsistency`` (already times lambda) and diagnostics, from its own
    fresh draws and forward pass.

    loss() reuses update()'s eval-mode forward only when it ran on the same batch tensors
    and no parameter or buffer of the dynamics changed since (version counters): a
    training-mode forward in between advances spectral-norm vectors in place, which would
    invalidate the kept graph; then loss() runs its own forward.
    """

    def __init__(self, config: ValueInconsistencyConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.ctx = ctx
        self.gamma = float(config.gamma if config.gamma is not None else ctx.gamma)
        self.obs_dim = int(ctx.obs_dim)
        seed = ctx.component_seed()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.values = EnsembleMLP(
                ctx.obs_dim, 1, config.hidden, members=2, activation_name=config.activation
            ).to(ctx.device)
        self.generator = torch.Generator(device=ctx.device).manual_seed(seed + 1)
        self.last_value_losses: dict[str, Tensor] = {}
        self._kept: tuple[Tensor, Tensor, Prediction, tuple[int, ...]] | None = None
        self.target_values = copy.deepcopy(self.values).requires_grad_(False)
        # V-net input normalization, fitted once on the first real batch (checkpointed).
        self.register_buffer("obs_mean", torch.zeros(ctx.obs_dim, device=ctx.device))
        self.register_buffer("obs_std", torch.ones(ctx.obs_dim, device=ctx.device))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool, device=ctx.device))
        # Host copy of ``fitted`` (no device sync per update); re-read after a state load.
        self._fitted_host: bool | None = False
        self.register_load_state_dict_post_hook(_forget_fitted)
        self.optimizer = self.register_optimizer(
            "values", make_adam(self.values.parameters(), lr=config.lr), attached=False
        )

    # ------------------------------------------------------------------ value nets
    def fit_normalizer(self, obs: Tensor) -> None:
        """Set the value nets' input normalization from observations [N, obs_dim]."""
        self.obs_mean.copy_(obs.mean(0))
        self.obs_std.copy_(obs.std(0).clamp_min(1e-6) if len(obs) > 1 else torch.ones_like(obs[0]))
        self.fitted.fill_(True)
        self._fitted_host = True

    def _v(self, net: EnsembleMLP, obs: Tensor) -> Tensor:
        """Both nets at obs [..., obs_dim] -> [2, ...] (index 0: V_d, 1: V_m)."""
        lead = obs.shape[:-1]
        x = ((obs - self.obs_mean) / self.obs_std).reshape(-1, self.obs_dim)
        return net(x).reshape(2, *lead)

    def _v_one(self, net: EnsembleMLP, obs: Tensor, which: int) -> Tensor:
        """One net (``_D`` or ``_M``) at obs [..., obs_dim] -> [...]: half the work of :meth:`_v`."""
        lead = obs.shape[:-1]
        x = ((obs - self.obs_mean) / self.obs_std).reshape(-1, self.obs_dim)
        return net.member_forward(x, which).reshape(lead)

    def value_targets(self, real: Batch, samples: ModelSamples) -> tuple[Tensor, Tensor]:
        """Bellman targets [B] of Eq. 9 (data) and Eq. 10 (model, averaged over the draws)."""
        with torch.no_grad():
            notdone_d = 1.0 - real.terminals.reshape(-1).to(real.obs.dtype)
            y_d = real.rewards.reshape(-1) + self.gamma * notdone_d * self._v_one(
                self.target_values, real.next_obs, _D
            )
            boot = self._v_one(self.target_values, samples.next_obs, _M)  # [K, E, B]
            y_m = (samples.rewards + self.gamma * (1.0 - samples.done) * boot).mean((0, 1))
        return y_d, y_m

    # ------------------------------------------------------------------ model samples
    def _dynamics(self, inputs: UpdateInputs) -> Dynamics:
        dynamics = inputs.dynamics if inputs.dynamics is not None else self.ctx.dynamics
        if dynamics is None:
            raise RuntimeError("value_inconsistency needs the dynamics (inputs.dynamics is None)")
        return dynamics

    def model_samples(
        self, dynamics: Dynamics, obs: Tensor, actions: Tensor, prediction: Prediction | None = None
    ) -> ModelSamples:
        """``samples`` detached draws of (s', r) from every member's Gaussian at (obs, actions).

        The returned prediction keeps its graph (for :meth:`log_prob`) unless called under
        ``torch.no_grad``. ``prediction``: the eval-mode prediction at (obs, actions) when
        the caller has it (no second forward).
        """
        if prediction is None:
            with _eval_mode(dynamics):
                prediction = dynamics.predict(obs, actions)
        pred = prediction
        mean, std = pred.mean.detach(), pred.std.detach()
        eps = torch.randn(
            (self.config.samples, *mean.shape),
            device=mean.device,
            dtype=mean.dtype,
            generator=self.generator,
        )
        targets = mean + std * eps  # [K, E, B, do + 1]
        next_obs = obs + targets[..., : self.obs_dim]
        rewards = targets[..., self.obs_dim]
        reward_fn = self.ctx.reward
        if reward_fn is not None:
            # A known (unlearned) reward has std 0: evaluate it at the sampled next state.
            known = reward_fn(
                obs.expand_as(next_obs),
                actions.expand(*next_obs.shape[:-1], actions.shape[-1]),
                next_obs,
            ).to(rewards.dtype)
            rewards = torch.where(std[..., self.obs_dim].expand_as(rewards) > 0, rewards, known)
        if self.ctx.termination is not None:
            done = self.ctx.termination(
                obs.expand_as(next_obs),
                actions.expand(*next_obs.shape[:-1], actions.shape[-1]),
                next_obs,
            ).to(mean.dtype)
        else:
            done = torch.zeros_like(rewards)
        return ModelSamples(pred, targets, next_obs, rewards, done.reshape(rewards.shape))

    @staticmethod
    def log_prob(prediction: Prediction, targets: Tensor) -> Tensor:
        """Diagonal-Gaussian log-density of each member at its draws: [K, E, B] (raw units).

        Columns with std 0 (a known, unlearned reward) carry no density and are left out.
        """
        learned = prediction.std > 0
        std = torch.where(learned, prediction.std, torch.ones_like(prediction.std))
        z = (targets - prediction.mean) / std
        per_dim = -0.5 * z.pow(2) - std.log() - 0.5 * _LOG_2PI
        return torch.where(learned, per_dim, torch.zeros_like(per_dim)).sum(-1)

    def coefficients(self, obs: Tensor, samples: ModelSamples) -> tuple[Tensor, Tensor]:
        """Stop-gradient factors of Eq. 11: c [K, E, B] and (Vbar_d(s), Vbar_m(s)) [2, B]."""
        with torch.no_grad():
            v = self._v(self.target_values, obs)  # [2, B]
            gap = v[_D] - v[_M]
            q = samples.rewards + self.gamma * (1.0 - samples.done) * self._v_one(
                self.target_values, samples.next_obs, _M
            )
            if self.config.baseline == "model_value":
                q = q - v[_M]
            return gap * q, v

    # ------------------------------------------------------------------ the kind's API
    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Fit V_d on the data (Eq. 9) and V_m on model draws (Eq. 10); Polyak the targets."""
        real = inputs.real
        dynamics = self._dynamics(inputs)
        if self._fitted_host is None:
            self._fitted_host = bool(self.fitted)
        if not self._fitted_host:
            self.fit_normalizer(real.obs)
        # One eval-mode forward serves this update's draws and, when loss() follows on the
        # same batch with the model unchanged, its surrogate (the graph is kept for it).
        with _eval_mode(dynamics):
            pred = dynamics.predict(real.obs, real.actions)
        self._kept = (
            (real.obs, real.actions, pred, _versions(dynamics)) if pred.mean.requires_grad else None
        )
        with torch.no_grad():
            samples = self.model_samples(dynamics, real.obs, real.actions, pred)
        losses = torch.zeros(2, device=real.obs.device)
        for _ in range(self.config.value_steps):
            y = torch.stack(self.value_targets(real, samples))  # [2, B]
            per_net = (self._v(self.values, real.obs) - y).pow(2).mean(-1)  # [2]
            self.optimizer.zero_grad(set_to_none=True)
            per_net.sum().backward()
            self.optimizer.step()
            soft_update_(self.target_values, self.values, self.config.tau)
            losses = per_net.detach()
        self.last_value_losses = {"v_d_loss": losses[_D], "v_m_loss": losses[_M]}
        return dict(self.last_value_losses)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Eq. 11's surrogate, times lambda (key ``loss_value_inconsistency``), and diagnostics."""
        real = inputs.real
        dynamics = self._dynamics(inputs)
        kept, self._kept = self._kept, None
        pred = None
        if (
            kept is not None
            and kept[0] is real.obs
            and kept[1] is real.actions
            and kept[3] == _versions(dynamics)
        ):
            pred = kept[2]  # update()'s forward: same model, same rows, same values
        samples = self.model_samples(dynamics, real.obs, real.actions, pred)
        coef, v = self.coefficients(real.obs, samples)
        logp = self.log_prob(samples.prediction, samples.targets)  # [K, E, B]
        # mean over draws and rows, sum over members (each member's own L_aug, as its NLL);
        # log P summed over dims: on the scale of sum_e mean_b -log P_e (see the module doc).
        surrogate = -2.0 * (coef * logp).mean((0, 2)).sum()
        gap = v[_D] - v[_M]
        return {
            "loss_value_inconsistency": self.config.weight * surrogate,
            "inconsistency": gap.abs().mean(),
            "vic": gap.pow(2).mean(),
            "v_d": v[_D].mean(),
            "v_m": v[_M].mean(),
            **self.last_value_losses,
        }


def _versions(module: torch.nn.Module) -> tuple[int, ...]:
    """In-place version counters of every parameter and buffer (any change bumps one)."""
    return tuple(t._version for t in (*module.parameters(), *module.buffers()))


def _forget_fitted(module: torch.nn.Module, incompatible_keys: Any) -> None:
    """After ``load_state_dict``: read the loaded ``fitted`` flag again on next use."""
    module._fitted_host = None  # type: ignore[assignment]


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Run ``module`` in eval mode (no spectral-norm iteration), then restore its mode."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)
