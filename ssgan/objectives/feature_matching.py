"""Feature matching, the default objective."""

from __future__ import annotations

from torch import Tensor

from ..errors import SSGANError
from .base import CrossEntropyDiscriminator, GANBatch
from .functional import feature_matching_loss


class FeatureMatching(CrossEntropyDiscriminator):
    """Salimans et al. 2016, "Improved Techniques for Training GANs", section 3.1.

    D: ``L_unl`` (:func:`~ssgan.objectives.functional.unlabeled_loss`). G: feature matching on
    D's feature layer,

    .. math:: L_G = \\operatorname{mean}_j |\\bar f(x_{unl}) - \\bar f(G(z))|_j^p

    with ``p = 2`` (squared error, the MNIST setup) or ``p = 1`` (absolute error, the form the
    original code used for CIFAR-10 and SVHN).

    Args:
        p: the norm: 2 (mean squared error) or 1 (mean absolute error).
        label_smoothing: one-sided label smoothing of D's real target (0 = off).
    """

    def __init__(self, p: int = 2, label_smoothing: float = 0.0):
        super().__init__(label_smoothing)
        if p not in (1, 2):
            raise SSGANError(f"model.objective.p (FeatureMatching) must be 1 (L1) or 2 "
                             f"(squared L2), got {p}")
        self.p = p

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = feature_matching_loss(batch.real.features, batch.fake.features, self.p)
        return {"loss": loss, "loss_fm": loss}
