"""The bench's table: what, ours (median [min-max]), reference, speed-up, target, met."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

__all__ = ["bench_table", "fmt_range"]


def _num(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_range(median: float | None, lo: float | None, hi: float | None) -> str:
    """``median [min-max]`` (or the median alone; '-' when absent)."""
    if median is None:
        return "-"
    if lo is None or hi is None or lo == hi:
        return _num(median)
    return f"{_num(median)} [{_num(lo)}-{_num(hi)}]"


def bench_table(result: dict[str, Any]) -> Table:
    """A rich table of ``result['rows']`` (as :func:`compose.bench.runner.run_bench` makes)."""
    m = result.get("machine", {})
    title = escape(
        f"compose bench - {m.get('device_name', '?')}, {m.get('threads', '?')} threads, "
        f"OMP_WAIT_POLICY {m.get('omp_wait_policy', '?')}, load average "
        f"{m.get('load_avg_before', [])} -> {m.get('load_avg_after', [])}; "
        "speed-up > 1: better than the reference; ours cpu: process CPU time, all threads"
    )
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("what", "left"),
        ("unit", "left"),
        ("ours", "right"),
        ("ours cpu", "right"),
        ("reference", "right"),
        ("speed-up", "right"),
        ("target", "right"),
        ("", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.get("rows", []):
        ours, ref = row["ours"] or {}, row["reference"]
        speedup = row["speedup"]
        target = row["target"]
        met = row["met"]
        mark = "" if met is None else ("[green]met[/]" if met else "[red]missed[/]")
        op = ">=" if row["higher_is_better"] else "<="
        cpu = ours.get("cpu_median")
        table.add_row(
            escape(row["what"]),
            row["unit"],
            escape(fmt_range(ours.get("median"), ours.get("min"), ours.get("max"))),
            _num(cpu) if cpu is not None else "",
            escape(fmt_range(ref["median"], ref["min"], ref["max"])),
            f"{speedup:.2f}x" if speedup is not None else "-",
            f"{op} {_num(target)}" if target is not None else "",
            mark,
        )
    return table
