"""GAN objectives for the K+1 semi-supervised classifier-discriminator.

Conventions (Salimans et al. 2016, "Improved Techniques for Training GANs"): D outputs K class
logits ``l``; the (K+1)-th "fake" logit is fixed at 0, so with ``Z = sum_k exp(l_k)``

    D(x) = Z / (Z + 1) = sigmoid(lse(l)),   lse(l) = logsumexp_k l_k

and ``lse(l)`` is the real/fake logit. The supervised K-class loss on labeled data is always part
of D's loss; an objective supplies the adversarial part on unlabeled and generated data and the
generator's loss.

Every objective is a small ``nn.Module`` (it may own heads or state, e.g. a decoder or a
control variable) registered by name in :data:`OBJECTIVES`. Objectives only compute losses;
the LightningModule owns backward and the optimizer steps. Adding a variant is one
``@register_objective`` class: the training step never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import check_choice
from .networks import DOutput

# ---------------------------------------------------------------------------------------------
# Pure loss functions


def real_fake_logit(logits: Tensor) -> Tensor:
    """The real/fake logit of the K+1 discriminator with an implicit zero fake logit:
    ``lse(l) = logsumexp_k l_k``, so that ``D(x) = sigmoid(lse(l))``."""
    return torch.logsumexp(logits, dim=1)


def supervised_loss(logits_lab: Tensor, y: Tensor) -> Tensor:
    """``L_lab = -mean(l_lab[y]) + mean(lse(l_lab))``: K-way cross-entropy on labeled data.

    The K-way softmax ignores the fake class, exactly as the original code does."""
    return F.cross_entropy(logits_lab, y)


def unlabeled_loss(logits_unl: Tensor, logits_fake: Tensor) -> Tensor:
    """``L_unl`` of Salimans et al. 2016 (REFERENCE.md):

        L_unl = -0.5 mean(lse(l_unl)) + 0.5 mean(softplus(lse(l_unl)))
                + 0.5 mean(softplus(lse(l_fake)))

    which is half the binary cross-entropy of real unlabeled (target 1) vs generated (target 0)
    samples under ``D(x) = sigmoid(lse(l))``. ``softplus(s) - s = softplus(-s)`` is used for the
    real term because it is the numerically stable form of the same value."""
    lse_unl = real_fake_logit(logits_unl)
    lse_fake = real_fake_logit(logits_fake)
    return 0.5 * F.softplus(-lse_unl).mean() + 0.5 * F.softplus(lse_fake).mean()


def feature_matching_loss(f_real: Tensor, f_fake: Tensor, p: int = 2) -> Tensor:
    """Feature matching (Salimans et al. 2016): ``mean_j (mean_batch f(x) - mean_batch f(G(z)))_j^p``.

    ``p=2`` (squared error) is the MNIST setup; ``p=1`` (absolute error) the CIFAR/SVHN one."""
    diff = f_real.mean(0) - f_fake.mean(0)
    return diff.square().mean() if p == 2 else diff.abs().mean()


# ---------------------------------------------------------------------------------------------
# The objective interface


@dataclass
class GANBatch:
    """What an objective sees in one step.

    ``real``/``fake`` are D's outputs on unlabeled real and on generated images. ``labeled`` and
    ``y_lab`` are D's outputs on the labeled batch (D step only). ``y_fake`` holds the classes a
    conditional generator was asked for. ``discriminator`` lets an objective run extra heads."""

    real: DOutput
    fake: DOutput
    x_real: Tensor
    x_fake: Tensor
    labeled: Optional[DOutput] = None
    y_lab: Optional[Tensor] = None
    y_fake: Optional[Tensor] = None


class Objective(nn.Module):
    """Base class. Subclasses implement one or both halves and return a dict of named terms
    with the key ``"loss"`` for the value to minimise; other keys are logged."""

    #: True when the generator must be class-conditional (it receives ``y_fake``).
    conditional: bool = False

    def __init__(self, *, num_classes: int, feature_dim: int, image_shape: tuple, **options):
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.image_shape = tuple(image_shape)
        self.options = options

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} defines no discriminator loss")

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} defines no generator loss")

    def after_discriminator_step(self, terms: dict[str, Tensor]) -> None:
        """Hook for state updated once per D step (e.g. BEGAN's k_t)."""

    def discriminator_parameters(self):
        """Parameters of heads that D's optimizer trains (e.g. a decoder)."""
        return []

    def generator_parameters(self):
        """Parameters that G's optimizer trains (e.g. a label embedding)."""
        return []


OBJECTIVES: dict[str, type[Objective]] = {}


def register_objective(name: str) -> Callable[[type[Objective]], type[Objective]]:
    def deco(cls: type[Objective]) -> type[Objective]:
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return deco


def objective_class(name: str) -> type[Objective]:
    check_choice("objective", name, OBJECTIVES)
    return OBJECTIVES[name]


def build_objective(name: str, **kwargs) -> Objective:
    return objective_class(name)(**kwargs)


def d_real_fake_means(batch: GANBatch) -> dict[str, Tensor]:
    """Diagnostics: mean D(real) and D(fake) under the implicit zero logit."""
    return {"d_real": torch.sigmoid(real_fake_logit(batch.real.logits)).mean(),
            "d_fake": torch.sigmoid(real_fake_logit(batch.fake.logits)).mean()}


@register_objective("feature_matching")
class FeatureMatching(Objective):
    """Salimans et al. 2016. D: ``L_unl`` (see :func:`unlabeled_loss`). G: feature matching
    ``|| mean f(x_unl) - mean f(G(z)) ||^2`` on D's feature layer (``p=1`` for L1)."""

    def __init__(self, *, p: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.p = p

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = unlabeled_loss(batch.real.logits, batch.fake.logits)
        return {"loss": loss, "loss_unl": loss, **d_real_fake_means(batch)}

    def generator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = feature_matching_loss(batch.real.features, batch.fake.features, self.p)
        return {"loss": loss, "loss_fm": loss}
