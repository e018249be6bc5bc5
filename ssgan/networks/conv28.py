"""A convolutional classifier-discriminator and generator for 28x28 grayscale, sized for a CPU.

The improved-gan CIFAR design (:mod:`ssgan.networks.conv`) at a fraction of its cost, for
MNIST-sized images (issue 14, item 4): one D step plus one G step at batch 100 should cost at
most about twice the ``mlp_mnist`` step on a CPU (see ``bench/conv28_speed.py``).

* D: Gaussian noise (sigma ``input_noise``) on the input -> conv3x3/2 ``c1`` @14 ->
  conv3x3/2 ``c2`` @7 -> dropout -> conv3x3/2 ``c3`` @4 -> global mean pool -> dense K.
  Every layer is weight-normalised with the data-dependent init of the original code (hidden
  layers keep that scale fixed, the output layer learns its scale from logits of std 0.1),
  hidden layers use leaky ReLU 0.2.
  The matching features are the global-pool output (``feature_layer=-1``) or the spatial mean
  of another conv layer's activations.
* G: z ~ U[0, 1)^latent -> dense ``g1 x 7 x 7`` -> batch norm (shift only) -> ReLU ->
  deconv4x4/2 ``g2`` @14 -> batch norm -> ReLU -> weight-normalised deconv4x4/2 C @28 ->
  sigmoid (the data lie in [0, 1]); class-conditional with ``num_classes > 0``.

The default widths are ``d_hidden = [32, 64, 128]`` and ``g_hidden = [64, 32]``. Other sizes
work as long as each side is at least 8 pixels (G crops its 4 * ceil(side / 4) output to the
image).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SSGANError
from .base import Networks, check_image_shape
from .conv import PooledConvDiscriminator
from .layers import GaussianNoise, WNConv2d, WNConvTranspose2d

LEAK = 0.2
#: smallest side: D's three stride-2 convs leave 1x1 maps below this
MIN_SIZE = 8

D_WIDTHS = (32, 64, 128)
G_WIDTHS = (64, 32)
INPUT_NOISE = 0.3
DROPOUT = 0.5


class FastDropout(nn.Module):
    """Element-wise dropout (the same distribution as :class:`torch.nn.Dropout`) with the mask
    drawn by ``rand_like``: ``bernoulli_`` took 3x as long on a CPU, more than the convolution
    it follows."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return x * torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Conv28Discriminator(PooledConvDiscriminator):
    """The CPU-sized convolutional K-logit discriminator (see the module docstring).

    Args:
        in_channels: image channels (1 for grayscale).
        num_classes: K.
        widths: ``[c1, c2, c3]``.
        input_noise: sigma of the Gaussian noise added to the input in training.
        dropout: dropout rate after the second (7x7) stage.
        feature_layer: which of the three conv layers gives the matching features, averaged
            over space (-1: the last, i.e. the global-pool output)."""

    def __init__(self, in_channels: int, num_classes: int, widths: Sequence[int] = D_WIDTHS,
                 input_noise: float = INPUT_NOISE, dropout: float = DROPOUT,
                 feature_layer: int = -1):
        super().__init__()
        if len(widths) != 3 or min(widths) <= 0:
            raise SSGANError(f"the conv28 discriminator takes three widths [c1, c2, c3] "
                             f"(d_hidden), got {list(widths)}")
        if input_noise < 0:
            raise SSGANError(f"the conv28 discriminator's input noise must be >= 0, got {input_noise}")
        if not 0 <= dropout < 1:
            raise SSGANError(f"the conv28 discriminator's dropout (hidden_noise) must be in [0, 1), "
                             f"got {dropout}")
        c1, c2, c3 = widths
        self.input_noise = GaussianNoise(input_noise)
        # every layer strides: measured on one CPU thread, a full-resolution layer cost more than
        # the whole D, and a NIN (1x1) layer at 5x5 more than a 3x3 layer (mkldnn handles small
        # maps badly); this D is about 2x the mlp_mnist step (bench/conv28_speed.py)
        self.convs = nn.ModuleList([
            WNConv2d(in_channels, c1, 3, 2, 1), WNConv2d(c1, c2, 3, 2, 1), WNConv2d(c2, c3, 3, 2, 1),
        ])
        self.dropout = FastDropout(dropout)
        # one dropout, after the second stage: a mask costs about as much as a convolution
        # here, and the first stage's 14x14x32 maps are the largest
        self._dropout_after = {1}
        self.minibatch = None
        self._finish(c3, num_classes, feature_layer)

    def corrupt(self, x: Tensor) -> Tensor:
        return self.input_noise(x)


class Conv28Generator(nn.Module):
    """The CPU-sized convolutional generator (see the module docstring).

    Args:
        latent_dim: size of z ~ U[0, 1).
        image_shape: (C, H, W).
        widths: ``[g1, g2]``: channels at H/4 and H/2.
        num_classes: > 0 makes G class-conditional (a label embedding concatenated to z)."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int],
                 widths: Sequence[int] = G_WIDTHS, num_classes: int = 0):
        super().__init__()
        if len(widths) != 2 or min(widths) <= 0:
            raise SSGANError(f"the conv28 generator takes two widths [g1, g2] (g_hidden), "
                             f"got {list(widths)}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        g1, g2 = widths
        self.base = (math.ceil(h / 4), math.ceil(w / 4))
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        d = latent_dim * (2 if num_classes else 1)
        self.fc = nn.Linear(d, g1 * self.base[0] * self.base[1], bias=False)
        self.fc_bn = nn.BatchNorm1d(self.fc.out_features)
        self.up = nn.ConvTranspose2d(g1, g2, 4, 2, 1, bias=False)
        self.up_bn = nn.BatchNorm2d(g2)
        for bn in (self.fc_bn, self.up_bn):
            bn.weight.requires_grad_(False)  # the original's batch norm has no gain
        self.out = WNConvTranspose2d(g2, c, 4, 2, 1, train_scale=True)
        for m in (self.fc, self.up):
            nn.init.normal_(m.weight, 0.0, 0.05)  # W=Normal(0.05) in the original

    def sample_latent(self, n: int, device=None) -> Tensor:
        return torch.rand(n, self.latent_dim, device=device)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            if y is None:
                raise SSGANError("this generator is class-conditional: pass the labels y")
            z = torch.cat([z, self.embed(y)], 1)
        h = F.relu(self.fc_bn(self.fc(z))).view(len(z), -1, *self.base)
        h = F.relu(self.up_bn(self.up(h)))
        x = torch.sigmoid(self.out(h))
        _, height, width = self.image_shape
        if x.shape[2:] != (height, width):
            top, left = (x.shape[2] - height) // 2, (x.shape[3] - width) // 2
            x = x[:, :, top:top + height, left:left + width]
        return x


class Conv28(Networks):
    """The CPU-sized convolutional networks for 28x28 grayscale (see the module docstring).

    Args:
        d_widths: D's three widths ``[c1, c2, c3]``.
        g_widths: G's two widths ``[g1, g2]`` (channels at H/4 and H/2).
        input_noise: sigma of the Gaussian noise on D's input in training.
        dropout: D's dropout rate after its 7x7 stage.
        **common: the options of :class:`~ssgan.networks.base.Networks` (latent_dim,
            feature_layer; minibatch discrimination is not offered).
    """

    def __init__(self, d_widths: list[int] = list(D_WIDTHS), g_widths: list[int] = list(G_WIDTHS),
                 input_noise: float = INPUT_NOISE, dropout: float = DROPOUT, **common):
        super().__init__(**common)
        if self.minibatch is not None:
            raise SSGANError("the conv28 networks have no minibatch discrimination layer; use "
                             "--model.networks MLP or Conv for it")
        self.d_widths, self.g_widths = list(d_widths), list(g_widths)
        self.input_noise, self.dropout = float(input_noise), float(dropout)

    def name(self, image_shape) -> str:
        return "conv28"

    def build(self, image_shape, num_classes, conditional=False):
        c, h, w = check_image_shape(image_shape)
        if min(h, w) < MIN_SIZE:
            raise SSGANError(f"the conv28 networks need images of at least {MIN_SIZE}x{MIN_SIZE}, "
                             f"got {h}x{w}; choose --model.networks MLP")
        d = Conv28Discriminator(c, num_classes, self.d_widths, self.input_noise, self.dropout,
                                self.feature_layer)
        g = Conv28Generator(self.latent_dim, (c, h, w), self.g_widths,
                            num_classes if conditional else 0)
        return d, g


def build_conv28(image_shape, num_classes, *, conditional: bool = False, **options):
    """``(discriminator, generator)`` of :class:`Conv28` with ``options``."""
    return Conv28(**options).build(image_shape, num_classes, conditional)
