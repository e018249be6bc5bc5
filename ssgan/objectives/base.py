"""The interface of an objective: what it sees (:class:`GANBatch`) and what it implements
(:class:`Objective`).

An objective supplies the adversarial part of D's loss and the generator's loss; the
supervised K-class loss on labeled data is always part of D's loss (the training step adds it,
:mod:`ssgan.steps`). It only computes tensors: the step owns backward and the optimizer steps.
An objective is a typed component chosen on the command line
(``--model.objective LSGAN --model.objective.a -1``) that owns its options, their defaults
and checks, and a docstring citing the paper and the formula. Adding a variant is one file
with one subclass: the training step never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import SSGANError
from ..networks.base import DOutput
from .functional import real_fake_logit, unlabeled_loss


@dataclass
class GANBatch:
    """What an objective sees in one step.

    ``real``/``fake`` are D's outputs on unlabeled real and on generated images. ``labeled`` and
    ``y_lab`` are D's outputs on the labeled batch (D step only). ``y_fake`` holds the classes a
    conditional generator was asked for."""

    real: DOutput
    fake: DOutput
    x_real: Tensor
    x_fake: Tensor
    labeled: Optional[DOutput] = None
    y_lab: Optional[Tensor] = None
    y_fake: Optional[Tensor] = None


class Objective(nn.Module):
    """Base class. Subclasses take their options as typed keyword arguments with defaults,
    implement one or both halves and return a dict of named terms with the key ``"loss"`` for
    the value to minimise; other keys are logged as ``train/<key>``, so a term's name must not
    be used by the other half of any objective.

    Heads (a decoder, a projection) depend on the networks, so they are created in
    :meth:`setup`, which the model calls once its networks exist."""

    #: True when the generator must be class-conditional (it receives ``y_fake``).
    conditional: bool = False
    #: True when the generator's loss goes through heads that only this objective's
    #: discriminator loss trains, so it cannot be paired with another D objective.
    generator_needs_own_discriminator: bool = False

    def setup(self, num_classes: int, feature_dim: int, image_shape: Sequence[int]) -> "Objective":
        """Called by the model with the sizes of its networks; creates the heads, if any."""
        self.num_classes, self.feature_dim = int(num_classes), int(feature_dim)
        self.image_shape = tuple(image_shape)
        return self

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


def d_real_fake_means(batch: GANBatch) -> dict[str, Tensor]:
    """Diagnostics: mean D(real) and D(fake) under the implicit zero logit."""
    return {"d_real": torch.sigmoid(real_fake_logit(batch.real.logits)).mean(),
            "d_fake": torch.sigmoid(real_fake_logit(batch.fake.logits)).mean()}


def check_label_smoothing(owner: str, value: float) -> float:
    """One-sided label smoothing ``s`` (Salimans et al. 2016, section 3.4) moves D's real target
    from 1 to ``1 - s``; returns that target."""
    if not 0.0 <= value < 1.0:
        raise SSGANError(f"{owner}.label_smoothing moves D's real target from 1 to 1 - s; it must "
                         f"be in [0, 1) (0 = off, 0.1 is usual), got {value!r}")
    return 1.0 - float(value)


class CrossEntropyDiscriminator(Objective):
    """D's adversarial part shared by feature matching, minimax and non-saturating GANs:
    Salimans' ``L_unl`` (:func:`~ssgan.objectives.functional.unlabeled_loss`), which *is* the
    minimax discriminator loss ``-log D(x) - log(1 - D(G(z)))`` under ``D(x) = sigmoid(lse(l))``,
    halved; keeping the half makes ``unlabeled_weight`` mean the same for all three.

    Args:
        label_smoothing: one-sided label smoothing ``s``: D's target for real images is
            ``1 - s`` (0 = off; 0.1 gives the paper's 0.9).
    """

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.real_target = check_label_smoothing(f"model.objective ({type(self).__name__})",
                                                 label_smoothing)

    def discriminator_loss(self, batch: GANBatch) -> dict[str, Tensor]:
        loss = unlabeled_loss(batch.real.logits, batch.fake.logits, self.real_target)
        return {"loss": loss, "loss_unl": loss, **d_real_fake_means(batch)}
