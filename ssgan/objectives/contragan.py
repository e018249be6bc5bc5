"""ContraGAN: the conditional contrastive (2C) loss on top of the K+1 game."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import check_positive
from .base import GANBatch, Objective, check_label_smoothing, d_real_fake_means
from .functional import contrastive_2c_loss, real_fake_logit, unlabeled_loss


class ContraGAN(Objective):
    """ContraGAN (Kang & Park 2020, "ContraGAN: Contrastive Learning for Conditional Image
    Generation"): the conditional contrastive (2C) loss
    :func:`~ssgan.objectives.functional.contrastive_2c_loss` on top of the K+1 game.

    Heads owned here and trained by D: a linear projection ``h`` of D's features and the class
    proxies (an embedding of the labels). The generator is class-conditional (a label
    embedding concatenated to z).

    .. math::
        L_D = L_{unl} + w \\cdot 2C(h(f(x_{lab})), y_{lab}), \\quad
        L_G = -\\operatorname{mean} \\log D(G(z, y)) + w \\cdot 2C(h(f(G(z, y))), y)

    The adversarial part is the K+1 cross-entropy (``L_unl`` for D, the non-saturating loss for
    G) because the paper pairs 2C with a standard adversarial loss.

    Args:
        temperature: the temperature T of the 2C loss.
        weight: w, the weight of the 2C loss in both players' losses.
        embed_dim: the size of the projection of D's features and of the class proxies.
        pseudo_labels: add the unlabeled real images, labeled with D's arg-max class, to D's
            2C batch (no confidence threshold; no gradient through the choice).
        label_smoothing: one-sided label smoothing of D's real target (0 = off).
    """

    conditional = True
    generator_needs_own_discriminator = True

    def __init__(self, temperature: float = 0.5, weight: float = 1.0, embed_dim: int = 128,
                 pseudo_labels: bool = False, label_smoothing: float = 0.0):
        super().__init__()
        check_positive("model.objective.temperature (ContraGAN)", temperature)
        check_positive("model.objective.weight (ContraGAN)", weight, allow_zero=True)
        check_positive("model.objective.embed_dim (ContraGAN)", embed_dim)
        self.temperature, self.weight = float(temperature), float(weight)
        self.embed_dim, self.pseudo_labels = int(embed_dim), bool(pseudo_labels)
        self.label_smoothing = float(label_smoothing)
        self.real_target = check_label_smoothing("model.objective (ContraGAN)", label_smoothing)

    def setup(self, num_classes, feature_dim, image_shape):
        super().setup(num_classes, feature_dim, image_shape)
        self.projection = nn.Linear(self.feature_dim, self.embed_dim)
        self.proxies = nn.Embedding(self.num_classes, self.embed_dim)
        return self

    def contrastive(self, features: Tensor, y: Tensor) -> Tensor:
        return contrastive_2c_loss(self.projection(features), self.proxies(y), y, self.temperature)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        if batch.labeled is None or batch.y_lab is None:
            raise ValueError("ContraGAN's discriminator loss needs the labeled batch")
        loss_unl = unlabeled_loss(batch.real.logits, batch.fake.logits, self.real_target)
        features, y = batch.labeled.features, batch.y_lab
        if self.pseudo_labels:
            features = torch.cat([features, batch.real.features])
            y = torch.cat([y, batch.real.logits.detach().argmax(1)])
        loss_2c = self.contrastive(features, y)
        return {"loss": loss_unl + self.weight * loss_2c, "loss_unl": loss_unl,
                "loss_2c_real": loss_2c, **d_real_fake_means(batch)}

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        if batch.y_fake is None:
            raise ValueError("ContraGAN's generator loss needs the classes G was conditioned on")
        adv = F.softplus(-real_fake_logit(batch.fake.logits)).mean()
        loss_2c = self.contrastive(batch.fake.features, batch.y_fake)
        return {"loss": adv + self.weight * loss_2c, "loss_g_adv": adv, "loss_2c_fake": loss_2c}

    def discriminator_parameters(self):
        return list(self.projection.parameters()) + list(self.proxies.parameters())
