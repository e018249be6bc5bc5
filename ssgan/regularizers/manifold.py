"""Manifold regularisation of D along the generator's image manifold (Lecouat et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import check_positive
from .base import Regularizer, StepContext


def random_unit_directions(z: Tensor) -> Tensor:
    """One direction per row of ``z``, uniform on the unit sphere of the latent space."""
    return F.normalize(torch.randn_like(z).flatten(1), dim=1).view_as(z)


def manifold_neighbour(x: Tensor, x_moved: Tensor, eps: float) -> Tensor:
    """``x + eps * normalize(x_moved - x)``, the norm taken over each image's values: a step of
    length ``eps`` from ``G(z)`` towards ``G(z + eta * delta)``, i.e. along G's manifold."""
    step = F.normalize((x_moved - x).flatten(1), dim=1).view_as(x)
    return x + eps * step


def manifold_penalty(logits: Tensor, logits_moved: Tensor) -> Tensor:
    """``mean_i sum_k |l_k(x_i) - l_k(x'_i)|``: the L1 change of the K logits, batch mean."""
    return (logits.float() - logits_moved.float()).abs().sum(1).mean()


class ManifoldRegularization(Regularizer):
    """Penalises the change of D's logits along the generator's manifold.

    Lecouat, Foo, Zenati & Chandrasekhar 2018, "Manifold regularization with GANs for
    semi-supervised learning" (code: bruno-31/gan-manifold-reg): D's loss gains

        gamma * mean_i sum_k |l_k(G(z_i)) - l_k(G(z_i) + eps * r_i)|,
        r_i = normalize(G(z_i + eta * delta_i) - G(z_i)),   delta_i uniform on the unit sphere

    a finite-difference estimate of the Jacobian norm of D's logits along G's manifold (a
    Monte-Carlo Laplacian norm). ``G(z_i)`` is the D step's generated batch (``batch.x_fake``,
    whose logits ``batch.fake`` D has already computed), so the term costs one more G forward
    (without gradient: only D is regularised) and one more D forward. The authors' code
    smooths |.| as sqrt(.^2 + 1e-8); the exact absolute value is used here (its gradient at 0
    is 0). The perturbed batch goes through G in G's current mode, like the generated batch
    itself (in training, batch norm normalises it with its own statistics).

    The defaults are the published SVHN/CIFAR-10 setting, for 32x32x3 images in [-1, 1]:
    ``eps`` is an L2 length in image units, so on smaller images, or on [0, 1] data, the same
    ``eps`` is a larger step per pixel (20 over 784 pixels of [0, 1] is about 0.7 per pixel).

    Args:
        weight: ``gamma`` (1e-3 in the paper).
        eps: length of the step along the manifold, in image units (20 in the paper).
        eta: size of the latent perturbation (1 in the paper)."""

    player = "discriminator"

    def __init__(self, weight: float = 1e-3, eps: float = 20.0, eta: float = 1.0):
        super().__init__(weight)
        check_positive("ManifoldRegularization.eps", eps)
        check_positive("ManifoldRegularization.eta", eta)
        self.eps = float(eps)
        self.eta = float(eta)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        x = batch.x_fake.detach()
        with torch.no_grad():
            z_moved = step.z + self.eta * random_unit_directions(step.z)
            args = (z_moved,) if step.y_fake is None else (z_moved, step.y_fake)
            x_moved = step.generator(*args)
            x_near = manifold_neighbour(x, x_moved, self.eps)
        penalty = manifold_penalty(batch.fake.logits, step.discriminator(x_near).logits)
        return {"loss": self.weight * penalty, "loss_manifold": penalty.detach()}
