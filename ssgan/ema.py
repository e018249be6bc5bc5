"""The evaluation copy of D: an exponential moving average of its weights."""

from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn


def ema_decay_at(decay: float, t: int) -> float:
    """The effective decay after ``t`` updates: ``min(decay, (1 + t) / (10 + t))``, so the copy
    is useful early in short runs and approaches the nominal decay later."""
    return min(decay, (1 + t) / (10 + t))


class EMA(nn.Module):
    """Exponential moving average of a module's weights (Polyak averaging), as the improved-gan
    code evaluates D:

    .. math:: \\bar\\theta \\leftarrow \\beta_t \\bar\\theta + (1 - \\beta_t)\\, \\theta, \\quad
              \\beta_t = \\min(\\beta, (1 + t) / (10 + t))

    Floating-point buffers (e.g. batch-norm statistics) are averaged the same way; integer
    buffers keep the copy's values."""

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        self.module = copy.deepcopy(module).requires_grad_(False).eval()
        self.decay = decay
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._t: Optional[int] = None  # host mirror of num_updates, avoids a sync per step

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        if self._t is None:
            self._t = int(self.num_updates)
        decay = ema_decay_at(self.decay, self._t)
        self._t += 1
        self.num_updates.add_(1)
        ema = list(self.module.parameters()) + list(self.module.buffers())
        cur = list(module.parameters()) + list(module.buffers())
        floats = [(e, c) for e, c in zip(ema, cur) if e.is_floating_point()]
        torch._foreach_lerp_([e for e, _ in floats], [c for _, c in floats], 1.0 - decay)

    def _load_from_state_dict(self, *args, **kwargs):
        self._t = None
        super()._load_from_state_dict(*args, **kwargs)

    def train(self, mode: bool = True):
        # the averaged copy is only ever evaluated
        return super().train(False)
