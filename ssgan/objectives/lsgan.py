"""Least-squares GAN."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..errors import SSGANError, check_choice
from ..networks.base import DOutput
from .base import GANBatch, Objective, check_label_smoothing, d_real_fake_means
from .functional import least_squares_loss, real_fake_logit

OUTPUTS = ("logit", "probability")


class LSGAN(Objective):
    """Least-squares GAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2):

    .. math::
        L_D = \\tfrac12 E[(D(x) - b)^2] + \\tfrac12 E[(D(G(z)) - a)^2], \\quad
        L_G = \\tfrac12 E[(D(G(z)) - c)^2]

    ``(a, b, c) = (0, 1, 1)`` is the usual setting, ``(-1, 1, 0)`` the Pearson chi^2 one.

    Which output of the K+1 discriminator is "D(x)" (``output``):

    * ``logit`` (default): the real/fake logit ``lse(l)``. The paper's D has a linear output,
      with no sigmoid; that is what lets a sample far on the correct side of the boundary still
      be penalised, and what makes ``a = -1`` reachable, so this is the form for which both
      settings mean what the paper means.
    * ``probability``: ``D(x) = sigmoid(lse(l))``. Bounded in (0, 1): the gradient saturates as
      D gets confident, and with ``(-1, 1, 0)`` the generator's target 0 is "fake", so that
      setting does not train G sensibly on this output.

    One-sided label smoothing ``s`` moves the real target from ``b`` to ``a + (1 - s)(b - a)``
    (0.9 for (0, 1, 1) and s = 0.1): the same fraction of the way back towards the fake target
    as for the cross-entropy objectives.

    Args:
        a: D's target for generated images.
        b: D's target for real images.
        c: the target G wants D to give its images.
        output: the D output the squares apply to: ``logit`` or ``probability``.
        label_smoothing: one-sided label smoothing ``s`` of D's real target (0 = off).
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0,
                 output: Literal["logit", "probability"] = "logit", label_smoothing: float = 0.0):
        super().__init__()
        check_choice("model.objective.output (LSGAN)", output, OUTPUTS)
        if a == b:
            raise SSGANError(f"model.objective.a and model.objective.b (LSGAN) are the fake and "
                             f"real targets and must differ, got both {a!r}")
        self.a, self.c, self.output = float(a), float(c), output
        self.label_smoothing = float(label_smoothing)
        self.b = self.a + check_label_smoothing("model.objective (LSGAN)", label_smoothing) * \
            (float(b) - self.a)

    def _d(self, out: DOutput) -> Tensor:
        s = real_fake_logit(out.logits)
        return s if self.output == "logit" else torch.sigmoid(s)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        real = least_squares_loss(self._d(batch.real), self.b)
        fake = least_squares_loss(self._d(batch.fake), self.a)
        return {"loss": real + fake, "loss_ls_real": real, "loss_ls_fake": fake,
                **d_real_fake_means(batch)}

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = least_squares_loss(self._d(batch.fake), self.c)
        return {"loss": loss, "loss_ls_g": loss}
