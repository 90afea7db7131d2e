"""``gym.spaces`` stand-in: ``Space`` for type hints only."""


class Space:
    """Placeholder (type hints only)."""
