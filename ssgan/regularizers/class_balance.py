"""Class balance of D's predictions on the unlabeled batch (CatGAN's marginal term, as a prior)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SSGANError, check_positive
from .base import Regularizer, StepContext


def class_balance_loss(logits: Tensor, prior: Optional[Tensor] = None,
                       temperature: float = 1.0) -> Tensor:
    """``KL(pi || p_bar) = sum_k pi_k (log pi_k - log p_bar_k)`` with ``p_bar = mean_i
    softmax_K(l_i / temperature)`` the batch's mean K-class prediction and ``pi`` the prior
    (uniform when None). 0 exactly when the batch's mean prediction is the prior; a class the
    batch never predicts costs ``pi_k * log(pi_k / p_bar_k)``, which grows without bound as
    ``p_bar_k -> 0``."""
    log_p_bar = torch.logsumexp(F.log_softmax(logits.float() / temperature, dim=1), dim=0) - \
        torch.log(torch.tensor(float(len(logits))))
    k = logits.shape[1]
    if prior is None:
        prior = torch.full((k,), 1.0 / k, device=logits.device)
    prior = prior.to(log_p_bar)
    # 0 * log 0 = 0: a class with no prior mass adds nothing
    log_prior = torch.where(prior > 0, prior.clamp_min(1e-30).log(), torch.zeros_like(prior))
    return (prior * (log_prior - log_p_bar)).sum()


class ClassBalance(Regularizer):
    """The unlabeled batch's mean K-class prediction must match a prior over the classes.

    Springenberg 2016, "Unsupervised and Semi-supervised Learning with Categorical Generative
    Adversarial Networks" (CatGAN) maximises the entropy of D's marginal class distribution on
    real data, ``H[p_bar]``, so that D uses every class about equally often; here the same
    marginal is pulled towards a prior ``pi`` (uniform by default, which is CatGAN's assumption).
    D's loss gains

        weight * KL(pi || p_bar) = weight * sum_k pi_k log(pi_k / p_bar_k),
        p_bar = mean_i softmax_K(l(x_unl_i) / temperature)      (temperature 1 by default)

    on the D step's unlabeled batch (no extra forward pass). Why: with few labels, D can let one
    class absorb a neighbour (on Fashion-MNIST-100, trained runs predicted Shirt for 1 % of the
    unlabeled images instead of 10 %), and nothing in the GAN or consistency terms objects.
    Unlike ``H[p_bar]``, the KL form grows without bound as a class's share goes to 0, and it
    accepts a non-uniform prior.

    The term has a trivial minimum: every image predicted with the same flat distribution has a
    uniform mean. Too large a weight finds it. On Fashion-MNIST-100 (BENCHMARKS.md, session 11,
    ``configs/conv_mlp_mirror.yaml``, seed 0) weight 1 gave 21.70 % after 6,000 batches, then
    climbed to 25.50 % by 13,800 as the mean confidence fell to 0.66; adding CatGAN's other term
    (``EntropyMinimization`` weight 1) gave 24.45 % at 6,000 batches, worse than without either
    (23.43 %). Weight 0.3 kept its gain: 21.04 / 23.17 / 22.51 % after 30 minutes on split
    seeds 0 / 1 / 2, against 22.71 / 23.66 / 23.80 % without the term (at 5 minutes it was
    worse on seeds 1 and 2). With ``configs/recommended.yaml`` on 5,000 Fashion-MNIST images and
    100 labels (session 14) it gave 24.31 % at the default budget against 26.31 %, lower on
    every split; on digits-50 it was no help (4.66 % against 4.59 % over 9 runs).

    Args:
        weight: the term's weight (0.3: see above).
        prior: the class proportions expected among the unlabeled images, one per class in class
            order (normalised to sum to 1); default uniform. The labeled batches are drawn
            class-balanced, so they cannot supply this: give it when your classes are known to be
            imbalanced.
        temperature: average ``softmax_K(l / temperature)`` instead (below 1: sharpened). A
            mean of soft predictions can be uniform while one class is the argmax far more
            often than its share (a 30-minute Fashion-MNIST-100 run read 7,256 of 60,000
            unlabeled images as Ankle boot, BENCHMARKS.md session 22); sharpening makes the
            mean follow those counts. With ``configs/conv_mlp_mirror_30min.yaml`` as it was
            in session 24 (D's input noise 0.3), 0.25 gave 18.62 / 20.89 / 19.73 % on
            Fashion-MNIST-100 split seeds 0 / 1 / 2 after 30 minutes (session 24; split 2 with
            another training seed: 20.83 %), 0.5 gave 18.43 / 21.83 / 20.05 % (session 23) and
            1 gave 19.59 / 22.57 / 20.74 % (session 22), so that file sets 0.25; 0.1 was worse
            in a 16-minute screen (21.92 against 20.39 %, session 25). Other recipes keep 1
            (not measured sharpened)."""

    player = "discriminator"

    def __init__(self, weight: float = 0.3, prior: Optional[Sequence[float]] = None,
                 temperature: float = 1.0):
        super().__init__(weight)
        check_positive("ClassBalance.temperature", temperature)
        self.temperature = temperature
        if prior is not None:
            p = torch.as_tensor([float(v) for v in prior])
            if len(p) < 2 or bool((p < 0).any()) or not float(p.sum()) > 0:
                raise SSGANError(f"ClassBalance.prior must list one non-negative proportion per "
                                 f"class with a positive sum, got {list(prior)}")
            self.register_buffer("prior", p / p.sum(), persistent=False)
        else:
            self.prior = None

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        logits = batch.real.logits
        if self.prior is not None and len(self.prior) != logits.shape[1]:
            raise SSGANError(f"ClassBalance.prior has {len(self.prior)} proportions but D has "
                             f"{logits.shape[1]} classes; give one per class")
        kl = class_balance_loss(logits, self.prior, self.temperature)
        return {"loss": self.weight * kl, "loss_balance": kl.detach()}
