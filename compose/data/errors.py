"""The data error family: one exception type for every bad-dataset condition."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset is missing, malformed or inconsistent with its env.

    The message always names the dataset and, for bad values, the first bad index, and says
    what to do about it.
    """
