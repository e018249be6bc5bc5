"""The pure loss functions of the objectives: tensors in, a scalar out, never a backward.

Conventions (Salimans et al. 2016, "Improved Techniques for Training GANs"): D outputs K class
logits ``l``; the (K+1)-th "fake" logit is fixed at 0, so with ``Z = sum_k exp(l_k)``

    D(x) = Z / (Z + 1) = sigmoid(lse(l)),   lse(l) = logsumexp_k l_k

and ``lse(l)`` is the real/fake logit. Each function is pinned on small hand-made tensors in
``tests/unit/test_losses.py``; the objective classes only combine them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def real_fake_logit(logits: Tensor) -> Tensor:
    """The real/fake logit of the K+1 discriminator with an implicit zero fake logit:
    ``lse(l) = logsumexp_k l_k``, so that ``D(x) = sigmoid(lse(l))``."""
    return torch.logsumexp(logits, dim=1)


def supervised_loss(logits_lab: Tensor, y: Tensor) -> Tensor:
    """``L_lab = -mean(l_lab[y]) + mean(lse(l_lab))``: K-way cross-entropy on labeled data.

    The K-way softmax ignores the fake class, exactly as the original code does."""
    return F.cross_entropy(logits_lab, y)


def unlabeled_loss(logits_unl: Tensor, logits_fake: Tensor, real_target: float = 1.0) -> Tensor:
    """``L_unl`` of Salimans et al. 2016 (REFERENCE.md):

        L_unl = -0.5 mean(lse(l_unl)) + 0.5 mean(softplus(lse(l_unl)))
                + 0.5 mean(softplus(lse(l_fake)))

    which is half the binary cross-entropy of real unlabeled (target 1) vs generated (target 0)
    samples under ``D(x) = sigmoid(lse(l))``. ``softplus(s) - s = softplus(-s)`` is used for the
    real term because it is the numerically stable form of the same value.

    ``real_target < 1`` is one-sided label smoothing (Salimans et al. 2016, section 3.4): the
    real term becomes the cross-entropy against target ``t``,
    ``t * softplus(-s) + (1 - t) * softplus(s)``; the fake target stays 0."""
    lse_unl = real_fake_logit(logits_unl)
    lse_fake = real_fake_logit(logits_fake)
    real = F.softplus(-lse_unl)
    if real_target != 1.0:
        real = real_target * real + (1.0 - real_target) * F.softplus(lse_unl)
    return 0.5 * real.mean() + 0.5 * F.softplus(lse_fake).mean()


def feature_matching_loss(f_real: Tensor, f_fake: Tensor, p: int = 2) -> Tensor:
    """Feature matching (Salimans et al. 2016): ``mean_j (mean_batch f(x) - mean_batch f(G(z)))_j^p``.

    ``p=2`` (squared error) is the MNIST setup; ``p=1`` (absolute error) the CIFAR/SVHN one."""
    diff = f_real.mean(0) - f_fake.mean(0)
    return diff.square().mean() if p == 2 else diff.abs().mean()


def least_squares_loss(out: Tensor, target: float) -> Tensor:
    """``0.5 * mean((out - target)^2)``, one term of LSGAN (Mao et al. 2017)."""
    return 0.5 * (out - target).square().mean()


def reconstruction_energy(x: Tensor, x_rec: Tensor) -> Tensor:
    """BEGAN's ``L(v) = |v - Dec(Enc(v))|``: pixel-wise L1, averaged over pixels and batch."""
    return (x - x_rec).abs().mean()


def began_k_update(k: Tensor, l_real: Tensor, l_fake: Tensor, gamma: float,
                   lambda_k: float) -> Tensor:
    """BEGAN's proportional control (Berthelot et al. 2017, eq. 4):
    ``k_{t+1} = clamp(k_t + lambda_k * (gamma * L(x) - L(G(z))), 0, 1)``."""
    return (k + lambda_k * (gamma * l_real - l_fake)).clamp(0.0, 1.0)


def began_convergence(l_real: Tensor, l_fake: Tensor, gamma: float) -> Tensor:
    """BEGAN's convergence measure ``M_global = L(x) + |gamma * L(x) - L(G(z))|``."""
    return l_real + (gamma * l_real - l_fake).abs()


def contrastive_2c_loss(embeddings: Tensor, proxies: Tensor, y: Tensor,
                        temperature: float) -> Tensor:
    """ContraGAN's conditional contrastive (2C) loss (Kang & Park 2020, eq. 8), batch mean.

    With ``e_i`` and the class proxies ``p_{y_i}`` L2-normalised and ``s(u, v) = u.v / T``:

        loss_i = -log( (exp(s(e_i, p_yi)) + sum_{j != i, y_j = y_i} exp(s(e_i, e_j)))
                       / (exp(s(e_i, p_yi)) + sum_{j != i} exp(s(e_i, e_j))) )

    ``proxies`` holds one row per example (the proxy of its class). Computed as a difference
    of two masked log-sum-exps over the batch's similarity matrix; the proxy term is always
    in both, so they are finite even for a class with a single example."""
    e = F.normalize(embeddings, dim=1)
    p = F.normalize(proxies, dim=1)
    n = e.shape[0]
    sim = (e @ e.T) / temperature
    to_proxy = (e * p).sum(1, keepdim=True) / temperature
    other = ~torch.eye(n, dtype=torch.bool, device=e.device)
    positive = (y[:, None] == y[None, :]) & other
    neg_inf = torch.finfo(sim.dtype).min
    numerator = torch.logsumexp(torch.cat([to_proxy, sim.masked_fill(~positive, neg_inf)], 1), 1)
    denominator = torch.logsumexp(torch.cat([to_proxy, sim.masked_fill(~other, neg_inf)], 1), 1)
    return (denominator - numerator).mean()
