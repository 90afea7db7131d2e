"""compose.stats on synthetic score sets whose answers are computed here directly.

The IQM is checked against sorting and averaging by hand; the stratified bootstrap interval
against the exact bootstrap distribution (every resample enumerated: with 3 runs per task
there are 27 equally likely resamples per task), so the Monte-Carlo interval must land on
the exact distribution's 2.5% and 97.5% quantiles.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from compose import stats


def _iqm_by_hand(values: list[float]) -> float:
    """Sort, drop floor(n/4) from each end, average (scipy's 25% trimmed mean)."""
    v = sorted(values)
    cut = len(v) // 4
    kept = v[cut : len(v) - cut]
    return sum(kept) / len(kept)


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 3, 4, 5, 6, 7, 8],  # drops 1, 2 and 7, 8 -> 4.5
        [10, -3, 7, 100, 2, 5, 8, 1, 0],  # an outlier: the IQM ignores it
        [2.0, 4.0],  # n < 4: nothing is trimmed
    ],
)
def test_iqm_is_the_trimmed_mean_by_hand(values: list[float]) -> None:
    assert stats.iqm(values) == pytest.approx(_iqm_by_hand(values))


def test_iqm_known_value_and_pooling_over_tasks() -> None:
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)
    # two tasks are pooled: 7 values, one trimmed from each end
    assert stats.iqm({"a": [1, 2, 3], "b": [10, 20, 30, 40]}) == pytest.approx(
        (2 + 3 + 10 + 20 + 30) / 5
    )


def _exact_bootstrap(tasks: list[list[float]]) -> np.ndarray:
    """The IQM of every stratified resample (all index choices of every task), equally likely."""
    per_task = [list(itertools.product(t, repeat=len(t))) for t in tasks]
    return np.array(
        [
            _iqm_by_hand([v for part in combo for v in part])
            for combo in itertools.product(*per_task)
        ]
    )


def test_stratified_bootstrap_interval_matches_the_exact_distribution() -> None:
    tasks = [[0.0, 10.0, 40.0], [5.0, 20.0, 90.0]]
    exact = np.sort(_exact_bootstrap(tasks))  # 27 * 27 = 729 equally likely resamples
    est = stats.iqm_estimate(tasks, reps=20_000, seed=3)
    assert est.value == pytest.approx(_iqm_by_hand([v for t in tasks for v in t]))
    # the Monte-Carlo percentile interval sits within the exact 2-3% and 97-98% quantiles
    assert np.quantile(exact, 0.02) <= est.low <= np.quantile(exact, 0.03)
    assert np.quantile(exact, 0.97) <= est.high <= np.quantile(exact, 0.98)


def test_bootstrap_is_stratified_not_pooled() -> None:
    """Resampling within tasks keeps each task's share; a pooled bootstrap would not.

    Task a is all 0, task b all 100: every stratified resample has three of each, so the IQM
    never moves (interval of zero width); resampling the pooled six values would move it.
    """
    est = stats.iqm_estimate({"a": [0.0, 0.0, 0.0], "b": [100.0, 100.0, 100.0]}, reps=2000)
    assert est.value == pytest.approx(50.0)
    assert est.low == pytest.approx(50.0) and est.high == pytest.approx(50.0)
    pooled = stats.iqm_estimate([0.0, 0.0, 0.0, 100.0, 100.0, 100.0], reps=2000)
    assert pooled.high - pooled.low > 20


def test_one_run_per_task_has_no_interval() -> None:
    est = stats.iqm_estimate([7.0])
    assert (est.value, est.low, est.high) == (7.0, None, None)
    assert est.text() == "7.0"


def test_interval_is_reproducible_by_seed() -> None:
    values = [3.0, 9.0, 1.0, 12.0, 5.0]
    assert stats.iqm_estimate(values, seed=1) == stats.iqm_estimate(values, seed=1)


def test_probability_of_improvement_counts_pairs_with_half_ties() -> None:
    # x > y in all 9 pairs
    assert stats.probability_of_improvement([5, 6, 7], [1, 2, 3]).value == pytest.approx(1.0)
    # pairs: (2>1, 2=2, 2<3), (4>1, 4>2, 4>3): 4 wins + 1 tie out of 6
    assert stats.probability_of_improvement([2, 4], [1, 2, 3]).value == pytest.approx(4.5 / 6)
    # averaged over tasks: task a 1.0, task b 0.5 (identical)
    p = stats.probability_of_improvement({"a": [5, 6], "b": [0, 1]}, {"a": [1, 2], "b": [0, 1]})
    assert p.value == pytest.approx(0.75)


def test_probability_of_improvement_interval_matches_direct_resampling() -> None:
    x, y = [3.0, 8.0, 10.0], [1.0, 4.0, 9.0]
    est = stats.probability_of_improvement(x, y, reps=20_000, seed=0)

    def p(a: tuple[float, ...], b: tuple[float, ...]) -> float:
        return float(np.mean([(ai > bi) + 0.5 * (ai == bi) for ai in a for bi in b]))

    exact = np.array(
        [p(a, b) for a in itertools.product(x, repeat=3) for b in itertools.product(y, repeat=3)]
    )
    assert est.value == pytest.approx(p(tuple(x), tuple(y)))
    assert np.quantile(exact, 0.02) <= est.low <= np.quantile(exact, 0.03)
    assert np.quantile(exact, 0.97) <= est.high <= np.quantile(exact, 0.98)


def test_probability_of_improvement_needs_the_same_tasks() -> None:
    with pytest.raises(ValueError, match="different tasks"):
        stats.probability_of_improvement({"a": [1, 2]}, {"b": [1, 2]})


def test_final_and_best_scores() -> None:
    evals = [1.0, 5.0, 3.0, 4.0]
    assert stats.final_score(evals, k=1) == 4.0
    assert stats.final_score(evals, k=3) == pytest.approx(4.0)
    assert stats.final_score(evals, k=10) == pytest.approx(3.25)
    assert stats.best_score(evals) == 5.0


def test_iqm_curve_per_step() -> None:
    runs = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [100.0, 100.0]])
    value, low, high = stats.iqm_curve([runs], reps=2000)
    assert value == pytest.approx([3.0, 4.0])  # middle two runs per step
    assert low is not None and high is not None and (low <= value).all() and (value <= high).all()
