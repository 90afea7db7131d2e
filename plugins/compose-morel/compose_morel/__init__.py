"""compose-morel: MOReL's uncertainty and HALT reward shaper as a compose plugin.

Configs are torch-free; implementations (``_*.py``) import torch lazily from ``build``.
"""

from __future__ import annotations

from compose_morel.halt import HaltConfig
from compose_morel.max_pairwise_diff import MaxPairwiseDiffConfig

__all__ = ["HaltConfig", "MaxPairwiseDiffConfig"]
__version__ = "0.1.0"
