"""Conditional-entropy minimisation on unlabeled real images (Bad GAN, D's term)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .base import Regularizer, StepContext


def conditional_entropy(logits: Tensor) -> Tensor:
    """``mean_i H(p(.|x_i)) = -mean_i sum_k p_ik log p_ik`` with ``p_i = softmax_K(l_i)``.

    The K-class softmax ignores the implicit fake logit, as in the authors' code. Computed
    from ``log_softmax`` so that a confident (one-hot) prediction gives 0, not NaN."""
    log_p = F.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(1).mean()


class EntropyMinimization(Regularizer):
    """Conditional entropy of D's K-class prediction on unlabeled real images.

    Dai, Yang, Yang, Cohen & Salakhutdinov 2017, "Good Semi-supervised Learning That Requires a
    Bad GAN" (code: kimiyoung/ssl_bad_gan): D's loss gains

        w_ent * mean_i H(p(y | x_unl_i)),   H(p) = -sum_k p_k log p_k

    which pushes the decision boundaries away from the unlabeled data (a complement of the
    "bad", low-density generator). Added to D's loss, on the D step's unlabeled batch.

    Args:
        weight: ``w_ent`` (0.1 is the authors' SVHN setting)."""

    player = "discriminator"

    def __init__(self, weight: float = 0.1):
        super().__init__(weight)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        ent = conditional_entropy(batch.real.logits)
        return {"loss": self.weight * ent, "loss_ent": ent.detach()}
