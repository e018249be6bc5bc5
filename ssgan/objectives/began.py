"""Boundary-equilibrium GAN on top of the K-class classifier."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import SSGANError, check_positive
from ..networks.base import DOutput
from .base import GANBatch, Objective, d_real_fake_means
from .functional import began_convergence, began_k_update, reconstruction_energy


class BEGAN(Objective):
    """BEGAN (Berthelot et al. 2017, "BEGAN: Boundary Equilibrium Generative Adversarial
    Networks", eqs. 3-4), on top of the K-class classifier.

    D gains an auto-encoder: the encoder is D's own trunk up to its feature layer, the decoder
    a head owned here. With ``L(v) = |v - Dec(Enc(v))|`` (pixel-wise L1,
    :func:`~ssgan.objectives.functional.reconstruction_energy`):

    .. math::
        L_D = L(x) - k_t L(G(z)), \\quad L_G = L(G(z)), \\quad
        k_{t+1} = \\mathrm{clamp}(k_t + \\lambda_k (\\gamma L(x) - L(G(z))), 0, 1), \\; k_0 = 0

    and ``M_global = L(x) + |gamma L(x) - L(G(z))|`` is logged with ``k``. D's classification
    head is untouched: it keeps its supervised loss and learns from the unlabeled data only
    through the trunk it shares with the encoder. The decoder's output is linear, so it fits
    images in any value range. There is no real target, so no label smoothing.

    Args:
        gamma: the diversity ratio ``E[L(G(z))] / E[L(x)]`` the control aims at, in (0, 1]
            (the paper uses 0.5-0.75).
        lambda_k: the learning rate of the control variable k.
    """

    generator_needs_own_discriminator = True
    #: width of the decoder's hidden layer
    DECODER_HIDDEN = 512

    def __init__(self, gamma: float = 0.5, lambda_k: float = 0.001):
        super().__init__()
        if not 0.0 < gamma <= 1.0:
            raise SSGANError(f"model.objective.gamma (BEGAN) is a diversity ratio in (0, 1] (the "
                             f"paper uses 0.5-0.75), got {gamma!r}")
        check_positive("model.objective.lambda_k (BEGAN)", lambda_k, allow_zero=True)
        self.gamma, self.lambda_k = float(gamma), float(lambda_k)
        self.register_buffer("k", torch.zeros(()))

    def setup(self, num_classes, feature_dim, image_shape):
        super().setup(num_classes, feature_dim, image_shape)
        pixels = math.prod(self.image_shape)
        self.decoder = nn.Sequential(nn.Linear(self.feature_dim, self.DECODER_HIDDEN), nn.ReLU(),
                                     nn.Linear(self.DECODER_HIDDEN, pixels))
        return self

    def energy(self, x: Tensor, out: DOutput) -> Tensor:
        return reconstruction_energy(x, self.decoder(out.features).view_as(x))

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        l_real = self.energy(batch.x_real, batch.real)
        l_fake = self.energy(batch.x_fake, batch.fake)
        k = self.k.clone()  # the value this step used, before the hook moves it
        return {"loss": l_real - k * l_fake, "began_l_real": l_real, "began_l_fake": l_fake,
                "began_k": k, "began_m_global": began_convergence(l_real, l_fake, self.gamma),
                **d_real_fake_means(batch)}

    @torch.no_grad()
    def after_discriminator_step(self, terms: dict[str, Tensor]) -> None:
        self.k.copy_(began_k_update(self.k, terms["began_l_real"], terms["began_l_fake"],
                                    self.gamma, self.lambda_k))

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = self.energy(batch.x_fake, batch.fake)
        return {"loss": loss, "loss_began_g": loss}

    def discriminator_parameters(self):
        return list(self.decoder.parameters())
