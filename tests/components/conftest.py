"""Single-threaded torch for these tests (the machine is shared; tiny tensors gain nothing)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
