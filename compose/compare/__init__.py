"""``compose compare``: finished runs grouped and summarized with honest statistics.

:mod:`compose.compare.runs` reads runs (run and sweep directories, Aim repos, table JSON),
:mod:`compose.compare.report` groups and summarizes them with :mod:`compose.stats`, and
:mod:`compose.compare.plot` draws learning curves and the aggregate interval plot.
"""

from compose.compare.report import Comparison, check_comparable, compare, group_runs
from compose.compare.runs import CompareInputError, RunRecord, collect_runs, field_value

__all__ = [
    "CompareInputError",
    "Comparison",
    "RunRecord",
    "check_comparable",
    "collect_runs",
    "compare",
    "field_value",
    "group_runs",
]
