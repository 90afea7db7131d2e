"""``alternating_mle``: MLE + model aux losses on a policy-phase schedule (RAMBO Eq. 2)."""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from components.model_learners._policy_phase import PolicyPhaseLearner, sum_losses
from compose.kinds import UpdateInputs

__all__ = ["AlternatingMLE"]


class AlternatingMLE(PolicyPhaseLearner):
    """One Adam step on mle_weight * (sum_e mean_b -log T_e(s', r | s, a) + regularization)
    + aux ``loss_*``; with ``mle_weight`` 0 the NLL is computed for the log only.

    Diagnostics: ``nll``, ``model_loss``, ``grad_norm`` (of the total loss) and every aux
    term (``loss_adversarial_0``, ``aux0/adv_grad_norm``, ...).
    """

    def model_step(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Eq. 2's model update on the learner's real batch ``inputs.real``."""
        dynamics, b = inputs.dynamics, inputs.real
        weight = float(self.config.mle_weight)
        with torch.no_grad() if weight == 0.0 else nullcontext():
            nll = -dynamics.log_prob(b.obs, b.actions, b.next_obs, b.rewards).mean(-1).sum()
        aux = self.aux_terms(inputs)
        loss = sum_losses(aux, nll)
        if weight > 0.0:
            loss = loss + weight * (nll + dynamics.regularization())
        self.model_optimizer.zero_grad(set_to_none=True)
        params = [p for p in dynamics.parameters() if p.requires_grad]
        if loss.requires_grad:
            loss.backward()
            self.model_optimizer.step()
        grads = [p.grad.norm() for p in params if p.grad is not None]
        grad_norm = torch.linalg.vector_norm(torch.stack(grads)) if grads else loss.new_zeros(())
        return {
            "nll": nll.detach(),
            "model_loss": loss.detach(),
            "grad_norm": grad_norm,
            **{k: v.detach() for k, v in aux.items()},
        }
