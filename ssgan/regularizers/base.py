"""The interface of a regularizer: a term added to one player's loss.

A regularizer is a typed component chosen on the command line and appended to the model's
list, e.g. ``--model.regularizers+=HistoricalAveraging``. It owns its options (a weight and
its own settings, with defaults in its signature), its checks and a docstring that cites the
paper and states the formula. Like an objective it only computes tensors: the training step
(:func:`ssgan.steps.gan_step`) adds ``terms["loss"]`` to the loss of :attr:`Regularizer.player`
before that player's backward pass, and logs the other entries as ``train/<key>``.

What a term may read besides D's outputs (the :class:`~ssgan.objectives.GANBatch` of the
step) is in :class:`StepContext`: the networks themselves (a term may run extra forward
passes, e.g. on perturbed samples or on a second view of the unlabeled batch), the latent
codes of the generated batch and the EMA teacher.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable, Optional

import torch
from torch import Tensor, nn

from ..errors import SSGANError, check_positive

PLAYERS = ("discriminator", "generator")
#: the ``player`` of a term that joins both losses (e.g. historical averaging)
BOTH = "both"


@dataclass
class StepContext:
    """What a regularizer may use in one step, besides D's outputs.

    ``x_lab``/``y_lab``/``x_unl`` are the step's labeled and unlabeled batches (as D saw them:
    after the data module's augmentation); ``z`` are the latent codes of the generated batch
    (``y_fake`` its classes for a conditional G); ``teacher`` is the EMA copy of D when the
    model keeps one; ``augment`` applies the training augmentation again (a fresh random
    draw; the identity when augmentation is off); ``player`` is the loss being built, for a
    term that serves both players."""

    discriminator: nn.Module
    generator: nn.Module
    x_lab: Tensor
    y_lab: Tensor
    x_unl: Tensor
    z: Tensor
    y_fake: Optional[Tensor] = None
    teacher: Optional[nn.Module] = None
    augment: Callable[[Tensor], Tensor] = lambda x: x
    player: str = "discriminator"

    def require_teacher(self, who: str) -> nn.Module:
        """The EMA copy of D for a term configured to take its targets from it (``who``, e.g.
        ``"Consistency(teacher=true)"``); a one-line error when the model keeps none."""
        if self.teacher is None:
            raise SSGANError(f"{who} takes its targets from the EMA copy of D, but the model keeps "
                             "none; set --model.ema true or teacher false")
        return self.teacher

    def fixed_target(self, x: Tensor, teacher: bool, who: str) -> Tensor:
        """D's logits for ``x`` as a fixed target (no gradient): from the EMA copy of D with
        ``teacher`` (see :meth:`require_teacher`), else from D itself in evaluation mode (no
        noise or dropout)."""
        with torch.no_grad():
            if teacher:
                return self.require_teacher(who)(x).logits
            with evaluation_mode(self.discriminator):
                return self.discriminator(x).logits


@contextlib.contextmanager
def evaluation_mode(module: nn.Module):
    """``module`` in evaluation mode meanwhile (no noise or dropout), its mode put back after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class Regularizer(nn.Module):
    """Base class. A subclass sets :attr:`player`, takes its options as typed keyword
    arguments with defaults, and implements :meth:`forward`.

    Args:
        weight: the term's weight in the player's loss (0 turns it off)."""

    #: the loss the term joins: ``"discriminator"`` (D step), ``"generator"`` (G step) or
    #: ``"both"`` (a term computed for each player's own parameters)
    player: ClassVar[str] = "discriminator"

    def __init__(self, weight: float = 1.0):
        super().__init__()
        check_positive(f"{type(self).__name__}.weight", weight, allow_zero=True)
        if self.player not in (*PLAYERS, BOTH):
            raise SSGANError(f"{type(self).__name__}.player must be one of {(*PLAYERS, BOTH)}")
        self.weight = float(weight)

    def serves(self, player: str) -> bool:
        """Whether the term joins ``player``'s loss."""
        return self.player in (player, BOTH)

    def bind(self, discriminator_parameters: Iterable[nn.Parameter],
             generator_parameters: Iterable[nn.Parameter]) -> None:
        """Called once by the model with each player's trainable tensors (e.g. for historical
        averaging); most terms need nothing here."""

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:  # batch: GANBatch
        """``{"loss": weight * term, ...}``: the value added to the player's loss, and any
        other named values to log. Must not call backward."""
        raise NotImplementedError
