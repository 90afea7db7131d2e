"""The policy step's bookkeeping: cheap per step, exact at check time.

``NonFiniteWatch`` stacks each step's metrics (one op) and finds the first non-finite step
only when checked (or every ``fold_every`` steps); it must still report the first bad step
(in observation order, across metric layouts), its offending keys and values, and nothing
when all values are finite. ``grad_norm`` equals torch's total norm; ``scalars_into`` copies no
0-d float term and averages non-scalar ones; ``loss_of`` sums the ``loss_*`` terms.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from compose.train.step import grad_norm, loss_of, scalars_into
from compose.train.watch import NonFiniteError, NonFiniteWatch


class CountOps(TorchDispatchMode):
    """Counts the aten ops run inside the block."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def metrics(loss: float, gnorm: float) -> dict[str, torch.Tensor]:
    return {
        "critic_target/loss_critic": torch.tensor(loss),
        "grad_norm/critic": torch.tensor(gnorm),
    }


def test_watch_reports_the_first_bad_step_with_slot_and_values() -> None:
    watch = NonFiniteWatch(torch.device("cpu"))
    for step in range(30):
        watch.observe(step, {"rollout/reward_mean": torch.tensor(0.5)})
        loss = math.nan if step >= 17 else 1.0
        gnorm = math.inf if step in (12, 20) else 2.0
        watch.observe(step, metrics(loss, gnorm))
    with pytest.raises(NonFiniteError) as err:
        watch.check("ckpt.pt")
    assert err.value.step == 12
    assert err.value.offending == {"grad_norm/critic": math.inf}
    assert err.value.checkpoint == "ckpt.pt"
    assert "non-finite values at step 12 in grad_norm" in str(err.value)


def test_watch_orders_layouts_by_observation_within_a_step() -> None:
    watch = NonFiniteWatch(torch.device("cpu"))
    watch.observe(0, metrics(1.0, 1.0))
    watch.observe(1, metrics(1.0, math.nan))  # the step's update, seen first
    watch.observe(1, {"rollout/reward_mean": torch.tensor(math.nan)})
    with pytest.raises(NonFiniteError) as err:
        watch.check(None)
    assert err.value.step == 1 and list(err.value.offending) == ["grad_norm/critic"]


def test_watch_is_silent_when_finite_and_folds_without_a_check() -> None:
    watch = NonFiniteWatch(torch.device("cpu"), fold_every=8)
    for step in range(20):
        watch.observe(step, metrics(float(step), 1.0))
        assert len(watch._pending) < 8  # folded: memory stays bounded
    watch.check(None)
    watch.observe(20, metrics(math.nan, 1.0))
    for step in range(21, 40):  # folded before any check; the first bad step is kept
        watch.observe(step, metrics(math.inf, 1.0))
    with pytest.raises(NonFiniteError) as err:
        watch.check(None)
    assert err.value.step == 20 and math.isnan(err.value.offending["critic_target/loss_critic"])
    watch.reset()
    watch.check(None)


def test_watch_observe_is_one_op_per_step() -> None:
    watch = NonFiniteWatch(torch.device("cpu"))
    m = {f"slot/term{i}": torch.tensor(float(i)) for i in range(12)}
    with CountOps() as count:
        watch.observe(0, m)
    assert count.ops == ["aten.stack.default"]


def testscalars_into_keep_0d_floats_and_average_the_rest() -> None:
    loss = torch.tensor(2.0, requires_grad=True) * 3
    terms = {"loss_x": loss, "per_row": torch.tensor([1.0, 3.0]), "count": torch.tensor(4)}
    out: dict[str, torch.Tensor] = {}
    with CountOps() as count:
        scalars_into("slot", terms, out)
    assert out["slot/loss_x"].data_ptr() == loss.data_ptr() and not out["slot/loss_x"].requires_grad
    assert out["slot/per_row"].item() == 2.0 and out["slot/count"].dtype == torch.float32
    assert "aten.stack.default" not in count.ops and "aten.copy_.default" not in count.ops


def test_grad_norm_equals_torch_total_norm_and_loss_of_sums() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 1))
    net(torch.randn(9, 5)).pow(2).sum().backward()
    params = list(net.parameters())
    ref = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
    assert torch.equal(grad_norm(params), ref)
    by_hand = torch.sqrt(sum(p.grad.pow(2).sum() for p in params))
    torch.testing.assert_close(grad_norm(params), by_hand)
    a, b, c = torch.tensor(1.5), torch.tensor(2.0), torch.tensor(-0.25)
    assert loss_of({"x": a}) is None
    assert loss_of({"loss_a": a, "m": c}).item() == 1.5
    assert loss_of({"loss_a": a, "loss_b": b, "loss_c": c}).item() == 3.25
