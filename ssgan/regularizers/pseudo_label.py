"""Confidence-thresholded pseudo-labels on unlabeled real images (FixMatch's unlabeled term)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..errors import SSGANError, check_positive
from .base import Regularizer, StepContext


def pseudo_label_loss(logits: Tensor, target_logits: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """``(1/B) sum_i 1[max_k q_ik >= tau] * CE(l_i, argmax_k q_ik)`` with ``q = softmax_K(target)``,
    and the fraction of the batch above the threshold. The mean runs over the whole batch
    (FixMatch's normalisation), so the term grows as more images pass the threshold."""
    q = F.softmax(target_logits.detach().float(), dim=1)
    conf, label = q.max(1)
    mask = (conf >= threshold).float()
    ce = F.cross_entropy(logits.float(), label, reduction="none")
    return (mask * ce).mean(), mask.mean()


class PseudoLabel(Regularizer):
    """Confident predictions on one view of an unlabeled image become hard labels for another.

    FixMatch's unlabeled loss (Sohn et al. 2020, "FixMatch: Simplifying Semi-Supervised
    Learning with Consistency and Confidence"), put on the GAN's classifier-discriminator
    as one more D term:

        weight * (1/B) sum_i 1[max_k q_ik >= tau] * CE(l(x_i; view 1), argmax_k q_ik),
        q_i = softmax_K(l(x_i; view 2)), no gradient through q

    View 1 is D's output on the D step's unlabeled batch (``batch.real``: augmented and
    passed through D's training noise). View 2 passes the same images through ``step.augment``
    again and through D in evaluation mode (no noise or dropout; FixMatch's "weak" view),
    or with ``teacher`` through the EMA copy of D. The K-class softmax leaves out the
    implicit fake logit, as the GAN's classifier does. Costs one D forward without gradient.

    Args:
        weight: the term's weight (FixMatch's ``lambda_u``, 1).
        threshold: ``tau``, the confidence a target needs (FixMatch: 0.95).
        teacher: take view 2 from the EMA copy of D (``--model.ema true``)."""

    player = "discriminator"

    def __init__(self, weight: float = 1.0, threshold: float = 0.95, teacher: bool = False):
        super().__init__(weight)
        check_positive("PseudoLabel.threshold", threshold)
        if threshold > 1:
            raise SSGANError(f"PseudoLabel.threshold must be in (0, 1], got {threshold}")
        self.threshold = float(threshold)
        self.teacher = bool(teacher)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        x_other = step.augment(step.x_unl)
        target = step.fixed_target(x_other, self.teacher, "PseudoLabel(teacher=true)")
        term, used = pseudo_label_loss(batch.real.logits, target, self.threshold)
        return {"loss": self.weight * term, "loss_pseudo": term.detach(), "pseudo_mask": used}
