"""Statistics for comparing runs: interquartile mean, stratified bootstrap intervals, P(X > Y).

These are the aggregate measures of Agarwal et al., "Deep RL at the Edge of the Statistical
Precipice" (NeurIPS 2021; its library, rliable): the interquartile mean (IQM, the mean of the
middle 50% of all runs' scores, 25% trimmed from each end), a 95% percentile interval from a
*stratified* bootstrap (runs are resampled within each task, here each dataset, so every task
keeps its number of runs), and the probability of improvement P(X > Y) (the Mann-Whitney U
statistic over all pairs of runs, ties counting one half, averaged over tasks).

Why scipy and not rliable itself: rliable computes exactly these with ``scipy.stats.trim_mean``,
``scipy.stats.mannwhitneyu`` and a bootstrap from ``arch``; ``scipy.stats.bootstrap`` gives the
same stratified bootstrap (each sample in ``data`` is resampled independently: one sample per
task). rliable 1.2 pins ``arch < 8``, which fails to import beside pandas 3 (what pip resolves
today), pulls pandas, statsmodels, seaborn and matplotlib, draws its resamples from numpy's
global random state (its ``random_state`` argument is not used) and evaluates the statistic
once per resample in Python (the README gives the measured difference).

A task with fewer than two runs has no interval (a bootstrap of one value says nothing): the
interval is then None and shown as such, never a zero-width bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONFIDENCE",
    "REPS",
    "Estimate",
    "best_score",
    "final_score",
    "iqm",
    "iqm_curve",
    "iqm_estimate",
    "probability_of_improvement",
    "summarize",
]

#: Bootstrap resamples (rliable's default is 50,000; see :func:`iqm_estimate`).
REPS = 10_000
#: Coverage of the intervals.
CONFIDENCE = 0.95

Tasks = Mapping[str, Sequence[float]] | Sequence[Sequence[float]]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (``low``/``high`` None: no interval, see module doc)."""

    value: float
    low: float | None = None
    high: float | None = None

    def text(self, digits: int = 1) -> str:
        """``12.3 [10.1, 14.0]``, or ``12.3`` without an interval."""
        if self.low is None or self.high is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def to_json(self) -> dict[str, float | None]:
        """``{"value", "low", "high"}``."""
        return {"value": self.value, "low": self.low, "high": self.high}


def _strata(scores: Tasks | Sequence[float]) -> list[np.ndarray]:
    """One float array per task: a mapping's values, a list of lists, or one flat list."""
    groups = list(scores.values() if isinstance(scores, Mapping) else scores)
    if groups and np.ndim(groups[0]) == 0:  # a flat list: one task
        groups = [groups]
    out = [np.asarray(list(g), dtype=float) for g in groups]
    out = [g for g in out if g.size]
    if not out:
        raise ValueError("no scores")
    return out


def _trimmed(x: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.stats import trim_mean

    return trim_mean(x, 0.25, axis=axis)


def iqm(scores: Tasks | Sequence[float]) -> float:
    """The interquartile mean of all runs of all tasks (``scipy.stats.trim_mean``, 25%)."""
    return float(_trimmed(np.concatenate(_strata(scores)), axis=None))


def _pooled_iqm(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """The IQM of the strata pooled along ``axis`` (vectorized over the other axes)."""
    return _trimmed(np.concatenate(samples, axis=axis), axis=axis)


def _interval(data: list[np.ndarray], statistic: Any, reps: int, seed: int, axis: int = -1) -> Any:
    from scipy.stats import bootstrap

    res = bootstrap(
        tuple(data),
        statistic,
        n_resamples=reps,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        paired=False,
        axis=axis,
        rng=np.random.default_rng(seed),
    )
    return res.confidence_interval


def iqm_estimate(scores: Tasks | Sequence[float], reps: int = REPS, seed: int = 0) -> Estimate:
    """IQM with its stratified-bootstrap 95% percentile interval (each task resampled alone).

    ``reps`` resamples; 10,000 keep the interval's Monte-Carlo error near 0.5% of its width
    (rliable uses 50,000; scipy evaluates them vectorized, so either is fast).
    """
    strata = _strata(scores)
    value = float(_trimmed(np.concatenate(strata), axis=None))
    if min(s.size for s in strata) < 2:
        return Estimate(value)
    ci = _interval(strata, _pooled_iqm, reps, seed)
    return Estimate(value, float(ci.low), float(ci.high))


def iqm_curve(
    curves: Sequence[np.ndarray], reps: int = REPS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per evaluation step: IQM over runs and its interval. ``curves``: one (runs, steps) array
    per task, all with the same steps. Returns (iqm, low, high); low/high None as above."""
    strata = [np.asarray(c, dtype=float) for c in curves]
    value = _trimmed(np.concatenate(strata, axis=0), axis=0)
    if min(s.shape[0] for s in strata) < 2:
        return value, None, None
    ci = _interval(strata, _pooled_iqm, reps, seed, axis=0)
    return value, np.asarray(ci.low), np.asarray(ci.high)


def _poi(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) averaged over tasks; ``samples`` = the M tasks of X, then the M tasks of Y."""
    from scipy.stats import mannwhitneyu

    m = len(samples) // 2
    probs = []
    for x, y in zip(samples[:m], samples[m:], strict=True):
        u = mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic  # pairs x > y, ties 1/2
        probs.append(u / (x.shape[axis] * y.shape[axis]))
    return np.mean(probs, axis=0)


def probability_of_improvement(
    x: Tasks | Sequence[float], y: Tasks | Sequence[float], reps: int = REPS, seed: int = 0
) -> Estimate:
    """P(X > Y): the chance that a run of X scores above a run of Y on the same task (ties
    count one half), averaged over tasks, with its stratified-bootstrap interval (X's and Y's
    runs resampled independently). ``x`` and ``y`` must list the same tasks in the same order."""
    if isinstance(x, Mapping) and isinstance(y, Mapping):
        if set(x) != set(y):
            raise ValueError(f"the two groups cover different tasks: {sorted(x)} vs {sorted(y)}")
        y = [y[k] for k in x]
    sx, sy = _strata(x), _strata(y)
    if len(sx) != len(sy):
        raise ValueError("the two groups cover a different number of tasks")
    value = float(_poi(*sx, *sy))
    if min(s.size for s in (*sx, *sy)) < 2:
        return Estimate(value)
    ci = _interval([*sx, *sy], _poi, reps, seed)
    return Estimate(value, float(ci.low), float(ci.high))


def final_score(values: Sequence[float], k: int = 1) -> float:
    """The mean of the last ``k`` evaluations (of those that exist)."""
    if not values:
        raise ValueError("no evaluations")
    return float(np.mean(np.asarray(values[-k:], dtype=float)))


def best_score(values: Sequence[float]) -> float:
    """The best evaluation of a run."""
    if not values:
        raise ValueError("no evaluations")
    return float(np.max(np.asarray(values, dtype=float)))


def summarize(scores: Tasks | Sequence[float], reps: int = REPS, seed: int = 0) -> dict[str, Any]:
    """What a table shows of one group's scores: n, IQM with interval, mean, min and max."""
    pooled = np.concatenate(_strata(scores))
    est = iqm_estimate(scores, reps=reps, seed=seed)
    return {
        "n": int(pooled.size),
        "iqm": est.value,
        "iqm_low": est.low,
        "iqm_high": est.high,
        "mean": float(pooled.mean()),
        "min": float(pooled.min()),
        "max": float(pooled.max()),
    }
