"""``python -m compose.cli``: the same as the ``compose`` console script."""

from __future__ import annotations

from compose.cli import main

if __name__ == "__main__":
    main()
