"""Group runs, check they are comparable, and summarize each group with :mod:`compose.stats`.

Per group: the number of runs and their seeds, the final score of each run (the mean of its
last ``k`` evaluations) and its best evaluation, each aggregated over runs as the IQM with a
stratified bootstrap 95% interval (the tasks, i.e. strata, are the datasets); and, for named
pairs of groups, the probability of improvement P(A > B) of the final scores.

Runs on different datasets or with different budgets (policy steps done) are refused unless
allowed, with the difference named: an IQM over a mix of budgets compares training lengths,
not algorithms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compose import stats
from compose.compare.runs import CompareInputError, RunRecord, field_value

__all__ = [
    "Comparison",
    "check_comparable",
    "compare",
    "group_runs",
    "to_json",
    "to_markdown",
    "table_cells",
]


@dataclass
class Comparison:
    """The result of :func:`compare`: one summary per group, pairs, and what was left out."""

    metric: str
    by: str
    last: int
    reps: int = stats.REPS
    groups: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    members: dict[str, list[RunRecord]] = field(default_factory=dict)


def _names(records: Sequence[RunRecord], limit: int = 4) -> str:
    names = [r.name for r in records]
    more = f", ... ({len(names)} runs)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_comparable(
    records: Sequence[RunRecord], *, mixed_datasets: bool = False, mixed_budgets: bool = False
) -> list[str]:
    """Problems that make ``records`` incomparable (empty when they compare)."""
    problems = []
    by_dataset: dict[Any, list[RunRecord]] = {}
    by_budget: dict[Any, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.dataset, []).append(r)
        by_budget.setdefault(r.steps, []).append(r)
    if len(by_dataset) > 1 and not mixed_datasets:
        parts = "; ".join(f"{d} ({_names(rs)})" for d, rs in by_dataset.items())
        problems.append(
            f"the runs are on different datasets: {parts}; compare one dataset at a time, or "
            "pass --mixed-datasets (each dataset is then a stratum of the bootstrap)"
        )
    if len(by_budget) > 1 and not mixed_budgets:
        parts = "; ".join(f"{s} steps ({_names(rs)})" for s, rs in by_budget.items())
        problems.append(
            f"the runs have different budgets: {parts}; compare runs of one length, or pass "
            "--mixed-budgets"
        )
    return problems


def group_runs(records: Sequence[RunRecord], by: str) -> dict[str, list[RunRecord]]:
    """Runs keyed by the text of ``by`` (see :func:`compose.compare.runs.field_value`); a
    field a run's recipe does not set is ``(unset)``."""
    import json

    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        value = field_value(r, by)
        if value is None:
            key = "(unset)"
        else:
            key = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        groups.setdefault(key, []).append(r)
    return groups


def _tasks(records: Sequence[RunRecord], score: Any) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in records:
        value = score(r)
        if value is not None:
            out.setdefault(str(r.dataset), []).append(value)
    return out


def _estimate_json(est: stats.Estimate | None) -> dict[str, Any] | None:
    return None if est is None else est.to_json()


def compare(
    records: Sequence[RunRecord],
    *,
    by: str = "recipe",
    metric: str = "eval/normalized_score",
    last: int = 1,
    pairs: Sequence[tuple[str, str]] = (),
    reps: int = stats.REPS,
    seed: int = 0,
) -> Comparison:
    """Summarize finished runs per group; unfinished runs and runs without the metric are
    skipped (listed in ``skipped``). ``pairs`` name groups; with none and two groups, the
    two groups are the pair."""
    out = Comparison(metric=metric, by=by, last=last, reps=reps)
    kept = []
    for r in records:
        if r.status != "finished":
            out.skipped.append(f"{r.name} ({r.source}): status {r.status}")
        elif not r.evals:
            out.skipped.append(f"{r.name} ({r.source}): no {metric} evaluations")
        else:
            kept.append(r)
    if not kept:
        raise CompareInputError(
            "no finished run with the metric to compare"
            + "".join(f"\n  skipped {s}" for s in out.skipped)
        )
    out.members = group_runs(kept, by)

    def final(r: RunRecord) -> float:
        return stats.final_score(r.values, last)

    def best(r: RunRecord) -> float | None:
        return stats.best_score(r.values) if r.history else None

    scores: dict[str, dict[str, list[float]]] = {}
    for name, members in out.members.items():
        finals = _tasks(members, final)
        bests = _tasks(members, best)
        scores[name] = finals
        f_est = stats.iqm_estimate(finals, reps=reps, seed=seed)
        b_est = stats.iqm_estimate(bests, reps=reps, seed=seed) if bests else None
        pooled = [v for vs in finals.values() for v in vs]
        out.groups.append(
            {
                "group": name,
                "runs": len(members),
                "seeds": sorted({m.seed for m in members if m.seed is not None}),
                "datasets": sorted({str(m.dataset) for m in members}),
                "steps": sorted({m.steps for m in members if m.steps is not None}),
                "final": _estimate_json(f_est),
                "final_mean": sum(pooled) / len(pooled),
                "best": _estimate_json(b_est),
                "history": all(m.history for m in members),
            }
        )
    wanted = list(pairs)
    if not wanted and len(out.members) == 2:
        a, b = list(out.members)
        wanted = [(a, b)]
    for a, b in wanted:
        missing = [g for g in (a, b) if g not in out.members]
        if missing:
            raise CompareInputError(
                f"--pair {a} {b}: no group named {', '.join(repr(m) for m in missing)}; "
                f"groups: {', '.join(repr(g) for g in out.members)}"
            )
        try:
            est = stats.probability_of_improvement(scores[a], scores[b], reps=reps, seed=seed)
        except ValueError as exc:
            raise CompareInputError(f"--pair {a} {b}: {exc}") from None
        out.pairs.append({"a": a, "b": b, "p_improvement": est.to_json()})
    return out


def _cell(est: dict[str, Any] | None, n_note: bool = True) -> str:
    if est is None:
        return "-"
    text = stats.Estimate(est["value"], est["low"], est["high"]).text()
    return text if est["low"] is not None or not n_note else text + " (no CI: 1 run)"


def table_cells(result: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the group table (terminal and markdown)."""
    k = "final" if result.last == 1 else f"final (mean of last {result.last})"
    header = [
        "group",
        "runs",
        "seeds",
        "dataset",
        "steps",
        f"{k}: IQM [95% CI]",
        f"{k}: mean",
        "best: IQM [95% CI]",
    ]
    cells = []
    for g in result.groups:
        cells.append(
            [
                g["group"],
                str(g["runs"]),
                " ".join(map(str, g["seeds"])) or "-",
                ", ".join(g["datasets"]),
                ", ".join(map(str, g["steps"])) or "-",
                _cell(g["final"]),
                f"{g['final_mean']:.1f}",
                _cell(g["best"], n_note=False),
            ]
        )
    return header, cells


def pair_lines(result: Comparison) -> list[str]:
    """One line per pair: ``P(a > b) = 0.83 [0.50, 1.00]``."""
    lines = []
    for p in result.pairs:
        est = p["p_improvement"]
        text = stats.Estimate(est["value"], est["low"], est["high"]).text(2)
        lines.append(f"P({p['a']} > {p['b']}) = {text} (final scores; 0.5 = no difference)")
    return lines


#: Fewer runs per group than this get :func:`small_sample_note` (ours: with 2-4 runs a
#: resample can only repeat the observed scores, so the interval cannot reach past them).
FEW_RUNS = 5


def small_sample_note(result: Comparison) -> str | None:
    """A warning when some group has so few runs that its intervals understate uncertainty."""
    few = [g["group"] for g in result.groups if g["runs"] < FEW_RUNS]
    if not few:
        return None
    return (
        f"{len(few)} of {len(result.groups)} groups have fewer than {FEW_RUNS} runs: a bootstrap "
        "interval cannot reach beyond the observed scores, so these intervals (and P = 0 or 1) "
        "understate the uncertainty; run more seeds"
    )


def to_markdown(result: Comparison) -> str:
    """The group table and the pair lines as GitHub markdown."""
    header, cells = table_cells(result)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    lines.append("")
    lines.append(
        f"`{result.metric}`; IQM = interquartile mean over runs, 95% CI = stratified bootstrap "
        f"percentile interval ({result.reps} resamples; compose.stats)."
    )
    lines += [f"- {line}" for line in pair_lines(result)]
    note = small_sample_note(result)
    if note:
        lines += ["", f"Note: {note}."]
    return "\n".join(lines) + "\n"


def to_json(result: Comparison) -> dict[str, Any]:
    """Everything, JSON-safe (the runs of each group by name and source)."""
    return {
        "metric": result.metric,
        "by": result.by,
        "last": result.last,
        "reps": result.reps,
        "confidence": stats.CONFIDENCE,
        "groups": result.groups,
        "pairs": result.pairs,
        "skipped": result.skipped,
        "runs": {
            g: [{"name": r.name, "source": r.source, "seed": r.seed, "evals": r.evals} for r in rs]
            for g, rs in result.members.items()
        },
    }
