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
    buffers keep the copy's values.

    ``bias_correction=True`` averages instead from zero at the nominal decay from the first
    update, and evaluates Adam's bias-corrected estimate (Kingma & Ba 2015, section 3):

    .. math:: s_t = \\beta s_{t-1} + (1 - \\beta)\\, \\theta_t, \\quad s_0 = 0, \\quad
              \\bar\\theta_t = s_t / (1 - \\beta^t)

    i.e. the weights ``(1 - beta) beta^(t-i)`` normalised to sum to 1, so a long nominal decay
    (the original's 0.9999) is usable in a short run. The shadow ``s`` is kept in buffers
    (``shadow_<i>``, saved in checkpoints) and the copy holds the estimate."""

    def __init__(self, module: nn.Module, decay: float, bias_correction: bool = False):
        super().__init__()
        self.module = copy.deepcopy(module).requires_grad_(False).eval()
        self.decay = decay
        self.bias_correction = bool(bias_correction)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._t: Optional[int] = None  # host mirror of num_updates, avoids a sync per step
        if self.bias_correction:
            for i, e in enumerate(self._floats(self.module)):
                self.register_buffer(f"shadow_{i}", torch.zeros_like(e))

    @staticmethod
    def _floats(module: nn.Module) -> list[torch.Tensor]:
        return [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        if self._t is None:
            self._t = int(self.num_updates)
        t = self._t
        self._t += 1
        self.num_updates.add_(1)
        ema, cur = self._floats(self.module), self._floats(module)
        if self.bias_correction:
            shadow = [getattr(self, f"shadow_{i}") for i in range(len(ema))]
            torch._foreach_lerp_(shadow, cur, 1.0 - self.decay)
            torch._foreach_copy_(ema, torch._foreach_mul(shadow, 1.0 / (1.0 - self.decay ** (t + 1))))
            return
        torch._foreach_lerp_(ema, cur, 1.0 - ema_decay_at(self.decay, t))

    def _load_from_state_dict(self, *args, **kwargs):
        self._t = None
        super()._load_from_state_dict(*args, **kwargs)

    def train(self, mode: bool = True):
        # the averaged copy is only ever evaluated
        return super().train(False)
