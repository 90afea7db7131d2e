"""The model buffer is FIFO and checkpointable; rollouts stop at terminals and chunk exactly;
rewards are shaped at rollout or at sampling time, as the shaper declares."""

from __future__ import annotations

import pytest
import torch

from compose.kinds import Batch, Shaped, UpdateInputs
from compose.train.buffers import TransitionBuffer
from compose.train.rollout import branched_rollout
from compose.train.step import shape_sampled_rows
from tests.train.toys import ConstantPolicy, CurrentPenalty, FixedPenalty, ShiftDynamics


def _rows(start: int, n: int) -> tuple[torch.Tensor, ...]:
    v = torch.arange(start, start + n, dtype=torch.float32)
    return v[:, None], v[:, None] * 10, v, v[:, None] + 0.5, v > 1e9


def test_buffer_fifo_overwrites_oldest() -> None:
    buf = TransitionBuffer(5, 1, 1, "cpu")
    buf.add(*_rows(0, 3))
    assert len(buf) == 3
    buf.add(*_rows(3, 4))  # 7 rows into capacity 5: rows 0, 1 are gone
    assert len(buf) == 5
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert torch.equal(buf.actions[:, 0], buf.obs[:, 0] * 10)
    buf.add(*_rows(100, 12))  # more than capacity at once: the last 5 stay
    assert sorted(buf.rewards.tolist()) == [107.0, 108.0, 109.0, 110.0, 111.0]


def test_buffer_samples_only_filled_rows_and_round_trips() -> None:
    torch.manual_seed(0)
    buf = TransitionBuffer(100, 1, 1, "cpu")
    buf.add(*_rows(0, 7))
    batch = buf.sample(500)
    assert batch.rewards.min() >= 0 and batch.rewards.max() <= 6
    assert len(set(batch.rewards.tolist())) == 7
    other = TransitionBuffer(100, 1, 1, "cpu")
    other.load_state_dict(buf.state_dict())
    torch.manual_seed(1)
    a = buf.sample(64)
    torch.manual_seed(1)
    b = other.sample(64)
    assert torch.equal(a.obs, b.obs) and torch.equal(a.next_obs, b.next_obs)
    assert (other.ptr, other.size) == (buf.ptr, buf.size)


def test_rollout_continues_from_nonterminal_states_only() -> None:
    dyn, policy, shaper = ShiftDynamics(1), ConstantPolicy(0.5, 1), FixedPenalty(0.25)
    starts = torch.tensor([[0.0], [0.75], [2.0]])
    buf = TransitionBuffer(100, 1, 1, "cpu")
    stats = branched_rollout(
        starts,
        length=3,
        chunk_size=2,
        dynamics=dyn,
        reward_shaper=shaper,
        buffer=buf,
        policy=policy,
        agent=None,
        action_low=-torch.ones(1),
        action_high=torch.ones(1),
    )
    # start 0.0: 0.5, 1.0, 1.5(done) -> 3 rows; start 0.75: 1.25(done) -> 1; 2.0: 2.5(done) -> 1
    assert len(buf) == 5
    assert int(stats.transitions) == 5
    assert sorted(buf.obs[:5, 0].tolist()) == [0.0, 0.5, 0.75, 1.0, 2.0]
    assert int(buf.terminals[:5].sum()) == 3
    assert torch.allclose(buf.rewards[:5], buf.obs[:5, 0] - 0.25)
    m = stats.metrics()
    assert torch.isclose(m["rollout/terminal_rate"], torch.tensor(3 / 5))
    assert torch.isclose(m["reward_shaper/penalty_mean"], torch.tensor(0.25))
    assert torch.isclose(m["rollout/length_mean"], torch.tensor(5 / 3))


class _HaltAbove(FixedPenalty):
    """Ends every row whose next state exceeds 0.9 (``Shaped.terminate``)."""

    def shape(self, transitions, *, dynamics, agent):  # type: ignore[no-untyped-def]
        out = super().shape(transitions, dynamics=dynamics, agent=agent)
        return Shaped(out.rewards, out.diagnostics, terminate=transitions.next_obs[:, 0] > 0.9)


def test_a_reward_shaper_can_end_rows() -> None:
    dyn, policy = ShiftDynamics(1), ConstantPolicy(0.5, 1)
    buf = TransitionBuffer(100, 1, 1, "cpu")
    stats = branched_rollout(
        torch.tensor([[0.0]]),
        length=5,
        chunk_size=4,
        dynamics=dyn,
        reward_shaper=_HaltAbove(0.0),
        buffer=buf,
        policy=policy,
        agent=None,
        action_low=-torch.ones(1),
        action_high=torch.ones(1),
    )
    # 0.0 -> 0.5 -> 1.0 (ended by the shaper): two rows, the second terminal
    assert len(buf) == 2
    assert buf.terminals[:2].bool().tolist() == [False, True]
    assert float(stats.metrics()["reward_shaper/terminate"]) == 0.5  # the fraction it ended


def test_rollout_chunking_does_not_change_the_buffer_contents() -> None:
    dyn, policy, shaper = ShiftDynamics(2), ConstantPolicy(0.3, 2), FixedPenalty(0.0)
    starts = torch.rand(37, 2, generator=torch.Generator().manual_seed(3))
    bufs = []
    for chunk in (37, 5):
        buf = TransitionBuffer(1000, 2, 2, "cpu")
        branched_rollout(
            starts,
            length=4,
            chunk_size=chunk,
            dynamics=dyn,
            reward_shaper=shaper,
            buffer=buf,
            policy=policy,
            agent=None,
            action_low=-torch.ones(2),
            action_high=torch.ones(2),
        )
        bufs.append(buf)
    a, b = bufs
    assert len(a) == len(b)
    key = lambda buf: sorted(map(tuple, buf.obs[: len(buf)].tolist()))  # noqa: E731
    assert key(a) == key(b)


def test_uniform_actions_stay_in_the_box() -> None:
    dyn, shaper = ShiftDynamics(2), FixedPenalty(0.0)
    buf = TransitionBuffer(1000, 2, 2, "cpu")
    low, high = torch.tensor([-0.1, 0.0]), torch.tensor([0.1, 0.05])
    branched_rollout(
        torch.zeros(50, 2),
        length=1,
        chunk_size=50,
        dynamics=dyn,
        reward_shaper=shaper,
        buffer=buf,
        policy=None,
        agent=None,
        action_low=low,
        action_high=high,
        actions="uniform",
    )
    acts = buf.actions[: len(buf)]
    assert (acts >= low).all() and (acts <= high).all() and acts.std(0).min() > 0


# -- reward shaping at rollout vs sampling time (issue #14) -------------------------------------


def _policy_batch(buf: TransitionBuffer, shaper: CurrentPenalty) -> Batch:
    """The model rows of one policy batch as the update step sees them (after shaping)."""
    model = buf.sample(8)
    real = buf.sample(2).replace(rewards=torch.full((2,), -7.0))
    inputs = UpdateInputs(step=0, real=real, model=model, batch=Batch.cat(real, model))
    shaped, _ = shape_sampled_rows(shaper, inputs)
    assert torch.equal(shaped.batch.rewards[:2], real.rewards)  # real rows are never shaped
    assert torch.equal(shaped.batch.rewards[2:], shaped.model.rewards)
    return shaped.model


def test_sampling_time_shaping_follows_the_shapers_current_state() -> None:
    """shape_at rollout: r~ is frozen into the buffer; sampling: the buffer keeps r and each
    sampled batch is shaped with the shaper's state at that time."""
    for shape_at in ("rollout", "sampling"):
        dyn, policy, shaper = (
            ShiftDynamics(1),
            ConstantPolicy(0.5, 1),
            CurrentPenalty(0.25, shape_at),
        )
        buf = TransitionBuffer(100, 1, 1, "cpu")
        branched_rollout(
            torch.tensor([[0.0]]),
            length=2,
            chunk_size=4,
            dynamics=dyn,
            reward_shaper=shaper,
            buffer=buf,
            policy=policy,
            agent=None,
            action_low=-torch.ones(1),
            action_high=torch.ones(1),
        )
        raw = buf.obs[:2, 0]
        stored = raw - 0.25 if shape_at == "rollout" else raw
        assert torch.allclose(buf.rewards[:2], stored)
        torch.manual_seed(0)
        first = _policy_batch(buf, shaper)
        shaper.c = 1.0  # the shaper's state changes between two samplings
        torch.manual_seed(0)
        second = _policy_batch(buf, shaper)
        assert torch.equal(first.obs, second.obs)  # the same rows
        assert torch.allclose(first.rewards, first.obs[:, 0] - 0.25)
        expected = 1.0 if shape_at == "sampling" else 0.25
        assert torch.allclose(second.rewards, second.obs[:, 0] - expected)


def test_a_sampling_time_shaper_must_implement_shape_sampled() -> None:
    assert FixedPenalty.shape_at == "rollout"
    FixedPenalty(0.0).check_shape_at()
    CurrentPenalty(0.0, "sampling").check_shape_at()
    bad = FixedPenalty(0.0)
    bad.shape_at = "sampling"
    with pytest.raises(ValueError, match="shape_at: rollout"):
        bad.check_shape_at()
