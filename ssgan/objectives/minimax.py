"""The original (saturating) GAN game."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .base import CrossEntropyDiscriminator, GANBatch
from .functional import real_fake_logit


class Minimax(CrossEntropyDiscriminator):
    """The original GAN game (Goodfellow et al. 2014),
    ``min_G max_D E log D(x) + E log(1 - D(G(z)))``.

    D: ``L_unl`` (:class:`~ssgan.objectives.base.CrossEntropyDiscriminator`). G minimises

    .. math:: L_G = \\operatorname{mean} \\log(1 - D(G(z))) = -\\operatorname{mean}\\, \\mathrm{softplus}(\\mathrm{lse}(l_{fake}))

    It saturates: while D rejects the samples confidently the gradient vanishes, which is why
    the non-saturating form exists.

    Args:
        label_smoothing: one-sided label smoothing of D's real target (0 = off).
    """

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = -F.softplus(real_fake_logit(batch.fake.logits)).mean()
        return {"loss": loss, "loss_g_minimax": loss}
