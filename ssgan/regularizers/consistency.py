"""Consistency of D's class predictions under noise and augmentation (Pi-model, mean teacher)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.module import random_augment, random_cutout
from ..errors import check_positive
from .base import Regularizer, StepContext


def consistency_loss(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """``mean_{i,k} (softmax(l_a)_ik - softmax(l_b)_ik)^2``: the Pi-model's squared difference
    of K-class probabilities, averaged over the batch and the K classes."""
    p_a = F.softmax(logits_a.float(), dim=1)
    p_b = F.softmax(logits_b.float(), dim=1)
    return (p_a - p_b).square().mean()


class Consistency(Regularizer):
    """D's K-class predictions for two stochastic views of the same unlabeled image must agree.

    Pi-model (Laine & Aila 2017, "Temporal Ensembling for Semi-Supervised Learning"), as used
    on the GAN's classifier-discriminator by CT-GAN (Wei et al. 2018, "Improving the Improved
    Training of Wasserstein GANs"); with ``teacher=True`` the target comes from the EMA copy of
    D instead (mean teacher, Tarvainen & Valpola 2017). D's loss gains

        weight * mean_{i,k} (p_k(x_i; view 1) - p_k(x_i; view 2))^2,   p = softmax_K(l)

    View 1 is D's output on the D step's unlabeled batch (``batch.real``: already augmented
    and passed through D's training-mode noise or dropout). View 2 passes the same images
    through ``step.augment`` again (a fresh draw of the training augmentation; the identity
    when it is off) and then through D (new noise; gradient flows through both views, as in
    the Pi-model) or, with ``teacher``, through the EMA copy without gradient (the EMA copy
    is always in evaluation mode, so its view differs by the augmentation only). Costs one
    more D forward on the unlabeled batch, and its backward unless the target is fixed.

    With ``stop_gradient=True`` view 2 is still D's own noisy prediction but a fixed target
    (no gradient through it, as the consistency terms of UDA, Xie et al. 2020, and FixMatch,
    Sohn et al. 2020): the same value of the term, a cheaper step (no backward pass through
    the second view).

    With ``translate`` or ``flip`` the term draws its own augmentation for view 2 (on top of
    ``step.augment``): a random shift of up to ``translate`` pixels (reflect-padded) and/or a
    left-right mirror of a random half of the batch. Only this term sees it, so the GAN's
    real/fake term and the labeled loss keep the images as they are, while the consistency
    asks D (an MLP has no built-in invariance) to give a shifted image the class of the
    original, as the Pi-model does with its translations and flips. Measured worse with the
    MLP on Fashion-MNIST-100 (BENCHMARKS.md, session 7, GPU screen, ~8,200 batches, seed 0):
    24.57 % without, 25.91 % with ``translate`` 1, 27.11 % with 2 (also worse on seed 1, level
    on seed 2 at 4,200 batches), 24.67 % with ``flip``; with the EMA teacher and ``translate`` 2
    the error climbed to 40 %. With the ConvMLP networks and lr 1e-3, ``flip`` helped on the CPU
    (session 9, 5 minutes, 2 threads, split seeds 0 / 1 / 2): 24.06 / 24.51 / 24.77 % against
    25.40 / 25.40 / 25.31 % without it (``configs/conv_mlp_mirror.yaml``). Use ``flip`` only
    where a mirrored image keeps its class (clothing, not digits). ``cutout`` 8 on top of that
    config with ``ClassBalance`` (session 17, split seed 2) was ahead early (23.45 against
    24.82 % at 6,000 batches on 2 threads) but flat after that: 23.74 % after 30 minutes against
    21.89 %, so it is an option, not part of a preset.

    Args:
        weight: the term's weight (the Pi-model ramps its weight up during training; here it
            is constant).
        teacher: take view 2 from the EMA copy of D (``--model.ema true``) as a fixed target.
        stop_gradient: take view 2 from D itself but as a fixed target (no backward through
            it); ignored with ``teacher``, whose target never has a gradient. About 15 % more
            batches per second on a CPU, but 1.2 points worse after 5 minutes on
            Fashion-MNIST-100 seed 2 (BENCHMARKS.md, session 5), hence off by default.
        translate: view 2 only: shift each image by up to this many pixels (0: none).
        flip: view 2 only: mirror a random half of the images left-right.
        cutout: view 2 only, after the shift and mirror: erase (set to 0) a square of this
            side in each image, centred anywhere in it (Cutout, DeVries & Taylor 2017; the
            strong view of UDA and FixMatch includes it). 0: none."""

    player = "discriminator"

    def __init__(self, weight: float = 1.0, teacher: bool = False, stop_gradient: bool = False,
                 translate: int = 0, flip: bool = False, cutout: int = 0):
        super().__init__(weight)
        check_positive("Consistency.translate", translate, allow_zero=True)
        check_positive("Consistency.cutout", cutout, allow_zero=True)
        self.cutout = int(cutout)
        self.teacher = bool(teacher)
        self.stop_gradient = bool(stop_gradient)
        self.translate, self.flip = int(translate), bool(flip)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        x_other = random_cutout(random_augment(step.augment(step.x_unl), self.translate, self.flip),
                                self.cutout)
        net = (step.require_teacher("Consistency(teacher=true)") if self.teacher
               else step.discriminator)
        if self.teacher or self.stop_gradient:
            with torch.no_grad():  # a fixed target: no graph for the second view
                target = net(x_other).logits
        else:
            target = net(x_other).logits
        term = consistency_loss(batch.real.logits, target)
        return {"loss": self.weight * term, "loss_consistency": term.detach()}
