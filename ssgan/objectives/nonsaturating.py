"""The non-saturating GAN."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .base import CrossEntropyDiscriminator, GANBatch
from .functional import real_fake_logit


class NonSaturating(CrossEntropyDiscriminator):
    """The non-saturating GAN (Goodfellow et al. 2014, section 3).

    D: ``L_unl`` (:class:`~ssgan.objectives.base.CrossEntropyDiscriminator`). G maximises
    ``log D(G(z))``, i.e. minimises

    .. math:: L_G = -\\operatorname{mean} \\log D(G(z)) = \\operatorname{mean}\\, \\mathrm{softplus}(-\\mathrm{lse}(l_{fake}))

    Args:
        label_smoothing: one-sided label smoothing of D's real target (0 = off).
    """

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = F.softplus(-real_fake_logit(batch.fake.logits)).mean()
        return {"loss": loss, "loss_g_ns": loss}
