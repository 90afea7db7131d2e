"""K critics Q_k(s, a) as one vectorized network: one batched matmul per layer for all K.

Reference: clipped double Q-learning (Fujimoto et al. 2018, TD3) as used by SAC (Haarnoja et
al. 2018) and every model-based offline method built on it (MOPO, MOBILE, VIPO: K = 2
critics, FC(256, 256) with ReLU, VIPO Table 4).
Why: two separate ``nn.Linear`` stacks cost 2x the kernel launches per forward and backward;
an :class:`~compose.nn.EnsembleMLP` with ``members=K`` evaluates all critics in one
``baddbmm`` per layer. Inputs with extra leading dims ([..., B, d]) are flattened into one
row batch, so MOBILE's E x N x B next-state samples go through the critics in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from compose.nn.ensemble import EnsembleLinear, EnsembleMLP, ensemble_linear

__all__ = ["QEnsemble", "q_without_param_grad"]


class QEnsemble(nn.Module):
    """K independent Q-networks evaluated together: (obs [..., do], act [..., da]) -> [K, ...].

    Satisfies the :class:`compose.kinds.QEnsemble` protocol. Each critic has its own
    independently initialized weights (members of one :class:`EnsembleMLP`); every critic
    sees the same (obs, act) rows.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        num_critics: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if num_critics < 1:
            raise ValueError(f"num_critics must be >= 1, got {num_critics}")
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.num_critics = num_critics
        self.net = EnsembleMLP(
            obs_dim + act_dim, 1, list(hidden), members=num_critics, activation_name=activation
        )

    def forward(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Q-values of every critic: obs [..., do], actions [..., da] -> [K, ...].

        Leading dims must match between obs and actions; they are flattened into one batch
        for the matmuls and restored in the output.
        """
        lead = obs.shape[:-1]
        return self.net(self._rows(obs, actions)).reshape(self.num_critics, *lead)

    def frozen(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Like :meth:`forward`, with the parameters detached: gradients reach obs/actions only.

        Why: the actor loss differentiates Q(s, pi(s)) w.r.t. the action; with detached
        weights autograd neither writes critic ``.grad`` nor spends the weight-gradient
        matmuls of the backward pass.
        """
        h = self._rows(obs, actions).unsqueeze(0).expand(self.num_critics, -1, -1)
        for module in self.net.net:
            if isinstance(module, EnsembleLinear):
                h = ensemble_linear(h, module.weight.detach(), module.bias.detach())
            else:
                h = module(h)
        return h.reshape(self.num_critics, *obs.shape[:-1])

    def _rows(self, obs: Tensor, actions: Tensor) -> Tensor:
        """[..., do], [..., da] -> [rows, do + da], checking the leading dims agree."""
        if actions.shape[:-1] != obs.shape[:-1]:
            raise ValueError(
                f"obs {tuple(obs.shape)} and actions {tuple(actions.shape)} have different "
                "leading dims"
            )
        return torch.cat([obs, actions], dim=-1).reshape(-1, self.obs_dim + self.act_dim)

    def extra_repr(self) -> str:
        """Shapes for ``print(module)``."""
        return f"obs_dim={self.obs_dim}, act_dim={self.act_dim}, num_critics={self.num_critics}"


def q_without_param_grad(critic: object, obs: Tensor, actions: Tensor) -> Tensor:
    """critic(obs, actions) with the critic's parameters detached.

    The actor's gradient flows through Q to the actions (and so to the policy) but never
    into the critic's parameters: the critic's optimizer cannot see actor gradients
    whatever order the trainer steps in, and the backward skips the critic's weight-grad
    matmuls (a third of its backward cost).
    Uses the critic's own ``frozen(obs, actions)`` when it has one (:class:`QEnsemble`:
    no parameter swapping), else ``torch.func.functional_call`` with detached parameters.
    """
    frozen = getattr(critic, "frozen", None)
    if callable(frozen):
        return frozen(obs, actions)
    if isinstance(critic, nn.Module):
        params = {name: p.detach() for name, p in critic.named_parameters()}
        return functional_call(critic, params, (obs, actions), strict=False)
    return critic(obs, actions)  # type: ignore[operator]
